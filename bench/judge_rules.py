"""Which rule makes the judge's "the same task?" a drop: P(Same) in both orders or in either, at which probability.

The judge is asked every candidate pair in both orders, once, with its first token's probabilities
(`top_logprobs`), and each rule is read off the same answers. Candidates are what the filters would ask about:

- near_dup: the pairs of data/near_dup/ at MiniLM cosine >= judge_threshold (0.65). pairs.jsonl is the tune set;
  heldout.jsonl and contrasts.jsonl (48 different tasks a word apart, written before any judge ran on them) report.
- contamination layer 3: each HumanEval problem's top 5 records of data/decontam/ at cosine >= 0.65 (instructions
  in another language translated into English first, as the filter does); tune and report halves as in
  bench/decontam_eval.py.
  Each candidate's response (data/decontam/responses.jsonl) is run against the candidate's problem: where its code
  does another task, execution overrules the match (contradict_below), reported beside the rule.
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
from wizevol.config_filters import ContaminationConfig  # noqa: E402
from wizevol.filters.contamination import Contamination  # noqa: E402
from wizevol.filters.judge import SameRule, llm_judge, same_probability  # noqa: E402
from wizevol.filters.solves_benchmark import SolvesBenchmark, response_python, tested_problems  # noqa: E402
from wizevol.filters.task_contrast import Contrast  # noqa: E402
from wizevol.record import Record  # noqa: E402
from wizevol.run_folder import RunFolder  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GRID = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9)
RULES = [(orders, p) for orders in ("either", "both") for p in GRID]


def holds(ps: tuple[float | None, float | None], orders: str, p: float) -> bool:
    return SameRule(orders, p).holds(ps)


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
        for p in pairs:  # a pair in two languages is never asked: near_dup sets it apart (task_contrast.py)
            p["set_apart"] = Contrast(p["a"], "", "").differs(Contrast(p["b"], "", ""))
        asked = [p for p in pairs if p["cosine"] >= 0.65 and not p["set_apart"]]
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
    contradict_below = ContaminationConfig().contradict_below
    asked = {}
    for r in l3:
        asked.setdefault(r["id"], []).append(r["task"])
    codes = [(rid, response_python(responses.get(rid, ""))) for rid in asked]
    found = dict(zip([rid for rid, _ in codes], SolvesBenchmark(tested_problems()).scores(
        [(code, asked[rid]) for rid, code in codes]), strict=True))
    for r in l3:  # what layer 4's code says of the match (Evidence.contradicts): None where it does not overrule
        e = found[r["id"]].get(r["task"])
        r["overruled"] = e.contradicts(contradict_below) if e is not None else None
    for rows in (l3, l4):
        for row, ps in zip(rows, ask_both(role, role.prompts.contamination_judge,
                                          [(r["problem"], r["text"]) for r in rows]), strict=True):
            row["p_same"] = ps
            x = items[row["id"]]
            row["half"], row["leak"] = half(x), x.get("task") == row["task"]
    return l3, l4


def table(title: str, sets: dict[str, tuple[list, list]]) -> dict[tuple[str, float], list[tuple[float, int]]]:
    """Each rule's recall (positives caught) and false positives (negatives caught) on each set, printed and
    returned: {(orders, p): [(recall, false positives) per set]}."""
    print(f"\n{title}")
    print(f"  {'rule':<22}" + "".join(f"{name:>24}" for name in sets))
    out = {}
    for orders, p in RULES:
        cells, got = [], []
        for pos, negs in sets.values():
            r = sum(holds(ps, orders, p) for ps in pos) / len(pos) if pos else float("nan")
            got.append((r, sum(holds(ps, orders, p) for ps in negs)))
            cells.append(f"{r:.2f} / {got[-1][1]} of {len(negs)}")
        out[(orders, p)] = got
        print(f"  {f'{orders} >= {p:g}':<22}" + "".join(f"{c:>24}" for c in cells))
    return out


def strictest(rules: list[tuple[str, float]]) -> tuple[str, float]:
    """Of rules that tie, the strictest: both orders before either, then the highest probability."""
    return max(rules, key=lambda r: (r[0] == "both", r[1]))


def choose(results: dict, at: int, fp_max: int) -> tuple[str, float]:
    """The rule with the best recall on set `at` among those with at most fp_max false positives there."""
    ok = {rule: got[at] for rule, got in results.items() if got[at][1] <= fp_max}
    best = max(r for r, _ in ok.values())
    return strictest([rule for rule, (r, _) in ok.items() if r == best])


def layer4_combined(l4: list[dict]) -> None:
    """Layer 4's second signal as the filter reads it: the judge's P(Same) >= t in either order, or MiniLM's cosine
    of instruction and problem >= c. Chosen on the tune half: of the (t, c) that confirm every leak there with the
    fewest negatives, the one whose looser threshold is the highest (neither signal let loose alone)."""
    def confirmed(r, t, c):
        return (t is not None and holds(r["p_same"], "either", t)) or (c is not None and r["cosine"] >= c)

    def rates(h, t, c):
        leaks = {}
        for r in l4:
            if r["half"] == h and r["leak"]:
                leaks[r["id"]] = leaks.get(r["id"], False) or confirmed(r, t, c)
        negs = sorted(r["id"] for r in l4 if r["half"] == h and r["id"].startswith("neg") and confirmed(r, t, c))
        return sum(leaks.values()), len(leaks), negs

    print("\ncontamination layer 4, the judge (either order) or the cosine: leaks confirmed, negatives confirmed")
    print(f"  {'judge >=':<10}{'cosine >=':<11}{'tune':>34}{'report':>34}")
    grid = [(t, c) for t in (None, 0.35, 0.4, 0.45, 0.5) for c in (None, 0.5, 0.6, 0.7) if (t, c) != (None, None)]
    for t, c in grid:
        cells = []
        for h in ("tune", "report"):
            n, total, negs = rates(h, t, c)
            cells.append(f"{n}/{total} leaks, {len(negs)} neg {','.join(negs)}")
        print(f"  {str(t or '-'):<10}{str(c or '-'):<11}{cells[0]:>34}{cells[1]:>34}")
    full = [(t, c) for t, c in grid if rates("tune", t, c)[0] == rates("tune", t, c)[1]]
    fewest = min(len(rates("tune", t, c)[2]) for t, c in full)
    t, c = max(((t, c) for t, c in full if len(rates("tune", t, c)[2]) == fewest),
               key=lambda tc: (min(tc[0] or 1.0, tc[1] or 1.0), max(tc[0] or 1.0, tc[1] or 1.0)))
    n, total, _ = rates("report", t, c)
    print(f"  chosen on the tune half (every leak there confirmed, the fewest negatives, the highest looser threshold): "
          f"judge >= {t}, "
          f"cosine >= {c}; the report half: {n}/{total} leaks confirmed")


def at_cosine(nd: dict, l3: list[dict]) -> None:
    """The default rules with the judge asked only at or above a higher MiniLM cosine (judge_threshold)."""
    from wizevol.config_filters import NearDupConfig

    near, cont = NearDupConfig(), ContaminationConfig()
    print(f"\nthe default rules at each judge_threshold (near_dup: {near.judge_orders} >= {near.judge_min_same}; layer 3: "
          f"{cont.judge_orders} >= {cont.judge_min_same})")
    for c in (0.65, 0.70, 0.75):
        cells = []
        for name in ("pairs.jsonl", "heldout.jsonl", "contrasts.jsonl"):
            ps = nd[name]
            hit = [p["cosine"] >= c and holds(p.get("p_same", (None, None)), near.judge_orders, near.judge_min_same)
                   for p in ps]
            dup = [h for h, p in zip(hit, ps, strict=True) if p["duplicate"]]
            cells.append(f"{name.split('.')[0]} {sum(dup) / len(dup) if dup else 0:.2f} / "
                         f"{sum(h for h, p in zip(hit, ps, strict=True) if not p['duplicate'])}")
        for h in ("tune", "report"):
            leaks = {}
            for r in l3:
                if r["half"] == h and r["leak"]:
                    leaks[r["id"]] = leaks.get(r["id"], False) or (
                        r["cosine"] >= c and holds(r["p_same"], cont.judge_orders, cont.judge_min_same))
            negs = sum(r["half"] == h and r["id"].startswith("neg") and r["cosine"] >= c
                       and holds(r["p_same"], cont.judge_orders, cont.judge_min_same) for r in l3)
            cells.append(f"layer 3 {h} {sum(leaks.values())}/{len(leaks)} / {negs}")
        print(f"  cosine >= {c:.2f}: " + "; ".join(cells))


def layer3_execution(l3: list[dict]) -> None:
    """Layer 3's default rule at the default judge_threshold, before and after execution overrules a match whose
    response's code does another task (contradict_below): leaks found and negatives confirmed, by half."""
    cont = ContaminationConfig()

    def rates(h, overrule):
        leaks = {}
        negs = []
        for r in l3:
            hit = (r["cosine"] >= cont.judge_threshold and holds(r["p_same"], cont.judge_orders, cont.judge_min_same)
                   and not (overrule and r["overruled"]))
            if r["half"] == h and r["leak"]:
                leaks[r["id"]] = leaks.get(r["id"], False) or hit
            elif r["half"] == h and r["id"].startswith("neg") and hit:
                negs.append(r["id"])
        return f"{sum(leaks.values())}/{len(leaks)} leaks, {len(negs)} negative pairs"

    print(f"\ncontamination layer 3 (cosine >= {cont.judge_threshold}, {cont.judge_orders} >= {cont.judge_min_same}), "
          f"and with execution overruling a match whose code does another task (contradict_below "
          f"{cont.contradict_below}): responses from data/decontam/responses.jsonl")
    for h in ("tune", "report"):
        print(f"  {h}: {rates(h, False)}; with execution: {rates(h, True)}")
    for r in l3:
        if r["overruled"] and r["cosine"] >= cont.judge_threshold and holds(r["p_same"], cont.judge_orders,
                                                                            cont.judge_min_same):
            kind = "leak" if r["leak"] else "neg" if r["id"].startswith("neg") else "another problem's paraphrase"
            print(f"  overruled: {kind} {r['half']:<6} {r['id']:<9} {r['task']:<14} "
                  f"{r['overruled'][:90]}")


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

    nd_rules = table("near_dup: recall on reworded pairs / different pairs dropped (pairs below cosine 0.65: never "
                     "asked)", {"tune (pairs)": split(nd["pairs.jsonl"]), "held-out": split(nd["heldout.jsonl"]),
                                "contrasts": split(nd["contrasts.jsonl"])})
    rule = choose(nd_rules, 1, 1)
    print(f"  chosen (the issue's aim: the best held-out recall with at most 1 of 40 different pairs dropped there; "
          f"ties to the strictest): {rule[0]} >= {rule[1]:g}; on the contrasts: {nd_rules[rule][2][1]} of "
          f"{sum(not p['duplicate'] for p in nd['contrasts.jsonl'])} dropped (the default is stricter, both >= 0.5: on "
          "the real-seed audit this rule dropped 22 good rows of 43, docs/filters.md)")

    def by_half(rows, h):
        pos = {}
        for r in rows:  # a paraphrase counts once, caught when its own problem's pair holds
            if r["half"] == h and r["leak"]:
                pos[r["id"]] = r["p_same"]
        negs = [r["p_same"] for r in rows if r["half"] == h and not r["id"].startswith("para")]
        return list(pos.values()), negs

    l3_rules = table("contamination layer 3: paraphrases' own problem confirmed / negative pairs confirmed",
                     {"tune": by_half(l3, "tune"), "report": by_half(l3, "report")})
    rule = choose(l3_rules, 0, 0)
    print(f"  chosen on the tune half (the best recall with no negative confirmed there): {rule[0]} >= {rule[1]:g}")
    table("contamination layer 4, the judge alone: hits on paraphrases' own problem confirmed / negatives' hits "
          "confirmed", {"tune": by_half(l4, "tune"), "report": by_half(l4, "report")})
    layer4_combined(l4)
    at_cosine(nd, l3)
    layer3_execution(l3)
    print("\nlayer 4's hits with their signals:")
    for r in sorted(l4, key=lambda r: (r["leak"], r["id"])):
        ps = "/".join("-" if x is None else f"{x:.2f}" for x in r["p_same"])
        print(f"  {'leak' if r['leak'] else 'NEG ' if not r['id'].startswith('para') else 'other'} {r['half']:<6} "
              f"{r['id']:<10} {r['task']:<14} cosine {r['cosine']:.2f}  P(same) {ps}  {r['text'][:60]!r}")
    if args.out:
        Path(args.out).write_text(json.dumps({"near_dup": nd, "layer3": l3, "layer4": l4}, indent=1) + "\n")


if __name__ == "__main__":
    main()
