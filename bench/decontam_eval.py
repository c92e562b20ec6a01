"""Decontamination on the project's own evaluation set (data/decontam/): recall on 64 paraphrases of HumanEval
problems in four styles (renamed function, reworded story, another language, partial problem) and false
positives on 109 hard negatives (clean tasks on the same topics: sorting, strings, primes, palindromes, ...).

The embedding threshold is chosen on one half and reported on the other: the tune half holds the paraphrases
of HumanEval/0-3, 8-11, 16-19, ... (each block of four has one paraphrase of each style) and the even-numbered
negatives, the report half the rest. The threshold is
the lowest one (0.50-0.99, step 0.01) that keeps false positives on the tune negatives at or under 1%.

With --judge CONFIG (a wizevol config whose judge role is the judge: an endpoint and model, or the local model),
layer 3 also runs with that judge: each problem's top 5 records at cosine >= 0.50 are asked about once, the judge
threshold is chosen on the tune half (the judge's false positives <= 1% there) and reported on the other half,
without responses (layers 1-3 + judge: instruction-only records) and with them (layers 1-4 + judge).

    .venv/bin/python bench/decontam_eval.py [--judge configs/local/qwen15.yaml [--cache DIR]]
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from pathlib import Path

from wizevol.config_filters import ContaminationConfig
from wizevol.filters.contamination import Contamination
from wizevol.filters.sandbox import layers
from wizevol.filters.solves_benchmark import SolvesBenchmark, response_python, tested_problems
from wizevol.record import Record

DATA = Path(__file__).resolve().parent.parent / "data" / "decontam"
STYLES = ("renamed", "story", "language", "partial")


def load() -> tuple[list[dict], list[dict]]:
    para = [json.loads(line) for line in (DATA / "paraphrases.jsonl").read_text().splitlines()]
    neg = [json.loads(line) for line in (DATA / "negatives.jsonl").read_text().splitlines()]
    return para, neg


def half(item: dict) -> str:
    """Paraphrases go by blocks of four tasks (each block holds one of each style), negatives by parity."""
    if "task" in item:
        return "tune" if int(item["task"].split("/")[1]) // 4 % 2 == 0 else "report"
    return "tune" if int(item["id"].split("-")[1]) % 2 == 0 else "report"


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check-s", type=float, default=ContaminationConfig().check_s,
                    help="seconds one benchmark check may take (layer 4)")
    ap.add_argument("--judge", help="a wizevol config whose judge role confirms layer 3's candidates")
    ap.add_argument("--cache", help="a folder for the judge's answers (a rerun reuses them); default: a temp folder")
    args = ap.parse_args()
    para, neg = load()
    items = para + neg
    detector = Contamination(embedding=True)
    records = [Record(id=x["id"], instruction=x["text"]) for x in items]
    detector.prepare_run(records)
    lexical = {}  # layers 1-2
    cosine, nearest = {}, {}
    for x, r in zip(items, records, strict=True):
        task, _, _, layer = detector.nearest(r.prompt_text())
        lexical[x["id"]] = layer is not None
        bench, sim = detector.nearest_embedding(r)
        cosine[x["id"]], nearest[x["id"]] = sim, bench.task

    def rates(sel_para, sel_neg, t):
        hit = {p["id"] for p in sel_para if lexical[p["id"]] or cosine[p["id"]] >= t}
        fp = [n["id"] for n in sel_neg if lexical[n["id"]] or cosine[n["id"]] >= t]
        return hit, fp

    tune_p, tune_n = [p for p in para if half(p) == "tune"], [n for n in neg if half(n) == "tune"]
    rep_p, rep_n = [p for p in para if half(p) == "report"], [n for n in neg if half(n) == "report"]
    threshold = next(t / 100 for t in range(50, 100) if len(rates(tune_p, tune_n, t / 100)[1]) <= 0.01 * len(tune_n))
    print(f"set: {len(para)} paraphrases ({', '.join(STYLES)}), {len(neg)} hard negatives; "
          f"tune half {len(tune_p)}+{len(tune_n)}, report half {len(rep_p)}+{len(rep_n)}")
    print(f"threshold chosen on the tune half (FP <= 1%): {threshold:.2f}")
    print(f"{'layers (report half)':<34}{'recall':>8}{'FP':>10}  " + "  ".join(f"{s:>8}" for s in STYLES))
    shipped = ContaminationConfig().embedding_threshold  # chosen earlier, on tests/filters' planted paraphrases
    for name, t in (("exact + n-gram (layers 1-2)", 2.0), (f"+ embedding >= {threshold:.2f} (tuned)", threshold),
                    (f"+ embedding >= {shipped:.2f} (default)", shipped)):
        hit, fp = rates(rep_p, rep_n, t)
        by_style = defaultdict(list)
        for p in rep_p:
            by_style[p["style"]].append(p["id"] in hit)
        styles = "  ".join(f"{sum(v) / len(v):>8.2f}" for v in (by_style[s] for s in STYLES))
        print(f"{name:<34}{len(hit) / len(rep_p):>8.2f}{len(fp):>6}/{len(rep_n):<3}  {styles}")
    hit, fp = rates(para, neg, shipped)
    print(f"the default {shipped:.2f} on the whole set (chosen on other data): recall {len(hit) / len(para):.2f}, "
          f"FP {len(fp)}/{len(neg)}")
    cfg = ContaminationConfig()
    shipped_filter = Contamination(embedding=True, embedding_threshold=cfg.embedding_threshold, top_k=cfg.top_k)
    shipped_filter.prepare_run(records)  # the paper's direction: each problem's top_k records over the whole set
    rejected = {r.id for r in records if shipped_filter.check(r) is not True}
    print(f"the shipped filter (top_k {cfg.top_k} per problem, threshold {cfg.embedding_threshold:.2f}) on the whole "
          f"set: recall {sum(p['id'] in rejected for p in para) / len(para):.2f}, "
          f"FP {sum(n['id'] in rejected for n in neg)}/{len(neg)}")
    for t in (threshold, 0.5, 0.3):
        wide = Contamination(embedding=True, embedding_threshold=t, top_k=cfg.top_k)
        wide.prepare_run(records)
        pairs = sum(len(wide.candidates(r)) for r in records)
        above = sum(cosine[x["id"]] >= t for x in items)
        reach = sum(p["task"] in {b.task for b, _ in wide.candidates(r)} for p, r in zip(para, records[:len(para)], strict=True))
        print(f"threshold {t:.2f}, top-{cfg.top_k}: {pairs} (problem, record) pairs for a judge (record-wise: {above} "
              f"records above it); a perfect judge's recall {reach / len(para):.2f} (the right problem is a candidate)")
    right = sum(nearest[p["id"]] == p["task"] for p in rep_p)
    print(f"nearest HumanEval problem by embedding is the right one for {right}/{len(rep_p)} report paraphrases")
    top_neg = sorted(((cosine[n["id"]], nearest[n["id"]], n["text"][:60]) for n in neg), reverse=True)[:3]
    print("closest negatives: " + "; ".join(f"{c:.2f} {t} '{s}'" for c, t, s in top_neg))
    exec_caught = execution(para, neg, tune_p, tune_n, rep_p, rep_n, rejected, args.check_s)
    if args.judge:
        with_judge(args.judge, args.cache, para, neg, records, exec_caught)


def judged(judge, threshold: float, para: list[dict], neg: list[dict], records: list[Record],
           to_english=None) -> dict:
    """Layers 1-3, layer 3 with a judge, over the whole set: each problem's top 5 records at or above `threshold`
    are asked about (instructions in another language in English, with `to_english`); the rejects, and recall
    and false positives on each half and on the whole set."""
    calls = []

    def counted(benchmark: str, candidate: str) -> bool:
        calls.append(1)
        return judge(benchmark, candidate)

    layer = Contamination(embedding=True, embedding_threshold=threshold, judge=counted,
                          top_k=ContaminationConfig().top_k, to_english=to_english)
    layer.prepare_run(records)
    verdicts = {r.id: layer.check(r) for r in records}
    caught = {i: v[2]["task"] for i, v in verdicts.items() if v is not True}  # layers 1-2, or 3 with the judge
    out = {"calls": len(calls), "caught": caught}
    for name, sel in (("report", "report"), ("tune", "tune"), ("whole", None)):
        ps = [p for p in para if sel is None or half(p) == sel]
        ns = [n for n in neg if sel is None or half(n) == sel]
        out[name] = {"recall": sum(p["id"] in caught for p in ps) / len(ps),
                     "right": sum(caught.get(p["id"]) == p["task"] for p in ps) / len(ps),
                     "fp": sum(n["id"] in caught for n in ns), "negatives": len(ns)}
    return out


def with_judge(config: str, cache: str | None, para: list[dict], neg: list[dict], records: list[Record],
               exec_caught: dict[str, str]) -> None:
    """Layer 3 with the judge of CONFIG: every candidate at cosine >= 0.50 is asked once, ahead (through a run
    cache: --cache makes a rerun free); the judge threshold is the lowest that keeps the judge's false positives
    on the tune half at or under 1%; then recall and false positives on the report half, without responses
    (layers 1-3) and with them (layers 1-4)."""
    import contextlib
    import tempfile

    from wizevol.config_file import load_config
    from wizevol.filters.judge import llm_judge
    from wizevol.run_folder import RunFolder

    cfg = load_config(config)
    with contextlib.ExitStack() as stack:
        folder = cache or stack.enter_context(tempfile.TemporaryDirectory())
        role = llm_judge(RunFolder(folder), cfg, stack, lambda text: print(text, flush=True))
        probe = Contamination(embedding=True, embedding_threshold=0.5, top_k=ContaminationConfig().top_k,
                              judge=role.same_problem, judge_ahead=role.same_problem_ahead,
                              to_english=role.to_english)
        t0 = time.perf_counter()
        probe.prepare_run(records)  # translates, then asks every candidate pair at 0.50 at once
        asked_s = time.perf_counter() - t0
        grid = [round(0.5 + 0.05 * i, 2) for i in range(8)] + [0.88]
        # answers from the cache
        sweep = {t: judged(role.same_problem, t, para, neg, records, role.to_english) for t in grid}
        as_written = {t: judged(role.same_problem, t, para, neg, records) for t in grid}
    print(f"\nlayer 3 with the judge {role.model}: {probe.english_translations} instructions not in English "
          f"translated, then {probe.asked_ahead} (problem, record) pairs at cosine >= 0.50 (each problem's top "
          f"{probe.top_k}) asked at once, in {asked_s:.0f} s")
    print("  without the translation into English (other languages as written):")
    for t in (0.6, 0.65, 0.7):
        o = as_written[t]
        print(f"    judge threshold {t:.2f}: tune recall {o['tune']['recall']:.2f}, FP {o['tune']['fp']}; report recall "
              f"{o['report']['recall']:.2f}, FP {o['report']['fp']}")
    print(f"  {'judge threshold':<16}{'tune recall':>12}{'tune FP':>9}{'report recall':>15}{'report FP':>11}")
    for t, o in sweep.items():
        print(f"  {t:<16.2f}{o['tune']['recall']:>12.2f}{o['tune']['fp']:>5}/{o['tune']['negatives']:<3}"
              f"{o['report']['recall']:>15.2f}{o['report']['fp']:>7}/{o['report']['negatives']:<3}")
    chosen = next(t for t in grid if sweep[t]["tune"]["fp"] <= 0.01 * sweep[t]["tune"]["negatives"])
    print(f"judge threshold chosen on the tune half (the judge's FP <= 1% there): {chosen:.2f}")
    caught = sweep[chosen]["caught"]
    for name, sel in (("report half", "report"), ("tune half", "tune"), ("whole set", None)):
        ps = [p for p in para if sel is None or half(p) == sel]
        ns = [n for n in neg if sel is None or half(n) == sel]
        text = sum(p["id"] in caught for p in ps) / len(ps), sum(n["id"] in caught for n in ns)
        both = (sum(p["id"] in caught or exec_caught.get(p["id"]) == p["task"] for p in ps) / len(ps),
                sum(n["id"] in caught or n["id"] in exec_caught for n in ns))
        print(f"  {name:<12} instruction only (layers 1-3 + judge): recall {text[0]:.2f}, FP {text[1]}/{len(ns)}; "
              f"with responses (layers 1-4 + judge): recall {both[0]:.2f}, FP {both[1]}/{len(ns)}")
    rep = [p for p in para if half(p) == "report"]
    print("  instruction only, report half, by style: " + ", ".join(
        f"{st} {sum(p['id'] in caught for p in rep if p['style'] == st) / sum(p['style'] == st for p in rep):.2f}"
        for st in STYLES))
    for n in neg:
        if n["id"] in caught:
            print(f"  the judge's false positive {n['id']} ({half(n)}): '{n['text'][:70]}' as {caught[n['id']]}")


def execution(para, neg, tune_p, tune_n, rep_p, rep_n, text_rejected, check_s: float) -> dict[str, str]:
    """Layer 4: each item's response (data/decontam/responses.jsonl) runs against HumanEval's tests. Returns the
    items it catches at the agreement chosen on the tune half: id -> the task (a paraphrase's own)."""
    responses = {r["id"]: r["response"] for r in map(json.loads, (DATA / "responses.jsonl").read_text().splitlines())}
    layer = SolvesBenchmark(tested_problems(), check_s=check_s)
    t0 = time.perf_counter()
    solved = layer.run(((i, response_python(r)) for i, r in responses.items()), any_agreement=True)
    took = time.perf_counter() - t0
    print(f"\nexecution (layer 4, check_s {check_s}): {layer.ran} responses run against HumanEval's tests in {took:.1f} s "
          f"({layer.ran / took:.1f}/s, {os.cpu_count()} CPUs, sandbox {', '.join(layers())}), {layer.timeouts} timeouts")

    def caught(items, t):  # a paraphrase counts when its own problem is solved; a negative when any is
        return [x for x in items if any(a >= t and (task == x.get("task", task)) for _, task, a in solved.get(x["id"], []))]

    grid = [round(0.5 + 0.05 * i, 2) for i in range(11)]
    ok = [t for t in grid if len(caught(tune_n, t)) <= 0.01 * len(tune_n)]
    best = ok[0] if ok else max(grid, key=lambda t: (len(caught(tune_p, t)) / len(tune_p)
                                                      - len(caught(tune_n, t)) / len(tune_n), t))
    rule = "FP <= 1%" if ok else "no agreement keeps FP <= 1%: the best recall minus FP rate"
    print(f"agreement with the canonical solution on mutated inputs, chosen on the tune half ({rule}): {best:.2f}")
    print(f"{'layers (report half)':<34}{'recall':>8}{'FP':>10}  " + "  ".join(f"{s:>8}" for s in STYLES))
    for name, t in (("execution, tests only", 0.0), (f"execution, agreement >= {best:.2f}", best)):
        hit, fp = caught(rep_p, t), caught(rep_n, t)
        styles = "  ".join(f"{sum(p in hit for p in v) / len(v):>8.2f}"
                           for v in ([p for p in rep_p if p["style"] == s] for s in STYLES))
        print(f"{name:<34}{len(hit) / len(rep_p):>8.2f}{len(fp):>6}/{len(rep_n):<3}  {styles}")
    solved_at = {x["id"]: next(task for _, task, a in solved[x["id"]] if a >= best and task == x.get("task", task))
                 for x in caught(para + neg, best)}
    hit = {p["id"] for p in caught(para, best)} | {p["id"] for p in para if p["id"] in text_rejected}
    fps = [n for n in neg if n["id"] in text_rejected] + caught(neg, best)
    print(f"shipped text layers + execution (agreement >= {best:.2f}) on the whole set: recall "
          f"{len(hit) / len(para):.2f}, FP {len(fps)}/{len(neg)}")
    for n in caught(neg, 0.0):
        print(f"  negative {n['id']} '{n['text'][:70]}': " + ", ".join(
            f"{f}() passes {task} (agreement {a:.2f})" for f, task, a in solved[n["id"]]))
    for p in para:
        if p not in caught(para, best):
            got = solved.get(p["id"], [])
            print(f"  missed {p['id']} ({p['style']}, {p['task']}): "
                  + (", ".join(f"{task} at agreement {a:.2f}" for _, task, a in got) or "passes no problem's tests"))
    return solved_at


if __name__ == "__main__":
    main()
