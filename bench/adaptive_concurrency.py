"""Adaptive concurrency (endpoint.adaptive, AIMD) against a server with a hidden rate limit, next to a sweep of
fixed concurrencies, side by side in one run.

The server is tests/scripted_server.py in its own process: a fixed latency and a token-bucket rate limit that
answers a bare 429 (no Retry-After, no rate-limit headers) beyond it. Each row makes the same N distinct calls
through wizevol's client (retries with backoff until each call is answered) and reports calls/s and the 429s it
drew. The adaptive client may put up to 64 calls in flight and starts at 4.

    python bench/adaptive_concurrency.py [--calls 1500] [--latency 0.1] [--rate 100]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wizevol.config import EvolveConfig  # noqa: E402
from wizevol.llm.cache import ResponseCache  # noqa: E402
from wizevol.llm.client import LLM, Usage  # noqa: E402
from wizevol.prompts import Request  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from evolve_throughput import Server  # noqa: E402


def one(server: Server, calls: int, concurrency: int, adaptive: bool, tag: str) -> dict:
    cfg = EvolveConfig.model_validate({
        "backend": "api", "concurrency": concurrency, "evolver": {"model": "bench", "max_tokens": 16},
        "endpoint": {"base_url": f"http://127.0.0.1:{server.port}/v1", "timeout": 30, "max_attempts": 100,
                     "backoff_initial": 0.05, "backoff_max": 1.0, "adaptive": adaptive},
    })
    role = cfg.role("evolver")
    server.ask("reset")
    with tempfile.TemporaryDirectory() as tmp:
        cache = ResponseCache(Path(tmp) / "cache.sqlite")
        llm = LLM(cfg.endpoint, cache, Usage(), concurrency)

        async def go() -> float:
            queue = list(range(calls))

            async def worker() -> None:
                while queue:
                    i = queue.pop()
                    await llm.complete(role, Request("chat", messages=[{"role": "user", "content": f"{tag} {i}"}]), 0)

            t0 = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            wall = time.perf_counter() - t0
            await llm.aclose()
            return wall

        wall = asyncio.run(go())
        peak = llm.endpoint_report()
        cache.close()
    stats = server.ask("stats")
    ep = next(iter(peak.values()), {})
    return {"concurrency": concurrency, "adaptive": adaptive, "wall_s": wall, "calls_per_s": calls / wall,
            "answered": stats["calls"], "429s": stats["limited"], "final_limit": ep.get("concurrency_now")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1500)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--fixed", type=int, nargs="+", default=[2, 4, 8, 12, 16, 32, 64])
    args = ap.parse_args()
    server = Server(str(args.latency), "--rate-limit", str(args.rate))
    try:
        print(f"hidden limit {args.rate:.0f} requests/s, latency {args.latency} s, {args.calls} calls per row "
              f"(the limit x latency = {args.rate * args.latency:.0f} calls in flight)")
        print(f"{'client':>16} {'calls/s':>8} {'429s':>6} {'wall_s':>7} {'limit_end':>9}")
        rows = []
        for n, c in enumerate(args.fixed):
            r = one(server, args.calls, c, False, f"fixed{n}")
            rows.append(r)
            print(f"{'fixed ' + str(c):>16} {r['calls_per_s']:8.1f} {r['429s']:6d} {r['wall_s']:7.2f} {'':>9}",
                  flush=True)
        a = one(server, args.calls, 64, True, "adaptive")
        print(f"{'adaptive (<=64)':>16} {a['calls_per_s']:8.1f} {a['429s']:6d} {a['wall_s']:7.2f} "
              f"{a['final_limit']!s:>9}")
        best = max(rows, key=lambda r: r["calls_per_s"])
        print(f"best fixed: {best['concurrency']} at {best['calls_per_s']:.1f} calls/s; adaptive / best fixed = "
              f"{a['calls_per_s'] / best['calls_per_s']:.2f}")
    finally:
        server.close()


if __name__ == "__main__":
    main()
