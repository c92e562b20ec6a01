"""The judge role's questions to the filters: "the same task?" (near_dup's, and contamination's of a benchmark
problem and an instruction), and contamination's translations (code in another language into Python, an
instruction in another language into English). Each call goes through the run's cache (a rerun asks nothing
again). `resolve_judges` turns them on where the judge can be trusted with them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from wizevol.config import EvolveConfig
from wizevol.errors import InputError
from wizevol.run_folder import RunFolder

ANSWER_TOKENS = 8  # a verdict: Yes/No, Same/Different
TRANSLATION_TOKENS = 1024  # a function translated into Python, an instruction into English


class JudgeRole:
    """The judge role's questions. `ask(template, tokens=ANSWER_TOKENS, **values)` returns the answer's text, or
    None when the call failed; `ask_many(template, values, on_done, tokens=...)` asks many at once."""

    def __init__(self, ask: Callable[..., str | None], prompts: Any,
                 ask_many: Callable[..., list[str | None]] | None = None, model: str = ""):
        self.ask, self.prompts, self.ask_many, self.model = ask, prompts, ask_many, model

    def same_problem(self, benchmark: str, candidate: str) -> bool | None:
        """contamination: does the record's instruction ask for the benchmark problem's task? `same_task` with
        contamination_judge.yaml. None when a call failed for good (an answer that says neither is No)."""
        verdict = self.same_task(benchmark, candidate, self.prompts.contamination_judge)
        return None if verdict == "failed" else verdict == "same"

    def same_problem_ahead(self, pairs: list[tuple[str, str]], on_done: Callable[[], None] | None = None) -> None:
        """Ask about many (benchmark, candidate) pairs at once, so that `same_problem` finds them answered."""
        self.same_task_ahead(pairs, on_done, self.prompts.contamination_judge)

    def same_task(self, first: str, second: str, template: Any = None) -> str:
        """Do the two texts ask for the same task (near_dup_judge.yaml, or `template` with the same question)?
        Asked as (first, second) and, unless that says Same, as (second, first): Same in either order is
        "same" (one order alone misses reworded pairs that the other finds: bench/near_dup_eval.py,
        bench/decontam_eval.py). Else "failed" when a call failed for good, "unparsed" when an answer says
        neither, and "different"."""
        from wizevol.filters.near_dup import parse_same_task

        template = template or self.prompts.near_dup_judge
        verdicts = []
        for a, b in ((first, second), (second, first)):
            answer = self.ask(template, first=a, second=b)
            verdicts.append("failed" if answer is None else parse_same_task(answer))
            if verdicts[-1] == "same":
                return "same"
        return next((v for v in ("failed", "unparsed") if v in verdicts), "different")

    def same_task_ahead(self, pairs: list[tuple[str, str]], on_done: Callable[[], None] | None = None,
                        template: Any = None) -> None:
        """Ask about many pairs at once, up to the config's concurrency, so that `same_task` finds them answered:
        every pair in its first order, then the other order of those not answered Same."""
        if self.ask_many is None:
            return
        from wizevol.filters.near_dup import parse_same_task

        template = template or self.prompts.near_dup_judge
        answers = self.ask_many(template, [{"first": a, "second": b} for a, b in pairs], on_done)
        self.ask_many(template, [{"first": b, "second": a} for (a, b), answer in zip(pairs, answers, strict=True)
                                 if parse_same_task(answer or "") != "same"])

    def to_python(self, pieces: list[tuple[str, str]], on_done: Callable[[], None] | None = None
                  ) -> list[str | None]:
        """contamination: each (language, code) translated into Python (translate_to_python.yaml), in order: the
        Python ("" when the answer holds none), or None when the call failed."""
        from wizevol.filters.other_language import translated_python

        answers = self._translations(self.prompts.translate_to_python,
                                     [{"language": language, "code": code} for language, code in pieces], on_done)
        return [None if a is None else translated_python(a) for a in answers]

    def to_english(self, texts: list[str], on_done: Callable[[], None] | None = None) -> list[str | None]:
        """contamination: each instruction translated into English (translate_to_english.yaml), in order: the
        translation, or None when the call failed (or came back empty)."""
        answers = self._translations(self.prompts.translate_to_english, [{"text": text} for text in texts], on_done)
        return [(a or "").strip() or None for a in answers]

    def _translations(self, template: Any, values: list[dict[str, str]], on_done: Callable[[], None] | None
                      ) -> list[str | None]:
        """Each long answer (up to TRANSLATION_TOKENS), at once where the role can ask many, else one by one."""
        if self.ask_many is not None:
            return self.ask_many(template, values, on_done, tokens=TRANSLATION_TOKENS)
        answers = []
        for v in values:
            answers.append(self.ask(template, tokens=TRANSLATION_TOKENS, **v))
            if on_done is not None:
                on_done()
        return answers


def llm_judge(folder: RunFolder, cfg: EvolveConfig, stack: contextlib.ExitStack,
              notify: Callable[[str], None] | None = None) -> JudgeRole:
    """The judge role over the run's endpoint (or the local model if it is local), through the run's cache."""
    from wizevol.llm.session import ask_all, blocking, open_session
    from wizevol.prompts import PromptSet

    session = stack.enter_context(open_session(cfg, folder, ("judge",), notify))
    role = cfg.role("judge", session.local_urls).model_copy(update={"temperature": 0.0})
    session.llm.client_for(role)  # a missing key fails now, not as every call failed
    run = blocking(session, stack)

    def ask_many(template: Any, values: list[dict[str, str]], on_done: Callable[[], None] | None = None,
                 tokens: int = ANSWER_TOKENS) -> list[str | None]:
        """Each answer's text (None: failed; asked again, one at a time, when it is needed), in order; the
        answers also land in the run's cache."""
        sized = role.model_copy(update={"max_tokens": tokens})
        return run(ask_all(session, sized, [(None, template.request(role.mode, **v), 0) for v in values], on_done))

    def ask(template: Any, tokens: int = ANSWER_TOKENS, **values: str) -> str | None:
        return ask_many(template, [values], tokens=tokens)[0]

    return JudgeRole(ask, PromptSet.load(cfg.prompts_dir), ask_many, role.model)


def judge_capable(cfg: EvolveConfig) -> tuple[bool, str | None]:
    """Whether the judge role can be trusted with the filters' questions: an instruct model asked in chat (a local
    Qwen2.5-Coder, an API model), not a base model continuing a few-shot prompt (gemma3-270m: measured unable to
    judge). (capable, the model's name; None when no model is set)."""
    try:
        role = cfg.role("judge")
    except InputError:  # no model set: nothing to ask
        return False, None
    return role.mode == "chat", role.model


def resolve_judges(cfg: EvolveConfig, notify: Callable[[str], None] | None = None,
                   names: tuple[str, ...] = ("near_dup", "contamination")) -> EvolveConfig:
    """The judges left unset (auto): near_dup's `llm_judge`, contamination's `llm_judge` and `translate`. On
    where the judge is capable (`judge_capable`); off for a base model, said once for the filters in `names`."""
    near, cont = cfg.filters.near_dup, cfg.filters.contamination
    unset = ["filters.near_dup.llm_judge"] if near.llm_judge is None else []
    unset += [f"filters.contamination.{k}" for k in ("llm_judge", "translate") if getattr(cont, k) is None]
    if not unset:
        return cfg
    capable, model = judge_capable(cfg)
    shown = [k for k in unset if k.split(".")[1] in names]
    if not capable and model is not None and notify is not None and shown:
        notify(f"the judges are off: {model} is asked in completion mode (a base model); set "
               f"{' / '.join(k + ': true' for k in shown)} to use them anyway")
    near = near.model_copy(update={"llm_judge": capable}) if near.llm_judge is None else near
    cont = cont.model_copy(update={k: capable for k in ("llm_judge", "translate") if getattr(cont, k) is None})
    filters = cfg.filters.model_copy(update={"near_dup": near, "contamination": cont})
    return cfg.model_copy(update={"filters": filters})
