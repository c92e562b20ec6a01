"""The sandbox's launcher: `python -I -S sandbox_launch.py PLAN -- PROGRAM ARGS...` applies the OS layers of
PLAN (JSON) to itself, then execs PROGRAM, which keeps them: a network namespace, Landlock, the `nobody` user
and the rlimits, in that order (rlimits last, once nothing more needs to be opened). It runs as a program of
its own, after the exec of a clean process, so wizevol never runs Python between fork and exec
(`preexec_fn`), which can deadlock a child forked while other threads hold locks. It needs only the standard
library (the interpreter that runs it may not see wizevol) and prints nothing but, when a layer cannot be
applied, one line starting with PLAN's `mark` on stderr, with exit status FAILED. `die_with` (a pid) asks for
SIGTERM when that parent dies: the embedded llama.cpp server starts through it too (llm/local_server.py)."""

import ctypes
import json
import os
import resource
import sys

FAILED = 125
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1
LANDLOCK_RULE_PATH_BENEATH = 1


def _error(what: str) -> OSError:
    errno = ctypes.get_errno()
    return OSError(errno, os.strerror(errno), what)


def landlock(libc, handled_fs: int, handled_net: int, scoped: int, attr_size: int, rules: list) -> None:
    """Restrict this process (and what it execs) to `rules`: [path, rights] pairs, rights being Landlock's
    file-system access bits. A path that does not exist here is left out."""
    attr = (ctypes.c_uint64 * 3)(handled_fs, handled_net, scoped)
    ruleset = libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), attr_size, 0)
    if ruleset < 0:
        raise _error("landlock_create_ruleset")
    beneath = (ctypes.c_uint8 * 12)()  # struct landlock_path_beneath_attr {u64 allowed; s32 parent_fd}, packed
    for path, rights in rules:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        ctypes.memmove(beneath, ctypes.byref(ctypes.c_uint64(rights)), 8)
        ctypes.memmove(ctypes.byref(beneath, 8), ctypes.byref(ctypes.c_int32(fd)), 4)
        if libc.syscall(SYS_LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH, ctypes.byref(beneath), 0) != 0:
            raise _error(f"landlock_add_rule {path}")
        os.close(fd)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
        raise _error("landlock_restrict_self")
    os.close(ruleset)


def apply(plan: dict) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if plan.get("die_with") is not None:  # SIGTERM when that parent dies, kept across exec (the local model server)
        libc.prctl(PR_SET_PDEATHSIG, 15)
        if os.getppid() != plan["die_with"]:  # it died before the request was made: nobody would stop us
            os._exit(FAILED)
    if plan.get("unshare") and libc.unshare(plan["unshare"]) != 0:
        raise _error("unshare")
    if plan.get("landlock"):
        landlock(libc, **plan["landlock"])
    if plan.get("user") is not None:
        os.setgroups([])
        os.setgid(plan["user"])
        os.setuid(plan["user"])
    for res, value in plan.get("rlimits", []):
        try:
            resource.setrlimit(res, (value, value))
        except (ValueError, OSError):
            pass


def main() -> None:
    plan, argv = json.loads(sys.argv[1]), sys.argv[3:]
    try:
        apply(plan)
        os.execv(argv[0], argv)
    except OSError as e:
        os.write(2, f"{plan['mark']} {e.strerror or e} ({e.filename or argv[0]})\n".encode())
        os._exit(FAILED)


if __name__ == "__main__":
    main()
