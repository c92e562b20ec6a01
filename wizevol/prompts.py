"""Prompt templates from prompts/: the evolving prompt, one file per heuristic, the responder and the judge."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from wizevol.errors import InputError
from wizevol.heuristics import METHODS

Messages = list[dict[str, str]]


def default_prompts_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "_prompts", here.parent / "prompts"):  # installed wheel, then source checkout
        if (candidate / "evolve.yaml").is_file():
            return candidate
    raise InputError(f"prompt templates not found next to {here}; set prompts_dir in the config")


def fill(template: str, **values: str) -> str:
    """Replace {name} placeholders literally: instructions and code contain braces, so no str.format."""
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


@dataclass(frozen=True)
class Request:
    """What goes on the wire: chat messages (/v1/chat/completions) or a prompt (/v1/completions)."""

    mode: str
    messages: Messages | None = None
    prompt: str | None = None
    stop: tuple[str, ...] = ()

    def payload(self) -> object:
        return self.messages if self.mode == "chat" else self.prompt


@dataclass(frozen=True)
class Template:
    name: str
    chat: tuple[tuple[str, str], ...] | None
    completion: str | None = None
    stop: tuple[str, ...] = ()

    def request(self, mode: str, **values: str) -> Request:
        if mode == "completion":
            if self.completion is None:
                raise InputError(f"{self.name} has no 'completion' template (needed for mode: completion)")
            return Request(mode, prompt=fill(self.completion, **values).rstrip(), stop=self.stop)
        if self.chat is None:
            raise InputError(f"{self.name} has no 'chat' template (needed for mode: chat)")
        return Request(mode, messages=[{"role": role, "content": fill(content, **values).strip()}
                                       for role, content in self.chat], stop=self.stop if self.stop else ())


@dataclass(frozen=True)
class PromptSet:
    evolve: Template
    respond: Template
    judge: Template
    contamination_judge: Template
    methods: dict[str, str]  # heuristic name -> method text
    markers: tuple[str, ...]
    leak_phrases: tuple[str, ...]
    source: str

    @classmethod
    def load(cls, directory: str | Path | None = None) -> PromptSet:
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
            contamination_judge=_template(_read(d / "contamination_judge.yaml"), d / "contamination_judge.yaml"),
            methods=methods,
            markers=tuple(evolve_doc.get("markers", ())),
            leak_phrases=tuple(p.lower() for p in evolve_doc.get("leak_phrases", ())),
            source=str(d),
        )


    def evolve_texts(self) -> tuple[str, ...]:
        """Every text of the evolving prompt (template, few-shot examples, method texts), placeholders removed."""
        parts = [c for _, c in (self.evolve.chat or ())] + [self.evolve.completion or ""] + list(self.methods.values())
        return tuple(fill(p, method="", question="") for p in parts if p)


def _read(path: Path) -> dict:
    if not path.is_file():
        raise InputError(f"{path}: prompt file not found")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise InputError(f"{path}: invalid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(doc, dict):
        raise InputError(f"{path}: expected a mapping")
    return doc


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
