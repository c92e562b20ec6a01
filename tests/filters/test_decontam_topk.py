"""The embedding layer runs the paper's way round (WizardCoder v2, Appendix C): each benchmark problem queries the
whole run for its top_k nearest records; those at or above the threshold are rejected, or go to the judge."""

from __future__ import annotations

import pytest
from conftest import SEED, rows
from test_filters import cli, make_run

from wizevol.filters.contamination import Contamination
from wizevol.record import Record

PRIME = "Return true if a number is prime and false otherwise."  # a paraphrase of HumanEval/31 (cosine 0.98)
COPIES = [PRIME, "Task: " + PRIME, "Please: " + PRIME, PRIME + " Use Python.", "Check: " + PRIME,
          "Write a function. " + PRIME, "Given an integer, " + PRIME.lower()]


def test_each_problem_picks_its_top_k_records_over_the_whole_run(tmp_path):
    clean = [{"id": f"c{i}", "instruction": r["instruction"]} for i, r in enumerate(rows(SEED))]
    copies = [{"id": f"p{i}", "instruction": t} for i, t in enumerate(COPIES)]
    # three copies in round 0 and four in round 1: a top-5 per round would take all seven
    run = make_run(tmp_path, [copies[:3] + clean[:10], copies[3:] + clean[10:]])
    probe = Contamination(embedding=True)
    probe.prepare_run([Record(id=c["id"], instruction=c["instruction"]) for c in copies])
    cos = {c["id"]: probe.nearest_embedding(Record(id=c["id"], instruction=c["instruction"])) for c in copies}
    assert all(b.task == "HumanEval/31" and s >= probe.embedding_threshold for b, s in cos.values())
    top5 = set(sorted(cos, key=lambda i: -cos[i][1])[:5])

    result = cli("filter", run, "--only", "contamination")
    assert result.exit_code == 0, result.output
    rej = {r["id"]: r for k in (0, 1) for r in rows(run / "filters" / "contamination" / f"rejected_{k}.jsonl")}
    assert set(rej) == top5  # the two farther copies are above the threshold too, but not among HumanEval/31's 5
    assert {(r["details"]["task"], r["details"]["layer"]) for r in rej.values()} == {("HumanEval/31", "embedding")}
    assert all(abs(r["details"]["cosine"] - round(cos[i][1], 3)) < 1e-3 for i, r in rej.items())

    (tmp_path / "all.yaml").write_text("filters: {contamination: {top_k: 0}}\n")
    result = cli("filter", run, "--only", "contamination", "--config", tmp_path / "all.yaml")
    assert result.exit_code == 0, result.output  # a new setting: the filter runs again
    rej = {r["id"] for k in (0, 1) for r in rows(run / "filters" / "contamination" / f"rejected_{k}.jsonl")}
    assert rej == {c["id"] for c in copies}


@pytest.mark.slow
def test_the_judge_sees_only_each_problems_top_k_and_can_name_a_second_problem():
    records = [Record(id=f"c{i}", instruction=r["instruction"]) for i, r in enumerate(rows(SEED))]
    records += [Record(id=f"p{i}", instruction=t) for i, t in enumerate(COPIES)]
    asked: list[tuple[str, str]] = []
    problem_of = {}

    def judge(benchmark: str, candidate: str) -> bool:
        asked.append((benchmark, candidate))
        return problem_of[benchmark] != "HumanEval/31" and candidate == COPIES[0]  # "no" for the nearest one

    detector = Contamination(embedding=True, embedding_threshold=0.5, judge=judge, top_k=2)
    problem_of.update({t.text: t.task for t in detector.texts})
    detector.prepare_run(records)
    verdicts = {r.id: detector.check(r) for r in records}
    pairs = {(t.task, r.id) for r in records for t, _ in detector.candidates(r)}
    by_task: dict[str, int] = {}
    for task, _ in pairs:
        by_task[task] = by_task.get(task, 0) + 1
    assert pairs and max(by_task.values()) <= 2  # no problem has more than top_k candidates
    assert len(asked) <= len(pairs)
    chose = [t.task for t, _ in detector.candidates(records[-len(COPIES)])]  # the problems that chose p0
    assert chose[0] == "HumanEval/31" and len(chose) >= 2  # other prime problems are above 0.5 too
    rejected = {i: v for i, v in verdicts.items() if v is not True}
    # the judge said no to HumanEval/31, so the next problem that chose p0 was asked, and it said yes
    assert set(rejected) == {"p0"} and rejected["p0"][2]["task"] == chose[1]
    assert rejected["p0"][2]["layer"] == "embedding+judge"

    # asked ahead: every candidate pair at once, before any check; the same verdicts, and check() asks nothing new
    ahead: list[tuple[str, str]] = []
    again = Contamination(embedding=True, embedding_threshold=0.5, judge=judge, top_k=2,
                          judge_ahead=lambda pairs, done: ahead.extend(pairs))
    asked.clear()
    again.prepare_run(records)
    assert {(problem_of[b], next(r.id for r in records if r.prompt_text() == c)) for b, c in ahead} == pairs
    assert len(ahead) == len(pairs) and asked == []
    assert {r.id: again.check(r) for r in records} == verdicts
    assert set(asked) <= set(ahead) and again.report()["judge_asked_ahead"] == len(pairs)

    wide = Contamination(embedding=True, embedding_threshold=0.5, judge=lambda b, c: asked.append(("", c)) or False,
                         top_k=0)
    before = len(asked)
    wide.prepare_run(records)
    assert all(wide.check(r) is True for r in records)
    assert len(asked) - before > len(pairs)  # record-wise, every record above 0.5 costs a judge call


def test_embedding_device_cuda_without_a_gpu_is_one_error_line(tmp_path):
    import torch

    if torch.cuda.is_available():
        import pytest

        pytest.skip("this machine has a GPU")
    run = make_run(tmp_path, [[{"id": "p0", "instruction": PRIME}]])
    (tmp_path / "cuda.yaml").write_text("filters: {embedding_device: cuda}\n")
    result = cli("filter", run, "--only", "contamination", "--config", tmp_path / "cuda.yaml")
    assert result.exit_code == 2  # an input error
    assert result.output.strip().splitlines()[-1] == (
        "Error: filters.embedding_device is cuda, but torch sees no CUDA device here")
    assert not (run / "filters" / "contamination" / "rejected_0.jsonl").exists()
    (tmp_path / "cpu.yaml").write_text("filters: {embedding_device: cpu}\n")
    result = cli("filter", run, "--only", "contamination", "--config", tmp_path / "cpu.yaml")
    assert result.exit_code == 0, result.output  # auto and cpu encode on the CPU here
    assert [r["details"]["task"] for r in rows(run / "filters" / "contamination" / "rejected_0.jsonl")] == ["HumanEval/31"]
