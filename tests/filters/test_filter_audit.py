"""bench/filter_audit.py: what each filter and rule dropped, as a share of the rows, a fixed sample of the drops to
label, labels kept across reruns, and each rule's precision from them."""

from __future__ import annotations

import csv
import json
import sys

from conftest import ROOT
from test_filters import BASE, cli, make_run

sys.path.insert(0, str(ROOT / "bench"))
import filter_audit  # noqa: E402


def test_the_audit_counts_samples_and_scores_the_labels(tmp_path):
    records = [{"id": "a", "instruction": BASE, "output": "```python\nprint(1)\n```"},
               {"id": "b", "instruction": BASE + "!", "output": "x"},
               {"id": "c", "instruction": BASE + " please", "output": "x"},
               {"id": "d", "instruction": "Add two numbers.", "output": "```python\ndef f(:\n```"},
               *({"id": f"x{i}", "instruction": f"Task {i}: " + "unrelated words " * (i + 1), "output": "ok"}
                 for i in range(6))]
    run = make_run(tmp_path, [[{**r, "root_id": r["id"]} for r in records]])
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("filters: {near_dup: {llm_judge: false}, contamination: {enabled: false}}\n")
    assert cli("filter", run, "--config", cfg).exit_code == 0
    out = tmp_path / "audit"
    out.mkdir()
    report = filter_audit.audit(run, out, sample=1, seed=0)
    assert report["rows"] == 10
    assert report["rules"] == {"code_check/syntax": {"dropped": 1, "share": 0.1, "sampled": 1},
                               "near_dup/minhash": {"dropped": 2, "share": 0.2, "sampled": 1}}
    with (out / "labels.csv").open() as f:
        sheet = list(csv.DictReader(f))
    assert [(r["filter"], r["rule"]) for r in sheet] == [("code_check", "syntax"), ("near_dup", "minhash")]
    dup = sheet[1]
    assert dup["id"] in ("b", "c") and dup["other"] == BASE and dup["reason"].startswith("near-duplicate of a")
    # a label survives a rerun; the sample is the same for the same seed
    dup["label"], sheet[0]["label"] = "right", "wrong"
    with (out / "labels.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=filter_audit.FIELDS)
        w.writeheader()
        w.writerows(sheet)
    filter_audit.audit(run, out, sample=1, seed=0)
    with (out / "labels.csv").open() as f:
        assert [r["label"] for r in csv.DictReader(f)] == ["wrong", "right"]
    scored = filter_audit.score(out)
    assert scored["rules"]["near_dup/minhash"]["precision"] == 1.0
    assert scored["rules"]["code_check/syntax"]["precision"] == 0.0
    assert scored["wrong_drops_share"] == 0.1  # code_check's one drop, labelled wrong, of 10 rows
    assert json.loads((out / "audit.json").read_text())["filters"]["near_dup"]["precision"] == 1.0
