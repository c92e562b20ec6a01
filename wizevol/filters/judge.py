"""The judge role's questions to the filters: "the same task?" (near_dup's, and contamination's of a benchmark
problem and an instruction), and contamination's translations (code in another language into Python, an
instruction in another language into English). Each call goes through the run's cache (a rerun asks nothing
again). `resolve_judges` turns them on where the judge can be trusted with them.

"The same task?" is asked in both orders and read as a probability: P(Same) of the answer's first token where the
endpoint gives its alternatives (`top_logprobs`), else 1 or 0 from what it wrote. A rule (`SameRule`) says what
makes a pair the same: P(Same) at or above `min_same` in both orders (the default: a small judge says Same in one
order for tasks a word apart), or in either order.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from wizevol.config import EvolveConfig
from wizevol.errors import InputError
from wizevol.llm.wire import Completion
from wizevol.run_folder import RunFolder

ANSWER_TOKENS = 8  # a verdict: Yes/No, Same/Different
TRANSLATION_TOKENS = 1024  # a function translated into Python, an instruction into English
TRANSLATION_TRIES = 3  # an empty or unusable translation is asked again, a fresh sample, up to this many answers in all
TOP_LOGPROBS = 20  # the first token's alternatives asked for with a verdict (the OpenAI API's largest)
MIN_VERDICT_MASS = 0.5  # below this share of the first token's probability on Same or Different, what it wrote counts


def parse_same_task(answer: str) -> str:
    """The judge's verdict: "same", "different" or "unparsed" (an answer that says neither, or both). "Not the
    same" is Different."""
    text = re.sub(r"\bnot\s+(?:the\s+)?same\b", "different", answer.lower())
    said = {w for w in re.findall(r"[a-z]+", text) if w in ("same", "different")}
    return said.pop() if len(said) == 1 else "unparsed"


def same_probability(answer: Completion | None) -> float | None:
    """P(Same) of one answer: the share of its first token's probability on a beginning of "Same" against one of
    "Different" (" Same", "S", "Diff" ...), where the alternatives are there and at least MIN_VERDICT_MASS of the
    probability falls on either; else 1.0 / 0.0 from what it wrote. None: the call failed, or the answer says
    neither."""
    if answer is None:
        return None
    if answer.top_logprobs:
        same = diff = 0.0
        for token, logprob in answer.top_logprobs:
            t = token.strip().lower()
            if t and "same".startswith(t):
                same += math.exp(logprob)
            elif t and "different".startswith(t):
                diff += math.exp(logprob)
        if same + diff >= MIN_VERDICT_MASS:
            return round(same / (same + diff), 4)
    verdict = parse_same_task(answer.text)
    return {"same": 1.0, "different": 0.0}.get(verdict)


@dataclass(frozen=True)
class SameRule:
    """What makes two texts the same task: P(Same) >= min_same in `both` orders, or in `either`."""

    orders: Literal["both", "either"] = "both"
    min_same: float = 0.5

    def holds(self, ps: tuple[float | None, ...] | list[float | None]) -> bool:
        """Whether the orders' P(Same) (None: failed or said neither) make the pair the same task."""
        held = [p is not None and p >= self.min_same for p in ps]
        return all(held) if self.orders == "both" else any(held)

    def second_needed(self, p: float | None) -> bool:
        """Whether the other order must be asked after the first gave P(Same) = p (None: failed or unparsed)."""
        passed = p is not None and p >= self.min_same
        return passed if self.orders == "both" else not passed

    def describe(self) -> str:
        return f"P(same) >= {self.min_same:g} in {'both orders' if self.orders == 'both' else 'either order'}"


@dataclass(frozen=True)
class SameTask:
    """A judged pair: the verdict ("same", "different", "unparsed": an answer said neither, "failed": a call
    failed) and P(Same) of each order asked (None where it failed or said neither)."""

    verdict: str
    p: tuple[float | None, ...] = ()

    def __bool__(self) -> bool:
        return self.verdict == "same"

    def shown(self) -> str:
        """P(Same) of each order, for a reason: "0.97/0.91"."""
        return "/".join("-" if p is None else f"{p:.2f}" for p in self.p)


def as_same_task(answer: Any) -> SameTask:
    """A judge's answer as a SameTask (a judge given by a test or a bench may answer True, False or None, or a
    verdict's name)."""
    if isinstance(answer, SameTask):
        return answer
    return SameTask(answer if isinstance(answer, str) else {True: "same", False: "different", None: "failed"}[answer])


class JudgeRole:
    """The judge role's questions. `complete(template, tokens=ANSWER_TOKENS, **values)` returns the answer (with its
    first token's alternatives where the endpoint gives them), or None when the call failed;
    `complete_many(template, values, on_done, tokens=...)` asks many at once."""

    def __init__(self, complete: Callable[..., Completion | None], prompts: Any,
                 complete_many: Callable[..., list[Completion | None]] | None = None, model: str = "",
                 near_dup_rule: SameRule = SameRule(), contamination_rule: SameRule = SameRule()):
        self.complete, self.prompts, self.complete_many, self.model = complete, prompts, complete_many, model
        self.near_dup_rule, self.contamination_rule = near_dup_rule, contamination_rule

    def ask(self, template: Any, tokens: int = ANSWER_TOKENS, **values: str) -> str | None:
        """One answer's text, or None when the call failed."""
        answer = self.complete(template, tokens=tokens, **values)
        return None if answer is None else answer.text

    def same_problem(self, benchmark: str, candidate: str) -> SameTask:
        """contamination: does the record's instruction ask for the benchmark problem's task? `same_task` with
        contamination_judge.yaml and contamination's rule."""
        return self.same_task(benchmark, candidate, self.prompts.contamination_judge, self.contamination_rule)

    def same_problem_ahead(self, pairs: list[tuple[str, str]], on_done: Callable[[], None] | None = None) -> None:
        """Ask about many (benchmark, candidate) pairs at once, so that `same_problem` finds them answered."""
        self.same_task_ahead(pairs, on_done, self.prompts.contamination_judge, self.contamination_rule)

    def same_task(self, first: str, second: str, template: Any = None, rule: SameRule | None = None) -> SameTask:
        """Do the two texts ask for the same task (near_dup_judge.yaml, or `template` with the same question)?
        Asked as (first, second), then as (second, first) where the rule needs it (`SameRule.second_needed`); each
        order read as P(Same) (`same_probability`). "same" when the rule holds; else "failed" when a call failed
        for good, "unparsed" when an answer said neither, and "different"."""
        template = template or self.prompts.near_dup_judge
        rule = rule or self.near_dup_rule
        ps, failed = [], False
        for a, b in ((first, second), (second, first)):
            answer = self.complete(template, first=a, second=b)
            failed |= answer is None
            ps.append(same_probability(answer))
            if not rule.second_needed(ps[0]):
                break
        if rule.holds(ps):
            return SameTask("same", tuple(ps))
        return SameTask("failed" if failed else "unparsed" if None in ps else "different", tuple(ps))

    def same_task_ahead(self, pairs: list[tuple[str, str]], on_done: Callable[[], None] | None = None,
                        template: Any = None, rule: SameRule | None = None) -> None:
        """Ask about many pairs at once, up to the config's concurrency, so that `same_task` finds them answered:
        every pair in its first order, then the other order of those whose first answer the rule needs it for."""
        if self.complete_many is None:
            return
        template = template or self.prompts.near_dup_judge
        rule = rule or self.near_dup_rule
        answers = self.complete_many(template, [{"first": a, "second": b} for a, b in pairs], on_done)
        self.complete_many(template, [{"first": b, "second": a} for (a, b), answer in zip(pairs, answers, strict=True)
                                      if rule.second_needed(same_probability(answer))])

    def to_python(self, pieces: list[tuple[str, str]], on_done: Callable[[], None] | None = None
                  ) -> list[str | None]:
        """contamination: each (language, code) translated into Python (translate_to_python.yaml), in order: the
        Python ("" when no answer of TRANSLATION_TRIES held any: untranslated), or None when the call failed."""
        from wizevol.filters.other_language import translated_python

        answers = self._translations(self.prompts.translate_to_python,
                                     [{"language": language, "code": code} for language, code in pieces], on_done,
                                     lambda a: bool(translated_python(a)))
        return [None if a is None else translated_python(a) for a in answers]

    def to_english(self, texts: list[str], on_done: Callable[[], None] | None = None) -> list[str | None]:
        """contamination: each instruction translated into English (translate_to_english.yaml), in order: the
        translation ("" when every answer of TRANSLATION_TRIES was empty: untranslated), or None when the call
        failed."""
        answers = self._translations(self.prompts.translate_to_english, [{"text": text} for text in texts], on_done,
                                     lambda a: bool(a.strip()))
        return [None if a is None else a.strip() for a in answers]

    def _translations(self, template: Any, values: list[dict[str, str]], on_done: Callable[[], None] | None,
                      usable: Callable[[str], bool]) -> list[str | None]:
        """Each long answer's text (up to TRANSLATION_TOKENS), at once where the role can ask many, else one by
        one. An answer that is not `usable` (empty, no code) is asked again as a fresh sample (another place in
        the cache, temperature above 0), up to TRANSLATION_TRIES answers; the last one stands. None: the call
        failed (a rerun asks again)."""
        if self.complete_many is None:
            answers = []
            for v in values:
                answers.append(self.complete(template, tokens=TRANSLATION_TOKENS, **v))
                if on_done is not None:
                    on_done()
            return [None if a is None else a.text for a in answers]
        texts = [None if a is None else a.text
                 for a in self.complete_many(template, values, on_done, tokens=TRANSLATION_TOKENS)]
        for place in range(1, TRANSLATION_TRIES):
            again = [i for i, t in enumerate(texts) if t is not None and not usable(t)]
            if not again:
                break
            more = self.complete_many(template, [values[i] for i in again], tokens=TRANSLATION_TOKENS, place=place)
            for i, answer in zip(again, more, strict=True):
                if answer is not None:
                    texts[i] = answer.text
        return texts


def llm_judge(folder: RunFolder, cfg: EvolveConfig, stack: contextlib.ExitStack,
              notify: Callable[[str], None] | None = None) -> JudgeRole:
    """The judge role over the run's endpoint (or the local model if it is local), through the run's cache."""
    from wizevol.llm.session import blocking, complete_all, open_session
    from wizevol.prompts import PromptSet

    session = stack.enter_context(open_session(cfg, folder, ("judge",), notify))
    role = cfg.role("judge", session.local_urls).model_copy(update={"temperature": 0.0})
    session.llm.client_for(role)  # a missing key fails now, not as every call failed
    run = blocking(session, stack)
    logprobs = {"top_logprobs": TOP_LOGPROBS} if cfg.filters.judge_logprobs else {}

    def complete_many(template: Any, values: list[dict[str, str]], on_done: Callable[[], None] | None = None,
                      tokens: int = ANSWER_TOKENS, place: int = 0) -> list[Completion | None]:
        """Each answer (None: failed; asked again, one at a time, when it is needed), in order; the answers also
        land in the run's cache. A verdict comes with its first token's alternatives (filters.judge_logprobs).
        `place` > 0: a fresh sample, at temperature 0.7, cached apart from the first answer."""
        sized = role.model_copy(update={"max_tokens": tokens, **(logprobs if tokens == ANSWER_TOKENS else {}),
                                        **({"temperature": 0.7} if place else {})})
        at = f"fresh sample {place}" if place else None
        return run(complete_all(session, sized, [(at, template.request(role.mode, **v), 0) for v in values], on_done))

    def complete(template: Any, tokens: int = ANSWER_TOKENS, **values: str) -> Completion | None:
        return complete_many(template, [values], tokens=tokens)[0]

    near, cont = cfg.filters.near_dup, cfg.filters.contamination
    return JudgeRole(complete, PromptSet.load(cfg.prompts_dir), complete_many, role.model,
                     SameRule(near.judge_orders, near.judge_min_same), SameRule(cont.judge_orders, cont.judge_min_same))


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
