"""Which rule makes the judge's "the same task?" a drop: P(Same) in both orders or in either, at which probability.

The judge is asked every candidate pair in both orders, once, with its first token's probabilities
(`top_logprobs`), and each rule is read off the same answers. Candidates are what the filters would ask about:

- near_dup: the pairs of data/near_dup/ at MiniLM cosine >= judge_threshold (0.65). pairs.jsonl is the tune set;
  heldout.jsonl and contrasts.jsonl (48 different tasks a word apart, written before any judge ran on them) report.
- contamination layer 3: each HumanEval problem's top 5 records of data/decontam/ at cosine >= 0.65 (instructions
  in another language translated into English first, as the filter does); tune and report halves as in
  bench/decontam_eval.py.
- contamination layer 4: the items whose response (data/decontam/responses.jsonl) passes a problem's tests at
  agreement >= 0.80: is the instruction that problem's task? (the judge, and MiniLM's cosine of the two).

A rule is chosen on the tune half (the best recall with false positives <= 1 in 40 there) and reported on the other.
Every answer lands in the cache folder (--cache), so a rerun is free; --out writes every pair's P(Same) and cosine.

    .venv/bin/python bench/judge_rules.py --judge configs/local/qwen15.yaml --cache runs/judge-rules [--out FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from decontam_eval import half  # noqa: E402
from decontam_eval import load as load_decontam  # noqa: E402

from wizevol.config_file import load_config  # noqa: E402
from wizevol.filters.contamination import Contamination  # noqa: E402
from wizevol.filters.judge import llm_judge, same_probability  # noqa: E402
from wizevol.filters.solves_benchmark import SolvesBenchmark, response_python, tested_problems  # noqa: E402
from wizevol.record import Record  # noqa: E402
from wizevol.run_folder import RunFolder  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RULES = [(orders, p) for orders in ("either", "both") for p in (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)]


def holds(ps: tuple[float | None, float | None], orders: str, p: float) -> bool:
    held = [x is not None and x >= p for x in ps]
    return all(held) if orders == "both" else any(held)


def ask_both(role, template, pairs: list[tuple[str, str]]) -> list[tuple[float | None, float | None]]:
    """P(Same) of each pair in its order and the other way round."""
    fwd = role.complete_many(template, [{"first": a, "second": b} for a, b in pairs])
    back = role.complete_many(template, [{"first": b, "second": a} for a, b in pairs])
    return [(same_probability(x), same_probability(y)) for x, y in zip(fwd, back, strict=True)]


def near_dup_sets(role) -> dict[str, list[dict]]:
    """Each set's pairs with their cosine and, for those at or above 0.65, both orders' P(Same)."""
    from near_dup_eval import cosines, load

    out = {}
    for name in ("pairs.jsonl", "heldout.jsonl", "contrasts.jsonl"):
        pairs = load(name)
        for p, c in zip(pairs, cosines(pairs), strict=True):
            p["cosine"] = round(c, 3)
        asked = [p for p in pairs if p["cosine"] >= 0.65]
        for p, ps in zip(asked, ask_both(role, role.prompts.near_dup_judge, [(p["a"], p["b"]) for p in asked]),
                         strict=True):
            p["p_same"] = ps
        out[name] = pairs
    return out


def decontam_sets(role) -> tuple[list[dict], list[dict]]:
    """Layer 3's candidates (problem, item) and layer 4's hits (problem, item), each with both orders' P(Same)."""
    para, neg = load_decontam()
    items = {x["id"]: x for x in para + neg}
    records = [Record(id=x["id"], instruction=x["text"]) for x in para + neg]
    flt = Contamination(embedding=True, embedding_threshold=0.65, top_k=5, to_english=role.to_english)
    flt.prepare_run(records)
    by_id = {r.id: r for r in records}
    l3 = [{"id": rid, "task": flt.texts[i].task, "cosine": round(c, 3), "problem": flt.texts[i].text,
           "text": flt._text(by_id[rid])} for rid, hits in flt._candidates.items() for c, i in hits]
    responses = {r["id"]: r["response"] for r in map(json.loads, (ROOT / "data/decontam/responses.jsonl").open())}
    solved = SolvesBenchmark(tested_problems()).run((i, response_python(r)) for i, r in responses.items())
    l4 = []
    for rid, hits in solved.items():
        for task in dict.fromkeys(t for _, t, _ in hits):
            l4.append({"id": rid, "task": task, "problem": flt._statements.get(task, task), "text": flt._text(by_id[rid]),
                       "cosine": round(flt._cosine(by_id[rid], task), 3)})
    for rows in (l3, l4):
        for row, ps in zip(rows, ask_both(role, role.prompts.contamination_judge,
                                          [(r["problem"], r["text"]) for r in rows]), strict=True):
            row["p_same"] = ps
            x = items[row["id"]]
            row["half"], row["leak"] = half(x), x.get("task") == row["task"]
    return l3, l4


def table(title: str, sets: dict[str, tuple[list, list]]) -> None:
    """Each rule's recall (positives caught) and false positives (negatives caught) on each set."""
    print(f"\n{title}")
    print(f"  {'rule':<22}" + "".join(f"{name:>24}" for name in sets))
    for orders, p in RULES:
        cells = []
        for pos, negs in sets.values():
            r = sum(holds(ps, orders, p) for ps in pos) / len(pos) if pos else float("nan")
            cells.append(f"{r:.2f} / {sum(holds(ps, orders, p) for ps in negs)} of {len(negs)}")
        print(f"  {f'{orders} >= {p:g}':<22}" + "".join(f"{c:>24}" for c in cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--judge", required=True, help="a wizevol config whose judge role answers")
    ap.add_argument("--cache", required=True, help="a folder for the judge's answers (a rerun reuses them)")
    ap.add_argument("--out", help="write every pair's P(Same) here (JSON)")
    args = ap.parse_args()
    cfg = load_config(args.judge)
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        role = llm_judge(RunFolder(args.cache), cfg, stack, lambda text: print(text, flush=True))
        nd = near_dup_sets(role)
        l3, l4 = decontam_sets(role)
    print(f"judge {role.model}; answered in {time.perf_counter() - t0:.0f} s (cached answers are free)")

    def split(pairs):  # a pair below the cosine is never asked: it counts as not caught
        none = (None, None)
        return ([p.get("p_same", none) for p in pairs if p["duplicate"]],
                [p.get("p_same", none) for p in pairs if not p["duplicate"]])

    table("near_dup: recall on reworded pairs / different pairs dropped (pairs below cosine 0.65: never asked)",
          {"tune (pairs)": split(nd["pairs.jsonl"]), "held-out": split(nd["heldout.jsonl"]),
           "contrasts": split(nd["contrasts.jsonl"])})

    def by_half(rows, h):
        pos = {}
        for r in rows:  # a paraphrase counts once, caught when its own problem's pair holds
            if r["half"] == h and r["leak"]:
                pos[r["id"]] = r["p_same"]
        negs = [r["p_same"] for r in rows if r["half"] == h and not r["id"].startswith("para")]
        return list(pos.values()), negs

    table("contamination layer 3: paraphrases' own problem confirmed / negative pairs confirmed",
          {"tune": by_half(l3, "tune"), "report": by_half(l3, "report")})
    table("contamination layer 4: hits on paraphrases' own problem confirmed / negatives' hits confirmed",
          {"tune": by_half(l4, "tune"), "report": by_half(l4, "report")})
    print("\nlayer 4's hits with their signals:")
    for r in sorted(l4, key=lambda r: (r["leak"], r["id"])):
        ps = "/".join("-" if x is None else f"{x:.2f}" for x in r["p_same"])
        print(f"  {'leak' if r['leak'] else 'NEG ' if not r['id'].startswith('para') else 'other'} {r['half']:<6} "
              f"{r['id']:<10} {r['task']:<14} cosine {r['cosine']:.2f}  P(same) {ps}  {r['text'][:60]!r}")
    if args.out:
        Path(args.out).write_text(json.dumps({"near_dup": nd, "layer3": l3, "layer4": l4}, indent=1) + "\n")


if __name__ == "__main__":
    main()
