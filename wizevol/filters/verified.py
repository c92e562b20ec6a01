"""verified: keep the answer that is right, chosen by execution (CodeT's dual agreement, SelfCodeAlign's
passing pairs, KodCode's difficulty by pass rate).

For each kept record whose response holds code in a language with an executor (filters/executors.py), the
tester role (prompts/tester.yaml; its unset fields are the responder's) writes m test sets in that language, and
the responder writes n-1 more answers to the same instruction. Every answer runs against every test set in the
sandbox; agreement.choose picks the answer (filters/agreement.py). The record keeps the chosen answer in place of
its own: its row in filters/verified/results_K.jsonl holds the pass matrix, the choice and, where the choice is
not the record's own answer, the answer kept (`output`), which the clean files and `merge --min-pass-rate` use.

A record whose best group passes no test, or scores below `min_agreement`, is weak: dropped with its reason, or
kept and marked (passed: false), by config. A record without code, in a language with no executor or whose tool
is not installed, or whose tests came back unusable, is counted, kept, and marked unverified (pass_rate null,
with why). A call that failed for good is not an answer: a record whose tester calls all failed is kept
unverified, a sampled answer or test set whose call failed is left out, and the filter's stats are then no
done-marker, so that the next `wizevol filter` asks again (every answer it got is in the run's cache: no call is
paid twice).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from wizevol.filters import tester
from wizevol.filters.agreement import choose, difficulty
from wizevol.filters.base import Filter
from wizevol.filters.executors import Outcome, missing, run_python_pairs, run_tests
from wizevol.filters.sandbox import Limits
from wizevol.prompts import PromptSet, Request
from wizevol.record import Record, Verdict, drop

OFF = ("verified: off (filters.verified.enabled: false): with the embedded 1.5B as tester, the answer it chose "
       "(5 answers x 5 test sets) passed HumanEval's tests in 16 of 20 problems against the first answer's 13 "
       "(+0.15, 95% interval [0.00, +0.30]: not yet beyond it), and it dropped 22 of 36 right C, C++ and "
       "JavaScript answers (docs/filters.md); filters.verified.enabled: true runs it")
Ask = Callable[[list[tuple[str, str, Request]]], dict[str, str | None]]  # [(role, place, request)] -> place -> answer
MARK = {"pass": "1", "fail": "0", "timeout": "t"}  # a matrix row as a string: one mark per test set


class Verified(Filter):
    """Keeps the answer most answers and tests agree on; drops (or marks) a record none agrees on."""

    name = "verified"

    def __init__(self, ask: Ask, prompts: PromptSet, modes: dict[str, str], samples: int = 1, tests: int = 1,
                 limits: Limits = Limits(), models: dict[str, str] | None = None, min_agreement: float = 0.0,
                 weak: str = "drop"):
        self.ask, self.prompts, self.modes, self.samples, self.tests, self.limits = ask, prompts, modes, samples, \
            tests, limits
        self.models, self.min_agreement, self.weak = models or {}, min_agreement, weak

    def settings(self) -> dict[str, Any]:
        from wizevol.filters.sandbox import layers

        return {"samples": self.samples, "tests": self.tests, "min_agreement": self.min_agreement, "weak": self.weak,
                "limits": self.limits.__dict__, "models": self.models, "modes": self.modes,
                "sandbox_layers": list(layers())}

    def start(self) -> None:
        self.counts: Counter[str] = Counter()
        self.rows: list[dict[str, Any]] = []
        self.work: dict[str, tuple[str, list[str | None], list[str | None]]] = {}
        self.failed_calls = 0  # tester or sample calls that failed for good
        self.workers = max(1, os.cpu_count() or 1)
        self.pool = ThreadPoolExecutor(self.workers)

    def prepare_round(self, records: list[Record]) -> None:
        requests: list[tuple[str, str, Request]] = []
        todo = []
        for r in records:
            lang = tester.language(r.output)
            if lang is None or missing(lang):
                continue
            todo.append((r, lang))
            code = tester.shown(tester.code_in(r.output, lang), lang)
            requests += [("tester", f"{r.id}#tests{j}", self.prompts.tester.request(
                self.modes["tester"], instruction=r.prompt_text(), language=lang, code=code,
                form=tester.FORMS[lang])) for j in range(self.tests)]
            requests += [("responder", f"{r.id}#sample{j}", self.prompts.respond.request(
                self.modes["responder"], instruction=r.prompt_text())) for j in range(1, self.samples)]
        answers = self.ask(requests) if requests else {}
        self.work = {r.id: (lang, [answers.get(f"{r.id}#tests{j}") for j in range(self.tests)],
                            [r.output] + [answers.get(f"{r.id}#sample{j}") for j in range(1, self.samples)])
                     for r, lang in todo}

    def _unverified(self, record: Record, count: str, error: str, language: str | None = None) -> Verdict:
        """A record kept without a verdict: counted, with its row (pass_rate null) and why."""
        self.counts[count] += 1
        self.rows.append({"id": record.id, "language": language, "passed": None, "pass_rate": None, "samples": 0,
                          "difficulty": None, "error": error})
        return True

    def check(self, record: Record) -> Verdict:
        if record.id not in self.work:
            lang = tester.language(record.output)
            if lang is None:
                return self._unverified(record, "no code", "no code in the response")
            why = missing(lang)
            return self._unverified(record, f"unverified: {why}", why, lang)
        lang, replies, answers = self.work[record.id]
        self.failed_calls += sum(a is None for a in replies) + sum(a is None for a in answers[1:])
        if all(a is None for a in replies):
            return self._unverified(record, "unverified: the tester's call failed", "the tester's call failed", lang)
        tests = [t for t in (tester.tests_of(a, lang) for a in replies if a is not None) if t is not None]
        if not tests:
            return self._unverified(record, "unverified: no usable tests", f"the tester returned no {lang} tests",
                                    lang)
        answers = answers[:1] + [a for a in answers[1:] if a is not None]  # a failed call is no sampled answer
        codes = [tester.code_in(a, lang) for a in answers]
        outcomes = self._run(lang, codes, tests)
        matrix = [[outcomes[(i, j)].status == "pass" if (i, j) in outcomes else False for j in range(len(tests))]
                  for i in range(len(codes))]
        choice = choose(matrix)
        own = next((outcomes[(0, j)] for j in range(len(tests)) if (0, j) in outcomes and
                    outcomes[(0, j)].status != "pass"), None)
        error = f"no {lang} code in the response" if not codes[0] else "" if own is None else own.detail
        weak = choice.score == 0 or choice.strength < self.min_agreement
        row = {"id": record.id, "language": lang, "passed": not weak, "pass_rate": choice.pass_rate,
               "samples": len(codes), "tests": len(tests), "difficulty": difficulty(choice.pass_rate),
               "matrix": ["".join(MARK.get(outcomes[(i, j)].status, "0") if (i, j) in outcomes else "-"
                                  for j in range(len(tests))) for i in range(len(codes))],
               **choice.to_json(), "error": error, "tests_written": tests}
        labels = {k: row[k] for k in ("language", "passed", "pass_rate", "difficulty", "samples", "tests",
                                      "chosen", "strength")}
        row["record"] = {"extra": {"verified": labels}}  # what the clean files and merge apply
        if not weak and choice.chosen != 0:
            row["record"]["output"] = answers[choice.chosen]
        self.rows.append(row)
        self.counts["weak" if weak else "chosen: its own answer" if choice.chosen == 0 else "chosen: another answer"] \
            += 1
        if weak and self.weak == "drop":
            why = error if choice.score == 0 else (
                f"the best group, {len(choice.group)} of {len(codes)} answers passing {len(choice.trusted)} of "
                f"{len(tests)} test sets, agrees {choice.strength:.2f} < {self.min_agreement}")
            return drop(f"failed its tests: {why}", pass_rate=choice.pass_rate, error=error)
        return True

    def _run(self, lang: str, codes: list[str], tests: list[str]) -> dict[tuple[int, int], Outcome]:
        """Every answer (with code) against every test set, on every core; Python in prepared processes, a share
        of the pairs each (run_python_pairs), the other languages a sandboxed run (and compile) per pair."""
        pairs = [(i, j) for i, code in enumerate(codes) if code for j in range(len(tests))]
        own = {(i, j): tester.without_answer(tests[j], codes[i], lang) for i, j in pairs}  # tests minus their copy
        if lang != "python":
            jobs = [self.pool.submit(run_tests, lang, codes[i], own[(i, j)], self.limits) for i, j in pairs]
            return {k: f.result() for k, f in zip(pairs, jobs, strict=True)}
        share = -(-len(pairs) // self.workers) if pairs else 1
        chunks = [pairs[c:c + share] for c in range(0, len(pairs), share)]
        jobs = [self.pool.submit(run_python_pairs, [f"{codes[i]}\n\n{own[(i, j)]}" for i, j in chunk], self.limits)
                for chunk in chunks]
        return {k: o for chunk, f in zip(chunks, jobs, strict=True) for k, o in zip(chunk, f.result(), strict=True)}

    def finish_round(self, k: int) -> list[dict[str, Any]]:
        rows, self.rows = self.rows, []
        return rows

    def complete(self) -> bool:
        self.pool.shutdown()
        return not self.failed_calls

    def report(self) -> dict[str, Any]:
        return {"records": dict(sorted(self.counts.items())), "calls_failed": self.failed_calls}
