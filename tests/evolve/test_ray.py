"""`wizevol evolve --ray --shards N` on a local Ray cluster: the shards run as Ray tasks into OUT/shard-I-of-N,
a task whose worker is killed is retried by Ray and resumes from its folder's cache, and the merge equals one
process's run byte for byte."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import threading
import time

import pytest
from conftest import evolve
from typer.testing import CliRunner

from wizevol.cli import app

pytestmark = pytest.mark.slow

ray = pytest.importorskip("ray", reason="the ray extra is installed by `make test`")


def _holds_open(pid: str, path) -> bool:
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(path) for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


def _state(pid: str) -> str:
    try:
        return open(f"/proc/{pid}/status").read().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "zombie"


def _kill_shard_0_while_it_waits(folder, server, hold, before: int, shard: tuple[str, ...], killed: list) -> None:
    """Shard 0's calls past its first 12 are held by the server, unanswered: the shard can go no further. Once
    one is held and every call the server did answer for shard 0 is in its cache, SIGKILL the Ray worker running
    shard 0 (the process that has that cache open), and once it is gone release the hold (the calls it held end
    unanswered; the retried task's calls are answered): a node lost mid-task, at a moment the test chose, not one
    a thread had to catch."""
    db = folder / "cache.sqlite"
    deadline = time.time() + 300
    while time.time() < deadline:
        calls = [c for c in server.calls[before:] if any(m in c.text for m in shard)]
        answered = sum(c.action != "hang" for c in calls)
        try:
            cached = sqlite3.connect(db).execute("SELECT count(*) FROM responses").fetchone()[0] if db.exists() else -1
        except sqlite3.Error:
            cached = -1
        if any(c.action == "hang" for c in calls) and cached == answered:
            for pid in subprocess.run(["pgrep", "-f", "ray::"], capture_output=True, text=True).stdout.split():
                if _holds_open(pid, db):
                    os.kill(int(pid), signal.SIGKILL)
                    while os.path.exists(f"/proc/{pid}") and "zombie" not in _state(pid):
                        time.sleep(0.01)
                    killed.append((pid, answered))
                    hold.released = True
                    return
        time.sleep(0.05)


def test_shards_on_a_local_ray_cluster_survive_a_killed_worker_and_merge_exactly(tmp_path, server, monkeypatch):
    from conftest import seed_instruction

    assert evolve(tmp_path, server, "--rounds", "2", out="full").exit_code == 0
    full_calls = len(server.calls)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    shard = tuple(seed_instruction(n)[:40] for n in range(1, 7))  # shard 0 of 3 holds seeds 1-6 of 20
    before, killed = len(server.calls), []
    hold = server.fault("hang", match=shard, skip=12, times=None, arg=600)
    watcher = threading.Thread(target=_kill_shard_0_while_it_waits, daemon=True,
                               args=(tmp_path / "big" / "shard-0-of-3", server, hold, before, shard, killed))
    watcher.start()
    try:  # calls may wait long: the held ones outlast no timeout before the kill (how calls travel is no identity)
        result = evolve(tmp_path, server, "--rounds", "2", "--ray", "--shards", "3", out="big",
                        config={"endpoint": {"timeout": 300}})
    finally:
        ray.shutdown()
    watcher.join(5)
    assert result.exit_code == 0, result.output
    assert killed and killed[0][1] >= 12, "no Ray worker was killed: the retry path was not exercised"
    assert "ray: shard 0/3 done" in result.output and "join them: wizevol merge" in result.output
    shards = [tmp_path / "big" / f"shard-{i}-of-3" for i in range(3)]
    merged = CliRunner().invoke(app, ["merge", *map(str, shards), "--out", str(tmp_path / "sharded.jsonl")])
    assert merged.exit_code == 0, merged.output
    assert CliRunner().invoke(app, ["merge", str(tmp_path / "full"), "--out", str(tmp_path / "one.jsonl")]).exit_code == 0
    assert (tmp_path / "sharded.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes()
    for k in (1, 2):
        joined = b"".join((s / f"round_{k}.jsonl").read_bytes() for s in shards)
        assert joined == (tmp_path / "full" / f"round_{k}.jsonl").read_bytes()
    # the retried task resumed from its folder: its last process made fewer new calls than the shard needed, and
    # no answer was bought twice: the server answered exactly as many calls as one uninterrupted run
    new_calls = sum(int(n) for n in re.findall(r"new calls: (\d+)", result.output))
    assert new_calls < full_calls
    assert sum(c.action != "hang" for c in server.calls[before:]) == full_calls


def test_the_first_failed_shard_stops_the_others(tmp_path, server, monkeypatch):
    """Shard 1's first call hangs for a minute (its timeout is longer); once it is on the wire, shard 0's calls are
    refused (401: a fatal error). The run stops with that failure at once and cancels shard 1's task, whose folder
    lock is free again within seconds; left running, the task would hold it until its call came back."""
    from conftest import seed_instruction

    from wizevol.run_folder import RunFolder

    server.latency = 0.3  # shard 0 has calls left to make when shard 1 starts
    server.fault("hang", role="evolve", match=seed_instruction(2)[:40], arg=60, times=None)

    def refuse_shard_0_once_shard_1_hangs() -> None:
        deadline = time.time() + 60
        while time.time() < deadline and not any(seed_instruction(2)[:40] in c.text for c in server.calls):
            time.sleep(0.05)
        server.fault("401", match=seed_instruction(1)[:40], times=None)

    threading.Thread(target=refuse_shard_0_once_shard_1_hangs, daemon=True).start()
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    t0 = time.time()
    try:
        result = evolve(tmp_path, server, "--rounds", "20", "--limit", "2", "--ray", "--shards", "2", out="big",
                        config={"endpoint": {"timeout": 120}})
        assert result.exit_code == 1, result.output
        assert "shard 0/2 failed" in result.stderr and "the other shards were stopped; rerun to resume" in result.stderr
        assert time.time() - t0 < 50  # not after the hanging call's minute
        folders = [tmp_path / "big" / f"shard-{i}-of-2" for i in range(2)]
        assert all(f.is_dir() for f in folders)
        deadline, free = time.time() + 20, set()
        while time.time() < deadline and len(free) < 2:
            for folder in folders:
                try:
                    with RunFolder(folder).lock("test"):
                        free.add(folder)
                except Exception:
                    pass
            time.sleep(0.2)
        assert free == set(folders), "a shard's task still holds its folder"
    finally:
        ray.shutdown()
