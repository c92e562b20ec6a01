"""Run generated Python in a sandbox: a subprocess in a fresh temp dir with a stripped environment, CPU-time,
memory, file-size, open-file and process limits, no network, and a wall timeout that kills the whole
process group. Layers, so that no single one has to hold:
  - OS limits (setrlimit) and a new session; when run as root: a private network namespace (no interfaces
    but a downed loopback) and the `nobody` user, which owns only the temp dir
  - a Python audit hook installed before the code runs: no sockets, no fork/exec/subprocess, no ctypes,
    no writes outside the temp dir
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

NOBODY = 65534
CLONE_NEWNET = 0x40000000

BOOTSTRAP = r'''
import os, sys
_ROOT = os.path.realpath(os.getcwd())
_DENY = {"socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo", "os.fork", "os.forkpty",
         "os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen", "ctypes.dlopen",
         "ctypes.cdata", "os.kill", "os.killpg", "pty.spawn"}
_WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
def _inside(path):
    try:
        return os.path.realpath(os.fsdecode(path)).startswith(_ROOT + os.sep)
    except Exception:
        return False
def _hook(event, args):
    if event in _DENY:
        raise PermissionError(f"sandbox: {event} is not allowed")
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        mode, flags = args[1] or "r", args[2] or 0
        writing = any(c in str(mode) for c in "wax+") or (isinstance(flags, int) and flags & _WRITE)
        if writing and not _inside(args[0]):
            raise PermissionError(f"sandbox: writing {os.fsdecode(args[0])} is not allowed")
    if event in ("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.symlink",
                 "os.link", "os.truncate", "shutil.rmtree"):
        if args and not _inside(args[0]):
            raise PermissionError(f"sandbox: {event} outside the sandbox is not allowed")
sys.addaudithook(_hook)
del _hook
with open("main.py", encoding="utf-8") as _f:
    _code = compile(_f.read(), "main.py", "exec")
del _f
exec(_code, {"__name__": "__main__", "__file__": "main.py", "__builtins__": __builtins__})
'''


@dataclass(frozen=True)
class Limits:
    """What one sandboxed program may use: CPU and wall seconds, memory, file size, open files, processes."""

    cpu_s: int = 5
    wall_s: float = 10.0
    memory_mb: int = 512
    file_mb: int = 16
    max_files: int = 64
    max_procs: int = 64


@dataclass(frozen=True)
class ExecResult:
    """How a sandboxed program ended: pass, fail or timeout, with its output's tail."""

    status: str  # pass | fail | timeout
    returncode: int | None
    stdout: str
    stderr: str

    @property
    def detail(self) -> str:
        lines = [ln for ln in self.stderr.strip().splitlines() if ln.strip()]
        return lines[-1][:300] if lines else f"exit code {self.returncode}"


def _preexec(limits: Limits, as_root: bool, drop_user: bool):
    def setup() -> None:
        mem = limits.memory_mb * 2**20
        for res, value in ((resource.RLIMIT_CPU, limits.cpu_s), (resource.RLIMIT_AS, mem),
                           (resource.RLIMIT_FSIZE, limits.file_mb * 2**20), (resource.RLIMIT_NOFILE, limits.max_files),
                           (resource.RLIMIT_NPROC, limits.max_procs), (resource.RLIMIT_CORE, 0)):
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(res, (value, value))
        if as_root:
            with contextlib.suppress(OSError, AttributeError):
                ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET)
        if drop_user:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)

    return setup


def _world_executable(path: str) -> bool:
    """Can `nobody` run this file? Every directory on the way must be world-searchable."""
    p = Path(path).resolve()
    try:
        if not p.stat().st_mode & stat.S_IXOTH:
            return False
        return all(d.stat().st_mode & stat.S_IXOTH for d in p.parents)
    except OSError:
        return False


def interpreter() -> tuple[str, bool]:
    """(python to run, whether to drop to `nobody`). As root, a Python `nobody` can execute is needed."""
    if os.geteuid() != 0:
        return sys.executable, False
    for candidate in (sys.executable, shutil.which("python3") or "", "/usr/bin/python3", "/usr/local/bin/python3"):
        if candidate and _world_executable(candidate):
            return candidate, True
    return sys.executable, False  # other layers still hold: limits, audit hook, network namespace


def run_python(code: str, limits: Limits = Limits()) -> ExecResult:
    """Run untrusted Python in the sandbox (limits, temp dir, no network) and say how it ended."""
    python, drop_user = interpreter()
    as_root = os.geteuid() == 0
    with tempfile.TemporaryDirectory(prefix="wizevol-sandbox-") as tmp:
        Path(tmp, "main.py").write_text(code, encoding="utf-8")
        Path(tmp, "_sandbox.py").write_text(BOOTSTRAP, encoding="utf-8")
        if drop_user:
            os.chown(tmp, NOBODY, NOBODY)
            for name in ("main.py", "_sandbox.py"):
                os.chown(Path(tmp, name), NOBODY, NOBODY)
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "TMPDIR": tmp, "LANG": "C.UTF-8",
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
        proc = subprocess.Popen([python, "-I", "_sandbox.py"], cwd=tmp, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                preexec_fn=_preexec(limits, as_root, drop_user))
        try:
            out, err = proc.communicate(timeout=limits.wall_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # the whole group: nothing it started survives
        if timed_out:
            out, err = proc.communicate()
        text = lambda b: b.decode("utf-8", "replace")[-4000:]  # noqa: E731
        if timed_out or proc.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
            return ExecResult("timeout", proc.returncode, text(out), text(err))
        return ExecResult("pass" if proc.returncode == 0 else "fail", proc.returncode, text(out), text(err))
