"""Retry policy and fault injection through real HTTP: every record ends up kept, eliminated or failed."""

from __future__ import annotations

import json

from conftest import evolve, rows, seed_instruction


def test_429_retry_after_is_honoured(tmp_path, server):
    target = seed_instruction(2)
    server.fault("429", role="evolve", match=target[:40], arg="1", times=1)
    result = evolve(tmp_path, server, "--rounds", "1")
    assert result.exit_code == 0, result.output
    hits = [c for c in server.calls if c.role == "evolve" and target[:40] in c.text]
    assert [c.action for c in hits] == ["429", None]
    assert hits[1].t - hits[0].t >= 0.95  # backoff_initial is 0.01 s: only Retry-After explains the wait
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


def test_unreachable_endpoint_fails_records_not_the_process(tmp_path, server):
    cfg = {"endpoint": {"base_url": "http://127.0.0.1:9/v1", "max_attempts": 2}}
    result = evolve(tmp_path, server, "--rounds", "1", "--limit", "3", config=cfg)
    assert result.exit_code == 0, result.output
    failed = rows(tmp_path / "run" / "failed_1.jsonl")
    assert [f["stage"] for f in failed] == ["evolve"] * 3
    assert all(f["error"].startswith("APIConnectionError: Connection error.") for f in failed)
    assert len(rows(tmp_path / "run" / "pool_1.jsonl")) == 3
