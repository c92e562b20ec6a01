"""Contamination of code in another language, measured on the project's own rows (data/decontam/other_languages.jsonl):
24 responses that solve a HumanEval problem in C, JavaScript or C++ (renamed, the instruction and the comment
reworded; 8 per language) and 12 hard negatives (the same topics, another task: lcm for gcd, strictly rising for
monotonic, floor for ceil). Each row has a half, tune or heldout, alternating within its language and kind.

The contamination filter runs as shipped (`configs/default.yaml`, with the judge of --judge CONFIG): first without
translation (what layers 1-4 catch of code that is not Python), then with `translate` (the judge translates each
response into Python and layer 4 runs it). A positive counts when it is rejected for its own problem.

    .venv/bin/python bench/decontam_other_languages.py --judge configs/local/qwen15.yaml [--cache DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from wizevol.config_file import load_config
from wizevol.filters import build, execution_on
from wizevol.filters.judge import llm_judge, resolve_judges
from wizevol.record import Record
from wizevol.run_folder import RunFolder

DATA = Path(__file__).resolve().parent.parent / "data" / "decontam" / "other_languages.jsonl"
LANGUAGES = ("c", "javascript", "cpp")


def caught(flt, records: list[Record]) -> dict[str, tuple[list[str], str]]:
    """record id -> (the tasks it leaks, the layer) of the records the filter rejects. Layer 4 names every
    problem whose tests the response passes (a vowel stripper passes HumanEval/51's and, on its inputs, /28's)."""
    flt.prepare_run(records)
    out = {}
    for r in records:
        verdict = flt.check(r)
        if verdict is not True:
            out[r.id] = (verdict[2].get("solves") or [verdict[2]["task"]], verdict[2]["layer"])
    return out


def table(rows: list[dict], hits: dict[str, tuple[list[str], str]]) -> None:
    print(f"  {'half':<8}{'recall':>8}{'FP':>8}  " + "  ".join(f"{lang:>10}" for lang in LANGUAGES))
    for half in ("tune", "heldout"):
        pos = [r for r in rows if r["half"] == half and "task" in r]
        neg = [r for r in rows if r["half"] == half and "task" not in r]
        right = [r for r in pos if r["task"] in hits.get(r["id"], ([],))[0]]
        by_lang = defaultdict(list)
        for r in pos:
            by_lang[r["language"]].append(r in right)
        langs = "  ".join(f"{sum(v) / len(v):>10.2f}" for v in (by_lang[lang] for lang in LANGUAGES))
        fp = sum(r["id"] in hits for r in neg)
        print(f"  {half:<8}{len(right) / len(pos):>8.2f}{fp:>5}/{len(neg):<2}  {langs}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--judge", required=True, help="a wizevol config whose judge role translates (a capable model)")
    ap.add_argument("--cache", help="a folder for the judge's answers (reused by a rerun); default: a temp folder")
    args = ap.parse_args()
    rows = [json.loads(line) for line in DATA.read_text().splitlines()]
    records = [Record(id=r["id"], instruction=r["instruction"], output=r["response"]) for r in rows]
    cfg = resolve_judges(load_config(args.judge))
    k = cfg.filters.contamination
    assert execution_on(cfg.filters), "layer 4 needs a sandbox that isolates code here"
    print(f"{len(rows)} rows: {sum('task' in r for r in rows)} solutions of HumanEval problems, "
          f"{sum('task' not in r for r in rows)} hard negatives, in {', '.join(LANGUAGES)}")
    off = cfg.filters.model_copy(update={"contamination": k.model_copy(update={"translate": False,
                                                                               "llm_judge": False})})
    print("\nthe shipped layers 1-4 without translation (the judge off):")
    table(rows, caught(build("contamination", off), records))
    with contextlib.ExitStack() as stack:
        folder = args.cache or stack.enter_context(tempfile.TemporaryDirectory())
        judge = llm_judge(RunFolder(folder), cfg, stack, lambda text: print(text, flush=True))
        flt = build("contamination", cfg.filters, judge)
        t0 = time.perf_counter()
        hits = caught(flt, records)
        took = time.perf_counter() - t0
    report = flt.report()
    print(f"\nwith translation by {judge.model} (then layer 4), and the shipped judge: "
          f"{report['translated']['responses']} responses translated in {took:.0f} s, "
          f"{report['translated']['failed']} calls failed")
    table(rows, hits)
    for r in rows:
        got = hits.get(r["id"])
        if "task" in r and (got is None or r["task"] not in got[0]):
            print(f"  missed {r['id']} ({r['language']}, {r['task']}, {r['half']})" + (f": caught as {got}" if got else ""))
        if "task" not in r and got:
            print(f"  negative {r['id']} ({r['language']}, {r['half']}) '{r['instruction'][:60]}': {got[1]}, "
                  f"{', '.join(got[0])}")


if __name__ == "__main__":
    main()
