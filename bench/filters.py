"""Filter speed over 100k records: near_dup (MinHash LSH) and contamination with its default layers (exact and
n-gram on the HumanEval index, then MiniLM embeddings). Prints the time and records/s of each, each layer's
share, and the total. Aim: 120 s or less on 2 cores.

--text real (default): text that looks like instructions: the seed's and the project's evaluation sets'
  instructions (data/), each record one of them with a few words swapped or added and one of the evolving
  heuristics' typical constraint sentences appended, its response the seed's outputs; it fills the LSH
  buckets and the n-gram index as real data does (about 5% near-duplicates of an earlier record).
--text synthetic: random words from a 5000-word vocabulary (the earlier bench; nearly empty buckets).

In a run this large layer 3 encodes only the shortlists' union with MiniLM (filters.contamination.shortlist);
--compare-full also encodes every record and prints the (record, problem) pairs the shortlist missed, overall
and among the planted records (the evaluation set's 173 items and 60 HumanEval docstrings with words inserted).

    python bench/filters.py [--records 100000] [--text real|synthetic] [--device auto|cpu|cuda]
                            [--shortlist 32 | --shortlist 16,32,64 --compare-full]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wizevol.filters.contamination import Contamination  # noqa: E402
from wizevol.filters.encoder import embedding_device  # noqa: E402
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


def planted(seed: int = 0) -> list[Record]:
    """What layer 3 should find in the haystack: the evaluation set's 173 items (data/decontam/) and 60 HumanEval
    docstrings copied with three words inserted."""
    import json

    data = Path(__file__).resolve().parent.parent / "data" / "decontam"
    recs = [Record(id=x["id"], root_id=x["id"], instruction=x["text"]) for f in ("paraphrases", "negatives")
            for x in map(json.loads, (data / f"{f}.jsonl").read_text().splitlines())]
    rng = random.Random(seed)
    docs = [t for t in Contamination(embedding=False, execution=None).texts if t.kind == "docstring"][:60]
    for i, d in enumerate(docs):
        w = d.norm.split()
        for _ in range(3):
            w.insert(rng.randrange(len(w) + 1), rng.choice(["please", "also", "carefully", "python"]))
        recs.append(Record(id=f"copy-{i}", root_id=f"copy-{i}", instruction="Write a function. " + " ".join(w)))
    return recs


def layer3(recs: list[Record], shortlist: int) -> tuple[Contamination, dict[str, float]]:
    """Layer 3 over the whole run as the filter does it, with the time of the static pass and of the encode."""
    contamination = Contamination(embedding=True, shortlist=shortlist)
    marks: dict[str, float] = {}
    contamination.events = lambda event, **data: marks.setdefault(data.get("name") or data.get("text", "")[:14],
                                                                    time.perf_counter())
    t0 = time.perf_counter()
    contamination.prepare_run(recs)  # layer 3: (static shortlist,) MiniLM encode, then top-k per problem
    end = time.perf_counter()
    encode_from = marks["contamination: MiniLM encode"]
    return contamination, {"contamination: static shortlist": encode_from - t0,
                           "contamination: MiniLM encode + top-k": end - encode_from}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--text", choices=("real", "synthetic"), default="real")
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where MiniLM encodes")
    ap.add_argument("--shortlist", default="32", help="filters.contamination.shortlist (0: encode all); with "
                    "--compare-full, several sizes (16,32,64): each is compared, the first is timed above")
    ap.add_argument("--vocabulary", action="store_true",
                    help="only time the shortlist's static vectors of MiniLM's whole vocabulary (a run's worst case)")
    ap.add_argument("--compare-full", action="store_true",
                    help="also encode every record, and print what the shortlist missed")
    args = ap.parse_args()
    import os

    import torch

    device = embedding_device(args.device)
    print(f"embedding on {device}" + (f" ({torch.cuda.get_device_name()})" if device == "cuda" else "")
          + f"; {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}", flush=True)
    if args.vocabulary:
        import numpy as np

        from wizevol.filters.encoder import model as _embedder
        from wizevol.filters.shortlist import token_vectors

        model = _embedder()
        t0 = time.perf_counter()
        token_vectors(model, np.arange(model.tokenizer.vocab_size))
        print(f"static vectors of all {model.tokenizer.vocab_size} tokens: {time.perf_counter() - t0:.1f} s")
        return
    recs = real_like(args.records) if args.text == "real" else synthetic(args.records)
    plants = planted()
    recs = recs[:len(recs) - len(plants)] + plants
    shares = {}
    near_dup = NearDup()
    near_dup.start()
    t0 = time.perf_counter()
    rejected = sum(near_dup.check(r) is not True for r in recs)
    shares["near_dup (MinHash LSH)"] = time.perf_counter() - t0
    print(f"{'near_dup':>13}: {len(recs)} records in {shares['near_dup (MinHash LSH)']:6.1f} s, rejected {rejected}",
          flush=True)
    sizes = [int(x) for x in args.shortlist.split(",")]
    contamination, times = layer3(recs, sizes[0])
    shares.update(times)
    t0 = time.perf_counter()
    lexical = sum(any(contamination.nearest(t)[3] for t in (r.prompt_text(), r.output)) for r in recs)
    shares["contamination: exact + n-gram"] = time.perf_counter() - t0
    found = {(r.id, b.task) for r in recs for b, _ in contamination.candidates(r)}
    print(f"{'contamination':>13}: exact/n-gram hits {lexical}; layer 3: MiniLM encoded {contamination.encoded} "
          f"of {len(recs)} records, {len(found)} (record, problem) candidates at cosine >= "
          f"{contamination.embedding_threshold}")
    total = sum(shares.values())
    for name, dt in shares.items():
        print(f"{name:>38}: {dt:7.1f} s  {100 * dt / total:5.1f}%  ({len(recs) / max(dt, 1e-9):8.0f} records/s)")
    print(f"{'total':>38}: {total:7.1f} s  (aim: <= 120 s)", flush=True)
    if args.compare_full:
        full, times = layer3(recs, 0)
        print(f"every record encoded: {times['contamination: MiniLM encode + top-k']:.1f} s. What the shortlist "
              f"changes (a (record, problem) pair: the problem's top {full.top_k} holds the record at or above the "
              f"threshold):")
        plant_ids = {r.id for r in plants}
        for size in sizes:
            short, times = (contamination, None) if size == sizes[0] else layer3(recs, size)
            print(f" shortlist {size}: MiniLM encoded {short.encoded} records" +
                  (f" ({times['contamination: MiniLM encode + top-k']:.1f} s)" if times else ""))
            for threshold in sorted({full.embedding_threshold, 0.77, 0.6}, reverse=True):
                want, got = (pairs(c.top_candidates(threshold)) for c in (full, short))
                planted_want = {p for p in want if p[0] in plant_ids}
                print(f"  threshold {threshold:.2f}: {len(want)} pairs with every record encoded, {len(want - got)} "
                      f"missed and {len(got - want)} different with the shortlist; of the planted records' "
                      f"{len(planted_want)} pairs, {len(planted_want - got)} missed", flush=True)


def pairs(candidates: dict[str, list[tuple[float, int]]]) -> set[tuple[str, int]]:
    return {(rid, i) for rid, hits in candidates.items() for _, i in hits}


if __name__ == "__main__":
    main()
