"""Layer 4's speed (contamination by execution), two ways side by side in one run, alternately, `--repeat` times:
  before:  one sandboxed process per response, which compiles every problem it tries;
  now:     up to `batch` (64) responses per sandboxed process (at least 4 processes per worker), which loads the
           problems compiled once outside and forks a child for each response (the default).
On two sets: the evaluation set's 173 responses (data/decontam/responses.jsonl: 67 of them pass some problem's
tests, and a few loop on other problems' inputs), and the responses among them that pass no problem's tests, three
times over (what most of a real run looks like). The ratio of the medians is printed, and
the results of the two ways must be the same.

    .venv/bin/python bench/solves_benchmark.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wizevol.filters.sandbox import layers  # noqa: E402
from wizevol.filters.solves_benchmark import SolvesBenchmark, response_python, tested_problems  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "data" / "decontam" / "responses.jsonl"
WAYS = {"before": {"batch": 1, "precompile": False}, "now": {}}  # now: the defaults


def measure(name: str, codes: list[tuple[str, str]], problems, repeat: int) -> dict:
    times: dict[str, list[float]] = {w: [] for w in WAYS}
    results: dict[str, dict] = {}
    for n in range(repeat):
        for way, options in WAYS.items():
            layer = SolvesBenchmark(problems, **options)
            layer.seconds()  # measured once per layer, outside the timing (the same for both ways)
            layer.compiled()
            t0 = time.perf_counter()
            results[way] = layer.run(codes, any_agreement=True)
            times[way].append(time.perf_counter() - t0)
            print(f"  {name}, run {n + 1}, {way}: {times[way][-1]:.1f} s", flush=True)
    if results["before"] != results["now"]:
        sys.exit(f"{name}: the two ways found different solved problems")
    before, now = statistics.median(times["before"]), statistics.median(times["now"])
    print(f"{name}: {len(codes)} responses, median before {before:.1f} s ({len(codes) / before:.1f}/s), now "
          f"{now:.1f} s ({len(codes) / now:.1f}/s): {before / now:.2f}x; {len(results['now'])} pass a problem's "
          f"tests either way", flush=True)
    return results["now"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    codes = [(r["id"], response_python(r["response"])) for r in map(json.loads, DATA.read_text().splitlines())]
    problems = tested_problems()
    print(f"{os.cpu_count()} CPUs; sandbox {', '.join(layers())}", flush=True)
    solved = measure("evaluation set", codes, problems, args.repeat)
    clean = [(f"{rid}-{k}", code) for k in range(3) for rid, code in codes if code and rid not in solved]
    measure("responses that solve nothing, x3", clean, problems, args.repeat)


if __name__ == "__main__":
    main()
