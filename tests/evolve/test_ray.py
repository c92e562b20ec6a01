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
