"""The dev set Evol Stop decides on (`wizevol-dev`): problems in HumanEval's shape whose tests hold their
canonical solutions and refuse wrong ones, and which the contamination filter finds apart from HumanEval."""

from __future__ import annotations

import pytest

from wizevol.eval.benchmark import DEV_SET, load_benchmark
from wizevol.eval.execute import execute_all
from wizevol.filters.contamination import Contamination
from wizevol.record import Record

NAME, DEV = load_benchmark(DEV_SET)


def test_the_dev_set_loads_by_name_with_unique_tasks():
    assert NAME == "wizevol-dev" and len(DEV) >= 40
    assert len({p.task_id for p in DEV}) == len(DEV) and len({p.entry_point for p in DEV}) == len(DEV)
    assert all(p.canonical_solution and "def check(candidate)" in p.test for p in DEV)


def test_every_canonical_solution_passes_and_wrong_ones_fail_in_the_sandbox():
    good = execute_all([(p, p.canonical_solution) for p in DEV], workers=2)
    assert [(p.task_id, r.status, r.error) for p, r in zip(DEV, good, strict=True) if r.status != "passed"] == []
    # a test that a stub passes would not measure anything: each of these must fail every problem
    for stub in ("    return None\n", "    raise NotImplementedError\n", "    return args\n"):
        bad = execute_all([(p, stub) for p in DEV], workers=2)
        assert [p.task_id for p, r in zip(DEV, bad, strict=True) if r.status == "passed"] == [], stub


@pytest.mark.slow
def test_the_contamination_filter_finds_no_humaneval_problem_in_the_dev_set():
    detector = Contamination(embedding=True)
    records = [Record(id=p.task_id, instruction=p.prompt, output=p.canonical_solution) for p in DEV]
    humaneval = load_benchmark("humaneval", limit=3)[1]
    planted = [Record(id=p.task_id, instruction=p.prompt, output="") for p in humaneval]
    detector.prepare_run(records + planted)
    verdicts = {r.id: detector.check(r) for r in records + planted}
    assert {k: v for k, v in verdicts.items() if k.startswith("WizevolDev") and v is not True} == {}
    assert all(verdicts[p.id] is not True for p in planted)  # the same check does catch HumanEval's own prompts
    closest = max(detector.nearest_embedding(r)[1] for r in records)
    assert closest < detector.embedding_threshold
