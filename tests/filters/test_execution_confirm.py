"""Contamination layer 4's second signal: a response that passes a HumanEval problem's tests drops its record only
where the instruction asks for that problem's task too. A quick sort that drops duplicates computes HumanEval/34
(`unique`: sorted unique elements) and passes its tests, whatever the task that asked for it."""

from __future__ import annotations

import json

from conftest import rows
from test_filters import cli, make_run

QUICK = ("```python\ndef quick_sort(arr):\n    if len(arr) <= 1:\n        return arr\n    pivot = arr[0]\n"
         "    return quick_sort([x for x in arr if x < pivot]) + [pivot] + quick_sort([x for x in arr if x > pivot])\n```")
SORT = "Implement the quick sort algorithm in Python."  # its answer happens to drop duplicates
UNIQUE = "Return the sorted unique elements of a list."  # HumanEval/34's own task


def _run(tmp_path, server, extra: str = ""):
    run = make_run(tmp_path, [[{"id": "sort", "instruction": SORT, "output": QUICK},
                               {"id": "unique", "instruction": UNIQUE, "output": QUICK.replace("quick_sort", "uniq")}]])
    cfg = tmp_path / "judge.yaml"
    cfg.write_text(f"backend: api\nendpoint: {{base_url: '{server.url}', max_attempts: 1}}\n"
                   "evolver: {model: judge-model}\n"
                   "filters: {contamination: {embedding: false, allow_weak_sandbox: true" + extra + "}}\n")
    # the judge: UNIQUE is HumanEval/34's task (in either order); the quick sort's task is not (its default answer)
    server.fault("text", role="near_dup_judge", match=UNIQUE, arg="Same", times=None)
    return run, cfg


def test_a_solution_under_an_unrelated_task_is_kept_and_listed_and_under_its_own_task_dropped(tmp_path, server):
    run, cfg = _run(tmp_path, server)
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0, result.output
    (rej,) = rows(run / "filters" / "contamination" / "rejected_0.jsonl")
    assert rej["id"] == "unique"
    assert rej["reason"] == "execution: the response's uniq() passes the tests of HumanEval/34"
    assert rej["details"]["confirmed_by"] == "judge" and rej["details"]["task_p_same"] == [1.0]  # either order
    (kept,) = rows(run / "filters" / "contamination" / "results_0.jsonl")
    assert kept["id"] == "sort" and kept["function"] == "quick_sort"
    assert kept["kept"].startswith("execution hit: the instruction is not the problem's task")
    (check,) = kept["checks"]
    assert check["task"] == "HumanEval/34" and check["task_p_same"] == [0.0, 0.0]  # Different both ways
    stats = json.loads((run / "filters" / "contamination" / "stats.json").read_text())
    assert stats["execution"]["confirmed"] == 1 and stats["execution"]["unconfirmed"] == 1
    assert stats["rejected_by_task"] == {"HumanEval/34": 1}
    assert stats["rounds"]["0"]["rejected_by_reason"] == {"execution": 1}
    assert stats["settings"]["execution_confirm"] == {"judge": "P(same) >= 0.45 in either order", "cosine": None}


def test_without_a_second_signal_layer_4_stands_alone(tmp_path, server):
    """execution_min_same: null (and no cosine): every response that passes a problem's tests is dropped, as
    before the second signal, and nothing is listed as kept."""
    run, cfg = _run(tmp_path, server, ", execution_min_same: null")
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0, result.output
    assert {r["id"] for r in rows(run / "filters" / "contamination" / "rejected_0.jsonl")} == {"sort", "unique"}
    assert not (run / "filters" / "contamination" / "results_0.jsonl").exists()
    assert "confirmed" not in json.loads((run / "filters" / "contamination" / "stats.json").read_text())["execution"]


def test_a_problem_that_many_records_leak_is_said_on_the_console(tmp_path, server):
    """Hits are counted per benchmark problem in the stats; one that three or more records leak is named."""
    records = [{"id": f"u{i}", "instruction": f"{UNIQUE} Version {i}.", "output": QUICK.replace("quick_sort", f"u{i}")}
               for i in range(3)]
    run = make_run(tmp_path, [records])
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("filters: {contamination: {embedding: false, allow_weak_sandbox: true, llm_judge: false, "
                   "translate: false}}\n")
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0, result.output
    stats = json.loads((run / "filters" / "contamination" / "stats.json").read_text())
    assert stats["rejected_by_task"] == {"HumanEval/34": 3}
    assert "execution 3 (100.0%)" in result.output
    assert ("HumanEval/34 3 records each: a textbook task several records ask for; read their reasons in the "
            "rejects") in result.output
