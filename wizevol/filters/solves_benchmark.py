"""Contamination by execution: a record whose response *solves* a benchmark problem teaches that problem, however
its instruction is worded (another language, new names, a story). Each top-level function of the response that
no other function of it calls (helpers are not the answer) is run against the tests of every benchmark problem
whose entry point takes as many arguments, in the sandbox; a function that passes a problem's whole `check`
leaks that problem. Text layers see the wording; this layer sees what the code does.
"""

from __future__ import annotations

import ast
import json
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from wizevol.filters.sandbox import Limits, run_python

MARK = "@@wizevol-solves@@"

RUNNER = r'''
import copy, json, signal, sys
JOB = json.loads(%s)
_OUT = sys.stdout


class _Quiet:  # what the response prints is not wanted, and must not push the results out of the output's tail
    def write(self, text):
        return len(text)

    def flush(self):
        pass


sys.stdout = _Quiet()


class _Timeout(BaseException):
    pass


def _alarm(*_):
    raise _Timeout()


signal.signal(signal.SIGALRM, _alarm)


_timed_out = False


def _guarded(seconds, fn, *args):
    global _timed_out
    _timed_out = False
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        fn(*args)
        return True
    except _Timeout:
        _timed_out = True
        return False
    except BaseException:
        return False
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _mutants(value):
    """Inputs near one the tests used: what a function that only fits the tests' few asserts gets wrong."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value + 1, value * 2 + 3, value - 1]
    if isinstance(value, float):
        return [value + 0.5, value * 2.5]
    if isinstance(value, str):
        return [value[::-1], value + "ab", value[1:], value.swapcase(), "a" + value + "aba"]
    if isinstance(value, list):
        out = [value[::-1], value[1:], value + value[:1], value[:1] + value]
        try:
            out.append(sorted(value, reverse=True))
        except TypeError:
            pass
        return out
    return []


def _same(a, b):
    try:
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
            return abs(a - b) <= 1e-6 * max(1.0, abs(b))
        if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and type(a) is type(b):
            return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
        return bool(a == b) and type(a) is type(b)
    except BaseException:
        return False


_probes = {}


def _probe(p):
    """(args, the canonical solution's answer) for inputs mutated from the ones the problem's tests pass."""
    if p["task"] in _probes:
        return _probes[p["task"]]
    env, calls = {"__name__": "__benchmark__"}, []
    def _record(*args):
        calls.append(copy.deepcopy(args))
        return env[p["entry"]](*args)
    _guarded(p["s"] * 5, lambda: (exec(compile(p["source"], p["task"], "exec"), env), env["check"](_record)))
    seen, probes = set(), []
    for args in calls:
        for i, value in enumerate(args):
            for m in _mutants(value):
                new = args[:i] + (m,) + args[i + 1:]
                key = repr(new)
                if key in seen or len(probes) >= 24:
                    continue
                seen.add(key)
                out = []
                if _guarded(p["s"], lambda: out.append(env[p["entry"]](*copy.deepcopy(new)))):
                    probes.append((new, out[0]))
    _probes[p["task"]] = probes
    return probes


def _agreement(fn, p):
    probes = _probe(p)
    if not probes:
        return 1.0
    agree = 0
    for args, expected in probes:
        out = []
        if _guarded(p["s"], lambda: out.append(fn(*copy.deepcopy(args)))) and _same(out[0], expected):
            agree += 1
    return agree / len(probes)


_ns = {"__name__": "__record__"}
_guarded(JOB["load_s"], exec, compile(JOB["code"], "response.py", "exec"), _ns)  # defs before an error stay
_compiled, _short, _out_of_time = {}, 0, 0
for _name, _problems in JOB["try"]:
    _cls, _, _method = _name.rpartition(".")
    if _cls:  # a method: bound to an instance made without arguments (a class that needs some is skipped)
        _made = []
        if not _guarded(JOB["load_s"], lambda: _made.append(_ns[_cls]())):
            continue
        _fn = getattr(_made[0], _method, None)
    else:
        _fn = _ns.get(_name)
    if not callable(_fn):
        continue
    _slow = 0  # a function that runs out of time on other problems' inputs gets less time on the rest
    for _i in _problems:
        _p = JOB["problems"][_i]
        if _i not in _compiled:
            _compiled[_i] = compile(_p["source"], _p["task"], "exec")
        _env = {"__name__": "__benchmark__"}
        _limit = _p["s"] if _slow < 3 else max(0.05, _p["s"] / 5)
        _short += _slow >= 3
        _passed = _guarded(_limit, lambda: (exec(_compiled[_i], _env), _env["check"](_fn)))
        _slow += _timed_out
        _out_of_time += _timed_out
        if _passed:
            _OUT.write("\n" + %r + json.dumps([_name, _p["task"], round(_agreement(_fn, _p), 3)]) + "\n")
            _OUT.flush()
_OUT.write("\n" + %r + json.dumps({"out_of_time": _out_of_time, "shortened": _short}) + "\n")
'''


TIMING = r'''
import json, time
out = []  # seconds in problem order, short enough for the output's tail
for p in json.loads(%s):
    env = {"__name__": "__benchmark__"}
    try:
        exec(compile(p["source"], p["task"], "exec"), env)
        t = time.perf_counter()
        env["check"](env[p["entry"]])
        out.append(round(time.perf_counter() - t, 4))
    except BaseException:
        out.append(None)
print("\n" + %r + json.dumps(out))
'''


@dataclass(frozen=True)
class TestedProblem:
    """A benchmark problem with its tests: the source that defines `check` (prompt helpers included)."""

    task: str
    source: str  # the prompt with the canonical solution, then the tests (some tests call the entry point itself)
    entry: str
    arity: int


def _arity(fn: ast.FunctionDef) -> tuple[int, float]:
    """How many positional arguments a function takes: (fewest, most)."""
    a = fn.args
    positional = len(a.posonlyargs) + len(a.args)
    required = positional - len(a.defaults)
    return required, float("inf") if a.vararg else positional


def _methods(cls: ast.ClassDef) -> list[tuple[str, int, float]]:
    """A class's public methods that no other method of it calls (`self.x(...)`), as `Class.method`, their
    arity without `self` (LeetCode's `class Solution: def isPrime(self, n)` is an answer too)."""
    defs = [n for n in cls.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]
    called = {sub.func.attr for n in cls.body if isinstance(n, ast.FunctionDef) for sub in ast.walk(n)
              if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr != n.name}
    out = []
    for fn in defs:
        decorators = {d.id for d in fn.decorator_list if isinstance(d, ast.Name)}
        if fn.name in called or decorators - {"staticmethod"}:
            continue
        lo, hi = _arity(fn)
        bound = 0 if "staticmethod" in decorators else 1
        if lo >= bound:
            out.append((f"{cls.name}.{fn.name}", lo - bound, hi - bound))
    return out


def answer_functions(code: str) -> list[tuple[str, int, float]]:
    """The response's top-level functions and class methods that no other function or method of it calls:
    (name, fewest, most positional arguments)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    top = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    called: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id != node.name:
                    called.add(sub.func.id)
    out = [(name, *_arity(fn)) for name, fn in top.items() if name not in called]
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            out += _methods(node)
    return out


def response_python(text: str) -> str:
    """The Python a response holds: its Python blocks, or (a completion with no fence) the whole text when it
    parses and looks like Python."""
    from wizevol.filters.code_check import _LOOKS_PYTHON
    from wizevol.filters.verified import python_of

    code = python_of(text or "")
    if code or "```" in (text or ""):
        return code
    try:
        ast.parse(text or "")
    except SyntaxError:
        return ""
    return text if _LOOKS_PYTHON.search(text or "") else ""


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
            out.append(TestedProblem(p.task_id, source, p.entry_point, _arity(fn)[0]))
    return out


class SolvesBenchmark:
    """Which records' responses pass a benchmark problem's tests, run in the sandbox one record at a time."""

    def __init__(self, problems: list[TestedProblem], limits: Limits = Limits(),  # its memory; times: job()
                 check_s: float = 0.25, min_agreement: float = 0.75, workers: int | None = None,
                 active: tuple[str, ...] | None = None):
        self.problems, self.limits, self.check_s, self.min_agreement = problems, limits, check_s, min_agreement
        self.workers = workers or os.cpu_count() or 1
        self.active = active
        self.ran = self.timeouts = 0  # responses run; processes stopped at their limits
        # checks that ran out of time, and checks given a fifth of the time after a function's third such check
        self.checks_out_of_time = self.checks_shortened = 0
        self._seconds: list[float] | None = None
        self._lock = threading.Lock()

    def seconds(self) -> list[float]:
        """Each problem's time limit for one check: check_s, or 20x what its canonical solution takes in the
        sandbox where that is more (HumanEval/75's own check takes about 0.3 s). Measured once, in the sandbox."""
        with self._lock:
            if self._seconds is None:
                payload = json.dumps([{"task": p.task, "source": p.source, "entry": p.entry} for p in self.problems])
                result = run_python(TIMING % (repr(payload), MARK), Limits(cpu_s=120, wall_s=180), self.active)
                line = next((ln for ln in result.stdout.splitlines() if ln.startswith(MARK)), None)
                took = json.loads(line[len(MARK):]) if line else [None] * len(self.problems)
                self._seconds = [max(self.check_s, 20 * (t or 0.0)) for t in took]
            return self._seconds

    def settings(self) -> dict:
        from wizevol.filters.sandbox import layers

        return {"problems": len(self.problems), "check_s": self.check_s, "min_agreement": self.min_agreement,
                "memory_mb": self.limits.memory_mb,  # time limits follow each response's checks (job)
                "sandbox_layers": list(self.active if self.active is not None else layers())}

    def job(self, code: str) -> tuple[str, Limits] | None:
        """The sandboxed program for one response and its limits, or None when it has no function a problem could
        call. Each check may take its problem's seconds, and a passed one that again per mutated input (two runs
        of up to 24): the wall and CPU limits grow with the checks (a function that loops on other problems'
        inputs spends each one's share, not the next one's)."""
        tries = []
        for name, lo, hi in answer_functions(code):
            fits = [i for i, p in enumerate(self.problems) if lo <= p.arity <= hi]
            if fits:
                tries.append([name, fits])
        if not tries:
            return None
        limit = self.seconds()
        used = sorted({i for _, fits in tries for i in fits})
        problems = [{"task": p.task, "source": p.source, "entry": p.entry, "s": limit[i]} if i in used else None
                    for i, p in enumerate(self.problems)]
        job = {"code": code, "try": tries, "problems": problems, "load_s": self.check_s * 5}
        seconds = 10 + self.check_s * 5 + sum(2 * limit[i] for _, fits in tries for i in fits) + 50 * max(
            limit[i] for i in used)
        return RUNNER % (repr(json.dumps(job)), MARK, MARK), Limits(cpu_s=int(seconds) + 1, wall_s=seconds,
                                                            memory_mb=self.limits.memory_mb)

    def solved(self, code: str) -> list[tuple[str, str, float]]:
        """[(function, task, agreement)]: the problems whose tests a function of the response passes, and the share
        of inputs near the tests' ones on which it answers as the canonical solution does (at least min_agreement:
        a function that only happens to fit a problem's few asserts disagrees there)."""
        return [h for h in self.solved_any(code) if h[2] >= self.min_agreement]

    def solved_any(self, code: str) -> list[tuple[str, str, float]]:
        """Every (function, task, agreement) whose tests pass, whatever the agreement."""
        job = self.job(code)
        if job is None:
            return []
        program, limits = job
        result = run_python(program, limits, self.active)
        marks = [json.loads(ln[len(MARK):]) for ln in result.stdout.splitlines() if ln.startswith(MARK)]
        with self._lock:
            self.ran += 1
            self.timeouts += result.status == "timeout"
            for counts in (m for m in marks if isinstance(m, dict)):
                self.checks_out_of_time += counts["out_of_time"]
                self.checks_shortened += counts["shortened"]
        return [tuple(m) for m in marks if isinstance(m, list)]

    def run(self, codes: Iterable[tuple[str, str]], any_agreement: bool = False,
            on_done: Callable[[], None] | None = None) -> dict[str, list[tuple[str, str, float]]]:
        """{record id: [(function, task, agreement)]} for (id, response code) pairs, in parallel; `on_done` is
        called (in this thread) as each response finishes."""
        items = [(rid, code) for rid, code in codes if code]
        one = self.solved_any if any_agreement else self.solved
        found: dict[str, list[tuple[str, str, float]]] = {}
        with ThreadPoolExecutor(self.workers) as pool:
            futures = {pool.submit(one, code): rid for rid, code in items}
            for future in as_completed(futures):
                hits = future.result()
                if hits:
                    found[futures[future]] = hits
                if on_done is not None:
                    on_done()
        return {rid: found[rid] for rid, _ in items if rid in found}
