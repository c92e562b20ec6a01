"""Run as `python -I -S die_with_parent.py PARENT_PID PROGRAM ARGS...`: asks the kernel to send this process
SIGTERM when its parent dies (PR_SET_PDEATHSIG), then execs PROGRAM, which keeps that. A program of its own, so
wizevol runs no Python between fork and exec (`preexec_fn` can deadlock a child forked while other threads, such
as MiniLM's torch threads, hold locks). Standard library only; a parent already gone ends it at once."""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main() -> None:
    parent, argv = int(sys.argv[1]), sys.argv[2:]
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request was made: nobody would stop us
        os._exit(1)
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main()
