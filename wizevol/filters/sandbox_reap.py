"""A uid of each sandboxed run's own, and the end of everything that run left running.

The run's program starts in a session of its own and the wall timeout kills that process group, but a child that
called `setsid()` is in no group of the run's (a C fork bomb that does so kept forking after its run ended: the
executors' test). So where the sandbox drops root (the `nobody` layer), each run gets a uid that no account and
no other run has, and after the run `kill -9 -1` made as that uid signals exactly the processes it left, again
until none is left. Stdlib only, as sandbox.py.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

NOBODY = 65534
RUN_UIDS = (200_000, 1_000_000)  # where run uids are drawn: beyond the accounts of a system, below 2^31


def _mapped(uid: int) -> bool:
    """Is this uid usable in this user namespace (a rootless container maps only a range)?"""
    try:
        with open("/proc/self/uid_map") as f:
            spans = [tuple(map(int, line.split())) for line in f if line.strip()]
    except OSError:
        return False
    return any(inside <= uid < inside + count for inside, _, count in spans)


def run_uid() -> int:
    """A fresh uid for one run, or `nobody` where no such uid can be used here."""
    uid = secrets.randbelow(RUN_UIDS[1] - RUN_UIDS[0]) + RUN_UIDS[0]
    return uid if _mapped(uid) else NOBODY


def hand_over(folder: str) -> int:
    """A fresh uid for one run, made the owner of its temp dir and what is in it (what an earlier step made too)."""
    uid = run_uid()
    for name in ["", *os.listdir(folder)]:
        os.chown(os.path.join(folder, name), uid, uid)
    return uid


def running_as(uid: int) -> bool:
    """Whether a live process (not a zombie) has this real uid."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as f:
                status = f.read()
        except OSError:
            continue
        if f"\nUid:\t{uid}\t" in status and "\nState:\tZ" not in status:
            return True
    return False


def reap(uid: int, launcher: str) -> None:
    """End every process running as a run's own uid (never `nobody`'s, which other runs share)."""
    if uid == NOBODY:
        return
    plan = json.dumps({"mark": "", "user": uid})
    for _ in range(50):
        if not running_as(uid):
            return
        subprocess.run([sys.executable, "-I", "-S", launcher, plan, "--", "/bin/kill", "-9", "-1"],
                       stdin=subprocess.DEVNULL, capture_output=True)
