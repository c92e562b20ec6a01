"""Several endpoints for a role: each call goes to the least busy one, an endpoint that keeps failing is taken
out and its calls go to the others; nothing is lost and the counts add up (three scripted servers, real HTTP)."""

from __future__ import annotations

import json

import pytest
from conftest import evolve, rows
from scripted_server import ScriptedServer


@pytest.fixture
def three():
    servers = [ScriptedServer(latency=0.01).start() for _ in range(3)]
    yield servers
    for s in servers:
        s.stop()


def test_one_of_three_servers_dies_mid_run_and_nothing_is_lost(tmp_path, three, server):
    a, b, c = three
    b.drop_after = 15  # b answers 15 calls, then closes every connection
    cfg = {"endpoint": {"base_url": a.url, "base_urls": [b.url, c.url], "out_after": 2, "out_for": 60.0,
                        "max_attempts": 3},
           "concurrency": 8}
    result = evolve(tmp_path, server, "--rounds", "2", config=cfg)
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    for k in (1, 2):
        assert rows(run / f"failed_{k}.jsonl") == []
        assert len(rows(run / f"round_{k}.jsonl")) + len(rows(run / f"eliminated_{k}.jsonl")) == 20
    manifest = json.loads((run / "manifest.json").read_text())
    ep = manifest["endpoints"]
    assert set(ep) == {a.url, b.url, c.url}
    assert ep[b.url]["failures"] == b.dropped > 0 and ep[b.url]["taken_out"] >= 1
    assert ep[a.url]["failures"] == ep[c.url]["failures"] == 0
    answered = sum(len(s.calls) for s in three)
    assert manifest["cost"]["answered_calls"] == answered  # every answer counted once, whoever gave it
    assert sum(e["tries"] for e in ep.values()) == answered + b.dropped
    assert len(b.calls) == 15 and min(len(a.calls), len(c.calls)) > 0.3 * answered  # the load was shared
    assert server.calls == []  # the fixture's server is not named in this config

    alone = evolve(tmp_path, server, "--rounds", "2", out="alone", config={"concurrency": 8})
    assert alone.exit_code == 0, alone.output
    for k in (1, 2):  # the same data as one healthy server gives
        for name in ("round", "eliminated", "pool"):
            assert (run / f"{name}_{k}.jsonl").read_bytes() == (tmp_path / "alone" / f"{name}_{k}.jsonl").read_bytes()


def test_least_busy_endpoint_gets_the_call():
    from wizevol.llm.routing import Endpoints

    e = Endpoints(("a", "b", "c"), out_after=2, out_for=60.0)
    assert [e.pick() for _ in range(3)] == ["a", "b", "c"]
    e.done("b", False)
    assert e.pick() == "b"  # b has no call in flight now
    assert e.pick(avoid="a") in ("b", "c") and e.pick(avoid="c") != "c"
    for _ in range(2):
        e.state["c"]["in_flight"] += 1
        e.done("c", True)
    assert e.report()["c"]["taken_out"] == 1
    assert "c" not in {e.pick() for _ in range(10)}  # out for 60 s
    single = Endpoints(("only",), out_after=1, out_for=60.0)
    single.pick()
    single.done("only", True)
    assert single.pick() == "only" and single.report()["only"]["taken_out"] == 0  # the only one is never out
