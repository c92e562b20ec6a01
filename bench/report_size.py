"""The size of `wizevol report`'s page as a run grows: a run folder of N lineages over 4 rounds, written here in
evolve's file format with a code answer's length of text (instructions of 40-80 words growing each round, responses
of 150 words; 1 evolution in 10 eliminated, 1 kept record in 50 rejected by near_dup), then the page built. Prints,
per N: the page's size, the lineages and rejects it holds, and the time to build it.

    python bench/report_size.py [--sizes 10000 100000] [--tmp DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def write_synthetic_run(run: Path, n: int, rounds: int = 4, seed: int = 0) -> None:
    """A run folder of `n` lineages over `rounds` rounds (round files, eliminations, done-markers, near_dup's rejects,
    the three stats plots), as evolve and filter write them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(5000)]

    def text(words: int) -> str:
        return " ".join(rng.choice(vocab) for _ in range(words))

    run.mkdir(parents=True, exist_ok=True)
    (run / "filters" / "near_dup").mkdir(parents=True, exist_ok=True)
    parents = {i: f"s{i}" for i in range(n)}
    for k in range(rounds + 1):
        kept = dropped = 0
        with (run / f"round_{k}.jsonl").open("w") as f, (run / f"eliminated_{k}.jsonl").open("w") as e, \
                (run / "filters" / "near_dup" / f"rejected_{k}.jsonl").open("w") as nd:
            for i in range(n):
                rid = f"s{i}" + (f"-r{k}" if k else "")
                rec = {"id": rid, "instruction": text(40 + 10 * k), "input": "", "output": text(150), "round": k,
                       "method": "add_constraints" if k else None, "parent_id": parents[i] if k else None,
                       "root_id": f"s{i}"}
                if k and i % 10 == 0:
                    e.write(json.dumps({**rec, "rule": "no_gain", "reason": "identical to parent", "stage": "evolve"})
                            + "\n")
                    dropped += 1
                    continue
                f.write(json.dumps(rec) + "\n")
                kept += 1
                parents[i] = rid
                if i % 50 == 1:
                    nd.write(json.dumps({**rec, "filter": "near_dup", "reason": f"near-duplicate of s{i - 1}",
                                         "details": {"duplicate_of": f"s{i - 1}"}}) + "\n")
        (run / f"round_{k}.done").write_text(json.dumps(
            {"round": k, "pool": n, "kept": kept, "eliminated_by_rule": {"no_gain": dropped} if dropped else {},
             "failed": 0, "tokens": {}}))
    fig = plt.figure(figsize=(7, 4))
    for name in ("eliminations", "lengths", "humaneval_similarity"):  # the plots exist: no `wizevol stats` needed
        fig.savefig(run / f"plot_{name}.png")
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--tmp", help="where the run folders go (default: a temp dir; 100k lineages is ~1 GB)")
    args = ap.parse_args()
    from wizevol.report import build_report

    print(f"{'lineages':>9} {'records':>9} {'run_MB':>7} {'page_MB':>8} {'build_s':>8}  holds", flush=True)
    with tempfile.TemporaryDirectory(prefix="wizevol-report-", dir=args.tmp) as tmp:
        for n in args.sizes:
            run = Path(tmp) / f"run_{n}"
            write_synthetic_run(run, n)
            size = sum(p.stat().st_size for p in run.rglob("*.jsonl"))
            records = sum(1 for p in run.glob("*.jsonl") for _ in p.open())
            t0 = time.perf_counter()
            made = build_report(run)
            took = time.perf_counter() - t0
            print(f"{n:>9} {records:>9} {size / 1e6:>7.0f} {made['bytes'] / 1e6:>8.2f} {took:>8.1f}  "
                  f"{made['lineages'].split(';')[0]}; {made['rejects']}", flush=True)


if __name__ == "__main__":
    main()
