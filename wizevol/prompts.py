"""Prompt templates from prompts/: the evolving prompt, one file per heuristic, the responder and the judge."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from wizevol.config_file import read_yaml
from wizevol.errors import InputError
from wizevol.heuristics import METHODS

Messages = list[dict[str, str]]


def default_prompts_dir() -> Path:
    """The packaged prompt templates (wheel) or the checkout's prompts/ folder."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_prompts", here.parent / "prompts"):  # installed wheel, then source checkout
        if (candidate / "evolve.yaml").is_file():
            return candidate
    raise InputError(f"prompt templates not found next to {here}; set prompts_dir in the config")


def fill(template: str, **values: str) -> str:
    """Replace {name} placeholders literally, all in one pass: instructions and code contain braces, so no
    str.format, and a value that holds another placeholder ("{code}" in an instruction) stays as written."""
    if not values:
        return template
    placeholders = re.compile("|".join(re.escape("{" + key + "}") for key in values))
    return placeholders.sub(lambda m: values[m.group(0)[1:-1]], template)


@dataclass(frozen=True)
class Request:
    """What goes on the wire: chat messages (/v1/chat/completions) or a prompt (/v1/completions)."""

    mode: str
    messages: Messages | None = None
    prompt: str | None = None
    stop: tuple[str, ...] = ()

    def payload(self) -> object:
        """The messages (chat) or the prompt (completion): what the cache key covers."""
        return self.messages if self.mode == "chat" else self.prompt


@dataclass(frozen=True)
class Template:
    """One prompt in both forms: chat messages and a few-shot completion text."""

    name: str
    chat: tuple[tuple[str, str], ...] | None
    completion: str | None = None
    stop: tuple[str, ...] = ()

    def request(self, mode: str, **values: str) -> Request:
        """The request for `mode`, with the placeholders filled in."""
        if mode == "completion":
            if self.completion is None:
                raise InputError(f"{self.name} has no 'completion' template (needed for mode: completion)")
            return Request(mode, prompt=fill(self.completion, **values).rstrip(), stop=self.stop)
        if self.chat is None:
            raise InputError(f"{self.name} has no 'chat' template (needed for mode: chat)")
        # `stop:` belongs to the few-shot completion form (it ends a continuation before the next example); a chat
        # answer has no next example, and those sequences would cut it (the tester's "```" left it empty)
        return Request(mode, messages=[{"role": role, "content": fill(content, **values).strip()}
                                       for role, content in self.chat])


@dataclass(frozen=True)
class PromptSet:
    """All of a run's prompt texts, loaded from prompts/."""

    evolve: Template
    respond: Template
    judge: Template
    near_dup_judge: Template
    contamination_judge: Template
    complexity_judge: Template  # strategies tree and auto: the scorer's 1-10
    complexity_measure: Template  # stats and compare: the judge's 1-9, one digit
    optimizer: Template  # strategy auto: rewrites the methods
    tester: Template
    translate_to_python: Template
    translate_to_english: Template
    methods: dict[str, str]  # heuristic name -> method text
    headings: tuple[str, ...]  # answer headings, stripped when the evolved text opens with one
    markers: tuple[str, ...]  # the template's own markers: a leak anywhere else
    leak_phrases: tuple[str, ...]
    source: str
    tree_feedback: str = ""  # strategy tree: the scores a parent's method text gets

    @classmethod
    def load(cls, directory: str | Path | None = None) -> PromptSet:
        """Load and check every template of a prompts folder; a problem names the file."""
        d = Path(directory) if directory else default_prompts_dir()
        evolve_doc = _read(d / "evolve.yaml")
        methods = {}
        for name in METHODS:
            doc = _read(d / "heuristics" / f"{name}.yaml")
            if not isinstance(doc.get("method"), str) or not doc["method"].strip():
                raise InputError(f"{d / 'heuristics' / (name + '.yaml')}: needs a non-empty 'method' text")
            methods[name] = doc["method"].strip()
        return cls(
            evolve=_template(evolve_doc, d / "evolve.yaml"),
            respond=_template(_read(d / "respond.yaml"), d / "respond.yaml"),
            judge=_template(_read(d / "judge.yaml"), d / "judge.yaml"),
            near_dup_judge=_optional(d, "near_dup_judge.yaml"),
            contamination_judge=_same_task(d),
            complexity_judge=_optional(d, "complexity_judge.yaml"),
            complexity_measure=_optional(d, "complexity_measure.yaml"),
            optimizer=_optional(d, "optimizer.yaml"),
            tester=_optional(d, "tester.yaml"),
            translate_to_python=_optional(d, "translate_to_python.yaml"),
            translate_to_english=_optional(d, "translate_to_english.yaml"),
            methods=methods,
            headings=_strings(evolve_doc, "headings", d / "evolve.yaml"),
            markers=_strings(evolve_doc, "markers", d / "evolve.yaml"),
            leak_phrases=tuple(p.lower() for p in _strings(evolve_doc, "leak_phrases", d / "evolve.yaml")),
            source=str(d),
            tree_feedback=_text(d, "tree_feedback.yaml"),
        )

    def evolve_texts(self, mode: str) -> tuple[str, ...]:
        """The evolving template of one mode (chat, or completion with its few-shot examples) as the pieces
        between its placeholders: what a request in that mode sends besides the method and the question."""
        parts = [c for _, c in (self.evolve.chat or ())] if mode == "chat" else [self.evolve.completion or ""]
        pieces = []
        for part in parts:
            pieces += re.split(r"\{(?:method|question)\}", part)
        return tuple(p for p in pieces if p.strip())

    def leak_markers(self) -> tuple[str, ...]:
        """What prompt_leak looks for: the template's markers, then its leak phrases."""
        return self.markers + self.leak_phrases


def _same_task(d: Path) -> Template:
    """contamination_judge.yaml asks "the same task?" of {first} and {second}, both ways; a prompts folder made
    when it asked of {benchmark} and {candidate} is named, not sent with its placeholders unfilled."""
    t = _optional(d, "contamination_judge.yaml")
    texts = [c for _, c in t.chat or ()] + [t.completion or ""]
    if not any("{first}" in x for x in texts) or not any("{second}" in x for x in texts):
        raise InputError(f"{t.name}: the judge now asks about {{first}} and {{second}} (the benchmark problem and the "
                         "instruction, then the other way round); rewrite its placeholders, or delete the file to "
                         "use the packaged one")
    return t


def _optional(d: Path, name: str) -> Template:
    """A template that a prompts folder made before it existed may lack: then the packaged one."""
    path = d / name if (d / name).is_file() else default_prompts_dir() / name
    return _template(_read(path), path)


def _text(d: Path, name: str) -> str:
    """The `text` of a one-text prompt file (the packaged one where the folder has none)."""
    path = d / name if (d / name).is_file() else default_prompts_dir() / name
    text = _read(path).get("text")
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{path}: needs a non-empty 'text'")
    return text.strip()


def _read(path: Path) -> dict:
    return read_yaml(path, "prompt file")


def _strings(doc: dict, key: str, path: Path) -> tuple[str, ...]:
    values = doc.get(key, [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InputError(f"{path}: '{key}' must be a list of strings")
    return tuple(values)


def _template(doc: dict, path: Path) -> Template:
    chat, completion = doc.get("chat"), doc.get("completion")
    if chat is None and completion is None:
        raise InputError(f"{path}: needs a 'chat' list of {{role, content}} or a 'completion' text")
    pairs = None
    if chat is not None:
        if not isinstance(chat, list) or not chat:
            raise InputError(f"{path}: 'chat' must be a non-empty list of {{role, content}}")
        pairs = []
        for i, m in enumerate(chat):
            if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
                raise InputError(f"{path}: chat[{i}] needs string 'role' and 'content'")
            pairs.append((m["role"], m["content"]))
        pairs = tuple(pairs)
    if completion is not None and not isinstance(completion, str):
        raise InputError(f"{path}: 'completion' must be a text")
    stop = doc.get("stop", [])
    if not isinstance(stop, list) or not all(isinstance(x, str) for x in stop):
        raise InputError(f"{path}: 'stop' must be a list of strings")
    return Template(name=str(path), chat=pairs, completion=completion, stop=tuple(stop))
