"""Run generated Python in a sandbox: a subprocess in a fresh temp dir with a stripped environment, CPU-time,
memory, file-size, open-file and process limits, no network, and a wall timeout that kills the whole
process group. Layers, so that no single one has to hold (CPython's audit hooks are not a sandbox: code can
find the hook's deny list with `gc.get_objects()` and empty it, so the OS layers must hold on their own):
  - rlimits: OS limits (setrlimit) and a new session
  - netns: a private network namespace (no interfaces but a downed loopback); as root directly, as any other
    user inside an unprivileged user namespace (what `unshare -rn` does) where the kernel allows one
  - nobody: as root, the code runs as a uid of its own that owns only the temp dir (sandbox_reap.py)
  - landlock: the kernel's Landlock LSM (no privilege needed) lets the code read only the system's programs
    and libraries, this Python's installation and its temp dir, create, write or remove files only under its
    temp dir, and with ABI >= 4 refuses every TCP connect and bind
  - audit_hook: a Python audit hook installed before the code runs: no sockets, no fork/exec/subprocess, no
    ctypes, no writes outside the temp dir
`layers()` says which hold on this machine; `isolated()` whether any beyond rlimits and the audit hook does.
The OS layers are applied by sandbox_launch.py, a program started in the child's place that execs the code's
interpreter (or a compiler) once they hold: no Python code runs between fork and exec, which is unsafe while
threads run (`preexec_fn`), and wizevol starts sandboxes from thread pools.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import re
import resource
import secrets
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
CLONE_NEWUSER = 0x10000000
# Landlock (linux/landlock.h): syscalls, and the file-system rights that change something
SYS_LANDLOCK_CREATE_RULESET = 444
LANDLOCK_WRITE = sum(1 << b for b in (1, 4, 5, 6, 7, 8, 9, 10, 11, 12))  # write file, remove, make *
LANDLOCK_READ_FILE = 1 << 2
LANDLOCK_READ = (1 << 0) | LANDLOCK_READ_FILE | (1 << 3)  # execute, read file, read dir
LANDLOCK_REFER, LANDLOCK_TRUNCATE = 1 << 13, 1 << 14  # ABI 2, ABI 3
LANDLOCK_NET_TCP = (1 << 0) | (1 << 1)  # bind, connect (ABI 4)
LANDLOCK_SCOPE = (1 << 0) | (1 << 1)  # abstract unix sockets and signals of processes outside the domain (ABI 6)
SYSTEM_READABLE = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc/ld.so.cache",
                   "/etc/localtime", "/etc/ssl/openssl.cnf")  # node reads OpenSSL's configuration
LAUNCH_FAILED = 125  # sandbox_launch.FAILED
LAUNCHER = str(Path(__file__).with_name("sandbox_launch.py"))

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
if os.path.exists("trusted.py"):  # wizevol's own runner: it installs the hook in each child before generated code
    with open("trusted.py", encoding="utf-8") as _f:
        _code = compile(_f.read(), "trusted.py", "exec")
    del _f
    exec(_code, {"__name__": "__main__", "__file__": "trusted.py", "sandbox_hook": lambda: sys.addaudithook(_hook)})
    sys.exit(0)
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
    ended: str | None = None  # wizevol's own line of how it ended (run_to_the_end: the program stopped early)

    @property
    def detail(self) -> str:
        """A short, fixed-form line of how it ended: the exception's type (`AssertionError`), or the exit code.
        Never the program's own words: a program that read a file it should not have could print it into a
        reject reason or the run folder."""
        if self.ended:
            return self.ended
        lines = [ln for ln in self.stderr.strip().splitlines() if ln.strip()]
        oserror = re.match(r"(\w+Error): (\[Errno \d+\] [A-Za-z ]+)", lines[-1].strip()) if lines else None
        if oserror:  # the OS's own words, without the program's path
            return f"{oserror.group(1)}: {oserror.group(2).strip()}"
        hook = re.match(r"PermissionError: sandbox: (?:([\w.]+)(?: outside the sandbox)?|writing .*) is not allowed$",
                        lines[-1].strip()) if lines else None
        if hook:  # the audit hook's own words: an event's name, never the program's path
            return f"PermissionError: sandbox: {hook.group(1) or 'writing outside the temp dir'} is not allowed"
        kind = re.match(r"([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Failure))(?::|$)",
                        lines[-1].strip()) if lines else None
        if kind:
            return kind.group(1)[-80:]
        return "timeout" if self.status == "timeout" else f"exit code {self.returncode}"


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 where Landlock is missing or disabled."""
    try:
        version = ctypes.CDLL(None, use_errno=True).syscall(SYS_LANDLOCK_CREATE_RULESET, None, 0, 1)
    except (OSError, AttributeError):
        return 0
    return max(0, int(version))


def _readable() -> list[str]:
    """Where sandboxed programs may read (and execute): the system's programs and libraries, and this Python's
    installation (its venv, its base). Nothing else outside the temp dir: no home, no checkout, no keys. A
    prefix that would open a user's home (or everything) is left out."""
    home = os.path.realpath(os.path.expanduser("~"))
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    wide = [p for p in prefixes if p == os.sep or home == p or home.startswith(p + os.sep)]
    return [*SYSTEM_READABLE, *sorted(prefixes - set(wide))]


def _landlock_rules(root: str, abi: int, readable: tuple[str, ...] = ()) -> dict:
    """Landlock's part of the launcher's plan: files may be read only under `_readable()`, the temp dir and a
    few devices; written, created or removed only under the temp dir (and /dev/null); with ABI >= 4 no TCP
    connect or bind, and with ABI >= 6 no signal to, or abstract unix socket of, a process outside the sandbox
    (wizevol, other sandboxes)."""
    write = LANDLOCK_WRITE | (LANDLOCK_REFER if abi >= 2 else 0) | (LANDLOCK_TRUNCATE if abi >= 3 else 0)
    rules = [[root, LANDLOCK_READ | write], ["/dev/null", LANDLOCK_READ_FILE | (1 << 1)]]
    rules += [[dev, LANDLOCK_READ_FILE] for dev in ("/dev/urandom", "/dev/random", "/dev/zero")]
    rules += [[path, LANDLOCK_READ if os.path.isdir(path) else LANDLOCK_READ_FILE] for path in [*_readable(), *readable]]
    return {"handled_fs": LANDLOCK_READ | write, "handled_net": LANDLOCK_NET_TCP if abi >= 4 else 0,
            "scoped": LANDLOCK_SCOPE if abi >= 6 else 0, "attr_size": 24 if abi >= 6 else 16 if abi >= 4 else 8,
            "rules": rules}


def _netns_flags() -> int:
    """A network namespace: directly as root, inside a new user namespace otherwise."""
    return CLONE_NEWNET if os.geteuid() == 0 else CLONE_NEWUSER | CLONE_NEWNET


def _netns_ok() -> bool:
    """Can this user make its own network namespace here (root in a container may lack the capability; a user
    may lack unprivileged user namespaces)? Asked of a fresh interpreter, which only makes the call."""
    probe = f"import ctypes, os; os._exit(0 if ctypes.CDLL(None).unshare({_netns_flags()}) == 0 else 1)"
    return subprocess.run([sys.executable, "-I", "-S", "-c", probe], stdin=subprocess.DEVNULL,
                          capture_output=True).returncode == 0


_DOCKER_IMAGE: str | None = None  # the container backend's image, when it is the backend


def use_backend(backend: str = "local", image: str = "") -> None:
    """Where run_python runs code: `local` (a subprocess under the OS layers below) or `docker` (a container of
    `image`: no network, read-only root, `nobody`, CPU/memory/process/file limits, only its temp dir writable).
    The image must be there already and hold `python3`; one Error line when docker or the image is missing."""
    global _DOCKER_IMAGE
    if backend == "local":
        _DOCKER_IMAGE = None
        return
    from wizevol.errors import InputError

    docker = shutil.which("docker")
    if docker is None:
        raise InputError("sandbox.backend is docker, but there is no docker command here")
    probe = subprocess.run([docker, "image", "inspect", "--format", "{{.Id}}", image], capture_output=True,
                           text=True)
    if probe.returncode != 0:
        why = (probe.stderr.strip().splitlines() or ["no answer"])[-1]
        raise InputError(f"sandbox.image {image!r} is not usable: {why} (docker pull it first)")
    _DOCKER_IMAGE = image


def layers() -> tuple[str, ...]:
    """The sandbox's layers that hold for the backend in use, in the order they are applied."""
    if _DOCKER_IMAGE is not None:
        return ("docker", "audit_hook")
    return _local_layers()


@functools.lru_cache(maxsize=1)
def _local_layers() -> tuple[str, ...]:
    """The local backend's layers that hold on this machine for this user, in the order they are applied."""
    root = os.geteuid() == 0
    found = ["rlimits"]
    if _netns_ok():
        found.append("netns")
    if root and interpreter()[1]:
        found.append("nobody")
    if landlock_abi() >= 1:
        found.append("landlock")
    found.append("audit_hook")
    return tuple(found)


def isolated() -> bool:
    """Do the layers isolate code: a container, Landlock, or a network namespace and `nobody` together? One of the
    last two alone does not: a program could read the checkout and send it out, or write where it can."""
    held = set(layers())
    return "docker" in held or "landlock" in held or {"netns", "nobody"} <= held


_said_reads = False  # where no layer limits reads, require_isolation says so once per process


def require_isolation(allow_weak: bool, how_to_allow: str) -> tuple[str, ...]:
    """The layers that hold here; refuse (one line, naming the opt-in) when none isolates the code."""
    if not isolated() and not allow_weak:
        from wizevol.errors import InputError

        raise InputError(f"the sandbox here has only {' and '.join(layers())}: no Landlock, no container, not both a "
                         f"network namespace and `nobody`, and generated code can defeat an audit hook; "
                         f"{how_to_allow} to run it anyway")
    global _said_reads
    if not _said_reads and not {"landlock", "docker"} & set(layers()):
        import warnings

        from wizevol.errors import WizevolWarning

        _said_reads = True
        warnings.warn("the sandbox here cannot limit what generated code reads (no Landlock): it may read files the "
                      "`nobody` user can; its output goes nowhere but a fixed-form error line", WizevolWarning, 2)
    return layers()


def _launch_plan(limits: Limits, active: tuple[str, ...], root_dir: str, readable: tuple[str, ...], uid: int) -> dict:
    """What sandbox_launch.py applies before it execs the program: the layers in `active`, rlimits last."""
    rlimits = ((resource.RLIMIT_CPU, limits.cpu_s), (resource.RLIMIT_AS, limits.memory_mb * 2**20),
               (resource.RLIMIT_FSIZE, limits.file_mb * 2**20), (resource.RLIMIT_NOFILE, limits.max_files),
               (resource.RLIMIT_NPROC, limits.max_procs), (resource.RLIMIT_CORE, 0))
    return {"mark": f"wizevol-sandbox-launch-{secrets.token_hex(8)}:",
            "unshare": _netns_flags() if "netns" in active else 0,
            "landlock": _landlock_rules(root_dir, landlock_abi(), readable) if "landlock" in active else None,
            "user": uid if "nobody" in active else None,
            "rlimits": [list(r) for r in rlimits]}


def _world_executable(path: str) -> bool:
    """Can `nobody` run this file? Every directory on the way must be world-searchable."""
    p = Path(path).resolve()
    try:
        return bool(p.stat().st_mode & stat.S_IXOTH) and all(d.stat().st_mode & stat.S_IXOTH for d in p.parents)
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


def run_python(code: str, limits: Limits = Limits(), active: tuple[str, ...] | None = None,
               files: dict[str, str] | None = None, trusted: str | None = None, tail: int = 4000) -> ExecResult:
    """Run untrusted Python in the sandbox (limits, temp dir, no network) and say how it ended. `active`: the
    layers to apply (default: every layer that holds here; tests pass fewer to see what each one stops).
    `files`: more files in its temp dir. `trusted`: wizevol's own runner, run in place of `code` under the OS
    layers but before the audit hook, which it installs (`sandbox_hook()`) in each child it forks to run
    generated code. `tail`: the characters of output kept."""
    active = layers() if active is None else active
    files = {**(files or {}), "main.py": code, "_sandbox.py": BOOTSTRAP, **({"trusted.py": trusted} if trusted else {})}
    if "docker" in active:
        return _run_docker(files, limits, tail)
    python, drop_user = interpreter()
    return run_program([python, "-I", "_sandbox.py"], files, limits, active, drop_user and "nobody" in active,
                       {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}, tail)


def run_to_the_end(code: str, limits: Limits = Limits(), ended_early: str = "the program ended before its last "
                   "line (exit status 0)") -> ExecResult:
    """run_python for a program whose last line is what a pass means (a test's `check(...)`, the asserts): it
    passes only when that line returned, shown by a mark made for this run and printed after it. A program that
    exits with status 0 before (`sys.exit(0)`, `raise SystemExit(0)`, `os._exit(0)`) fails with `ended_early`.
    (The mark is in the program's text: code that reads its own source could still print it.)"""
    mark = f"wizevol: the program ran to its end {secrets.token_hex(16)}"
    ran = run_python(f"{code}\nprint({mark!r}, flush=True)\n", limits)
    if ran.status != "pass" or mark in ran.stdout.splitlines():
        return ran
    return ExecResult("fail", ran.returncode, ran.stdout, ran.stderr + f"\n{ended_early}", ended_early)


def _run_docker(files: dict[str, str], limits: Limits, tail: int) -> ExecResult:
    """run_python in a container: its temp dir is the only writable place, mounted at /work."""
    with tempfile.TemporaryDirectory(prefix="wizevol-sandbox-") as tmp:
        for name, text in files.items():
            Path(tmp, name).write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o777)  # the container's `nobody` writes there, whoever runs wizevol
        name = f"wizevol-sandbox-{os.getpid()}-{os.path.basename(tmp)}"
        argv = ["docker", "run", "--rm", "--name", name, "--network", "none", "--read-only",
                "--tmpfs", "/tmp:rw,size=64m", "--user", f"{NOBODY}:{NOBODY}", "--cap-drop", "ALL",
                "--security-opt", "no-new-privileges", "--memory", f"{limits.memory_mb}m",
                "--memory-swap", f"{limits.memory_mb}m", "--pids-limit", str(limits.max_procs),
                "--ulimit", f"cpu={limits.cpu_s}:{limits.cpu_s}",
                "--ulimit", f"fsize={limits.file_mb * 2**20}:{limits.file_mb * 2**20}",
                "--ulimit", f"nofile={limits.max_files}:{limits.max_files}",
                "-v", f"{os.path.realpath(tmp)}:/work:rw", "-w", "/work",
                "-e", "HOME=/work", "-e", "TMPDIR=/work", "-e", "PYTHONDONTWRITEBYTECODE=1", "-e", "PYTHONHASHSEED=0",
                _DOCKER_IMAGE or "", "python3", "-I", "_sandbox.py"]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # + 5 s for the container's start; 137: killed (out of memory, or removed at the wall limit); 152: SIGXCPU
        return _ended(proc, limits.wall_s + 5, lambda: subprocess.run(["docker", "rm", "-f", name],
                                                                      capture_output=True), (137, 152), tail=tail)


def _ended(proc: subprocess.Popen, wall_s: float, kill, timeout_codes: tuple[int, ...],
           always_kill: bool = False, tail: int = 4000) -> ExecResult:
    """Wait for a sandboxed program up to wall_s, kill it past that (or always, for what it left running), and
    say how it ended: timeout at the wall or on one of `timeout_codes` (the CPU limit, a kill), else pass or fail."""
    try:
        out, err = proc.communicate(timeout=wall_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        if always_kill:
            kill()
    if timed_out:
        if not always_kill:
            kill()
        out, err = proc.communicate()
    text = lambda b: b.decode("utf-8", "replace")[-tail:]  # noqa: E731
    if timed_out or proc.returncode in timeout_codes:
        return ExecResult("timeout", proc.returncode, text(out), text(err))
    return ExecResult("pass" if proc.returncode == 0 else "fail", proc.returncode, text(out), text(err))


def run_program(argv: list[str], files: dict[str, str], limits: Limits = Limits(),
                active: tuple[str, ...] | None = None, drop_user: bool | None = None,
                env: dict[str, str] | None = None, tail: int = 4000, workdir: str | None = None,
                readable: tuple[str, ...] = ()) -> ExecResult:
    """Run a program (a compiler or checker over generated code) in a fresh temp dir holding `files` (or in
    `workdir`, the caller's: a compile and a run share one), under the same OS layers as run_python's local
    backend (the audit hook is Python's own and applies only there); `readable`: more places it may read."""
    active = _local_layers() if active is None else active
    if drop_user is None:
        drop_user = "nobody" in active and _world_executable(argv[0])
    with contextlib.nullcontext(workdir) if workdir else tempfile.TemporaryDirectory(prefix="wizevol-sandbox-") as tmp:
        tmp = os.path.realpath(tmp)
        for name, text in files.items():
            Path(tmp, name).write_text(text, encoding="utf-8")
        if drop_user:  # a uid of the run's own owns the temp dir, and all it leaves running ends (sandbox_reap.py)
            from wizevol.filters.sandbox_reap import hand_over, reap
        uid = hand_over(tmp) if drop_user else NOBODY
        full_env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "TMPDIR": tmp, "LANG": "C.UTF-8", **(env or {})}
        active = tuple(x for x in active if x != "nobody" or drop_user)
        program = argv[0] if os.path.isabs(argv[0]) else shutil.which(argv[0]) or argv[0]
        plan = _launch_plan(limits, active, tmp, readable, uid)
        proc = subprocess.Popen([sys.executable, "-I", "-S", LAUNCHER, json.dumps(plan), "--", program, *argv[1:]],
                                cwd=tmp, env=full_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)

        def kill() -> None:  # the whole group, and what left it (its uid's): nothing it started survives
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            if drop_user:  # before its pipes are read to their end: an escaped child holds them open
                reap(uid, LAUNCHER)

        ended = _ended(proc, limits.wall_s, kill, (-signal.SIGXCPU, -signal.SIGKILL), always_kill=True, tail=tail)
    if ended.returncode == LAUNCH_FAILED and ended.stderr.startswith(plan["mark"]):
        raise OSError(f"the sandbox could not start {argv[0]}: {ended.stderr[len(plan['mark']):].strip()}")
    return ended
