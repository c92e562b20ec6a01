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


def test_the_bench_measures_what_a_judge_adds():
    """bench/decontam_eval.py --judge: a perfect judge catches exactly the paraphrases whose problem is among their
    candidates and no negative; a judge that always says yes is the embedding layer alone at that threshold."""
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    import decontam_eval

    para, neg = decontam_eval.load()
    records = [Record(id=x["id"], instruction=x["text"]) for x in para + neg]
    task_of = {x["text"]: x.get("task") for x in para + neg}
    problem_of = {t.text: t.task for t in Contamination(embedding=False, execution=None).texts}

    perfect = decontam_eval.judged(lambda bench, cand: problem_of[bench] == task_of[cand], 0.5, para, neg, records)
    wide = Contamination(embedding=True, embedding_threshold=0.5)
    wide.prepare_run(records)
    lexical = {r.id for r in records if any(wide.nearest(t)[3] for t in (r.prompt_text(), r.output))}  # layers 1-2
    reach = [p for p, r in zip(para, records[:len(para)], strict=True)
             if p["id"] in lexical or p["task"] in {b.task for b, _ in wide.candidates(r)}]
    assert 0 < len(reach) < len(para)
    assert perfect["whole"] == {"recall": len(reach) / len(para), "right": len(reach) / len(para), "fp": 0,
                                "negatives": len(neg)}
    assert perfect["report"]["fp"] == perfect["tune"]["fp"] == 0

    always = decontam_eval.judged(lambda bench, cand: True, 0.5, para, neg, records)
    alone = {r.id for r in records if wide.check(r) is not True}
    assert always["whole"]["fp"] == sum(n["id"] in alone for n in neg) > 0
    assert always["whole"]["recall"] == sum(p["id"] in alone for p in para) / len(para)
    # one question per record the text layers let through with a candidate
    assert always["calls"] == len({r.id for r in records if wide.candidates(r) and r.id not in lexical})
