"""Evolution read by hand: a sample of a run's kept records beside their parents, with what the rules for a small
evolver (evolve/small_evolver.py) say of each, and a sheet to label.

    python bench/evolution_audit.py runs/audit-seed48/run --out runs/evolution-seed48 --sample 120
    python bench/evolution_audit.py --score runs/evolution-seed48     # after labelling labels.csv

The kept records of rounds 1 and up (a fixed random sample of --sample, chosen by --seed) go to OUT/labels.csv with
their parent (instruction, input), their method and their answer's opening, and `rules`: the rules that would
eliminate the record, with their reasons, read against the parent as the chain reads them (none: empty). Fill the
columns `self_contained`, `as_hard`, `method_applied`, `language_kept` and `worth` with y or n (`worth`: a record
a model should be trained on: a self-contained task, at least as hard as its parent, its answer on topic), then
--score: the share worth training on among all labelled records (the run as it was made) and among those the
rules keep (the same records, the rules' eliminations taken out; a run made with the rules would have put the
parents back and evolved them again, which this does not model), and each rule's eliminations with how many were
labelled not worth training on (its precision) and how many its own check (method applied, language kept, self
contained, as hard) says it read right. A label already in labels.csv is kept when the audit runs again.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from dataclasses import fields, replace
from pathlib import Path

from wizevol.config import RulesConfig
from wizevol.evolve.candidate import Candidate
from wizevol.evolve.rules import small_evolver_rules
from wizevol.llm.client import Completion
from wizevol.record import Record
from wizevol.run_folder import read_jsonl

LABELS = ["self_contained", "as_hard", "method_applied", "language_kept", "worth"]
FIELDS = ["round", "id", "method", "parent", "parent_input", "instruction", "answer", "rules", *LABELS, "note"]
# which label a rule's elimination is checked against: its own claim about the record
CLAIM = {"dangling_reference": "self_contained", "method_not_applied": "method_applied",
         "language_lost": "language_kept", "easier": "as_hard", "commentary": "worth"}


def record(row: dict) -> Record:
    names = {f.name for f in fields(Record)} - {"rejection", "round"}
    return replace(Record(**{k: v for k, v in row.items() if k in names}), round=int(row.get("round", 0)))


EVERY_RULE = RulesConfig(**dict.fromkeys(CLAIM, True))  # each rule is measured, whatever its default


def verdicts(parent: Record, child: Record) -> list[tuple[str, str]]:
    """(rule, reason) of every small-evolver rule that would eliminate the child, read as the chain reads it."""
    c = Candidate(parent=parent, child=child, evolve=Completion(child.instruction, "stop"),
                  response=Completion(child.output, "stop"))
    out = []
    for stage in ("evolve", "response"):
        for rule in small_evolver_rules(EVERY_RULE, stage):
            v = rule.check(c)
            if v is not True:
                out.append((rule.name, v[1]))
    return out


def kept_rows(run: Path) -> tuple[list[dict], dict[str, dict]]:
    """The kept records of rounds 1 and up, and every record by id (parents included). A round not finished (a run
    stopped mid-way) is read from its spool: the chains that ended, kept ones and the pool's next records."""
    by_id: dict[str, dict] = {}
    for path in sorted(run.glob("round_*.jsonl")) + sorted(run.glob("pool_*.jsonl")):
        for row in read_jsonl(path):
            by_id.setdefault(row["id"], row)
    kept = []
    for k in range(1, 100):
        if (run / f"round_{k}.jsonl").exists():
            kept += read_jsonl(run / f"round_{k}.jsonl")
        elif (run / f"spool_{k}.jsonl").exists():
            for line in read_jsonl(run / f"spool_{k}.jsonl"):
                for row in (line.get("record"), line.get("next")):
                    if row:
                        by_id.setdefault(row["id"], row)
                kept += [line["record"]] if line.get("kind") == "kept" else []
    return kept, by_id


def audit(run: Path, out: Path, sample: int, seed: int) -> None:
    kept, by_id = kept_rows(run)
    chosen = sorted(random.Random(seed).sample(kept, min(sample, len(kept))), key=lambda r: (int(r["round"]), r["id"]))
    sheet = out / "labels.csv"
    was = {}
    if sheet.exists():
        with sheet.open() as f:
            was = {r["id"]: r for r in csv.DictReader(f)}
    out.mkdir(parents=True, exist_ok=True)
    with sheet.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        for row in chosen:
            parent = by_id[row["parent_id"]]
            found = verdicts(record(parent), record(row))
            old = was.get(row["id"], {})
            w.writerow({"round": row["round"], "id": row["id"], "method": row.get("method", ""),
                        "parent": parent["instruction"], "parent_input": parent.get("input", ""),
                        "instruction": row["instruction"], "answer": (row.get("output") or "")[:400],
                        "rules": "; ".join(f"{name}: {reason}" for name, reason in found),
                        **{k: old.get(k, "") for k in LABELS}, "note": old.get("note", "")})
    print(f"{run}: {len(kept)} kept records in rounds 1+ (a stopped round read from its spool), {len(chosen)} "
          f"sampled -> {sheet}")
    print(f"label {sheet} ({', '.join(LABELS)}: y / n), then: python bench/evolution_audit.py --score {out}")


def score(out: Path) -> None:
    with (out / "labels.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["worth"] in ("y", "n")]
    if not rows:
        raise SystemExit(f"Error: {out / 'labels.csv'}: no row has `worth` labelled y or n")
    worth = sum(r["worth"] == "y" for r in rows)
    on = {name for name in CLAIM if getattr(RulesConfig(), name)}
    kept = [r for r in rows if not r["rules"]]
    kept_on = [r for r in rows if not {part.split(":")[0] for part in r["rules"].split("; ") if part} & on]
    print(f"{len(rows)} labelled kept records")
    print(f"  the run as made: {worth} worth training on ({worth / len(rows):.0%})")
    for what, left in (("all five rules", kept), (f"the rules on by default ({', '.join(sorted(on))})", kept_on)):
        good = sum(r["worth"] == "y" for r in left)
        print(f"  with {what}: {len(left)} kept, {good} worth training on ({good / max(1, len(left)):.0%})")
    report = {"labelled": len(rows), "worth": worth, "kept_by_rules": len(kept),
              "worth_kept_by_rules": sum(r["worth"] == "y" for r in kept), "kept_by_default_rules": len(kept_on),
              "worth_kept_by_default_rules": sum(r["worth"] == "y" for r in kept_on), "rules": {}}
    for rule, claim in CLAIM.items():
        hit = [r for r in rows if any(part.startswith(rule + ":") for part in r["rules"].split("; "))]
        if not hit:
            continue
        not_worth = sum(r["worth"] == "n" for r in hit)
        right = sum(r[claim] == "n" for r in hit)
        print(f"  {rule}: eliminates {len(hit)}; not worth training on {not_worth} ({not_worth / len(hit):.0%}); "
              f"its claim ({claim} = n) holds for {right}")
        report["rules"][rule] = {"eliminates": len(hit), "not_worth": not_worth, "claim_holds": right}
    (out / "evolution_audit.json").write_text(json.dumps(report, indent=1) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", nargs="?", help="a run folder")
    ap.add_argument("--out", help="where labels.csv goes (default: RUN/evolution-audit)")
    ap.add_argument("--sample", type=int, default=120)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--score", metavar="OUT", help="score the labels of an audit folder")
    args = ap.parse_args()
    if args.score:
        score(Path(args.score))
    elif args.run:
        audit(Path(args.run), Path(args.out) if args.out else Path(args.run) / "evolution-audit", args.sample,
              args.seed)
    else:
        ap.print_usage(sys.stderr)
        raise SystemExit(2)


if __name__ == "__main__":
    main()
