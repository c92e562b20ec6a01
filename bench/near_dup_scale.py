"""near_dup's opt-in embedding check at scale: the comparison of each short instruction with the kept ones, the MiniLM
encode left out (random unit vectors stand in for it; no pair reaches the threshold, so every record is kept and
compared with all before it). Two ways side by side in one run:
  before: the kept vectors in a list, stacked into a matrix for every record (what near_dup did);
  now:    the kept vectors in one matrix grown by doubling (NearDup as shipped; its time includes the MinHash part
          of each check as well).

    .venv/bin/python bench/near_dup_scale.py [--records 8000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wizevol.filters.near_dup import NearDup  # noqa: E402
from wizevol.record import Record  # noqa: E402


def before(vecs: np.ndarray, threshold: float) -> int:
    kept: list[np.ndarray] = []
    for vec in vecs:
        if kept:
            sims = np.stack(kept) @ vec
            if any(sims[i] >= threshold for i in np.argsort(-sims)[:1]):
                continue
        kept.append(vec)
    return len(kept)


def now(vecs: np.ndarray, threshold: float) -> int:
    records = [Record(id=f"r{i}", root_id=f"r{i}", instruction=f"task {i}") for i in range(len(vecs))]
    near_dup = NearDup(embedding_threshold=threshold)
    near_dup.start()
    near_dup._vec_of = {r.id: v for r, v in zip(records, vecs, strict=True)}  # what prepare_round's encode gives
    return sum(near_dup.check(r) is True for r in records)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=8000)
    args = ap.parse_args()
    vecs = np.random.default_rng(0).normal(size=(args.records, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    times = {}
    for name, way in (("before", before), ("now", now)):
        t0 = time.perf_counter()
        kept = way(vecs, 0.89)
        times[name] = time.perf_counter() - t0
        print(f"{name:>6}: {args.records} records compared in {times[name]:.1f} s, kept {kept}", flush=True)
    print(f"ratio: {times['before'] / times['now']:.1f}x")


if __name__ == "__main__":
    main()
