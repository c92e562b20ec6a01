"""The verified filter's execution speed: 100 records x 5 answers x 5 test sets (Python), the calls answered at
once (a dict, no endpoint), so only the choice's own work is timed: every answer against every test set in the
sandbox, then the choice. Two ways side by side in one run:
  alone:  a sandboxed interpreter per answer-and-tests (run_tests), the pairs shared among the cores;
  now:    the pairs shared among the cores, each share in one prepared sandboxed process that forks a child per
          pair (run_python_pairs, the default).
Prints records per second each way and the ratio, and checks that every pass matrix is what its answers do.

    .venv/bin/python bench/verified_speed.py [--records 100] [--n 5] [--m 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wizevol.filters.executors import run_tests  # noqa: E402
from wizevol.filters.sandbox import layers  # noqa: E402
from wizevol.filters.verified import Verified  # noqa: E402
from wizevol.prompts import PromptSet  # noqa: E402
from wizevol.record import Record  # noqa: E402

RIGHT = "```python\ndef f(xs):\n    return sorted(set(xs))\n```"
WRONG = "```python\ndef f(xs):\n    return sorted(xs)\n```"
TESTS = ["```python\nassert f([3, 1, 3]) == [1, 3]\n```", "```python\nassert f([]) == []\n```",
         "```python\nassert f([2, 2, 2]) == [2]\n```", "```python\nassert f([5, 4]) == [4, 5]\n```",
         "```python\nassert f([1, 1]) == [1, 2]\n```"]  # the last is wrong: no answer passes it
PASSES = {RIGHT: "11110", WRONG: "01010"}  # what each answer must do against TESTS, run after run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100)
    ap.add_argument("--n", type=int, default=5)
    ap.add_argument("--m", type=int, default=5)
    args = ap.parse_args()
    records = [Record(id=f"r{i}", instruction=f"Return the distinct items of a list, sorted ({i}).",
                      output=WRONG if i % 2 else RIGHT) for i in range(args.records)]
    answers = {}
    for r in records:
        for j in range(args.m):
            answers[f"{r.id}#tests{j}"] = TESTS[j % len(TESTS)]
        for j in range(1, args.n):
            answers[f"{r.id}#sample{j}"] = RIGHT if (int(r.id[1:]) + j) % 3 == 0 else WRONG

    def ask(requests):
        return {at: answers[at] for _, at, _ in requests}

    print(f"{os.cpu_count()} CPUs; sandbox {', '.join(layers())}")
    speed = {}
    for way in ("alone", "now"):
        seconds, verdicts, rows = one_way(way, records, ask, args)
        speed[way] = args.records / seconds
        check(way, seconds, verdicts, rows, records, answers, args)
    print(f"now / alone: {speed['now'] / speed['alone']:.2f}x")


def one_way(way: str, records, ask, args):
    import wizevol.filters.verified as verified

    fast = verified.run_python_pairs
    if way == "alone":
        verified.run_python_pairs = lambda programs, limits: [run_tests("python", p, "", limits) for p in programs]
    try:
        flt = Verified(ask, PromptSet.load(), {"tester": "chat", "responder": "chat"}, args.n, args.m)
        flt.start()
        t0 = time.perf_counter()
        flt.prepare_round(records)
        verdicts = [flt.check(r) for r in records]
        seconds = time.perf_counter() - t0
        rows = flt.finish_round(0)
        flt.complete()
    finally:
        verified.run_python_pairs = fast
    return seconds, verdicts, rows


def check(way, seconds, verdicts, rows, records, answers, args) -> None:
    wrong = 0
    for r, row in zip(records, rows, strict=True):
        texts = [r.output, *(answers[f"{r.id}#sample{j}"] for j in range(1, args.n))]
        wrong += row["matrix"] != ["".join(PASSES[t][j % len(TESTS)] for j in range(args.m)) for t in texts]
    chosen_right = sum(1 for r, row in zip(records, rows, strict=True)
                       if (row.get("record", {}).get("output") or r.output) == RIGHT)
    runs = args.records * args.n * args.m
    print(f"{way:5}: {args.records} records x {args.n} answers x {args.m} test sets: {seconds:.1f} s, "
          f"{args.records / seconds:.2f} records/s, {runs / seconds:.1f} runs/s; kept {sum(v is True for v in verdicts)}, "
          f"the right answer chosen for {chosen_right}")
    if wrong:
        sys.exit(f"{way}: {wrong} records' pass matrices are not what their answers do")


if __name__ == "__main__":
    main()
