"""Filter speed: near_dup (MinHash LSH) and contamination (HumanEval n-gram index) over 100k synthetic records.
Aim: 60 s or less on 2 cores. Prints the time and records/s of each, and the total.

    python bench/filters.py [--records 100000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wizevol.filters.contamination import Contamination  # noqa: E402
from wizevol.filters.near_dup import NearDup  # noqa: E402
from wizevol.record import Record  # noqa: E402


def synthetic(n: int, seed: int = 0) -> list[Record]:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(5000)] + "write a function that returns the list of numbers in sorted order".split()
    recs = []
    for i in range(n):
        if i and rng.random() < 0.05:  # 5% near-duplicates of an earlier record
            base = recs[rng.randrange(len(recs))].instruction.split()
            base[rng.randrange(len(base))] = rng.choice(vocab)
            instruction = " ".join(base)
        else:
            instruction = " ".join(rng.choice(vocab) for _ in range(rng.randint(20, 60)))
        output = " ".join(rng.choice(vocab) for _ in range(rng.randint(30, 120)))
        recs.append(Record(id=f"r{i}", root_id=f"r{i}", instruction=instruction, output=output))
    return recs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    args = ap.parse_args()
    recs = synthetic(args.records)
    total = 0.0
    for name, flt in (("near_dup", NearDup()), ("contamination", Contamination())):
        flt.start()
        t0 = time.perf_counter()
        rejected = sum(flt.check(r) is not True for r in recs)
        dt = time.perf_counter() - t0
        total += dt
        print(f"{name:>13}: {len(recs)} records in {dt:6.1f} s  ({len(recs) / dt:8.0f} records/s), rejected {rejected}",
              flush=True)
    print(f"{'total':>13}: {total:6.1f} s  (aim: <= 60 s)")


if __name__ == "__main__":
    main()
