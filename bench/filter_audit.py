"""The filters on real data: what each filter and rule drops, and how often a reader agrees.

    python bench/filter_audit.py data/audit/user_seeds.jsonl --config configs/local/qwen15.yaml --out runs/audit-user
    python bench/filter_audit.py runs/demo --out runs/audit-demo        # a run folder: its rounds, its config
    python bench/filter_audit.py --score runs/audit-user                # after labelling labels.csv

A seed file becomes round 0 of a run folder OUT/run (its rows as they are, answers included), and `wizevol filter`
runs over it with the config's filters, as a user would run it; a run folder is filtered where it is. Then for
each filter and rule (stats.json's `rejected_by_reason`): the rows it dropped, as a share of all rows, and a fixed
random sample of its drops (--sample per rule, chosen by --seed) written to OUT/labels.csv with what a reader
needs to judge it: the instruction, the reason, and the other side (the record it duplicates, the benchmark
problem it leaks). Fill the `label` column with `right` (the drop is what the filter is for: a duplicate, a
leak, broken code) or `wrong` (a row a reader keeps), then --score: each rule's precision on its labelled drops,
and the wrong drops estimated as a share of all rows (each rule's drops times its share labelled wrong). A label
already in labels.csv is kept when the audit runs again.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from wizevol.filters.base import rule_of
from wizevol.run_folder import RunFolder, read_jsonl

FIELDS = ["filter", "rule", "round", "id", "instruction", "other", "reason", "label", "note"]


def as_run(source: Path, out: Path) -> Path:
    """A run folder: the source itself, or OUT/run with the seed file's rows as round 0."""
    if source.is_dir():
        return source
    run = out / "run"
    folder = RunFolder(run)
    if not folder.finished_rounds():
        run.mkdir(parents=True, exist_ok=True)
        rows = [{"id": r.get("id") or f"s{i}", "instruction": r["instruction"], "input": r.get("input", ""),
                 "output": r.get("output", ""), "round": 0, "root_id": r.get("id") or f"s{i}"}
                for i, r in enumerate(read_jsonl(source))]
        folder.kept(0).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        folder.mark_done(0, {"round": 0, "pool": len(rows), "kept": len(rows), "eliminated_by_rule": {}, "failed": 0,
                             "tokens": {}})
    return run


def other_side(details: dict, text_of: dict[str, str]) -> str:
    """What a reader compares the dropped row with: the kept record it duplicates, or the benchmark problem."""
    if details.get("duplicate_of"):
        return text_of.get(details["duplicate_of"], details["duplicate_of"])
    if details.get("task"):
        from wizevol.filters.contamination import Contamination

        problems = getattr(other_side, "problems", None)
        if problems is None:
            flt = Contamination(embedding=False)
            problems = other_side.problems = {t.task: t.text for t in flt.texts if t.kind == "docstring"}
        return f"{details['task']}: {problems.get(details['task'], '')}"
    return ""


def audit(run: Path, out: Path, sample: int, seed: int) -> dict:
    """Counts per filter and rule, and the labelling sheet (labels already given are kept)."""
    folder = RunFolder(run)
    rows = {k: read_jsonl(folder.kept(k)) for k in folder.finished_rounds()}
    total = sum(map(len, rows.values()))
    text_of = {r["id"]: r["instruction"] for rs in rows.values() for r in rs}
    old = {}
    sheet = out / "labels.csv"
    if sheet.exists():
        with sheet.open() as f:
            old = {(r["filter"], r["id"]): r for r in csv.DictReader(f)}
    by_rule: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for stats_path in sorted((run / "filters").glob("*/stats.json")):
        name = stats_path.parent.name
        for k in rows:
            path = folder.filter_rejected(name, k)
            for r in read_jsonl(path) if path.exists() else []:
                reason, details = r.get("reason", ""), r.get("details") or {}
                by_rule[(name, rule_of(reason, details))].append({
                    "filter": name, "rule": rule_of(reason, details), "round": k, "id": r["id"],
                    "instruction": r["instruction"], "other": other_side(details, text_of), "reason": reason})
    out_rows, counts = [], {}
    for (name, rule), drops in sorted(by_rule.items()):
        chosen = sorted(random.Random(f"{seed}/{name}/{rule}").sample(drops, min(sample, len(drops))),
                        key=lambda d: (d["round"], d["id"]))
        counts[f"{name}/{rule}"] = {"dropped": len(drops), "share": round(len(drops) / total, 4),
                                    "sampled": len(chosen)}
        for d in chosen:
            was = old.get((name, d["id"]), {})
            out_rows.append({**d, "label": was.get("label", ""), "note": was.get("note", "")})
    with sheet.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(out_rows)
    report = {"run": str(run), "rows": total, "rules": counts, "sample": sample, "seed": seed}
    (out / "audit.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def score(out: Path) -> dict:
    """Each rule's precision on its labelled drops, and the wrong drops estimated as a share of all rows."""
    report = json.loads((out / "audit.json").read_text())
    with (out / "labels.csv").open() as f:
        labels = list(csv.DictReader(f))
    bad = [r for r in labels if r["label"] not in ("", "right", "wrong")]
    if bad:
        raise SystemExit(f"Error: {out / 'labels.csv'}: label {bad[0]['label']!r} (id {bad[0]['id']}): write right or "
                         "wrong")
    wrong_rows = 0.0
    by_filter: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # dropped, labelled, right
    for key, c in report["rules"].items():
        name, rule = key.split("/", 1)
        mine = [r for r in labels if r["filter"] == name and r["rule"] == rule and r["label"]]
        right = sum(r["label"] == "right" for r in mine)
        c["labelled"], c["right"] = len(mine), right
        c["precision"] = round(right / len(mine), 3) if mine else None
        if mine:
            wrong_rows += c["dropped"] * (1 - right / len(mine))
        f = by_filter[name]
        f[0] += c["dropped"]
        f[1] += len(mine)
        f[2] += right
    report["filters"] = {n: {"dropped": d, "labelled": lab, "right": r,
                             "precision": round(r / lab, 3) if lab else None} for n, (d, lab, r) in by_filter.items()}
    report["wrong_drops_share"] = round(wrong_rows / report["rows"], 4)
    (out / "audit.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def show(report: dict) -> None:
    print(f"{report['run']}: {report['rows']} rows")
    print(f"  {'filter/rule':<34}{'dropped':>8}{'share':>8}{'sampled':>9}{'labelled':>10}{'precision':>11}")
    for key, c in report["rules"].items():
        p = c.get("precision")
        print(f"  {key:<34}{c['dropped']:>8}{c['share']:>8.1%}{c['sampled']:>9}{c.get('labelled', 0):>10}"
              f"{'-' if p is None else f'{p:.2f}':>11}")
    for name, f in report.get("filters", {}).items():
        p = f["precision"]
        print(f"  {name}: {f['dropped']} dropped, {f['right']} of {f['labelled']} labelled right "
              f"({'-' if p is None else f'{p:.2f}'})")
    if "wrong_drops_share" in report:
        print(f"  wrong drops, estimated: {report['wrong_drops_share']:.1%} of the rows")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", nargs="?", help="a seed JSONL (made round 0 of OUT/run) or a run folder")
    ap.add_argument("--config", help="the run config the filters read (default: the run's own)")
    ap.add_argument("--out", help="where audit.json and labels.csv go (default: the source's folder)")
    ap.add_argument("--sample", type=int, default=30, help="drops sampled per filter and rule")
    ap.add_argument("--seed", type=int, default=0, help="the sample's seed")
    ap.add_argument("--score", metavar="OUT", help="score the labels of an audit folder")
    args = ap.parse_args()
    if args.score:
        show(score(Path(args.score)))
        return
    if not args.source:
        ap.error("a seed file or a run folder, or --score OUT")
    source = Path(args.source)
    out = Path(args.out or (source if source.is_dir() else source.parent))
    out.mkdir(parents=True, exist_ok=True)
    run = as_run(source, out)
    cmd = [sys.executable, "-m", "wizevol", "filter", str(run), *(["--config", args.config] if args.config else [])]
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    show(audit(run, out, args.sample, args.seed))
    print(f"label {out / 'labels.csv'} (right / wrong), then: python bench/filter_audit.py --score {out}")


if __name__ == "__main__":
    main()
