"""Memory and speed of one process as the pool grows: `wizevol evolve --rounds 1` on N synthetic seed records
against the scripted server (tests/scripted_server.py, no latency, in its own process), for each N.

Prints, per N: the peak RSS of the wizevol process (the aim: under 500 MB and flat from 10k to 100k records),
calls/s, and the run's SQLite response cache: its size on disk and the time of one lookup (10,000 random keys).

    python bench/scale.py [--sizes 10000 100000] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wizevol.llm.cache import ResponseCache  # noqa: E402


def run(n: int, concurrency: int, tmp: Path) -> dict:
    seed = tmp / f"seed_{n}.jsonl"
    with seed.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"instruction": f"Task {i}: write a function that returns the {i}-th prime number "
                                               f"and explain its complexity in {i % 7 + 2} sentences."}) + "\n")
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "scripted_server.py")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    port = json.loads(server.stdout.readline())["port"]
    cfg = tmp / "cfg.yaml"
    cfg.write_text(f"backend: api\nendpoint: {{base_url: 'http://127.0.0.1:{port}/v1'}}\nevolver: {{model: m}}\n"
                   f"concurrency: {concurrency}\n")
    out = tmp / f"run_{n}"
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "wizevol"), "evolve", "--seed", str(seed), "--rounds",
                             "1", "--out", str(out), "--config", str(cfg), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    server.stdin.write("stats\n")
    server.stdin.flush()
    calls = json.loads(server.stdout.readline())["calls"]
    server.stdin.close()
    server.wait(10)
    if status != 0:
        raise SystemExit(f"wizevol evolve failed on {n} records: {proc.stderr.read().decode()[-500:]}")
    db = out / "cache.sqlite"
    keys = [k for (k,) in sqlite3.connect(db).execute("SELECT key FROM responses")]
    sample = random.Random(0).sample(keys, min(10_000, len(keys)))
    cache = ResponseCache(db)
    t0 = time.perf_counter()
    assert all(cache.get(k) is not None for k in sample)
    lookup = (time.perf_counter() - t0) / len(sample)
    cache.close()
    size = sum(p.stat().st_size for p in out.glob("cache.sqlite*"))
    return {"records": n, "calls": calls, "wall_s": wall, "calls_per_s": calls / wall,
            "peak_rss_mb": ru.ru_maxrss / 1024, "cache_mb": size / 2**20, "lookup_us": lookup * 1e6}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()
    print(f"{'records':>8} {'calls':>7} {'wall_s':>7} {'calls/s':>8} {'peak_rss_MB':>11} {'cache_MB':>9} "
          f"{'lookup_us':>9}", flush=True)
    with tempfile.TemporaryDirectory(prefix="wizevol-scale-") as tmp:
        for n in args.sizes:
            r = run(n, args.concurrency, Path(tmp))
            print(f"{r['records']:>8} {r['calls']:>7} {r['wall_s']:>7.1f} {r['calls_per_s']:>8.1f} "
                  f"{r['peak_rss_mb']:>11.0f} {r['cache_mb']:>9.1f} {r['lookup_us']:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
