"""Retry policy and fault injection through real HTTP: every record ends up kept, eliminated or failed."""

from __future__ import annotations

import email.utils
import json
import socket

import pytest
import yaml
from conftest import SEED, evolve, rows, seed_instruction
from scripted_server import ScriptedServer
from typer.testing import CliRunner

from wizevol.cli import app
from wizevol.llm import client as client_mod
from wizevol.llm.client import _retry_after


@pytest.fixture
def waits(monkeypatch):
    """The seconds each retry chose to wait, recorded by an injected sleep (which returns at once): the tests
    read the wait decided, not a wall-clock window that a loaded machine can widen."""
    chosen: list[float] = []

    async def sleep(seconds: float) -> None:
        chosen.append(seconds)

    monkeypatch.setattr(client_mod.LLM, "sleep", staticmethod(sleep))
    return chosen


def test_429_retry_after_is_honoured(tmp_path, server, waits):
    target = seed_instruction(2)
    server.fault("429", role="evolve", match=target[:40], arg="1", times=1)
    result = evolve(tmp_path, server, "--rounds", "1")
    assert result.exit_code == 0, result.output
    hits = [c for c in server.calls if c.role == "evolve" and target[:40] in c.text]
    assert [c.action for c in hits] == ["429", None]
    assert waits == [1.0]  # backoff_initial is 0.01 s: only Retry-After explains the wait
    assert len(rows(tmp_path / "run" / "round_1.jsonl")) == 20


def test_transient_faults_are_retried_and_nothing_is_lost(tmp_path, server):
    for n, (action, role) in enumerate([("500", "evolve"), ("bad_json", "respond"), ("no_choices", "judge"),
                                        ("hang", "respond")], start=1):
        server.fault(action, role=role, match=seed_instruction(n)[:40], arg=10 if action == "hang" else None)
    result = evolve(tmp_path, server, "--rounds", "1", config={"endpoint": {"timeout": 1.0}})
    assert result.exit_code == 0, result.output
    assert len(rows(tmp_path / "run" / "round_1.jsonl")) == 20
    assert rows(tmp_path / "run" / "failed_1.jsonl") == []
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    tokens = m["rounds"][1]["tokens"]
    assert sum(t["retries"] for t in tokens.values()) == 4


def test_call_that_fails_for_good_is_a_failed_record(tmp_path, server):
    target = seed_instruction(7)
    server.fault("500", role="respond", match=target[:40], times=None)
    result = evolve(tmp_path, server, "--rounds", "2")
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    for k in (1, 2):
        (f,) = rows(run / f"failed_{k}.jsonl")
        assert (f["stage"], f["parent_id"], f["round"]) == ("respond", "seed-00007", k)
        assert f["error"] == "InternalServerError: Error code: 500 - scripted 500 (after 3 attempts)"
    pool1 = {r["id"]: r for r in rows(run / "pool_1.jsonl")}
    assert pool1["seed-00007"]["instruction"] == target  # the parent went back unchanged
    assert len([c for c in server.calls if c.role == "respond" and target[:40] in c.text]) == 6


def test_bad_key_stops_the_run_with_one_line(tmp_path, server):
    server.fault("401", times=None)
    result = evolve(tmp_path, server, "--rounds", "1")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: ") and "AuthenticationError: Error code: 401" in lines[0]
    assert not (tmp_path / "run" / "round_1.done").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_endpoint_stops_the_run_and_marks_nothing_done(tmp_path):
    """A server that was never reached is not a round of failed records (a rerun would skip that round)."""
    port = _free_port()
    server = ScriptedServer(port=port)
    server.port = port  # the URL the config names; nothing listens there yet
    result = evolve(tmp_path, server, "--rounds", "1", "--limit", "3", config={"endpoint": {"max_attempts": 2}})
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: cannot reach http://127.0.0.1:{port}/v1: APIConnectionError: Connection error.")
    run = tmp_path / "run"
    assert not (run / "round_1.done").exists() and not list(run.glob("failed_*.jsonl"))  # round 0 is the seed
    server.start()  # the server comes up on that port: the rerun does the work, nothing was lost
    try:
        result = evolve(tmp_path, server, "--rounds", "1", "--limit", "3", config={"endpoint": {"max_attempts": 2}})
    finally:
        server.stop()
    assert result.exit_code == 0, result.output
    assert len(rows(run / "round_0.jsonl")) == 3 and len(rows(run / "round_1.jsonl")) == 3
    assert rows(run / "failed_1.jsonl") == []


def test_endpoint_that_dies_mid_run_stops_it_after_a_streak_and_a_rerun_loses_nothing(tmp_path, server):
    server.drop_after = 25  # a few chains finish, then every connection is closed unanswered
    cfg = {"endpoint": {"max_attempts": 2, "dead_after": 4}, "concurrency": 4}
    result = evolve(tmp_path, server, "--rounds", "2", config=cfg)
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: {server.url} looks down: 4 calls in a row failed on connection errors after 2 "
                           "tries each (last: APIConnectionError: Connection error.")
    run = tmp_path / "run"
    assert not (run / "round_1.done").exists() and not (run / "failed_1.jsonl").exists()
    assert server.dropped <= 4 * 2 + 4  # the streak, plus at most one try of each call in flight
    answered = len(server.calls)
    server.drop_after = None
    # what the user should do next: give calls more time and tries; how calls travel is not the run's identity
    more = {**cfg, "endpoint": {"max_attempts": 4, "dead_after": 4, "timeout": 60, "backoff_max": 30,
                                "retry_after_max": 60}}
    result = evolve(tmp_path, server, "--rounds", "2", config=more)
    assert result.exit_code == 0, result.output
    assert all(len(rows(run / f"round_{k}.jsonl")) + len(rows(run / f"failed_{k}.jsonl")) +
               len(rows(run / f"eliminated_{k}.jsonl")) == 20 for k in (1, 2))
    assert rows(run / "failed_1.jsonl") == [] and rows(run / "failed_2.jsonl") == []
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    before = len(server.calls)
    assert evolve(fresh, server, "--rounds", "2", config=cfg).exit_code == 0
    # the answers got before the endpoint died were kept in the cache, not bought twice: the stopped run and its
    # rerun made as many calls as one uninterrupted run
    assert 0 < answered < before and len(server.calls) - before == before


def test_concurrency_bound_is_respected_and_used(tmp_path, server):
    """The scripted server counts requests on the wire at once: never above the bound, and at least 80% of it
    (each call takes 0.2 s there, so a loaded client has time to put the next ones on the wire)."""
    server.latency = 0.2
    result = evolve(tmp_path, server, "--rounds", "2", "--concurrency", "6")
    assert result.exit_code == 0, result.output
    assert server.count() == 2 * 60
    assert 0.8 * 6 <= server.peak_in_flight <= 6, server.peak_in_flight


def test_local_model_clamps_concurrency(tmp_path, server, monkeypatch):
    """The embedded llama.cpp server serves one request at a time: `local.concurrency` caps calls in flight
    whatever --concurrency says. The local server is stood in for by the scripted one (same HTTP, same SDK)."""
    import wizevol.llm.local_server as local_server

    class StandIn:
        n_threads = 1
        url = server.url

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

    monkeypatch.setattr(local_server.LocalServer, "from_config", classmethod(lambda cls, *a, **kw: StandIn()))
    server.latency = 0.2
    cfg = tmp_path / "local.yaml"
    cfg.write_text(yaml.safe_dump({"backend": "local", "concurrency": 16, "local": {"concurrency": 3}}))
    result = CliRunner().invoke(app, ["evolve", "--seed", str(SEED), "--out", str(tmp_path / "run"),
                                      "--config", str(cfg), "--rounds", "1"])
    assert result.exit_code == 0, result.output
    assert {c.path for c in server.calls} == {"/v1/completions"} and server.count() == 60
    assert server.peak_in_flight == 3


def _429_then_retry(tmp_path, server, config: dict | None = None, **fault):
    target = seed_instruction(2)
    server.fault("429", role="evolve", match=target[:40], times=1, **fault)
    result = evolve(tmp_path, server, "--rounds", "1", "--limit", "3", config=config)
    assert result.exit_code == 0, result.output
    hits = [c for c in server.calls if c.role == "evolve" and target[:40] in c.text]
    assert [c.action for c in hits] == ["429", None]
    return hits


def test_retry_after_as_an_http_date(tmp_path, server, waits, monkeypatch):
    monkeypatch.setattr(client_mod, "_now", lambda: 1_700_000_000.25)
    when = 1_700_000_004  # an HTTP-date has whole seconds
    _429_then_retry(tmp_path, server, headers={"Retry-After": email.utils.formatdate(when, usegmt=True)})
    assert waits == [3.75]  # retried at the date, not before; the test's backoff is 0.01 s


def test_retry_after_ms_wins_over_retry_after(tmp_path, server, waits):
    _429_then_retry(tmp_path, server, headers={"retry-after-ms": "700", "Retry-After": "5"})
    assert waits == [pytest.approx(0.7)]


def test_retry_after_is_capped(tmp_path, server, waits):
    _429_then_retry(tmp_path, server, arg="30", config={"endpoint": {"retry_after_max": 0.5}})
    assert waits == [0.5]


def test_unusable_retry_after_falls_back_to_backoff(tmp_path, server, waits):
    _429_then_retry(tmp_path, server, headers={"Retry-After": "soon, maybe"})
    assert len(waits) == 1 and 0.01 <= waits[0] <= 0.02  # backoff_initial 0.01 s, plus up to as much jitter


def test_a_retry_waits_for_real(tmp_path, server):
    """The waits above are chosen, not slept, in those tests: here the real sleep holds the retry back."""
    first, retry = _429_then_retry(tmp_path, server, headers={"retry-after-ms": "300"})
    assert retry.t - first.t >= 0.3


def test_retry_after_parsing(monkeypatch):
    monkeypatch.setattr(client_mod, "_now", lambda: 1_700_000_000.0)
    class Exc(Exception):
        def __init__(self, headers):
            self.response = type("R", (), {"headers": headers})()

    assert _retry_after(Exc({"retry-after-ms": "250"})) == 0.25
    assert _retry_after(Exc({"retry-after": "3"})) == 3.0
    assert _retry_after(Exc({"retry-after": "-3"})) == 0.0
    assert _retry_after(Exc({"retry-after": "nan"})) is None
    assert _retry_after(Exc({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0  # in the past
    assert _retry_after(Exc({"retry-after": email.utils.formatdate(1_700_000_010, usegmt=True)})) == 10.0
    assert _retry_after(Exc({"retry-after": "garbage"})) is None
    assert _retry_after(Exc({"retry-after-ms": "x", "retry-after": "2"})) == 2.0
    assert _retry_after(Exc({})) is None


MOUNTS = """/dev/sda1 / ext4 rw,relatime 0 0
nfs.example:/export /mnt/shared nfs4 rw,relatime,vers=4.2 0 0
/dev/sdb1 /mnt/shared/local ext4 rw 0 0
server:/my\\040share /mnt/my\\040share cifs rw 0 0
"""


def test_the_file_system_under_a_path_is_its_longest_mount_point():
    from wizevol.llm.cache import fs_type, journal_mode

    assert fs_type("/mnt/shared/runs/R/shard-0-of-4", MOUNTS) == "nfs4"
    assert fs_type("/mnt/shared/local/runs", MOUNTS) == "ext4"  # a local disk mounted inside the share
    assert fs_type("/mnt/sharedX/runs", MOUNTS) == "ext4"  # a prefix of the name is not the mount point
    assert fs_type("/mnt/my share/runs", MOUNTS) == "cifs"
    assert [journal_mode(p, MOUNTS) for p in ("/mnt/shared/r", "/home/r", "/mnt/my share/r")] == ["DELETE", "WAL",
                                                                                                   "DELETE"]


def test_a_run_on_a_network_file_system_uses_a_rollback_journal(tmp_path, server, monkeypatch):
    """SQLite's WAL mode needs shared memory on one host, which NFS does not give: a run folder there gets a
    rollback journal (no -wal file), and the run and its rerun work as on a local disk."""
    import sqlite3

    from wizevol.llm import cache

    monkeypatch.setattr(cache, "fs_type", lambda path, mounts=None: "nfs4")
    assert evolve(tmp_path, server, "--rounds", "1").exit_code == 0
    db = tmp_path / "run" / "cache.sqlite"
    assert not db.with_name("cache.sqlite-wal").exists()
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    calls = len(server.calls)
    assert evolve(tmp_path, server, "--rounds", "1").exit_code == 0 and len(server.calls) == calls
    monkeypatch.undo()
    local = tmp_path / "local"
    local.mkdir()
    assert evolve(local, server, "--rounds", "1").exit_code == 0
    assert sqlite3.connect(local / "run" / "cache.sqlite").execute("PRAGMA journal_mode").fetchone()[0] == "wal"
