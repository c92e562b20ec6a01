"""bench/evolution_audit.py: a run's kept records beside their parents with what the small evolver's rules say of
each, a sheet to label, labels kept across reruns, a stopped round read from its spool, and the scores."""

from __future__ import annotations

import csv
import json
import sys

from conftest import ROOT, evolve, rows, seed_instruction

sys.path.insert(0, str(ROOT / "bench"))
import evolution_audit  # noqa: E402


def test_the_sheet_shows_parents_and_the_rules_and_the_score_reads_the_labels(tmp_path, server, capsys):
    target = seed_instruction(4)
    server.fault("text", role="evolve", match=target[:40],
                 arg=f"#Rewritten Question#:\n{target} The difficulty has been increased by adding a constraint.")
    assert evolve(tmp_path, server, "--rounds", "1", "--limit", "6", config={"rules": {"commentary": False}}
                  ).exit_code == 0  # a run made without the rule: its child was kept
    run, out = tmp_path / "run", tmp_path / "audit"
    evolution_audit.audit(run, out, sample=100, seed=0)
    with (out / "labels.csv").open() as f:
        sheet = list(csv.DictReader(f))
    kept = rows(run / "round_1.jsonl")
    assert sorted(r["id"] for r in sheet) == sorted(r["id"] for r in kept)
    flagged = {r["id"]: r["rules"] for r in sheet if r["rules"]}
    assert flagged == {"seed-00004-r1": "commentary: instruction holds the evolver's commentary on its rewrite: "
                                        "'The difficulty has been increased'"}
    row = next(r for r in sheet if r["id"] == "seed-00004-r1")
    assert row["parent"] == target and row["method"]
    for r in sheet:  # every record worth training on but the one with the commentary
        r.update(self_contained="y", as_hard="y", method_applied="y", language_kept="y",
                 worth="n" if r["rules"] else "y")
    with (out / "labels.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(sheet[0]))
        w.writeheader()
        w.writerows(sheet)
    evolution_audit.audit(run, out, sample=100, seed=0)  # a rerun keeps the labels
    evolution_audit.score(out)
    said = capsys.readouterr().out
    n = len(kept)
    assert f"the run as made: {n - 1} worth training on ({(n - 1) / n:.0%})" in said
    assert f"with all five rules: {n - 1} kept, {n - 1} worth training on (100%)" in said
    report = json.loads((out / "evolution_audit.json").read_text())
    assert report["rules"] == {"commentary": {"eliminates": 1, "not_worth": 1, "claim_holds": 1}}


def test_a_stopped_round_is_read_from_its_spool(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    seed = {"id": "s1", "root_id": "s1", "instruction": "Sort a list.", "round": 0}
    child = {"id": "s1-r1", "root_id": "s1", "parent_id": "s1", "instruction": "Sort a list in place.", "round": 1,
             "method": "add_constraints", "output": "ok"}
    (run / "round_0.jsonl").write_text(json.dumps(seed) + "\n")
    (run / "spool_1.jsonl").write_text(json.dumps({"i": 0, "kind": "kept", "record": child, "next": child}) + "\n")
    kept, by_id = evolution_audit.kept_rows(run)
    assert kept == [child] and by_id["s1"] == seed
