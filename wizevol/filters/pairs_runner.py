"""The program the verified filter runs in the sandbox for Python: many programs (an answer with a set of tests
each) in one prepared process, a forked child each (`run_pairs`), as solves_runner.run_batch does for layer 4.
Its source, read from the package with one call appended (`program()`), is what runs; it needs only the standard
library and never imports wizevol. `MARK` prefixes every result line it prints.

A child is a copy of the prepared process: it installs the audit hook (`sandbox_hook`), runs its program as
`main.py` with its output going nowhere, and reports through its own pipe: ran to its end, ended early (a
SystemExit with status 0 before its last line), or the exception's type and the line of main.py it was raised
at. Past its CPU or wall time it is killed (timeout). (The pipe is the child's: code that looks for it could
write a false report, as code that reads its own source could print run_to_the_end's mark.)"""

import json
import os
import resource
import select
import signal
import sys
import time
from pathlib import Path

MARK = "@@wizevol-pairs@@"


def _report(pipe, what):
    os.write(pipe, (json.dumps(what) + "\n").encode())


def _child(source, cpu_s, pipe, null, sandbox_hook):
    os.dup2(null, 1)
    os.dup2(null, 2)
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s if hard == resource.RLIM_INFINITY else min(cpu_s, hard), hard))
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
                os.close(r)
                os.close(out.fileno())  # the child cannot write to wizevol's channel, only to its own pipe
                _child(source, job["cpu_s"], w, null, sandbox_hook)
            finally:
                os._exit(0)
        os.close(w)
        data, deadline, killed = b"", time.monotonic() + job["wall_s"], False
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
                if len(data) < 1 << 16:
                    data += chunk
        os.close(r)
        status = os.waitpid(pid, 0)[1]
        killed = killed or (os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGXCPU, signal.SIGKILL))
        try:
            report = json.loads(data.decode("utf-8", "replace").splitlines()[0])
        except (ValueError, IndexError):
            report = None
        if killed:
            report = {"end": "timeout"}
        elif not isinstance(report, dict) or report.get("end") not in ("ran", "early", "raised"):
            ended_well = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0  # os._exit(0) before its last line
            report = {"end": "early" if ended_well else "lost"}
        out.write("\n" + MARK + json.dumps({"n": n, "end": report["end"], "type": report.get("type"),
                                            "line": report.get("line")}) + "\n")
        out.flush()


def program(call: str) -> str:
    """This module's source with `call` appended: a program the sandbox runs."""
    return Path(__file__).read_text(encoding="utf-8") + f"\n\n{call}\n"
