"""Can the complexity judge see evolution? Each kept instruction of rounds 1..k against its own seed, rated by the
judge two ways (wizevol/complexity.py): the number it wrote, and the expectation over its first token's
probabilities. Evolution adds constraints, steps and rarer requirements, so an instrument that sees it rates most
evolved instructions above their seeds; one that writes the same number for everything ties them.

    python bench/complexity_instrument.py RUN [RUN ...] [--config configs/local/score.yaml] [--json OUT.json]

Per run and round: the pairs (kept record, its seed), the share rated above / equal / below the seed by each
reading, and the mean rise with a 95% bootstrap interval; and the seeds' spread (distinct values, standard
deviation) by each. The ratings go through each run's cache at the place `wizevol compare` and `wizevol stats
--complexity` use, so a compare after this bench pays nothing for them.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from wizevol.complexity import rate_complexity
from wizevol.filters import run_config
from wizevol.loop.compare import mean_interval
from wizevol.record import Record
from wizevol.run_folder import RunFolder, read_jsonl


def compare_to_seed(pairs: list[tuple[float, float]]) -> dict:
    """(evolved, seed) values -> the shares above / equal / below, and the mean rise with its interval."""
    n = len(pairs)
    if not n:
        return {"n": 0}
    return {"n": n, "above": round(sum(e > s for e, s in pairs) / n, 3), "equal": round(sum(e == s for e, s in pairs) / n, 3),
            "below": round(sum(e < s for e, s in pairs) / n, 3), "rise": mean_interval([e - s for e, s in pairs])}


def spread(values: list[float]) -> dict:
    return {"n": len(values), "distinct": len(set(values)),
            "stdev": round(statistics.pstdev(values), 3) if values else None,
            "min": min(values, default=None), "max": max(values, default=None)}


def one_run(run: str, config: str | None) -> dict:
    folder = RunFolder(run)
    rounds = folder.finished_rounds()
    kept = {k: [Record.from_json(d) for d in read_jsonl(folder.kept(k))] for k in rounds}
    ratings = rate_complexity(folder, run_config(folder, config), [r for k in rounds for r in kept[k]],
                              lambda text: print(text, flush=True))
    seeds = {r.id: ratings.get(r.id) for r in kept[0]}
    out = {"run": run, "seeds": {}, "rounds": {}}
    for reading in ("written", "expected"):
        values = [getattr(c, reading) for c in seeds.values() if c is not None and getattr(c, reading) is not None]
        out["seeds"][reading] = spread([float(v) for v in values])
    for k in rounds[1:]:
        by = {}
        for reading in ("written", "expected"):
            pairs = []
            for r in kept[k]:
                mine, root = ratings.get(r.id), seeds.get(r.root_id)
                if mine is None or root is None or getattr(mine, reading) is None or getattr(root, reading) is None:
                    continue
                pairs.append((float(getattr(mine, reading)), float(getattr(root, reading))))
            by[reading] = compare_to_seed(pairs)
        out["rounds"][str(k)] = by
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--config", default="configs/local/score.yaml", help="the config whose judge role rates")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    results = [one_run(run, args.config) for run in args.runs]
    for res in results:
        print(f"\n{res['run']}")
        for reading in ("written", "expected"):
            s = res["seeds"][reading]
            print(f"  seeds, {reading:>8}: {s['n']} rated, {s['distinct']} distinct values, stdev {s['stdev']}, "
                  f"{s['min']}..{s['max']}")
        for k, by in res["rounds"].items():
            for reading in ("written", "expected"):
                c = by[reading]
                if not c["n"]:
                    print(f"  round {k}, {reading:>8}: no pairs")
                    continue
                rise = c["rise"]
                print(f"  round {k}, {reading:>8}: {c['n']} pairs, above its seed {c['above']:.2f}, equal "
                      f"{c['equal']:.2f}, below {c['below']:.2f}; rise {rise['mean']:+.2f} "
                      f"[{rise['ci95'][0]:+.2f}, {rise['ci95'][1]:+.2f}]")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
