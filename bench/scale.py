"""Memory and speed of one process as the pool grows: `wizevol evolve --rounds R` on N synthetic seed records,
each N in a fresh process (this script with --child) that reports its own peak RSS (VmHWM, `own_peak_kb`).

Two clients:
  - `stub` (default): in-process. The SDK's HTTP call (`client.post`) is replaced by a function that returns
    the scripted server's answers (tests/scripted_server.py's `default_answer`), so everything else runs as in a
    real run: the scheduler over R rounds, the response cache (SQLite), retries, usage, the spools and the round
    files. No socket, no server process: it reaches 1M records on 2 cores.
  - `server`: real HTTP through the `openai` SDK to the scripted server in its own process (no latency); the
    server's memory is not counted.

Prints, per N: calls, wall time, calls/s, peak RSS of the wizevol process (and the most it held in the first half
of its wall time, sampled from /proc each second: a peak at the end, when the rounds are written, shows as a gap),
the run's SQLite response cache (size, one lookup of 10,000 random keys), and at the end the ratio of the largest N's peak RSS to the smallest's.

    python bench/scale.py [--sizes 100000 1000000] [--rounds 4] [--client stub|server] [--concurrency 64]
        [--timeline DIR]
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
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


class _Raw:
    """What the SDK's raw call returns, as far as wizevol reads it: a body and headers."""

    def __init__(self, content: bytes) -> None:
        self.content = content
        self.headers: dict[str, str] = {}


class StubClient:
    """`openai.AsyncOpenAI`'s `post` and `close`, answered in-process with the scripted server's own answer bodies."""

    def __init__(self) -> None:
        from scripted_server import ScriptedServer

        self.calls = 0
        self.server = ScriptedServer()  # never started: only its answers are used

    async def post(self, path: str, body: dict, cast_to: type) -> _Raw:
        from scripted_server import prompt_text, role_of

        self.calls += 1
        text = prompt_text(path, body)
        return _Raw(json.dumps(self.server._completion(path, body, None, None, role_of(text), text)).encode())

    async def close(self) -> None:
        return None


def _inside(path: Path, stub: StubClient | None, stop: threading.Event) -> None:
    """`--timeline`, from inside the child every 2 s, appended as JSON lines: what kind of memory RSS is (anonymous,
    file-backed, shared: SQLite's WAL index is shared), how many blocks Python's allocator holds (objects kept
    alive grow it; freed memory the C allocator does not give back does not), threads, and calls made."""
    import gc

    t0 = time.perf_counter()
    with path.open("a") as out:
        while not stop.wait(2.0):
            kb = {k: v for k, v in status_kb().items() if k in ("VmRSS", "RssAnon", "RssFile", "RssShmem")}
            out.write(json.dumps({"t": round(time.perf_counter() - t0, 1), **kb,
                                  "py_blocks": sys.getallocatedblocks(), "threads": threading.active_count(),
                                  "gc_counts": gc.get_count(), "calls": stub.calls if stub else None}) + "\n")
            out.flush()


def child(argv: list[str]) -> None:
    """Run `wizevol evolve` in this process (with the stub client unless WIZEVOL_SCALE_CLIENT=server); print the
    calls the stub answered and this process's own peak RSS (`own_peak_kb`).
    WIZEVOL_SCALE_INSIDE=FILE: sample this process's memory from inside (`_inside`) into FILE."""
    from wizevol.cli import app
    from wizevol.llm import client as client_mod

    stub = None
    if os.environ.get("WIZEVOL_SCALE_CLIENT", "stub") == "stub":
        stub = StubClient()
        client_mod.LLM.client_at = lambda self, url, key_env: stub
    stop = threading.Event()
    if inside := os.environ.get("WIZEVOL_SCALE_INSIDE"):
        threading.Thread(target=_inside, args=(Path(inside), stub, stop), daemon=True).start()
    try:
        app(argv, standalone_mode=False)
    finally:
        stop.set()
        print(json.dumps({"calls": stub.calls if stub is not None else None, "peak_rss_kb": own_peak_kb()}))


def own_peak_kb() -> int:
    """This process's peak resident set since it started its program (VmHWM). Not the ru_maxrss its parent reads
    from wait4: Linux folds the spawning parent's own peak into that (the child ran in the parent's memory until it
    exec'd), so a bench that had just read 1.2M cache keys saw its next child "peak" at 181 MB, not at 74 MB."""
    return status_kb()["VmHWM"]


def status_kb(pid: int | str = "self") -> dict[str, int]:
    """A process's sizes from /proc/PID/status, in kB (VmRSS, VmHWM, RssAnon, ...; none once it is a zombie)."""
    with open(f"/proc/{pid}/status") as f:
        return {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in f) if v.rstrip().endswith(" kB")}


def _watch(pid: int, t0: float, samples: list[tuple[float, int]]) -> None:
    """Sample a process's resident set size once a second until it is gone."""
    while True:
        try:
            rss = status_kb(pid).get("VmRSS")
        except OSError:
            return
        if rss is None:  # a zombie: it has ended
            return
        samples.append((time.perf_counter() - t0, rss))
        time.sleep(1.0)


def _done(run: Path, k: int) -> dict | None:
    path = run / f"round_{k}.done"
    return json.loads(path.read_text()) if path.exists() else None


def sample_keys(db: Path, k: int) -> list[str]:
    """k random keys of the cache, read by rowid: listing all 12M keys held 1.3 GB in this process."""
    con = sqlite3.connect(db)
    try:
        top = con.execute("SELECT max(rowid) FROM responses").fetchone()[0] or 0
        rows = random.Random(0).sample(range(1, top + 1), min(k, top))
        keys = [row[0] for r in rows if (row := con.execute("SELECT key FROM responses WHERE rowid = ?",
                                                            (r,)).fetchone())]
    finally:
        con.close()
    return keys


def run(n: int, rounds: int, concurrency: int, client: str, tmp: Path, timeline: Path | None = None) -> dict:
    seed = tmp / f"seed_{n}.jsonl"
    with seed.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"instruction": f"Task {i}: write a function that returns the {i}-th prime number "
                                               f"and explain its complexity in {i % 7 + 2} sentences."}) + "\n")
    server = None
    url = "http://127.0.0.1:9/v1"  # the stub never connects
    if client == "server":
        server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "scripted_server.py")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        url = f"http://127.0.0.1:{json.loads(server.stdout.readline())['port']}/v1"
    cfg = tmp / "cfg.yaml"
    cfg.write_text(f"backend: api\nendpoint: {{base_url: '{url}'}}\nevolver: {{model: m}}\n"
                   f"concurrency: {concurrency}\n")
    out = tmp / f"run_{n}"
    args = ["evolve", "--seed", str(seed), "--rounds", str(rounds), "--out", str(out), "--config", str(cfg),
            "--no-progress"]
    command = [sys.executable, __file__, "--child", *args]
    t0 = time.perf_counter()
    env = {**os.environ, "WIZEVOL_SCALE_CLIENT": client}
    if timeline is not None:
        inside = timeline.with_name(timeline.stem + "_inside.jsonl")
        inside.unlink(missing_ok=True)
        env["WIZEVOL_SCALE_INSIDE"] = str(inside)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    samples: list[tuple[float, int]] = []  # (seconds in, VmRSS in kB) of the child, read from /proc every second
    watcher = threading.Thread(target=_watch, args=(proc.pid, t0, samples), daemon=True)
    watcher.start()
    _, status, _ = os.wait4(proc.pid, 0)  # its ru_maxrss would hold this process's own peak too (own_peak_kb)
    wall = time.perf_counter() - t0
    watcher.join()
    if status != 0:
        raise SystemExit(f"wizevol evolve failed on {n} records: {proc.stderr.read().decode()[-800:]}")
    told = json.loads(proc.stdout.read().decode().strip().splitlines()[-1])
    calls = told["calls"]
    if server is not None:
        server.stdin.write("stats\n")
        server.stdin.flush()
        calls = json.loads(server.stdout.readline())["calls"]
        server.stdin.close()
        server.wait(10)
    from wizevol.llm.cache import ResponseCache

    db = out / "cache.sqlite"
    sample = sample_keys(db, 10_000)
    cache = ResponseCache(db)
    t0 = time.perf_counter()
    assert all(cache.get(k) is not None for k in sample)
    lookup = (time.perf_counter() - t0) / len(sample)
    cache.close()
    size = sum(p.stat().st_size for p in out.glob("cache.sqlite*"))
    with (out / f"round_{rounds}.jsonl").open("rb") as f:
        kept = sum(1 for _ in f)
    if timeline is not None:  # when the peak came, against when each round was written
        done = {k: (folder_done.get("finished_after_s") if (folder_done := _done(out, k)) else None)
                for k in range(1, rounds + 1)}
        timeline.write_text(json.dumps({"records": n, "wall_s": wall, "rounds_finished_after_s": done,
                                        "rss_kb": samples}) + "\n")
    half = [rss for t, rss in samples if t <= wall / 2] or [0]
    return {"records": n, "calls": calls, "wall_s": wall, "calls_per_s": calls / wall, "pool": kept,
            "peak_rss_mb": told["peak_rss_kb"] / 1024, "half_rss_mb": max(half) / 1024,
            "cache_mb": size / 2**20, "lookup_us": lookup * 1e6}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--client", choices=["stub", "server"], default="stub")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--tmp", help="where the runs go (default: a temp dir; 1M records x 4 rounds is ~10 GB)")
    ap.add_argument("--timeline", help="a folder: each N's RSS samples (seconds in, kB) and when each round was written, "
                                       "as rss_N.json; and the child's own samples (`_inside`) as rss_N_inside.jsonl")
    args = ap.parse_args()
    print(f"client: {args.client}, rounds: {args.rounds}, concurrency: {args.concurrency}, cores: {os.cpu_count()}")
    print(f"{'records':>9} {'calls':>9} {'wall_s':>7} {'calls/s':>8} {'round R':>9} {'peak_rss_MB':>11} "
          f"{'1st_half_MB':>11} {'cache_MB':>9} {'lookup_us':>9}", flush=True)
    peaks = []
    with tempfile.TemporaryDirectory(prefix="wizevol-scale-", dir=args.tmp) as tmp:
        for n in args.sizes:
            timeline = Path(args.timeline) / f"rss_{n}.json" if args.timeline else None
            if timeline is not None:
                timeline.parent.mkdir(parents=True, exist_ok=True)
            r = run(n, args.rounds, args.concurrency, args.client, Path(tmp), timeline)
            peaks.append(r["peak_rss_mb"])
            print(f"{r['records']:>9} {r['calls']:>9} {r['wall_s']:>7.0f} {r['calls_per_s']:>8.0f} "
                  f"{r['pool']:>9} {r['peak_rss_mb']:>11.0f} {r['half_rss_mb']:>11.0f} "
                  f"{r['cache_mb']:>9.1f} {r['lookup_us']:>9.1f}", flush=True)
    if len(peaks) > 1:
        print(f"peak RSS at {args.sizes[-1]:,} records / at {args.sizes[0]:,}: {peaks[-1] / peaks[0]:.2f}x")


if __name__ == "__main__":
    main()
