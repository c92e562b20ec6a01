"""Adaptive concurrency (endpoint.adaptive): AIMD on the calls in flight to an endpoint. The speed claim is in
bench/adaptive_concurrency.py; here, the rule itself and its effect on a rate-limited server."""

from __future__ import annotations

import asyncio
import json

from conftest import evolve, rows

from wizevol.llm.routing import AdaptiveLimit


def test_slow_start_doubles_then_overload_halves_once_per_round_trip_then_grows_by_one():
    async def go():
        lim = AdaptiveLimit(start=2, most=64)
        epochs = [await lim.acquire() for _ in range(2)]
        assert lim.in_flight == 2 and int(lim.limit) == 2
        for e in epochs:
            await lim.release(e, "ok")
        assert lim.limit == 4  # slow start: +1 per success, so it doubles per round trip
        epochs = [await lim.acquire() for _ in range(4)]
        await lim.release(epochs[0], "overload")
        await lim.release(epochs[1], "overload")  # started before the halving: does not halve again
        assert lim.limit == 2 and not lim.slow_start
        await lim.release(epochs[2], "ok")
        await lim.release(epochs[3], "ok")
        assert abs(lim.limit - (2 + 1 / 2 + 1 / 2.5)) < 1e-9  # congestion avoidance: +1/limit per success
        e = await lim.acquire()
        await lim.release(e, "ok", {"x-ratelimit-remaining-requests": "0"})
        before = lim.limit
        e = await lim.acquire()
        await lim.release(e, "ok", {"x-ratelimit-remaining-requests": "0"})
        assert lim.limit == before  # the provider says nothing is left: no growth
        e = await lim.acquire()
        await lim.release(e, "other")
        assert lim.limit == before  # a 400 or a bad body says nothing about load

        capped = AdaptiveLimit(start=4, most=5)
        for _ in range(10):
            e = await capped.acquire()
            await capped.release(e, "ok")
        assert capped.limit == 5 and capped.peak == 5

    asyncio.run(go())


def test_the_limit_holds_calls_back_until_there_is_room():
    async def go():
        lim = AdaptiveLimit(start=1, most=8)
        e = await lim.acquire()
        waiter = asyncio.create_task(lim.acquire())
        await asyncio.sleep(0.05)
        assert not waiter.done()  # one call in flight, the limit is one
        await lim.release(e, "overload")
        assert (await asyncio.wait_for(waiter, 1)) == 1  # the limit stays at its floor of one; the next call starts

    asyncio.run(go())


def test_against_a_rate_limited_server_the_adaptive_client_draws_far_fewer_429s(tmp_path, server):
    server.rate_limit, server.latency = 40.0, 0.05  # about 2 calls in flight fit under the limit
    cfg = {"concurrency": 16, "endpoint": {"max_attempts": 60, "backoff_initial": 0.02, "backoff_max": 0.2}}
    fixed = evolve(tmp_path, server, "--rounds", "1", out="fixed", config=cfg)
    assert fixed.exit_code == 0, fixed.output
    fixed_429s, server.limited = server.limited, 0
    cfg["endpoint"]["adaptive"] = True
    adaptive = evolve(tmp_path, server, "--rounds", "1", out="adaptive", config=cfg)
    assert adaptive.exit_code == 0, adaptive.output
    assert fixed_429s > 50 and server.limited < fixed_429s / 3
    for out in ("fixed", "adaptive"):
        assert rows(tmp_path / out / "failed_1.jsonl") == []
    assert (tmp_path / "fixed" / "round_1.jsonl").read_bytes() == (tmp_path / "adaptive" / "round_1.jsonl").read_bytes()
    (ep,) = json.loads((tmp_path / "adaptive" / "manifest.json").read_text())["endpoints"].values()
    assert 1 <= ep["concurrency_now"] <= ep["concurrency_peak"] <= 16
