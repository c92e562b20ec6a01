"""The complexity judge (paper §5: how complex each round's instructions are).

- Strategies tree and auto: the scorer rates 1-10 (prompts/complexity_judge.yaml, as Tree-of-Evolution does), and
  they select and report by the number it wrote (`parse_complexity`).
- `wizevol stats --complexity` and `wizevol compare` measure: the judge role rates 1-9
  (prompts/complexity_measure.yaml), and the measure is the mean score under the judge's own probabilities for its
  first token, where the endpoint returns them (`top_logprobs`). A small judge that writes 8 for nearly
  everything still moves its probabilities. On a single-digit scale the first token is the whole score in every
  tokenizer (on 1-10, "1" also begins "10"). Where under half of that token's probability is on a score (an
  answer that opens with words), or the endpoint gives no logprobs, the written number counts.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from wizevol.llm.wire import Completion
from wizevol.record import Record
from wizevol.run_folder import RunFolder

COMPLEXITY = ("judge role, 1-9 (complexity_measure.yaml): the expectation over its first token's probabilities "
              "where the endpoint gives them, else the number it wrote")
TOP_LOGPROBS = 20  # alternatives asked for the first token (the OpenAI API's largest)
MIN_DIGIT_MASS = 0.5  # below this share of the first token's probability on a score, the written number counts
SCALE = 9  # the measure's scale: 1-9
DIGITS = {str(d): d for d in range(1, SCALE + 1)}


def parse_complexity(text: str, top: int = 10) -> int | None:
    """The judge's score: the first whole number in its answer (not part of a decimal), if it is 1 to `top`."""
    m = re.search(r"(?<![\d.])\d+(?!\d|\.\d)", text)
    return int(m.group()) if m and 1 <= int(m.group()) <= top else None


@dataclass(frozen=True)
class Complexity:
    """One instruction's rating: the written score, the expected one (None without usable logprobs), and the share
    of the first token's probability that fell on a score."""

    written: int | None
    expected: float | None = None
    digit_mass: float | None = None

    @property
    def value(self) -> float | None:
        """What is measured: the expectation where there is one, else the written score."""
        return self.expected if self.expected is not None else (None if self.written is None else float(self.written))


def expected_complexity(answer: Completion) -> Complexity:
    """Read a 1-9 answer both ways: the number written, and the first token's alternatives that are a score weighed
    by their probabilities (" 7" and "7" are one score)."""
    written = parse_complexity(answer.text, SCALE)
    if not answer.top_logprobs:
        return Complexity(written)
    probs: dict[int, float] = {}
    for token, logprob in answer.top_logprobs:
        score = DIGITS.get(token.strip())
        if score is not None:
            probs[score] = probs.get(score, 0.0) + math.exp(logprob)
    mass = sum(probs.values())
    if mass < MIN_DIGIT_MASS:
        return Complexity(written, None, round(mass, 4))
    return Complexity(written, round(sum(s * p for s, p in probs.items()) / mass, 4), round(mass, 4))


def rate_complexity(folder: RunFolder, cfg, records: list[Record],
                    notify: Callable[[str], None] | None = None) -> dict[str, Complexity | None]:
    """The judge role's rating of each instruction, through the run's cache (a rerun pays nothing); None where the
    call failed for good."""
    from wizevol.llm.session import blocking, complete_all, open_session
    from wizevol.prompts import PromptSet

    prompts = PromptSet.load(cfg.prompts_dir)
    with open_session(cfg, folder, ("judge",), notify) as session:
        role = session.cfg.role("judge", session.local_urls).model_copy(
            update={"max_tokens": 4, "temperature": 0.0, "top_logprobs": TOP_LOGPROBS})
        session.llm.client_for(role)  # a missing key fails now
        requests = [(f"{r.id}#complexity", prompts.complexity_measure.request(role.mode, instruction=r.prompt_text()),
                     r.round) for r in records]

        with contextlib.ExitStack() as stack:
            run = blocking(session, stack)
            answers = run(complete_all(session, role, requests))
            failed = [i for i, a in enumerate(answers) if a is None]
            if failed:  # an endpoint that refuses logprobs fails every call: ask those again without them
                plain = role.model_copy(update={"top_logprobs": 0})
                again = run(complete_all(session, plain, [requests[i] for i in failed]))
                for i, a in zip(failed, again, strict=True):
                    answers[i] = a
                if any(a is not None for a in again) and notify is not None:
                    notify(f"the judge's endpoint refused {sum(a is not None for a in again)} ratings with "
                           "logprobs and answered them without: their complexity is the number written (counted "
                           "as written_only)")
    return {r.id: None if a is None else expected_complexity(a) for r, a in zip(records, answers, strict=True)}


def readings(ratings: list[Complexity | None]) -> tuple[list[float], list[float]]:
    """The measured values (`Complexity.value`) and the written numbers of a set of ratings, unreadable ones left
    out of each."""
    got = [c for c in ratings if c is not None]
    return ([c.value for c in got if c.value is not None],
            [float(c.written) for c in got if c.written is not None])


def summary(ratings: list[Complexity | None]) -> dict[str, int | float | None]:
    """How a set of ratings was measured: how many by expectation, how many by the written number only, how many
    unreadable, and the mean share of probability on a score."""
    got = [c for c in ratings if c is not None]
    masses = [c.digit_mass for c in got if c.digit_mass is not None]
    return {"expected": sum(c.expected is not None for c in got),
            "written_only": sum(c.expected is None and c.written is not None for c in got),
            "unreadable": len(ratings) - sum(c.value is not None for c in got),
            "digit_mass": round(sum(masses) / len(masses), 4) if masses else None}
