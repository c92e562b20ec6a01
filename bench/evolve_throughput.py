"""Scheduling benchmark: wall time of an evolve run against a heavy-tailed latency server, next to the ideal.

ideal = sum of server latencies / concurrency   (= calls x mean latency / concurrency)
ratio = wall / ideal                            (1.0 is perfect)

Three schedulers, side by side in one run, at concurrency 64 and 256, over the same records and rounds:
  pipelined  wizevol's: each record's evolve -> judge -> respond chain is its own task under the bound, and a
             lineage's next round starts as soon as its own chain ends (no barrier between rounds)
  barrier    the same continuous scheduling inside a round, but each round waits for its slowest chain
  waves      batches of `concurrency` chains, each batch waiting for its slowest call
The server is tests/scripted_server.py in its own process, with log-normal latency (median 0.5 s,
sigma 0.8: a heavy tail).

    python bench/evolve_throughput.py [--rounds 2] [--records-per-slot 4] [--latency lognormal:0.5:0.8]

--vs-plain: `wizevol evolve --rounds 1` on 200 seeds at concurrency 64, next to bench/plain_chains.py (AsyncOpenAI
and a semaphore making the same evolve -> judge -> respond chains), each meeting the same server latencies in
arrival order (log-normal, median 0.2 s, sigma 0.5), both as processes from start to exit; the median of 3 runs.

    python bench/evolve_throughput.py --vs-plain [--seeds 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wizevol.config import EvolveConfig  # noqa: E402
from wizevol.evolve.chain import Roles, RoundContext, evolve_one  # noqa: E402
from wizevol.evolve.rules import build_rules  # noqa: E402
from wizevol.evolve.scheduler import run_rounds  # noqa: E402
from wizevol.llm.cache import ResponseCache  # noqa: E402
from wizevol.llm.client import LLM, Usage  # noqa: E402
from wizevol.prompts import PromptSet  # noqa: E402
from wizevol.record import Record  # noqa: E402


class Server:
    """tests/scripted_server.py in its own process, driven through stdin (stats, reset)."""

    def __init__(self, latency: str, *extra: str):
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "scripted_server.py"), "--latency", latency,
                                      *extra], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port = json.loads(self.proc.stdout.readline())["port"]

    def ask(self, cmd: str) -> dict:
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


SPOOL = Path(tempfile.mkdtemp(prefix="wizevol-bench-"))


async def pipelined(pool, rounds, ctx):
    done = {}
    await run_rounds(pool, len(pool), 1, rounds, ctx, lambda k, outs: done.__setitem__(k, list(outs)), SPOOL)
    return done


async def barrier(pool, rounds, ctx):
    done = {}
    for k in range(1, rounds + 1):
        await run_rounds(pool, len(pool), k, k, ctx, lambda k, outs: done.__setitem__(k, list(outs)), SPOOL)
        pool = [o.next_pool for o in done[k]]
    return done


async def waves(pool, rounds, ctx):
    done = {}
    n = ctx.cfg.concurrency
    for k in range(1, rounds + 1):
        done[k] = []
        for i in range(0, len(pool), n):
            done[k] += await asyncio.gather(*(evolve_one(r, k, ctx) for r in pool[i:i + n]))
        pool = [o.next_pool for o in done[k]]
    return done


SCHEDULERS = {"pipelined": pipelined, "barrier": barrier, "waves": waves}


def one(server: Server, concurrency: int, records: int, rounds: int, scheduler: str) -> dict:
    cfg = EvolveConfig.model_validate({
        "concurrency": concurrency,
        "endpoint": {"base_url": f"http://127.0.0.1:{server.port}/v1", "timeout": 60},
        "evolver": {"model": "bench"},
    })
    prompts = PromptSet.load()
    pool = [Record(id=f"seed-{i:05d}", root_id=f"seed-{i:05d}",
                   instruction=f"Task {i}: write a function that returns the {i}-th prime number.")
            for i in range(records)]
    with tempfile.TemporaryDirectory() as tmp:
        cache = ResponseCache(Path(tmp) / "cache.sqlite")
        llm = LLM(cfg.endpoint, cache, Usage())
        roles = Roles(cfg.role("evolver"), cfg.role("responder"), cfg.role("judge"))
        rules = build_rules(cfg.rules, prompts.leak_markers(), prompts.evolve_texts(roles.evolver.mode),
                            prompts.methods)
        ctx = RoundContext(cfg=cfg, llm=llm, prompts=prompts, rules=rules, roles=roles)
        server.ask("reset")

        async def go():
            t0 = time.perf_counter()
            outs = await SCHEDULERS[scheduler](pool, rounds, ctx)
            wall = time.perf_counter() - t0
            await llm.aclose()
            return outs, wall

        outs, wall = asyncio.run(go())
        cache.close()
    stats = server.ask("stats")
    ideal = stats["slept"] / concurrency
    assert sorted(outs) == list(range(1, rounds + 1)) and all(len(o) == records for o in outs.values())
    return {"scheduler": scheduler, "concurrency": concurrency, "records": records, "calls": stats["calls"],
            "mean_latency_s": stats["slept"] / stats["calls"], "wall_s": wall, "ideal_s": ideal,
            "ratio": wall / ideal}


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of a command run to its end."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"{cmd[:3]} failed: {proc.stderr.read().decode()[-500:]}")
    return wall, ru.ru_utime + ru.ru_stime


def vs_plain(latency: str, seeds: int, concurrency: int, repeats: int) -> None:
    """`wizevol evolve --rounds 1` next to bench/plain_chains.py: the same seeds, calls and latencies."""
    tmp = Path(tempfile.mkdtemp(prefix="wizevol-vs-plain-"))
    seed = tmp / "seed.jsonl"
    seed.write_text("".join(json.dumps({"instruction": f"Task {i}: write a function that returns the {i}-th "
                                                       "prime number, with tests."}) + "\n" for i in range(seeds)))
    server = Server(latency)
    url = f"http://127.0.0.1:{server.port}/v1"
    cfg = tmp / "cfg.yaml"
    cfg.write_text(f"backend: api\nendpoint: {{base_url: '{url}'}}\nevolver: {{model: m}}\n"
                   f"concurrency: {concurrency}\n")
    wizevol = str(Path(sys.executable).parent / "wizevol")
    rows = {"wizevol evolve": [], "plain script": []}
    try:
        for rep in range(repeats):
            for name in rows:
                server.ask("reset")
                if name == "plain script":
                    cmd = [sys.executable, str(ROOT / "bench" / "plain_chains.py"), str(seed), url,
                           str(tmp / f"plain{rep}.jsonl"), "--concurrency", str(concurrency)]
                else:
                    cmd = [wizevol, "evolve", "--seed", str(seed), "--rounds", "1", "--out", str(tmp / f"run{rep}"),
                           "--config", str(cfg), "--no-progress"]
                wall, cpu = timed(cmd)
                stats = server.ask("stats")
                rows[name].append((wall, cpu, stats["calls"], stats["slept"]))
                print(f"{name:>15} run {rep + 1}: {stats['calls']} calls, wall {wall:.2f} s, CPU {cpu:.2f} s",
                      flush=True)
    finally:
        server.close()
    med = {n: sorted(r)[len(r) // 2] for n, r in rows.items()}
    w, p = med["wizevol evolve"], med["plain script"]
    print(f"median wall: wizevol {w[0]:.2f} s, plain {p[0]:.2f} s, ratio {w[0] / p[0]:.2f}; CPU: wizevol "
          f"{w[1]:.2f} s, plain {p[1]:.2f} s (each process from start to exit, imports included)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vs-plain", action="store_true", help="wizevol evolve next to bench/plain_chains.py")
    ap.add_argument("--seeds", type=int, default=200, help="--vs-plain: seed records")
    ap.add_argument("--repeats", type=int, default=3, help="--vs-plain: runs of each client")
    ap.add_argument("--records-per-slot", type=int, default=4, help="records = concurrency x this")
    ap.add_argument("--latency", default="lognormal:0.5:0.8")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    if args.vs_plain:
        latency = "lognormal:0.2:0.5" if args.latency == ap.get_default("latency") else args.latency
        return vs_plain(latency, args.seeds, args.concurrency[0] if args.concurrency != [64, 256] else 64,
                        args.repeats)
    server = Server(args.latency)
    try:
        print(f"{'scheduler':>10} {'conc':>5} {'records':>7} {'calls':>6} {'mean_lat':>8} {'wall_s':>7} "
              f"{'ideal_s':>7} {'ratio':>6}")
        for conc in args.concurrency:
            for scheduler in SCHEDULERS:
                r = one(server, conc, conc * args.records_per_slot, args.rounds, scheduler)
                print(f"{r['scheduler']:>10} {r['concurrency']:>5} {r['records']:>7} {r['calls']:>6} "
                      f"{r['mean_latency_s']:>8.3f} {r['wall_s']:>7.2f} {r['ideal_s']:>7.2f} {r['ratio']:>6.2f}",
                      flush=True)
    finally:
        server.close()


if __name__ == "__main__":
    main()
