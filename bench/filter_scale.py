"""Memory and speed of `wizevol filter` as the run grows: N synthetic records over rounds 0..R, written as a finished
run folder, filtered in a fresh process (this script with --child) that reports its own peak RSS (VmHWM).

The records are made to be filtered, not to be read: each lineage's seed is 14-30 words drawn from a vocabulary
of 6,000 made-up words, a round adds a few words to its parent (the same lineage: never a duplicate), and one seed
in 30 repeats an earlier seed of another lineage with one word added (a near-duplicate MinHash finds). Each
response holds a Python block (code_check parses it). The filters are the defaults less what needs an endpoint
or the sandbox: near_dup (MinHash, no judge), contamination layers 1-3 (n-grams; MiniLM on each HumanEval
problem's shortlist of nearest records), code_check (parse). Prints, per N: wall time, records/s, peak RSS,
the rejects per filter, and at the end the ratio of the largest N's peak RSS to the smallest's.

    python bench/filter_scale.py [--sizes 100000 1000000] [--rounds 4] [--tmp DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CONFIG = """\
filters:
  near_dup: {llm_judge: false}
  contamination: {llm_judge: false, translate: false, execution: false}
  code_check: {execute: false}
"""


def _words(rng: random.Random, n: int) -> list[str]:
    letters = "abcdefghiklmnoprstuvw"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(n)]


def write_run(folder: Path, n: int, rounds: int) -> None:
    """A finished run of about n records in rounds 0..rounds (each lineage has a record in every round)."""
    rng = random.Random(n)
    vocab = _words(rng, 6000)
    seeds = max(1, n // (rounds + 1))
    folder.mkdir(parents=True)
    texts: list[list[str]] = []
    for i in range(seeds):
        if i and i % 30 == 0:  # a near-duplicate of an earlier seed of another lineage: one word added
            words = texts[rng.randrange(i)] + [rng.choice(vocab)]
        else:
            words = ["Write", "a", "Python", "function", "that"] + rng.choices(vocab, k=rng.randint(14, 30))
        texts.append(words)
    for k in range(rounds + 1):
        with (folder / f"round_{k}.jsonl").open("w") as f:
            for i in range(seeds):
                root = f"seed-{i:07d}"
                if k:
                    texts[i] = texts[i] + rng.choices(vocab, k=4)
                name = "f_" + rng.choice(vocab)
                code = f"```python\ndef {name}(xs):\n    return [x * {k + 1} for x in xs if x]\n```\n"
                rec = {"id": root if not k else f"{root}-r{k}", "instruction": " ".join(texts[i]) + ".",
                       "input": "", "output": f"Here is `{name}`.\n\n{code}\nIt keeps the items that are set.",
                       "round": k, "method": "seed" if not k else "add_constraints",
                       "parent_id": None if not k else root if k == 1 else f"{root}-r{k - 1}", "root_id": root}
                f.write(json.dumps(rec) + "\n")
        (folder / f"round_{k}.done").write_text("{}\n")


def child(argv: list[str]) -> None:
    """`wizevol filter` in this process; prints its own peak RSS (VmHWM) as the last line."""
    from scale import own_peak_kb

    from wizevol.cli import app

    try:
        app(argv, standalone_mode=False)
    finally:
        print(json.dumps({"peak_rss_kb": own_peak_kb()}))


def run(n: int, rounds: int, tmp: Path) -> dict:
    folder = tmp / f"run_{n}"
    write_run(folder, n, rounds)
    cfg = tmp / "filters.yaml"
    cfg.write_text(CONFIG)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", "filter", str(folder), "--config", str(cfg)],
                          capture_output=True, text=True,
                          env={**os.environ, "WIZEVOL_SKIP_LOCAL": "1"})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"wizevol filter failed on {n} records: {(proc.stderr or proc.stdout)[-1500:]}")
    peak = json.loads(proc.stdout.strip().splitlines()[-1])["peak_rss_kb"]
    rejected = {p.parent.name: json.loads(p.read_text()) for p in folder.glob("filters/*/stats.json")}
    rejected = {name: sum(r["rejected"] for r in s["rounds"].values()) for name, s in rejected.items()}
    n = sum(1 for k in range(rounds + 1) for _ in (folder / f"round_{k}.jsonl").open())
    return {"records": n, "wall_s": wall, "records_per_s": n / wall, "peak_rss_mb": peak / 1024,
            "rejected": rejected}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--tmp", help="where the runs go (default: a temp dir; 1M records is ~0.5 GB)")
    args = ap.parse_args()
    print(f"rounds 0-{args.rounds}, cores: {os.cpu_count()}; filters: near_dup (MinHash), contamination (layers 1-3), "
          "code_check (parse)")
    print(f"{'records':>9} {'wall_s':>7} {'records/s':>9} {'peak_rss_MB':>11}  rejected", flush=True)
    peaks = []
    with tempfile.TemporaryDirectory(prefix="wizevol-filter-scale-", dir=args.tmp) as tmp:
        for n in args.sizes:
            r = run(n, args.rounds, Path(tmp))
            peaks.append(r["peak_rss_mb"])
            print(f"{r['records']:>9} {r['wall_s']:>7.0f} {r['records_per_s']:>9.0f} {r['peak_rss_mb']:>11.0f}  "
                  + ", ".join(f"{k} {v}" for k, v in sorted(r["rejected"].items())), flush=True)
    if len(peaks) > 1:
        print(f"peak RSS of filter at {args.sizes[-1]:,} records / at {args.sizes[0]:,}: {peaks[-1] / peaks[0]:.2f}x")


if __name__ == "__main__":
    main()
