"""The verified filter's choice measured against ground truth: HumanEval's hidden tests.

HumanEval's prompts become instructions; the responder (the embedded model unless --config says otherwise) writes
each record's own answer, then `wizevol filter --only verified` runs as a user runs it (n answers, m test sets by
the tester, every answer against every test set in the sandbox, CodeT's choice). Every answer is then run
against HumanEval's own tests (the truth the pipeline never sees). From the one run at the largest n and m, each
smaller (n, m) is the choice over the first n answers and the first m test sets: the same calls a run with that
n and m makes.

Printed per (n, m): the share of records whose chosen answer is right, against the first answer alone and a
random one of the n (its expectation), with 95% intervals (Wilson; the difference chosen - first by a paired
bootstrap over problems); the verified precision (the share of records marked passed whose chosen answer is
right) and loss (the share of records with a right first answer that a `weak: drop` filter drops); calls per
record. Writes OUT/table.json.

    .venv/bin/python bench/verified_humaneval.py --problems 40 --n 5 --m 5 --out runs/verified-humaneval

With --other-languages, the records are instead the 36 C, C++ and JavaScript answers of
data/decontam/other_languages.jsonl, each known right (compiled and run against HumanEval's asserts when the set
was written): the tester writes m test sets in each answer's language, and the share of these right answers that
verified keeps as passed, drops (the loss) or leaves unverified is printed per language.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wizevol.config_file import load_config  # noqa: E402
from wizevol.eval.benchmark import load_benchmark  # noqa: E402
from wizevol.filters import verified_filter  # noqa: E402
from wizevol.filters.agreement import choose  # noqa: E402
from wizevol.filters.base import run_filter  # noqa: E402
from wizevol.filters.code_check import python_of  # noqa: E402
from wizevol.filters.sandbox import Limits, run_to_the_end  # noqa: E402
from wizevol.run_folder import RunFolder  # noqa: E402

OTHER = Path(__file__).resolve().parent.parent / "data" / "decontam" / "other_languages.jsonl"
INSTRUCTION = ("Complete this Python function. Answer with the whole function, its imports included, in one "
               "```python block, without explanation.\n\n```python\n{prompt}```")


def wilson(k: int, n: int) -> tuple[float, float]:
    if n == 0:
        return (0.0, 0.0)
    z, p = 1.96, k / n
    mid, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (
        1 + z * z / n)
    return (max(0.0, mid - half), min(1.0, mid + half))


def paired_interval(a: list[float], b: list[float], draws: int = 4000) -> tuple[float, float]:
    """95% bootstrap interval of mean(a) - mean(b), resampling problems."""
    rng, n = random.Random(0), len(a)
    diffs = sorted(sum(a[i] - b[i] for i in (rng.randrange(n) for _ in range(n))) / n for _ in range(draws))
    return diffs[int(0.025 * draws)], diffs[int(0.975 * draws)]


def right(problem, answer: str | None) -> bool:
    """Does the answer's Python pass HumanEval's hidden tests? The prompt goes first (its imports and helpers);
    the answer's definition then replaces the prompt's."""
    code = python_of(answer or "")
    if not code:
        return False
    program = f"{problem.prompt}    pass\n\n{code}\n\n{problem.test}\n\ncheck({problem.entry_point})\n"
    return run_to_the_end(program, Limits(cpu_s=10, wall_s=20)).status == "pass"


def make_run(out: Path, problems) -> RunFolder:
    out.mkdir(parents=True, exist_ok=True)
    folder = RunFolder(out)
    have = {r["id"]: r for r in map(json.loads, folder.kept(0).read_text().splitlines())} \
        if folder.kept(0).exists() else {}  # a run over fewer problems goes on: what it has is kept (and cached)
    recs = [have.get(p.task_id.replace("/", "-")) or {
        "id": p.task_id.replace("/", "-"), "instruction": INSTRUCTION.format(prompt=p.prompt), "input": "",
        "output": "", "round": 0, "method": None} for p in problems]
    folder.kept(0).write_text("".join(json.dumps(r) + "\n" for r in recs))
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=40)
    ap.add_argument("--n", type=int, default=5)
    ap.add_argument("--m", type=int, default=5)
    ap.add_argument("--config", default=None, help="a wizevol config (default: the embedded 1.5B, CPU settings)")
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--out", default="runs/verified-humaneval")
    ap.add_argument("--other-languages", action="store_true")
    args = ap.parse_args()
    if args.other_languages:
        return other_languages(args)
    _, problems = load_benchmark("humaneval", args.problems)
    out = Path(args.out)
    folder = make_run(out, problems)
    overrides = {"filters.verified.enabled": True, "filters.verified.samples": args.n, "filters.verified.tests": args.m}
    if args.config is None:
        overrides.update({"local.model": args.model, "local.max_tokens_cap": 384, "tester.max_tokens": 256})
    cfg = load_config(args.config, overrides)
    got: dict[str, str | None] = {}
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        flt = verified_filter(folder, cfg, stack, notify=lambda s: print(s, flush=True))
        asked = flt.ask

        def ask(requests):
            answers = asked(requests)
            got.update(answers)
            print(f"  {len(answers)} answers ({time.perf_counter() - t0:.0f} s)", flush=True)
            return answers

        flt.ask = ask
        rows = [json.loads(line) for line in folder.kept(0).read_text().splitlines()]
        if any(not r["output"] for r in rows):  # the records' own answers: the responder, as round 0 writes them
            own = ask([("responder", f"{r['id']}#own", flt.prompts.respond.request(flt.modes["responder"],
                                                                                     instruction=r["instruction"]))
                       for r in rows if not r["output"]])
            for r in rows:
                r["output"] = r["output"] or own[f"{r['id']}#own"] or ""
            folder.kept(0).write_text("".join(json.dumps(r) + "\n" for r in rows))
            (out / "round_0.done").write_text(json.dumps({"round": 0, "pool": len(rows), "kept": len(rows)}))
        t1 = time.perf_counter()
        folder.filter_stats("verified").unlink(missing_ok=True)  # it runs again: its calls are in the cache
        stats = run_filter(folder, flt)
    t2 = time.perf_counter()
    results = {r["id"]: r for r in map(json.loads, folder.filter_results("verified", 0).read_text().splitlines())}
    table = measure(problems, rows, results, got, args.n, args.m)
    table["seconds"] = {"own answers": round(t1 - t0), "filter (tests, samples, runs)": round(t2 - t1)}
    table["calls_made"] = len([v for v in got.values() if v is not None])
    table["filter_stats"] = stats.get("records")
    (out / "table.json").write_text(json.dumps(table, indent=2) + "\n")
    print(render(table, args))


def other_languages(args) -> None:
    """The tester's tests in C, C++ and JavaScript against answers known to be right."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    folder = RunFolder(out)
    data = [json.loads(line) for line in OTHER.read_text().splitlines()]
    recs = [{"id": r["id"], "instruction": r["instruction"], "input": "", "output": r["response"], "round": 0,
             "method": None} for r in data]
    folder.kept(0).write_text("".join(json.dumps(r) + "\n" for r in recs))
    (out / "round_0.done").write_text(json.dumps({"round": 0, "pool": len(recs), "kept": len(recs)}))
    overrides = {"filters.verified.enabled": True, "filters.verified.samples": 1, "filters.verified.tests": args.m}
    if args.config is None:
        overrides.update({"local.model": args.model, "local.max_tokens_cap": 384})
    cfg = load_config(args.config, overrides)
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        flt = verified_filter(folder, cfg, stack, notify=lambda s: print(s, flush=True))
        folder.filter_stats("verified").unlink(missing_ok=True)
        run_filter(folder, flt)
    seconds = time.perf_counter() - t0
    results = {r["id"]: r for r in map(json.loads, folder.filter_results("verified", 0).read_text().splitlines())}
    table: dict[str, dict[str, int]] = {}
    for r in data:
        row = results[r["id"]]
        verdict = "unverified" if row["passed"] is None else "passed" if row["passed"] else "dropped"
        table.setdefault(r["language"], {"passed": 0, "dropped": 0, "unverified": 0})[verdict] += 1
    (out / "table.json").write_text(json.dumps({"m": args.m, "per_language": table, "seconds": round(seconds)},
                                               indent=2) + "\n")
    print(f"{len(data)} right answers in other languages, m={args.m} test sets by "
          f"{args.model if args.config is None else args.config}, {seconds:.0f} s")
    for lang, c in table.items():
        n = sum(c.values())
        lo, hi = wilson(c["dropped"], n)
        print(f"  {lang:10} {n} answers: passed {c['passed']}, dropped {c['dropped']} (loss {c['dropped'] / n:.2f} "
              f"[{lo:.2f}, {hi:.2f}]), unverified {c['unverified']}")


def measure(problems, rows, results, got, n_max: int, m_max: int) -> dict:
    """Every answer against the truth, then the choice at each (n, m) from the full run's matrix."""
    by_id = {p.task_id.replace("/", "-"): p for p in problems}
    answers = _answers(got, rows, n_max)
    truth = {i: [right(by_id[i], a) for a in answers[i]] for i in answers}
    cells = {}
    for n in sorted({1, 3, 5, n_max} & set(range(1, n_max + 1))):
        for m in sorted({1, 3, 5, m_max} & set(range(1, m_max + 1))):
            chosen, first, rand, kept_right, kept, dropped_right, right_first = [], [], [], 0, 0, 0, 0
            for i, t in truth.items():
                row = results.get(i, {})
                matrix = row.get("matrix")
                t = t[:n]
                first.append(float(t[0]))
                rand.append(sum(t) / len(t))
                if not matrix or row.get("samples", 0) < 1:  # unverified: kept as it is, its own answer
                    chosen.append(float(t[0]))
                    continue
                sub = [[c == "1" for c in line[:m]] for line in matrix[:n]]
                c = choose(sub)
                ok = t[c.chosen] if c.chosen < len(t) else False
                chosen.append(float(ok))
                passed = c.score > 0  # the default: weak (no answer passes a test) is dropped
                kept += passed
                kept_right += passed and ok
                right_first += t[0]
                dropped_right += (not passed) and t[0]
            k = len(chosen)
            cells[f"n={n},m={m}"] = {
                "chosen": _rate(chosen), "first": _rate(first), "random": _rate(rand),
                "chosen_minus_first": round(sum(chosen) / k - sum(first) / k, 4),
                "interval": [round(x, 4) for x in paired_interval(chosen, first)],
                "precision": round(kept_right / kept, 4) if kept else None, "kept": kept,
                "loss": round(dropped_right / right_first, 4) if right_first else None,
                "calls_per_record": 1 + (n - 1) + m}
    return {"records": len(truth), "cells": cells,
            "unverified": sum(1 for i in truth if not results.get(i, {}).get("matrix"))}


def _rate(xs: list[float]) -> dict:
    k = sum(xs)
    return {"rate": round(k / len(xs), 4), "ci": [round(x, 4) for x in wilson(round(k), len(xs))]}


def _answers(got: dict, rows, n: int) -> dict[str, list[str | None]]:
    """Each record's own answer and its n-1 sampled ones, as the filter asked for them."""
    return {r["id"]: [r["output"], *(got.get(f"{r['id']}#sample{j}") for j in range(1, n))] for r in rows}


def render(table: dict, args) -> str:
    lines = [f"{table['records']} HumanEval problems, {args.model if args.config is None else args.config}; "
             f"{table['unverified']} unverified (kept with their own answer)",
             f"{'cell':10} {'chosen':>22} {'first':>22} {'random':>22} {'chosen-first [95%]':>24} "
             f"{'precision':>9} {'loss':>6} {'calls':>5}"]
    for name, c in table["cells"].items():
        def fmt(r):
            return f"{r['rate']:.3f} [{r['ci'][0]:.2f}, {r['ci'][1]:.2f}]"
        lines.append(f"{name:10} {fmt(c['chosen']):>22} {fmt(c['first']):>22} {fmt(c['random']):>22} "
                     f"{c['chosen_minus_first']:+.3f} [{c['interval'][0]:+.2f}, {c['interval'][1]:+.2f}]".ljust(106)
                     + f"{c['precision'] if c['precision'] is not None else '-':>9} "
                       f"{c['loss'] if c['loss'] is not None else '-':>6} {c['calls_per_record']:>5}")
    lines.append(f"time: {table['seconds']}; calls made: {table['calls_made']}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
