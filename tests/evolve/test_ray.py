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


def _kill_a_shard_worker_once_it_has_answers(folder, killed: list) -> None:
    """Once shard 0's cache holds a few answers, SIGKILL the Ray worker running shard 0 (the process that has that
    cache open): a node lost mid-task."""
    db = folder / "cache.sqlite"
    deadline = time.time() + 120
    while time.time() < deadline and not killed:
        try:
            answers = sqlite3.connect(db).execute("SELECT count(*) FROM responses").fetchone()[0] if db.exists() else 0
        except sqlite3.Error:
            answers = 0
        if answers >= 4:
            pids = subprocess.run(["pgrep", "-f", "ray::"], capture_output=True, text=True).stdout.split()
            for pid in pids:
                if _holds_open(pid, db):
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                        killed.append(pid)
                    except ProcessLookupError:
                        pass
                    break
        time.sleep(0.05)


def test_shards_on_a_local_ray_cluster_survive_a_killed_worker_and_merge_exactly(tmp_path, server, monkeypatch):
    server.latency = 0.1
    assert evolve(tmp_path, server, "--rounds", "2", out="full").exit_code == 0
    full_calls = len(server.calls)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    killed: list = []
    watcher = threading.Thread(target=_kill_a_shard_worker_once_it_has_answers,
                               args=(tmp_path / "big" / "shard-0-of-3", killed), daemon=True)
    watcher.start()
    try:
        result = evolve(tmp_path, server, "--rounds", "2", "--ray", "--shards", "3", out="big")
    finally:
        ray.shutdown()
    watcher.join(5)
    assert result.exit_code == 0, result.output
    assert killed, "no Ray worker was killed: the retry path was not exercised"
    assert "ray: shard 0/3 done" in result.output and "join them: wizevol merge" in result.output
    shards = [tmp_path / "big" / f"shard-{i}-of-3" for i in range(3)]
    merged = CliRunner().invoke(app, ["merge", *map(str, shards), "--out", str(tmp_path / "sharded.jsonl")])
    assert merged.exit_code == 0, merged.output
    assert CliRunner().invoke(app, ["merge", str(tmp_path / "full"), "--out", str(tmp_path / "one.jsonl")]).exit_code == 0
    assert (tmp_path / "sharded.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes()
    for k in (1, 2):
        joined = b"".join((s / f"round_{k}.jsonl").read_bytes() for s in shards)
        assert joined == (tmp_path / "full" / f"round_{k}.jsonl").read_bytes()
    # the retried task resumed from its cache: at most the calls in flight when it died were paid twice
    # the retried task resumed from its folder: its last process made fewer new calls than the shard needed, and
    # at most the calls in flight when the worker died were paid twice
    new_calls = sum(int(n) for n in re.findall(r"new calls: (\d+)", result.output))
    assert new_calls < full_calls <= len(server.calls) - full_calls <= full_calls + 8


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
