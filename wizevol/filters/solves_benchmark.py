"""Contamination by execution: a record whose response *solves* a benchmark problem teaches that problem, however
its instruction is worded (another language, new names, a story). Each top-level function of the response that
no other function of it calls (helpers are not the answer) is run against the tests of every benchmark problem
whose entry point takes as many arguments, in the sandbox; a function that passes a problem's whole `check`
leaks that problem. Text layers see the wording; this layer sees what the code does.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import subprocess
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from wizevol.filters import sandbox
from wizevol.filters.response_code import answer_functions, arity, response_python  # noqa: F401 (re-exported)
from wizevol.filters.sandbox import Limits, run_python
from wizevol.filters.solves_runner import MARK, program
from wizevol.run_folder import AppendLog


@dataclass(frozen=True)
class Evidence:
    """What a response's code did on one problem: its best function, whether it passed the tests, and its agreement
    with the canonical solution on inputs near the tests'; fits=False: no function of it takes the problem's
    arguments (a function of none reads its input elsewhere and says nothing)."""

    function: str | None
    passed: bool
    agreement: float
    fits: bool = True

    def contradicts(self, below: float) -> str | None:
        """Why this says the response does another task than the problem's (its text matched it), or None: its
        functions all take other arguments, or its best one fails the tests and agrees on fewer than `below`."""
        if not self.fits:
            return "no function of the response takes the problem's arguments"
        if not self.passed and self.agreement < below:
            return (f"the response's {self.function}() fails the problem's tests and answers as its canonical "
                    f"solution on {self.agreement:.0%} of inputs near them")
        return None


@dataclass(frozen=True)
class TestedProblem:
    """A benchmark problem with its tests: the source that defines `check` (prompt helpers included)."""

    task: str
    source: str  # the prompt with the canonical solution, then the tests (some tests call the entry point itself)
    entry: str
    arity: int


def tested_problems(humaneval: bool = True) -> list[TestedProblem]:
    """HumanEval's problems with their tests (the prompt defines helpers some checks call)."""
    if not humaneval:
        return []
    from wizevol.eval.benchmark import load_benchmark

    out = []
    for p in load_benchmark("humaneval")[1]:
        source = p.prompt + p.canonical_solution + "\n\n" + p.test
        fn = next((n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == p.entry_point),
                  None)
        if fn is not None:
            out.append(TestedProblem(p.task_id, source, p.entry_point, arity(fn)[0]))
    return out


class SolvesBenchmark:
    """Which records' responses pass a benchmark problem's tests, run in the sandbox one record at a time."""

    def __init__(self, problems: list[TestedProblem], limits: Limits = Limits(),  # its memory; times: job()
                 check_s: float = 0.25, min_agreement: float = 0.8, workers: int | None = None,
                 active: tuple[str, ...] | None = None, precompile: bool = True, batch: int = 64):
        self.problems, self.limits, self.check_s, self.min_agreement = problems, limits, check_s, min_agreement
        self.workers = workers or os.cpu_count() or 1
        self.active = active
        self.ran = self.timeouts = 0  # responses run; processes stopped at their limits
        self.unfinished = 0  # responses whose checks did not all finish in time: not final, run again next time
        self.tries = 3  # runs a response's unfinished checks get before its result is taken as it is
        self.given_up = 0  # responses unfinished `tries` runs in a row, taken as they are
        self.unreported: set[str] = set()  # record ids whose process ended before their checks reported
        self.reused = 0  # responses whose result was in cache_path already (an earlier, interrupted run)
        self.rerun_alone = 0  # responses whose batch process died before their result: run again on their own
        self.cache_path: Path | None = None  # where results are appended as they come (the filter's folder)
        # checks that ran out of time, and checks given a fifth of the time after a function's third such check
        self.checks_out_of_time = self.checks_shortened = 0
        self._seconds: list[float] | None = None
        self.precompile = precompile
        self.batch = max(1, batch)  # at most this many responses per sandboxed process (1: a process each)
        self._blobs: list[str] | None = None
        self._lock = threading.Lock()

    def seconds(self) -> list[float]:
        """Each problem's time limit for one check: check_s, or 20x what its canonical solution takes in the
        sandbox where that is more (HumanEval/75's own check takes about 0.3 s). Measured once, in the sandbox."""
        with self._lock:
            if self._seconds is None:
                payload = json.dumps([{"task": p.task, "source": p.source, "entry": p.entry} for p in self.problems])
                result = run_python(program(f"timing(json.loads({payload!r}))"), Limits(cpu_s=120, wall_s=180),
                                    self.active)
                line = next((ln for ln in result.stdout.splitlines() if ln.startswith(MARK)), None)
                took = json.loads(line[len(MARK):]) if line else [None] * len(self.problems)
                self._seconds = [max(self.check_s, 20 * (t or 0.0)) for t in took]
            return self._seconds

    def compiled(self) -> list[str] | None:
        """Each problem's code as the sandbox's own interpreter compiles it, marshalled, so that each response's
        process loads it instead of compiling every problem again (compiling 120 problems took 42 ms of the
        72 ms a response took). Compiling runs nothing, and the benchmark's text is trusted, so it runs outside
        the sandbox; in a container (whose Python may differ) or if it fails, the sandbox compiles the source."""
        with self._lock:
            if self._blobs is None:
                self._blobs = []
                if self.precompile and "docker" not in (self.active if self.active is not None else sandbox.layers()):
                    payload = json.dumps([{"task": p.task, "source": p.source} for p in self.problems])
                    try:
                        done = subprocess.run([sandbox.interpreter()[0], "-I", "-c", program("compile_stdin()")], input=payload,
                                              capture_output=True, text=True, timeout=300, check=True)
                        self._blobs = json.loads(done.stdout)
                    except (OSError, subprocess.SubprocessError, ValueError):
                        pass
            return self._blobs or None

    def settings(self) -> dict:
        return {"problems": len(self.problems), "check_s": self.check_s, "min_agreement": self.min_agreement,
                "memory_mb": self.limits.memory_mb,  # time limits follow each response's checks (job)
                "sandbox_layers": list(self.active if self.active is not None else sandbox.layers())}

    def _plan(self, code: str, only: frozenset[str] | None = None) -> tuple[list, float] | None:
        """(the answer functions with the problems each may solve, the response's seconds), or None when it has no
        function a problem could call. Each check may take its problem's seconds, and a passed one that again per
        mutated input (two runs of up to 24): the time grows with the checks (a function that loops on other
        problems' inputs spends each one's share, not the next one's). `only`: these tasks alone."""
        tries = []
        for name, lo, hi in answer_functions(code):
            fits = [i for i, p in enumerate(self.problems) if lo <= p.arity <= hi and (only is None or p.task in only)]
            if fits:
                tries.append([name, fits])
        if not tries:
            return None
        limit = self.seconds()
        used = {i for _, fits in tries for i in fits}
        return tries, 10 + self.check_s * 5 + sum(2 * limit[i] for _, fits in tries for i in fits) + 50 * max(
            limit[i] for i in used)

    def _problem_rows(self, used: set[int]) -> list[dict | None]:
        limit, blobs = self.seconds(), self.compiled()
        return [{"task": p.task, "entry": p.entry, "s": limit[i],
                 **({"code": blobs[i]} if blobs else {"source": p.source})} if i in used else None
                for i, p in enumerate(self.problems)]

    def job(self, code: str, only: frozenset[str] | None = None) -> tuple[str, Limits] | None:
        """The sandboxed program for one response on its own and its limits, or None (nothing to try)."""
        plan = self._plan(code, only)
        if plan is None:
            return None
        tries, seconds = plan
        job = {"code": code, "try": tries, "problems": self._problem_rows({i for _, f in tries for i in f}),
               "load_s": self.check_s * 5, "every": only is not None}
        return program(f"run_job(json.loads({json.dumps(job)!r}))"), Limits(cpu_s=int(seconds) + 1, wall_s=seconds,
                                                                             memory_mb=self.limits.memory_mb)

    def _batch(self, codes: list[str], only: list[frozenset[str]] | None = None
               ) -> list[tuple[list[tuple[str, str, float]], str]]:
        """(every (function, task, agreement) whose tests pass, whether its checks were stopped at the time
        limit) for each of several responses run in one sandboxed process (run_batch: a forked child each). A response
        whose result did not come back (the process died or ran out of time) runs again on its own. With `only`
        (each response's tasks): those tasks alone, and every function tried, as (function, task, agreement,
        passed)."""
        if len(codes) == 1:
            return [self._solved_any(codes[0], only[0] if only else None)]
        plans = [self._plan(c, only[n] if only else None) for n, c in enumerate(codes)]
        todo = [n for n, plan in enumerate(plans) if plan is not None]
        out: list[tuple[list[tuple[str, str, float]], str] | None] = [([], "done") if plan is None else None
                                                                       for plan in plans]
        if todo:
            used = {i for n in todo for _, fits in plans[n][0] for i in fits}
            limit = self.seconds()
            batch = {"problems": self._problem_rows(used), "load_s": self.check_s * 5,
                     "responses": [{"code": codes[n], "try": plans[n][0], "wall_s": plans[n][1],
                                    "cpu_s": int(plans[n][1]) + 1, "every": only is not None} for n in todo]}
            seconds = 10 + sum(5 * limit[i] for i in used) + sum(plans[n][1] for n in todo)
            result = run_python("", Limits(cpu_s=int(seconds) + 1, wall_s=seconds, memory_mb=self.limits.memory_mb),
                                self.active, files={"batch.json": json.dumps(batch)}, trusted=program("run_batch(sandbox_hook)"),
                                tail=1 << 22)
            for line in result.stdout.splitlines():
                if line.startswith(MARK):
                    mark = json.loads(line[len(MARK):])
                    n = todo[mark["n"]]
                    if out[n] is None:  # the runner's own line (children write nowhere near it)
                        counts = mark["counts"] or None
                        out[n] = ([tuple(h) for h in mark["hits"]], self._state(mark["timeout"], counts))
        lost = [n for n, hits in enumerate(out) if hits is None]
        with self._lock:
            self.rerun_alone += len(lost)
        return [got if got is not None else self._solved_any(codes[n], only[n] if only else None)
                for n, got in enumerate(out)]

    def _state(self, timed_out: bool, counts: dict | None) -> str:
        """How a response's checks ended, counted: done; stopped (its process, at its limit); out_of_time (a check
        ran out of its time); unreported (the process ended before the checks said they were done: `os._exit`)."""
        with self._lock:
            self.ran += 1
            self.timeouts += timed_out
            if counts:
                self.checks_out_of_time += counts.get("out_of_time", 0)
                self.checks_shortened += counts.get("shortened", 0)
        if timed_out:
            return "stopped"
        if counts is None:
            return "unreported"
        return "out_of_time" if counts.get("out_of_time") else "done"

    def solved(self, code: str) -> list[tuple[str, str, float]]:
        """[(function, task, agreement)]: the problems whose tests a function of the response passes, and the share
        of inputs near the tests' ones on which it answers as the canonical solution does (at least min_agreement:
        a function that only happens to fit a problem's few asserts disagrees there)."""
        return [h for h in self.solved_any(code) if h[2] >= self.min_agreement]

    def solved_any(self, code: str) -> list[tuple[str, str, float]]:
        """Every (function, task, agreement) whose tests pass, whatever the agreement."""
        return self._solved_any(code)[0]

    def _solved_any(self, code: str, only: frozenset[str] | None = None) -> tuple[list[tuple[str, str, float]], str]:
        """solved_any, and whether the response's checks were stopped at its time limit (not finished); with
        `only`, as _batch says."""
        job = self.job(code, only)
        if job is None:
            return [], "done"
        program, limits = job
        result = run_python(program, limits, self.active)
        marks = [json.loads(ln[len(MARK):]) for ln in result.stdout.splitlines() if ln.startswith(MARK)]
        counts = next((m for m in marks if isinstance(m, dict)), None)
        return [tuple(m) for m in marks if isinstance(m, list)], self._state(result.status == "timeout", counts)

    def _chunks(self, items: list) -> list[list]:
        """The items split for sandboxed processes: up to `batch` each, fewer (down to 2) when that leaves a worker
        fewer than 4 processes."""
        size = min(self.batch, max(2, -(-len(items) // (4 * self.workers))))
        return [items[s:s + size] for s in range(0, len(items), size)]

    def scores(self, items: list[tuple[str, list[str]]]) -> list[dict[str, Evidence | None]]:
        """What a response's code does on tasks chosen by its text: for each (code, tasks), per task, its function
        that does best there (a pass first, then agreement with the canonical solution on inputs near the tests'),
        or Evidence(fits=False) where its answer functions all take arguments and none as many as the task's; None
        where there is nothing to say (no function; its checks did not finish)."""
        chosen = [(code, frozenset(tasks)) for code, tasks in items]
        chunks = self._chunks(list(range(len(chosen))))
        out: list[dict[str, Evidence | None]] = [dict.fromkeys(sorted(tasks)) for _, tasks in chosen]
        with ThreadPoolExecutor(self.workers) as pool:
            runs = pool.map(lambda chunk: self._batch([chosen[n][0] for n in chunk], [chosen[n][1] for n in chunk]),
                            chunks)
            for chunk, results in zip(chunks, runs, strict=True):
                for n, (tried, _) in zip(chunk, results, strict=True):
                    for function, task, agreement, passed in tried:
                        best = out[n].get(task)
                        if best is None or (passed, agreement) > (best.passed, best.agreement):
                            out[n][task] = Evidence(function, bool(passed), agreement)
        takes = {p.task: p.arity for p in self.problems}
        for (code, _), found in zip(chosen, out, strict=True):
            functions = [(lo, hi) for _, lo, hi in answer_functions(code) if hi > 0] if None in found.values() else []
            for task in [t for t, e in found.items() if e is None and t in takes and functions]:
                if not any(lo <= takes[task] <= hi for lo, hi in functions):
                    found[task] = Evidence(None, False, 0.0, fits=False)
        return out

    def key(self, code: str) -> str:
        """What a response's result depends on: its code, the problems, check_s and the runner's own code
        (min_agreement is applied after)."""
        what = json.dumps([code, self.check_s, [p.task for p in self.problems], program("")])
        return hashlib.sha256(what.encode()).hexdigest()[:32]

    def _known(self) -> tuple[dict[str, dict], Counter[str]]:
        """The final results in cache_path, by key ({"hits", "unreported"}), and how many unfinished runs each
        other key has had (a line torn by an interruption is skipped)."""
        known: dict[str, dict] = {}
        tries: Counter[str] = Counter()
        if self.cache_path is not None:
            for row in AppendLog(self.cache_path).rows():
                try:
                    if "unfinished" in row:
                        tries[row["key"]] += 1
                    else:
                        known[row["key"]] = {"hits": [tuple(h) for h in row["hits"]],
                                             "unreported": bool(row.get("unreported"))}
                except (KeyError, TypeError):
                    continue
        return known, tries

    def run(self, codes: Iterable[tuple[str, str]], any_agreement: bool = False,
            on_done: Callable[[], None] | None = None) -> dict[str, list[tuple[str, str, float]]]:
        """{record id: [(function, task, agreement)]} for (id, response code) pairs, up to `batch` responses to a
        sandboxed process (fewer, down to 2, when that leaves a worker fewer than 4 processes), in parallel;
        `on_done` is called (in this thread) as each response finishes. With `cache_path`, each result is
        appended there as it comes, and a response already there is not run again (an interrupted run resumes).
        A response whose checks did not all finish (its process stopped at its limit, or one check out of its
        time: a busy machine, a slow function, one that swallows the alarm) is not final: it counts in
        `unfinished`, its hits so far stand, and the next run checks it again, up to `tries` runs; after that its
        result is taken as it is and counted in `given_up`. A response whose process ended before its checks
        reported (`os._exit`) is final, and listed in `unreported`: nothing says it is clean."""
        items = [(rid, code) for rid, code in codes if code]
        known, tries = self._known()
        keys = {code: self.key(code) for _, code in items}
        found: dict[str, list[tuple[str, str, float]]] = {}

        def take(rid: str, hits: list[tuple[str, str, float]], unreported: bool = False) -> None:
            hits = hits if any_agreement else [h for h in hits if h[2] >= self.min_agreement]
            if hits:
                found[rid] = hits
            if unreported:
                self.unreported.add(rid)
            if on_done is not None:
                on_done()

        todo = []
        for rid, code in items:
            if keys[code] in known:
                self.reused += 1
                take(rid, known[keys[code]]["hits"], known[keys[code]]["unreported"])
            else:
                todo.append((rid, code))
        chunks = self._chunks(todo)
        log = None
        if self.cache_path is not None:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            log = AppendLog(self.cache_path)
        with ThreadPoolExecutor(self.workers) as pool:
            futures = {pool.submit(self._batch, [code for _, code in chunk]): chunk for chunk in chunks}
            try:
                for future in as_completed(futures):
                    for (rid, code), (hits, state) in zip(futures[future], future.result(), strict=True):
                        final = state in ("done", "unreported") or tries[keys[code]] + 1 >= self.tries
                        if not final:  # this thread alone counts it
                            self.unfinished += 1
                        self.given_up += final and state in ("stopped", "out_of_time")
                        if log is not None:
                            log.append({"key": keys[code], "hits": hits, **({"unreported": True} if state ==
                                                                           "unreported" else {})} if final
                                       else {"key": keys[code], "unfinished": state})
                        take(rid, hits, state == "unreported")
            except BaseException:  # stopped (Ctrl-C) or failed: the batches not started yet never start
                for future in futures:
                    future.cancel()
                raise
        return {rid: found[rid] for rid, _ in items if rid in found}
