"""The programs wizevol runs in the sandbox, read from the package with one call appended (`program()`); they need
only the standard library and never import wizevol (the sandbox's interpreter may not see it).

For solves_benchmark.py (contamination's layer 4): a response's answer functions against a benchmark problem's
tests (`run_job`: one response; `run_batch`: several, a forked child each), with the mutated-input agreement
check, plus the timing (`timing`) and compile (`compile_stdin`) helpers. `MARK` prefixes each result line.

For verified.py's Python (`run_pairs`): many programs (an answer with a set of tests each) in one prepared
process, a forked child each, which installs the audit hook, runs its program as `main.py` with its output going
nowhere, and reports through its own pipe: ran to its end, ended early (status 0 before its last line), or the
exception's type and the line of main.py it was raised at; past its CPU or wall time it is killed. `PAIRS_MARK`
prefixes each result line. (The pipe is the child's: code that looks for it could write a false report, as code
that reads its own source could print run_to_the_end's mark.)"""

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
PAIRS_MARK = "@@wizevol-pairs@@"

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


def _in_child(read_end, channel, null, cpu_s):
    """A forked child's first steps: it keeps only its own pipe's write end (it cannot write to wizevol's channel),
    its output goes nowhere, and its CPU time is its own program's limit."""
    os.close(read_end)
    os.close(channel.fileno())
    os.dup2(null, 1)
    os.dup2(null, 2)
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s if hard == resource.RLIM_INFINITY else min(cpu_s, hard), hard))


def _read_child(pid, r, wall_s, keep):
    """What a forked child writes to its pipe (the first `keep` bytes; a child that writes without end is read,
    not kept) until it closes it or its wall time is up (then it is killed): (data, wait status, killed at a
    limit: its wall time, or SIGXCPU at its CPU time)."""
    data, deadline, killed = b"", time.monotonic() + wall_s, False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            killed = True
            break
        if select.select([r], [], [], left)[0]:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            if len(data) < keep:
                data += chunk
    os.close(r)
    status = os.waitpid(pid, 0)[1]
    return data, status, killed or (os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGXCPU, signal.SIGKILL))


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
                _in_child(_r, _OUT, _NULL, _job["cpu_s"])
                _pipe = os.fdopen(_w, "w")
                sandbox_hook()
                _solve(_job, job["load_s"], functools.partial(_to_pipe, _pipe))
            finally:
                os._exit(0)
        os.close(_w)
        _data, _, _killed = _read_child(_pid, _r, _job["wall_s"], 1 << 20)
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


# -- verified's Python: many answer-and-tests programs, a forked child each --

def _report(pipe, what):
    os.write(pipe, (json.dumps(what) + "\n").encode())


def _child(source, pipe, sandbox_hook):
    sandbox_hook()
    sys.argv = ["main.py"]
    try:
        exec(compile(source, "main.py", "exec"), {"__name__": "__main__", "__file__": "main.py"})
    except SystemExit as e:
        code = e.code
        _report(pipe, {"end": "early"} if code in (None, 0) else {"end": "raised", "type": "SystemExit", "line": None})
        return
    except BaseException as e:  # noqa: BLE001 - what the program raised is its result
        line, tb = None, e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == "main.py":
                line = tb.tb_lineno
            tb = tb.tb_next
        _report(pipe, {"end": "raised", "type": type(e).__name__[:80], "line": line})
        return
    _report(pipe, {"end": "ran"})


def run_pairs(sandbox_hook, path="pairs.json"):
    """Each program of the job in a forked child; one line per program on stdout: MARK + {"n", "end", "type",
    "line"} with end = ran | early | raised | timeout | lost (the child died without a report)."""
    with open(path, encoding="utf-8") as f:
        job = json.load(f)
    out = os.fdopen(os.dup(1), "w")
    null = os.open(os.devnull, os.O_WRONLY)
    for n, source in enumerate(job["programs"]):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                _in_child(r, out, null, job["cpu_s"])
                _child(source, w, sandbox_hook)
            finally:
                os._exit(0)
        os.close(w)
        data, status, killed = _read_child(pid, r, job["wall_s"], 1 << 16)
        try:
            report = json.loads(data.decode("utf-8", "replace").splitlines()[0])
        except (ValueError, IndexError):
            report = None
        if killed:
            report = {"end": "timeout"}
        elif not isinstance(report, dict) or report.get("end") not in ("ran", "early", "raised"):
            ended_well = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0  # os._exit(0) before its last line
            report = {"end": "early" if ended_well else "lost"}
        out.write("\n" + PAIRS_MARK + json.dumps({"n": n, "end": report["end"], "type": report.get("type"),
                                            "line": report.get("line")}) + "\n")
        out.flush()


def program(call: str) -> str:
    """This module's source with `call` appended: a program the sandbox runs (e.g. `run_job(json.loads(...))`)."""
    return Path(__file__).read_text(encoding="utf-8") + f"\n\n{call}\n"
