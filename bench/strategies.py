"""paper, auto and tree on the same seeds, compared: issue 26's measurement, one command.

For each seed: `wizevol evolve --strategy S` for S in paper, auto, tree (same config, same rounds), then
`wizevol filter --only verified` on each run and `wizevol compare` of the three, both with the scoring config
(another model than the one that evolved: tree selects by its own judge's complexity, so the same judge would
score its own choice). Prints each seed's comparison and, at the last round, the issue's aim: auto or tree beats
paper on mean complexity by more than the interval (its 95% interval above paper's), with a verified pass rate no
lower than paper's, in no more than 1.5x paper's calls.

    python bench/strategies.py [--seeds data/seed_20.jsonl data/seed_48.jsonl] [--rounds 3]
        [--config configs/local/strategies.yaml] [--score configs/local/score.yaml] [--children 3]
        [--out runs/strategies]

Runs resume: a killed bench, run again, pays only for what it had not finished.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
STRATEGIES = ("paper", "auto", "tree")


def wizevol(*args: str) -> None:
    cmd = [sys.executable, "-m", "wizevol", *args]
    print("$ wizevol " + " ".join(args), flush=True)
    if subprocess.run(cmd, cwd=ROOT).returncode != 0:
        raise SystemExit(f"stopped: wizevol {args[0]} failed (above); run the bench again to go on")


def aim(report: dict, last: int) -> list[str]:
    """The issue's aim at the last round, per strategy against paper, as lines."""
    by = {report["strategies"][run]: rounds for run, rounds in report["by_run"].items()}
    paper = by["paper"]
    calls = {s: sum(r["calls"] for r in rounds.values()) for s, rounds in by.items()}
    lines = []
    for s in ("auto", "tree"):
        mine, theirs = by[s][str(last)], paper[str(last)]
        c, p = mine["complexity"], theirs["complexity"]
        beats = bool(c and p and c["n"] and p["n"] and c["ci95"][0] > p["ci95"][1])
        v, pv = mine["verified_pass_rate"], theirs["verified_pass_rate"]
        verified_ok = bool(v and pv and v.get("mean") is not None and pv.get("mean") is not None
                           and v["mean"] >= pv["mean"])
        ratio = calls[s] / calls["paper"] if calls["paper"] else float("inf")
        lines.append(f"{s} vs paper at round {last}: complexity {_mean(c)} vs {_mean(p)} "
                     f"({'beats' if beats else 'does not beat'} it by more than the interval); verified "
                     f"{_mean(v)} vs {_mean(pv)} ({'no lower' if verified_ok else 'lower or unmeasured'}); "
                     f"calls {calls[s]} vs {calls['paper']} ({ratio:.2f}x); aim "
                     f"{'met' if beats and verified_ok and ratio <= 1.5 else 'not met'}")
    return lines


def _mean(x: dict | None) -> str:
    if not x or x.get("mean") is None:
        return "-"
    return f"{x['mean']:.2f} [{x['ci95'][0]:.2f}, {x['ci95'][1]:.2f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", nargs="+", default=["data/seed_20.jsonl", "data/seed_48.jsonl"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--config", default="configs/local/strategies.yaml", help="the config every strategy evolves with")
    ap.add_argument("--score", default="configs/local/score.yaml", help="the config that scores and tests")
    ap.add_argument("--children", type=int, default=3, help="strategy tree's candidates per parent")
    ap.add_argument("--out", default="runs/strategies")
    args = ap.parse_args()
    out = ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    cfg = yaml.safe_load((ROOT / args.config).read_text()) or {}
    cfg["tree"] = {**cfg.get("tree", {}), "children": args.children}
    evolve_cfg = out / "evolve.yaml"
    evolve_cfg.write_text(yaml.safe_dump(cfg))
    for seed in args.seeds:
        name = Path(seed).stem
        runs = [str(out / f"{name}-{s}") for s in STRATEGIES]
        for s, run in zip(STRATEGIES, runs, strict=True):
            wizevol("evolve", "--seed", seed, "--rounds", str(args.rounds), "--strategy", s, "--config",
                    str(evolve_cfg), "--out", run, "--no-progress")
            wizevol("filter", run, "--only", "verified", "--config", args.score)
        wizevol("compare", *runs, "--config", args.score, "--out", str(out / f"{name}-compare"))
        report = json.loads((out / f"{name}-compare" / "compare.json").read_text())
        print(f"\n## {seed}: {args.rounds} rounds, evolved with {args.config}, scored with {args.score}\n")
        print((out / f"{name}-compare" / "compare.md").read_text())
        print("\n".join(aim(report, args.rounds)), flush=True)


if __name__ == "__main__":
    main()
