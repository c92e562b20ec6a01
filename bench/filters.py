"""Filter speed over 100k records: near_dup (MinHash LSH) and contamination with its default layers (exact and
n-gram on the HumanEval index, then MiniLM embeddings). Prints the time and records/s of each, each layer's
share, and the total. Aim: 120 s or less on 2 cores.

--text real (default): text that looks like instructions: the seed's and the project's evaluation sets'
  instructions (data/), each record one of them with a few words swapped or added and one of the evolving
  heuristics' typical constraint sentences appended, its response the seed's outputs; it fills the LSH
  buckets and the n-gram index as real data does (about 5% near-duplicates of an earlier record).
--text synthetic: random words from a 5000-word vocabulary (the earlier bench; nearly empty buckets).

    python bench/filters.py [--records 100000] [--text real|synthetic] [--device auto|cpu|cuda]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wizevol.filters.contamination import Contamination, embedding_device  # noqa: E402
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


CONSTRAINTS = ["The function must also reject invalid input with a clear error message.",
               "Use only constant extra memory and no library helpers.",
               "First validate the input, then explain each intermediate step, then return the result.",
               "The solution must run in O(n log n) time and O(1) extra space.",
               "Handle empty input and very large values as well.", ""]


def real_like(n: int, seed: int = 0) -> list[Record]:
    import json

    data = Path(__file__).resolve().parent.parent / "data"
    lines = [json.loads(x) for x in (data / "seed_20.jsonl").read_text().splitlines()]
    bases = [x["instruction"] for x in lines]
    bases += [json.loads(x)["text"] for f in ("paraphrases", "negatives")
              for x in (data / "decontam" / f"{f}.jsonl").read_text().splitlines()]
    bases += [json.loads(x)[k] for x in (data / "near_dup" / "pairs.jsonl").read_text().splitlines() for k in "ab"]
    outputs = [x["output"] for x in lines if x.get("output")]
    vocab = sorted({w for b in bases for w in b.split()})
    rng = random.Random(seed)
    recs: list[Record] = []
    for i in range(n):
        if i and rng.random() < 0.05:  # a near-duplicate of an earlier record
            text = recs[rng.randrange(len(recs))].instruction.split()
            text[rng.randrange(len(text))] = rng.choice(vocab)
        else:
            text = rng.choice(bases).split()
            for _ in range(rng.randint(1, 4)):
                text.insert(rng.randrange(len(text) + 1), rng.choice(vocab))
            text += rng.choice(CONSTRAINTS).split()
        recs.append(Record(id=f"r{i}", root_id=f"r{i}", instruction=" ".join(text), output=rng.choice(outputs)))
    return recs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--text", choices=("real", "synthetic"), default="real")
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where MiniLM encodes")
    args = ap.parse_args()
    import os

    import torch

    device = embedding_device(args.device)
    print(f"embedding on {device}" + (f" ({torch.cuda.get_device_name()})" if device == "cuda" else "")
          + f"; {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}", flush=True)
    recs = real_like(args.records) if args.text == "real" else synthetic(args.records)
    total, shares = 0.0, {}
    near_dup = NearDup()
    near_dup.start()
    t0 = time.perf_counter()
    rejected = sum(near_dup.check(r) is not True for r in recs)
    shares["near_dup (MinHash LSH)"] = time.perf_counter() - t0
    print(f"{'near_dup':>13}: {len(recs)} records in {shares['near_dup (MinHash LSH)']:6.1f} s, rejected {rejected}",
          flush=True)
    contamination = Contamination(embedding=True)
    t0 = time.perf_counter()
    contamination.prepare_run(recs)  # layer 3: one batched encode of every instruction, then top-k per problem
    shares["contamination: embedding encode"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    lexical = sum(any(contamination.nearest(t)[3] for t in (r.prompt_text(), r.output)) for r in recs)
    shares["contamination: exact + n-gram"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    embedded = sum(contamination.nearest_embedding(r)[1] >= contamination.embedding_threshold for r in recs)
    shares["contamination: embedding nearest"] = time.perf_counter() - t0
    print(f"{'contamination':>13}: exact/n-gram hits {lexical}, embedding hits {embedded}")
    total = sum(shares.values())
    for name, dt in shares.items():
        print(f"{name:>34}: {dt:7.1f} s  {100 * dt / total:5.1f}%  ({len(recs) / dt:8.0f} records/s)")
    print(f"{'total':>34}: {total:7.1f} s  (aim: <= 120 s)")


if __name__ == "__main__":
    main()
