"""verified: a Python response must pass unit tests written for its instruction (SelfCodeAlign keeps only
passing pairs; KodCode labels difficulty by the pass rate of several sampled answers).

For each kept record whose response holds Python, the tester (the responder's endpoint and model, with
prompts/tester.yaml) writes plain-assert tests for the functions the response defines; with `samples: n`,
the responder also writes n-1 more answers to the same instruction. Each answer's Python runs with the tests
in the sandbox. The record's own answer failing rejects it with the failing assertion; every Python record
gets a row in filters/verified/results_K.jsonl (passed, pass_rate over the n answers, difficulty, error),
which `wizevol merge --min-pass-rate` selects by. A record without Python, or whose tests came back without
code, is counted, kept, and marked unverified (pass_rate null). A call that failed for good is not an answer:
a record whose tester call failed is kept unverified, a sampled answer whose call failed is left out of the pass
rate, and the filter's stats are then no done-marker, so that the next `wizevol filter` asks again.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Callable
from typing import Any

from wizevol.filters.base import Filter
from wizevol.filters.code_check import code_blocks
from wizevol.filters.sandbox import Limits, run_to_the_end
from wizevol.prompts import PromptSet, Request
from wizevol.record import Record, Verdict, drop

ENDED_EARLY = "the program ended before its tests finished (exit status 0)"
Ask = Callable[[list[tuple[str, Request]]], dict[str, str | None]]  # [(place, request)] -> place -> answer


def python_of(text: str) -> str:
    """The Python blocks of a response, joined."""
    return "\n\n".join(code for lang, code in code_blocks(text) if lang == "python")


def signatures(code: str) -> str:
    """The `def` and `class` lines of the response: what the tests may call."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return ""
    lines = code.splitlines()
    return "\n".join(lines[n.lineno - 1].strip() for n in ast.walk(tree)
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))


def tests_of(answer: str | None) -> str | None:
    """The tests in the tester's answer: its first Python block, or (completion mode stops at the fence) the
    answer itself when it parses and asserts something."""
    if not answer:
        return None
    code = python_of(answer)
    if not code and "```" not in answer:
        code = answer
    try:
        ast.parse(code)
    except SyntaxError:
        return None
    return code if "assert" in code else None


def failing_line(result, program: str) -> str:
    """The error's last line and, where the traceback points into the program, the line that failed
    (e.g. `AssertionError at: assert sub(3, 1) == 2`)."""
    import re

    frames = re.findall(r'File "main.py", line (\d+)', result.stderr)
    lines = program.splitlines()
    if frames and 0 < int(frames[-1]) <= len(lines):
        return f"{result.detail} at: {lines[int(frames[-1]) - 1].strip()}"
    return result.detail


def difficulty(pass_rate: float) -> str:
    """KodCode's labels by the share of sampled answers that pass."""
    return "easy" if pass_rate > 2 / 3 else "medium" if pass_rate >= 1 / 3 else "hard"


class Verified(Filter):
    """Rejects a Python response that fails the unit tests written for its instruction."""

    name = "verified"

    def __init__(self, ask: Ask, prompts: PromptSet, mode: str, samples: int = 1, limits: Limits = Limits(),
                 model: str = ""):
        self.ask, self.prompts, self.mode, self.samples, self.limits, self.model = ask, prompts, mode, samples, \
            limits, model

    def settings(self) -> dict[str, Any]:
        from wizevol.filters.sandbox import layers

        return {"samples": self.samples, "limits": self.limits.__dict__, "tester": self.model, "mode": self.mode,
                "sandbox_layers": list(layers())}

    def start(self) -> None:
        self.counts: Counter[str] = Counter()
        self.rows: list[dict[str, Any]] = []
        self.work: dict[str, tuple[str | None, list[str | None]]] = {}
        self.failed_calls = 0  # tester or sample calls that failed for good

    def prepare_round(self, records: list[Record]) -> None:
        python = [r for r in records if python_of(r.output)]
        requests: list[tuple[str, Request]] = []
        for r in python:
            requests.append((f"{r.id}#tests", self.prompts.tester.request(
                self.mode, instruction=r.prompt_text(), code=signatures(python_of(r.output)) or python_of(r.output))))
            requests += [(f"{r.id}#sample{j}", self.prompts.respond.request(self.mode, instruction=r.prompt_text()))
                         for j in range(1, self.samples)]
        answers = self.ask(requests) if requests else {}
        self.work = {r.id: (answers.get(f"{r.id}#tests"),  # None: the call failed for good
                            [r.output] + [answers.get(f"{r.id}#sample{j}") for j in range(1, self.samples)])
                     for r in python}

    def _unverified(self, record: Record, count: str, error: str) -> Verdict:
        """A record kept without a verdict: counted, with its row (pass_rate null) and why."""
        self.counts[count] += 1
        self.rows.append({"id": record.id, "passed": None, "pass_rate": None, "samples": 0, "difficulty": None,
                          "error": error})
        return True

    def check(self, record: Record) -> Verdict:
        if record.id not in self.work:
            return self._unverified(record, "no python", "no Python in the response")
        tester, answers = self.work[record.id]
        if tester is None:
            self.failed_calls += 1
            return self._unverified(record, "unverified: the tester's call failed", "the tester's call failed")
        tests = tests_of(tester)
        if tests is None:
            return self._unverified(record, "unverified: no usable tests", "the tester returned no Python asserts")
        self.failed_calls += sum(a is None for a in answers[1:])
        answers = answers[:1] + [a for a in answers[1:] if a is not None]  # a failed call is no sampled answer
        results = [run_to_the_end(python_of(a) + "\n\n" + tests, self.limits, ENDED_EARLY)
                   if a and python_of(a) else None for a in answers]
        passed = [r is not None and r.status == "pass" for r in results]
        rate = sum(passed) / len(passed)
        own = results[0]
        error = "" if passed[0] else (failing_line(own, python_of(answers[0]) + "\n\n" + tests)
                                      if own is not None else "no Python in the response")
        self.counts["passed" if passed[0] else "failed"] += 1
        self.rows.append({"id": record.id, "passed": passed[0], "pass_rate": round(rate, 4), "samples": len(passed),
                          "difficulty": difficulty(rate), "error": error, "tests": tests})
        if not passed[0]:
            return drop(f"failed its tests: {error}", pass_rate=round(rate, 4), error=error)
        return True

    def finish_round(self, k: int) -> list[dict[str, Any]]:
        rows, self.rows = self.rows, []
        return rows

    def complete(self) -> bool:
        return not self.failed_calls

    def report(self) -> dict[str, Any]:
        return {"records": dict(sorted(self.counts.items())), "calls_failed": self.failed_calls}
