"""The WizardLM pool rule, lineage, accounting under faults, and the heuristic choice."""

from __future__ import annotations

import json
import random
from collections import Counter

from conftest import evolve, rows, seed_instruction

from wizevol.evolution import clean_evolved
from wizevol.heuristics import METHODS, choose_method


def test_failed_evolution_puts_the_parent_back_and_survivors_go_on(tmp_path, server):
    loser = seed_instruction(3)
    server.fault("refusal", role="respond", match=loser[:40], times=1)  # only round 1's response fails
    result = evolve(tmp_path, server, "--rounds", "2")
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    (e,) = rows(run / "eliminated_1.jsonl")
    assert (e["parent_id"], e["rule"]) == ("seed-00003", "refusal")
    pool1 = {r["id"]: r for r in rows(run / "pool_1.jsonl")}
    seed3 = rows(run / "round_0.jsonl")[2]
    assert pool1["seed-00003"] == seed3  # the parent, unchanged (input not yet folded)
    assert "seed-00004-r1" in pool1 and pool1["seed-00004-r1"]["round"] == 1  # survivor as itself
    kept2 = {r["id"]: r for r in rows(run / "round_2.jsonl")}
    assert kept2["seed-00003-r2"]["parent_id"] == "seed-00003"  # evolved again from the seed
    assert kept2["seed-00004-r2"]["parent_id"] == "seed-00004-r1"
    assert kept2["seed-00004-r2"]["instruction"].startswith(pool1["seed-00004-r1"]["instruction"])
    assert all(r["root_id"] == r["id"].split("-r")[0] for r in kept2.values())


def test_every_record_is_accounted_for_under_random_faults(tmp_path, server):
    rng = random.Random(3)
    actions = [("429", "evolve"), ("500", "respond"), ("bad_json", "judge"), ("empty", "respond"),
               ("refusal", "respond"), ("length", "evolve"), ("equal", "judge"), ("stopwords", "respond"),
               ("leak", "evolve")]
    for n in range(1, 21):
        if rng.random() < 0.7:
            action, role = rng.choice(actions)
            server.fault(action, role=role, match=seed_instruction(n)[:40], times=rng.choice([1, 2, None]),
                         arg="0" if action == "429" else None)
    result = evolve(tmp_path, server, "--rounds", "4", config={"endpoint": {"max_attempts": 2}})
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    manifest = json.loads((run / "manifest.json").read_text())
    prev_pool = [r["id"] for r in rows(run / "round_0.jsonl")]
    seen_rules = Counter()
    for k in range(1, 5):
        kept, elim, failed = (rows(run / f"{n}_{k}.jsonl") for n in ("round", "eliminated", "failed"))
        pool = rows(run / f"pool_{k}.jsonl")
        assert len(kept) + len(elim) + len(failed) == len(prev_pool) == len(pool) == 20
        parents = sorted(r["parent_id"] for r in kept + elim + failed)
        assert parents == sorted(prev_pool)  # each pool record evolved exactly once
        stats = manifest["rounds"][k]
        assert (stats["kept"], stats["eliminated"], stats["failed"]) == (len(kept), len(elim), len(failed))
        assert sum(stats["eliminated_by_rule"].values()) == len(elim)
        assert all(e["rule"] and e["reason"] for e in elim) and all(f["error"] for f in failed)
        seen_rules.update(e["rule"] for e in elim)
        prev_pool = [r["id"] for r in pool]
    assert len(seen_rules) >= 4, seen_rules
    assert sum(manifest["rounds"][k]["failed"] for k in range(1, 5)) > 0


def test_choice_is_reproducible_and_follows_weights():
    w = {"add_constraints": 1, "rare_requirement": 1, "reasoning_steps": 1, "erroneous_code": 1, "complexity": 0.5}
    picks = [choose_method(w, 42, f"seed-{i:05d}", 1) for i in range(4000)]
    assert picks == [choose_method(w, 42, f"seed-{i:05d}", 1) for i in range(4000)]
    counts = Counter(picks)
    assert set(counts) == set(METHODS)
    assert 0.08 < counts["complexity"] / 4000 < 0.14  # weight 0.5 of 4.5
    assert choose_method(w, 42, "seed-00001", 1) != choose_method(w, 42, "seed-00001", 2) or \
        choose_method(w, 42, "seed-00001", 3) != choose_method(w, 42, "seed-00001", 1)
    only = {"erroneous_code": 1.0, "complexity": 0.0}
    assert {choose_method(only, 1, f"r{i}", 1) for i in range(200)} == {"erroneous_code"}


def test_clean_evolved_strips_echoed_markers_and_headings():
    markers = ("#Given Question#", "#Rewritten Question#")
    assert clean_evolved("#Rewritten Question#:\nSort a list.", markers) == "Sort a list."
    assert clean_evolved("**Rewritten Prompt:** Sort a list.", markers) == "Sort a list."
    assert clean_evolved("## Harder question\n\nSort a list.", markers) == "Sort a list."
    assert clean_evolved("Sort a list.\n\n#Given Question#:\nsomething", markers) == "Sort a list."
    assert clean_evolved("Given question marks in a text, count them.", markers) == (
        "Given question marks in a text, count them.")
    assert clean_evolved("New task for you: keep this", markers) == "New task for you: keep this"


def test_completion_mode_sends_few_shot_prompts_to_v1_completions(tmp_path, server):
    """Base models (no chat template) get few-shot completion prompts on /v1/completions."""
    server.fault("equal", role="judge", match="Bash one-liner", times=None)
    result = evolve(tmp_path, server, "--rounds", "2", config={"evolver": {"model": "base-model", "mode": "completion"}})
    assert result.exit_code == 0, result.output
    assert server.count() == 2 * (20 + 20) + 2 * 19  # judge eliminates one lineage per round before responding
    assert {c.path for c in server.calls} == {"/v1/completions"}
    evolve_prompt = next(c.text for c in server.calls if c.role == "evolve")
    assert evolve_prompt.endswith("### Harder question:") and evolve_prompt.count("### Method:") == 4
    kept = rows(tmp_path / "run" / "round_1.jsonl")
    assert len(kept) == 19
    assert kept[0]["instruction"].startswith("Write a Python function that returns the n-th Fibonacci number")
    (e,) = rows(tmp_path / "run" / "eliminated_1.jsonl")
    assert e["rule"] == "no_gain"
