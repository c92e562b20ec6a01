"""The decontamination evaluation set (data/decontam/): the default `wizevol filter` runs the embedding layer
and catches the paraphrases it can see, flags none of the 109 hard negatives, and says which layer matched."""

from __future__ import annotations

import json

from conftest import ROOT, rows
from test_filters import cli, make_run

from wizevol.config import ContaminationConfig
from wizevol.filters.contamination import Contamination
from wizevol.record import Record

DATA = ROOT / "data" / "decontam"


def load(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / f"{name}.jsonl").read_text().splitlines()]


def test_the_set_has_what_the_issue_asks_for():
    para, neg = load("paraphrases"), load("negatives")
    assert len(para) >= 60 and len(neg) >= 100
    assert {p["style"] for p in para} == {"renamed", "story", "language", "partial"}
    assert len({p["task"] for p in para}) == len(para) and len({n["text"] for n in neg}) == len(neg)


def test_the_default_filter_runs_the_embedding_layer_on_paraphrases_and_hard_negatives(tmp_path):
    para, neg = load("paraphrases"), load("negatives")
    default = ContaminationConfig()
    assert default.embedding is True
    # the paraphrases whose nearest HumanEval problem (by embedding) is theirs at or above the default threshold
    probe = Contamination(embedding=True)
    records = [Record(id=p["id"], instruction=p["text"]) for p in para]
    probe.prepare_run(records)
    seen = {r.id for r, p in zip(records, para, strict=True)
            if (hit := probe.nearest_embedding(r))[1] >= default.embedding_threshold and hit[0].task == p["task"]}
    assert len(seen) >= 5
    run = make_run(tmp_path, [[{"id": x["id"], "instruction": x["text"]} for x in para + neg]])
    result = cli("filter", run, "--only", "contamination")
    assert result.exit_code == 0, result.output
    rej = {r["id"]: r for r in rows(run / "filters" / "contamination" / "rejected_0.jsonl")}
    assert seen <= set(rej) and all(rej[i]["details"]["layer"] == "embedding" for i in seen)
    assert all(rej[p["id"]]["details"]["task"] == p["task"] for p in para if p["id"] in seen)
    assert [n["id"] for n in neg if n["id"] in rej] == []  # no hard negative is lost
    # layers 1-2 alone (the old default) see none of them
    (tmp_path / "lex.yaml").write_text("filters: {contamination: {embedding: false}}\n")
    (run / "filters").rename(tmp_path / "filters-default")
    lexical = cli("filter", run, "--only", "contamination", "--config", tmp_path / "lex.yaml")
    assert lexical.exit_code == 0 and rows(run / "filters" / "contamination" / "rejected_0.jsonl") == []
