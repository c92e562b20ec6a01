"""Which embedded model should `make demo` use? Each candidate config evolves the same seeds through the CLI, then
one scorer (the same for every candidate, so the numbers compare) rates what was kept:

- wall time, calls and tokens of the evolve run, records kept per round, eliminations by rule;
- the scorer's judge complexity, 1-10 (`wizevol stats --complexity --config SCORER`), mean per round;
- `verified` (`wizevol filter --only verified --config SCORER`): the share of Python responses whose code parses
  and passes the unit tests that the scorer's responder writes for the record;
- three kept records of the last round, quoted (written to OUT/NAME/quoted.md).

    .venv/bin/python bench/demo_models.py --limit 10 --rounds 1 \\
        --candidate gemma=configs/default.yaml --candidate q05=configs/local/qwen05.yaml ...

The scorer defaults to configs/local/score.yaml (Qwen2.5-Coder-1.5B as judge and tester). Runs go to
OUT/NAME (default runs/demo-models); a rerun resumes from each run's cache.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIZEVOL = [sys.executable, "-m", "wizevol"]


def run(args: list[str]) -> float:
    t = time.time()
    proc = subprocess.run([*WIZEVOL, *args], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"wizevol {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return time.time() - t


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--candidate", action="append", required=True, help="NAME=CONFIG (repeat)")
    ap.add_argument("--seed", default="data/seed_20.jsonl")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--scorer", default="configs/local/score.yaml")
    ap.add_argument("--out", default="runs/demo-models")
    ap.add_argument("--no-verified", action="store_true", help="skip the verified filter (the slowest score)")
    a = ap.parse_args()

    table = []
    for cand in a.candidate:
        name, config = cand.split("=", 1)
        out = Path(a.out) / name
        limit = ["--limit", str(a.limit)] if a.limit else []
        wall = run(["evolve", "--seed", a.seed, "--rounds", str(a.rounds), "--out", str(out), "--config", config,
                    *limit])
        manifest = json.loads((out / "manifest.json").read_text())
        rounds = manifest["rounds"][1:]
        evolve_wall = max((r.get("finished_after_s") or 0) for r in rounds) if rounds else 0.0
        calls = sum(t.get("calls", 0) for r in rounds for t in r.get("tokens", {}).values())
        tokens = sum(t.get("prompt_tokens", 0) + t.get("completion_tokens", 0) for r in rounds
                     for t in r.get("tokens", {}).values())
        by_rule: dict[str, int] = {}
        for r in rounds:
            for rule, n in r.get("eliminated_by_rule", {}).items():
                by_rule[rule] = by_rule.get(rule, 0) + n
        run(["stats", str(out), "--complexity", "--config", a.scorer, "--no-plots"])
        stats = json.loads((out / "stats.json").read_text())
        complexity = {k: v.get("complexity", {}).get("mean") for k, v in stats["rounds"].items()}
        verified = None
        if not a.no_verified:
            run(["filter", str(out), "--only", "verified", "--config", a.scorer])
            results = [r for k in range(1, a.rounds + 1) for r in rows(out / "filters" / "verified" /
                                                                          f"results_{k}.jsonl")]
            checked = [r for r in results if r.get("passed") is not None]
            python = len(results)
            verified = (sum(1 for r in checked if r["passed"]), len(checked), python)
        last = rows(out / f"round_{a.rounds}.jsonl")
        quoted = last[:3]
        (out / "quoted.md").write_text("".join(
            f"### {r['id']} ({r.get('method')})\n\n{r['instruction']}\n\n---\n\n{r.get('output', '')}\n\n"
            for r in quoted))
        table.append({"name": name, "config": config, "wall_s": round(wall, 1), "evolve_s": round(evolve_wall, 1),
                      "calls": calls, "tokens": tokens, "kept": [r["kept"] for r in rounds],
                      "eliminated": dict(sorted(by_rule.items())), "complexity": complexity, "verified": verified})
        print(json.dumps(table[-1]), flush=True)

    print()
    print(f"{'candidate':<12} {'evolve_s':>8} {'calls':>5} {'tokens':>7}  {'kept per round':<16} "
          f"{'complexity per round (0..k)':<30} verified")
    for t in table:
        cx = " ".join("-" if v is None else f"{v:.1f}" for v in t["complexity"].values())
        ver = "-" if t["verified"] is None else f"{t['verified'][0]}/{t['verified'][1]} (of {t['verified'][2]})"
        print(f"{t['name']:<12} {t['evolve_s']:>8.0f} {t['calls']:>5} {t['tokens']:>7}  "
              f"{' '.join(map(str, t['kept'])):<16} {cx:<30} {ver}")
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "table.json").write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
