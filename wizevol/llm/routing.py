"""Where a call goes and how many go at once: the endpoints serving a role (each try to the least busy one
that is not taken out), and the adaptive limit of calls in flight to one endpoint (AIMD). Used by
`llm/client.py`'s LLM."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import openai


class Endpoints:
    """The endpoints serving one role. Each try goes to the one with the fewest calls in flight among those not
    taken out, and not the one the call's last try failed on when another is up. An endpoint that fails
    `out_after` tries in a row is taken out for `out_for` seconds; when every one is out, the one due back first
    is tried."""

    def __init__(self, urls: tuple[str, ...], out_after: int, out_for: float):
        self.out_after, self.out_for = out_after, out_for
        self.state = {u: {"in_flight": 0, "streak": 0, "out_until": 0.0, "tries": 0, "failures": 0, "taken_out": 0}
                      for u in urls}

    def pick(self, avoid: str | None = None) -> str:
        """The endpoint for the next try (counted in flight until `done`)."""
        now = time.monotonic()
        up = [u for u, s in self.state.items() if s["out_until"] <= now]
        if not up:
            up = [min(self.state, key=lambda u: self.state[u]["out_until"])]
        if avoid in up and len(up) > 1:
            up.remove(avoid)
        url = min(up, key=lambda u: self.state[u]["in_flight"])
        self.state[url]["in_flight"] += 1
        self.state[url]["tries"] += 1
        return url

    def done(self, url: str, failed: bool) -> None:
        """A try on `url` ended; `failed`: the endpoint was unwell (see is_endpoint_failure)."""
        s = self.state[url]
        s["in_flight"] -= 1
        if not failed:
            s["streak"] = 0
            return
        s["failures"] += 1
        s["streak"] += 1
        if s["streak"] >= self.out_after and len(self.state) > 1:
            s["streak"] = 0
            s["out_until"] = time.monotonic() + self.out_for
            s["taken_out"] += 1

    def report(self) -> dict[str, dict[str, int]]:
        """Tries, failures and times taken out, per endpoint."""
        return {u: {k: s[k] for k in ("tries", "failures", "taken_out")} for u, s in self.state.items()}


def is_overload(exc: BaseException) -> bool:
    """Does this error say we are sending too much (429, 503, a timeout)?"""
    if isinstance(exc, openai.APITimeoutError):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code in (429, 503)


class AdaptiveLimit:
    """How many calls may be in flight to one endpoint, found as TCP finds its window (AIMD).

    Slow start: the limit grows by one with each success (it doubles every round trip) until the first overload;
    then by one per `limit` successes. A 429, 503 or timeout halves it, at most once per round trip (calls that
    were already in flight when it was halved do not halve it again). A rate-limit header saying no request is
    left (`x-ratelimit-remaining-requests: 0`) stops the growth without waiting for the 429."""

    def __init__(self, start: int, most: int):
        self.limit, self.most = float(min(start, most)), most
        self.in_flight = 0
        self.slow_start = True
        self.epoch = 0  # bumped at each decrease; a call started before it cannot decrease again
        self.peak = self.limit
        self._cond = asyncio.Condition()

    async def acquire(self) -> int:
        """Wait for room; the epoch the call starts in."""
        async with self._cond:
            await self._cond.wait_for(lambda: self.in_flight < int(self.limit))
            self.in_flight += 1
            return self.epoch

    async def release(self, epoch: int, outcome: str, headers: Any = None) -> None:
        """`outcome`: ok | overload | other."""
        async with self._cond:
            self.in_flight -= 1
            if outcome == "overload":
                if epoch == self.epoch:
                    self.limit = max(1.0, self.limit / 2)
                    self.slow_start = False
                    self.epoch += 1
            elif outcome == "ok" and not _no_requests_left(headers):
                self.limit = min(float(self.most), self.limit + (1.0 if self.slow_start else 1.0 / self.limit))
            self.peak = max(self.peak, self.limit)
            self._cond.notify_all()


def _no_requests_left(headers: Any) -> bool:
    value = headers.get("x-ratelimit-remaining-requests") if headers else None
    try:
        left = float(value) if value is not None else math.nan
    except ValueError:
        return False
    return math.isfinite(left) and left <= 0
