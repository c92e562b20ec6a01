"""The program solves_benchmark.py runs in the sandbox: a response's answer functions against a benchmark
problem's tests (`run_job`: one response; `run_batch`: several, a forked child each), with the mutated-input
agreement check, plus the timing (`timing`) and compile (`compile_stdin`) helpers. Its source, read from the
package with one call appended (`program()`), is what runs; it needs only the standard library and never
imports wizevol (the sandbox's interpreter may not see it). `MARK` prefixes every result line it prints."""

import base64
import copy
import functools
import json
import marshal
import os
import resource
import select
import signal
import sys
import time
from pathlib import Path

MARK = "@@wizevol-solves@@"

_compiled = {}
PROBLEMS = []  # set from the job: each problem's task, entry point, seconds, and code (or source), or None


def _code(i):
    """Problem i's code: compiled outside the sandbox by the same interpreter (marshalled), or compiled here."""
    if i not in _compiled:
        p = PROBLEMS[i]
        _compiled[i] = (marshal.loads(base64.b64decode(p["code"])) if "code" in p
                        else compile(p["source"], p["task"], "exec"))
    return _compiled[i]


class _Quiet:  # what the response prints is not wanted, and must not push the results out of the output's tail
    def write(self, text):
        return len(text)

    def flush(self):
        pass


class _Timeout(BaseException):
    pass


def _alarm(*_):
    raise _Timeout()


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
        return [value[::-1], value + "ab", value[1:], value.swapcase(), "a" + value + "aba", value + value[-1:] * 2]
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
            return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
        return bool(a == b) and type(a) is type(b)
    except BaseException:
        return False


_probes = {}


def _check(i, env, fn):
    """Problem i's tests (its code run into `env`) against `fn`."""
    exec(_code(i), env)
    env["check"](fn)


def _call_into(out, fn, args):
    out.append(fn(*copy.deepcopy(args)))


def _call_named_into(out, ns, name, args):
    """_call_into with the function looked up by name (inside the guard: it may be missing)."""
    out.append(ns[name](*copy.deepcopy(args)))


def _probe(i):
    """(args, the canonical solution's answer) for inputs mutated from the ones problem i's tests pass."""
    p = PROBLEMS[i]
    if p["task"] in _probes:
        return _probes[p["task"]]
    env, calls = {"__name__": "__benchmark__"}, []

    def _record(*args):
        calls.append(copy.deepcopy(args))
        return env[p["entry"]](*args)

    _guarded(p["s"] * 5, _check, i, env, _record)
    seen, probes = set(), []
    for args in calls:
        for j, value in enumerate(args):
            for m in _mutants(value):
                new = args[:j] + (m,) + args[j + 1:]
                key = repr(new)
                if key in seen or len(probes) >= 24:
                    continue
                seen.add(key)
                out = []
                if _guarded(p["s"], _call_named_into, out, env, p["entry"], new):
                    probes.append((new, out[0]))
    _probes[p["task"]] = probes
    return probes


def _agreement(fn, i):
    p = PROBLEMS[i]
    probes = _probe(i)
    if not probes:
        return 1.0
    agree = 0
    for args, expected in probes:
        out = []
        if _guarded(p["s"], _call_into, out, fn, args) and _same(out[0], expected):
            agree += 1
    return agree / len(probes)


def _solve(job, load_s, emit):
    """Run one response's answer functions against the problems it may solve; emit([function, task, agreement])
    for each passed one (with job["every"]: [function, task, agreement, passed] for each one tried), then
    emit({"out_of_time", "shortened"})."""
    signal.signal(signal.SIGALRM, _alarm)
    sys.stdout = _Quiet()  # what the response prints is not wanted
    ns = {"__name__": "__record__"}
    _guarded(load_s, exec, compile(job["code"], "response.py", "exec"), ns)  # defs before an error stay
    short = out_of_time = 0
    for name, problems in job["try"]:
        cls, _, method = name.rpartition(".")
        if cls:  # a method: bound to an instance made without arguments (a class that needs some is skipped)
            made = []
            if not _guarded(load_s, _call_named_into, made, ns, cls, ()):
                continue
            fn = getattr(made[0], method, None)
        else:
            fn = ns.get(name)
        if not callable(fn):
            continue
        slow = 0  # a function that runs out of time on other problems' inputs gets less time on the rest
        for i in problems:
            p = PROBLEMS[i]
            env = {"__name__": "__benchmark__"}
            limit = p["s"] if slow < 3 else max(0.05, p["s"] / 5)
            short += slow >= 3
            passed = _guarded(limit, _check, i, env, fn)
            slow += _timed_out
            out_of_time += _timed_out
            if passed or job.get("every"):
                emit([name, p["task"], round(_agreement(fn, i), 3)] + ([passed] if job.get("every") else []))
    emit({"out_of_time": out_of_time, "shortened": short})


def timing(problems):
    """Print the seconds each problem's check of its canonical solution takes (None where it fails), in problem
    order, after MARK."""
    out = []
    for p in problems:
        env = {"__name__": "__benchmark__"}
        try:
            exec(compile(p["source"], p["task"], "exec"), env)
            t = time.perf_counter()
            env["check"](env[p["entry"]])
            out.append(round(time.perf_counter() - t, 4))
        except BaseException:
            out.append(None)
    print("\n" + MARK + json.dumps(out))


def compile_stdin():
    """Print each problem's code (a JSON list on stdin), compiled by this interpreter and marshalled, in base64."""
    print(json.dumps([base64.b64encode(marshal.dumps(compile(p["source"], p["task"], "exec"))).decode()
                      for p in json.load(sys.stdin)]))


def run_job(job):
    """One response in one process (main.py, under the audit hook from the start)."""
    PROBLEMS[:] = job["problems"]
    out = sys.stdout

    def emit(mark):
        out.write("\n" + MARK + json.dumps(mark) + "\n")
        out.flush()

    _solve(job, job["load_s"], emit)


def _to_pipe(pipe, mark):
    pipe.write(json.dumps(mark) + "\n")
    pipe.flush()


def run_batch(sandbox_hook, path="batch.json"):
    """Many responses in one process (wizevol's own code under the OS layers, before the audit hook). It loads
    the problems once, then forks a child per response: the child installs the hook (`sandbox_hook`), runs the
    response with its output going nowhere, and sends its marks through its own pipe; past its wall time it is
    killed. A child is a copy of the prepared process, so no response sees what another one changed. One line
    per response on stdout: MARK + {"n", "hits", "counts", "timeout"}."""
    with open(path, encoding="utf-8") as f:
        job = json.load(f)
    PROBLEMS[:] = job["problems"]
    signal.signal(signal.SIGALRM, _alarm)
    for _i, _p in enumerate(PROBLEMS):  # compiled, and their imports made, once for every child
        if _p is not None:
            _guarded(_p["s"] * 5, exec, _code(_i), {"__name__": "__benchmark__"})
    _OUT = os.fdopen(os.dup(1), "w")
    _NULL = os.open(os.devnull, os.O_WRONLY)
    for _n, _job in enumerate(job["responses"]):
        _r, _w = os.pipe()
        _pid = os.fork()
        if _pid == 0:
            try:
                os.close(_r)
                os.close(_OUT.fileno())  # the child cannot write to wizevol's channel, only to its own pipe
                os.dup2(_NULL, 1)
                os.dup2(_NULL, 2)
                _hard = resource.getrlimit(resource.RLIMIT_CPU)[1]  # the CPU limit of this one response
                _soft = _job["cpu_s"] if _hard == resource.RLIM_INFINITY else min(_job["cpu_s"], _hard)
                resource.setrlimit(resource.RLIMIT_CPU, (_soft, _hard))
                _pipe = os.fdopen(_w, "w")
                sandbox_hook()
                _solve(_job, job["load_s"], functools.partial(_to_pipe, _pipe))
            finally:
                os._exit(0)
        os.close(_w)
        _data, _deadline, _killed = b"", time.monotonic() + _job["wall_s"], False
        while True:
            _left = _deadline - time.monotonic()
            if _left <= 0:
                os.kill(_pid, signal.SIGKILL)
                _killed = True
                break
            if select.select([_r], [], [], _left)[0]:
                _chunk = os.read(_r, 65536)
                if not _chunk:
                    break
                if len(_data) < 1 << 20:  # a child that writes without end is read, not kept
                    _data += _chunk
        os.close(_r)
        _status = os.waitpid(_pid, 0)[1]
        _killed = _killed or (os.WIFSIGNALED(_status) and os.WTERMSIG(_status) in (signal.SIGXCPU, signal.SIGKILL))
        _marks = []
        for _line in _data.decode("utf-8", "replace").splitlines():
            try:
                _marks.append(json.loads(_line))
            except ValueError:
                pass
        _hits = [m for m in _marks if isinstance(m, list) and len(m) in (3, 4)]
        _counts = next((m for m in _marks if isinstance(m, dict)), None)
        _OUT.write("\n" + MARK + json.dumps({"n": _n, "hits": _hits, "counts": _counts or {}, "timeout": _killed}) + "\n")
        _OUT.flush()


def program(call: str) -> str:
    """This module's source with `call` appended: a program the sandbox runs (e.g. `run_job(json.loads(...))`)."""
    return Path(__file__).read_text(encoding="utf-8") + f"\n\n{call}\n"
