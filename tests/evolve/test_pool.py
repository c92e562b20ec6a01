"""The WizardLM pool rule, lineage, accounting under faults, and the heuristic choice."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest
from conftest import evolve, rows, seed_instruction

from wizevol.config import EvolveConfig
from wizevol.evolve.chain import clean_evolved
from wizevol.heuristics import METHODS, choose_method

WEIGHTS = EvolveConfig().weights


def repeating_seed(exclude: tuple[int, ...] = ()) -> tuple[int, int]:
    """(seed_rng, n): a seed line whose heuristic is the same in rounds 1 and 2 when its parent is put back,
    so round 2's evolve request is byte for byte round 1's. Found here, not hoped for."""
    for rng in range(42, 142):
        for n in range(1, 21):
            rid = f"seed-{n:05d}"
            if n not in exclude and choose_method(WEIGHTS, rng, rid, 1) == choose_method(WEIGHTS, rng, rid, 2):
                return rng, n
    raise AssertionError("no seed repeats its heuristic")


def test_failed_evolution_puts_the_parent_back_and_survivors_go_on(tmp_path, server):
    rng, n = repeating_seed(exclude=(4,))
    loser, loser_id = seed_instruction(n), f"seed-{n:05d}"
    server.fault("refusal", role="respond", match=loser[:40], times=1)  # only round 1's response fails
    result = evolve(tmp_path, server, "--rounds", "2", "--seed-rng", str(rng))
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    (e,) = rows(run / "eliminated_1.jsonl")
    assert (e["parent_id"], e["rule"]) == (loser_id, "refusal")
    pool1 = {r["id"]: r for r in rows(run / "pool_1.jsonl")}
    seed_row = rows(run / "round_0.jsonl")[n - 1]
    assert pool1[loser_id] == seed_row  # the parent, unchanged (input not yet folded)
    assert "seed-00004-r1" in pool1 and pool1["seed-00004-r1"]["round"] == 1  # survivor as itself
    kept2 = {r["id"]: r for r in rows(run / "round_2.jsonl")}
    # evolved again from the seed with the same heuristic: a fresh evolve and a fresh response, now kept
    assert kept2[f"{loser_id}-r2"]["parent_id"] == loser_id
    assert kept2[f"{loser_id}-r2"]["method"] == e["method"]
    assert kept2["seed-00004-r2"]["parent_id"] == "seed-00004-r1"
    assert kept2["seed-00004-r2"]["instruction"].startswith(pool1["seed-00004-r1"]["instruction"])
    assert all(r["root_id"] == r["id"].split("-r")[0] for r in kept2.values())


def test_put_back_parent_gets_a_fresh_sample_with_the_same_heuristic(tmp_path, server):
    """The pool rule's retry is a retry: same request bytes, a new call, and a new child can be kept."""
    rng, n = repeating_seed()
    target, parent_id = seed_instruction(n), f"seed-{n:05d}"
    server.fault("leak", role="evolve", match=target[:40], times=1)  # round 1's evolution leaks the prompt
    result = evolve(tmp_path, server, "--rounds", "3", "--seed-rng", str(rng))
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    (e,) = rows(run / "eliminated_1.jsonl")
    assert (e["parent_id"], e["rule"]) == (parent_id, "prompt_leak")
    asked = [c for c in server.calls if c.role == "evolve" and target[:40] in c.text]
    assert len(asked) == 3  # rounds 1, 2 and 3 each sent their own evolve call
    assert asked[0].text == asked[1].text  # round 2 sent the very request of round 1, and the server was asked
    (child,) = [r for r in rows(run / "round_2.jsonl") if r["root_id"] == parent_id]
    assert (child["id"], child["parent_id"], child["method"]) == (f"{parent_id}-r2", parent_id, e["method"])
    assert "rewritten prompt" not in child["instruction"].lower()
    # a rerun replays exactly the calls it made: no new call, the same files
    before = {p.name: p.read_bytes() for p in run.glob("*_?.jsonl")}
    calls = server.count()
    assert evolve(tmp_path, server, "--rounds", "3", "--seed-rng", str(rng)).exit_code == 0
    assert server.count() == calls
    assert {p.name: p.read_bytes() for p in run.glob("*_?.jsonl")} == before


def test_identical_requests_of_two_lineages_are_two_samples(tmp_path, server):
    """Two seeds with the same text and the same heuristic are asked separately, not served one shared answer."""
    text = "Write a Python function that returns the median of a list of numbers."
    seed = tmp_path / "twins.jsonl"
    seed.write_text("\n".join(json.dumps({"instruction": text}) for _ in range(2)) + "\n")
    rng = next(r for r in range(42, 142)
               if choose_method(WEIGHTS, r, "seed-00001", 1) == choose_method(WEIGHTS, r, "seed-00002", 1))
    server.latency = 0.05  # both requests are on the wire at once
    result = evolve(tmp_path, server, "--rounds", "1", "--seed-rng", str(rng), seed=seed)
    assert result.exit_code == 0, result.output
    for role in ("evolve", "judge", "respond"):
        asked = [c.text for c in server.calls if c.role == role]
        assert len(asked) == 2 and asked[0] == asked[1], role


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


def test_clean_evolved_strips_only_an_opening_heading_and_says_what():
    headings = ("#Rewritten Question#", "### Harder question:")
    assert clean_evolved("#Rewritten Question#:\nSort a list.", headings) == ("Sort a list.", "#Rewritten Question#:")
    assert clean_evolved("**Rewritten Prompt:** Sort a list.", headings) == ("Sort a list.", "**Rewritten Prompt:**")
    assert clean_evolved("## Harder question\n\nSort a list.", headings) == ("Sort a list.", "## Harder question")
    assert clean_evolved("#Rewritten Question#:\n**Rewritten prompt:** Sort.", headings) == (
        "Sort.", "#Rewritten Question#:\n**Rewritten prompt:**")
    # nothing after the opening is cut: a marker later on is for prompt_leak to see
    assert clean_evolved("Sort a list.\n\n#Given Question#:\nsomething", headings) == (
        "Sort a list.\n\n#Given Question#:\nsomething", "")
    # an echoed "Given Question" block is the parent, not a heading: it stays
    assert clean_evolved("#Given Question#:\nSort.\n#Rewritten Question#:\nSort fast.", headings)[0].startswith(
        "#Given Question#")
    assert clean_evolved("Given question marks in a text, count them.", headings) == (
        "Given question marks in a text, count them.", "")
    assert clean_evolved("New task for you: keep this", headings) == ("New task for you: keep this", "")


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


def test_writing_a_round_does_not_stall_the_calls_in_flight(tmp_path, server, monkeypatch):
    """A round's files are written in a thread: while round 1's (made slow here, as a 10M-record round is) are
    written, round 2's calls go on; written in the event loop, no call went out until it was done."""
    import threading
    import time

    from wizevol.evolve import run as evolve_run

    real = evolve_run._write_round
    window: dict[int, tuple[float, float]] = {}

    def slow_write(folder, k, outcomes, usage, took):
        start = time.time()
        outcomes = list(outcomes)
        if k == 1:
            deadline = start + 1.5
            while time.time() < deadline:
                threading.Event().wait(0.01)  # the write of a large round, holding whatever thread runs it
        window[k] = (start, time.time())
        return real(folder, k, iter(outcomes), usage, took)

    monkeypatch.setattr(evolve_run, "_write_round", slow_write)
    server.latency = 0.05
    result = evolve(tmp_path, server, "--rounds", "2")
    assert result.exit_code == 0, result.output
    start, end = window[1]
    during = [c for c in server.calls if start < c.wall < end]
    assert len(during) >= 10, f"{len(during)} calls arrived while round 1 was written"
    assert all(len(rows(tmp_path / "run" / f"round_{k}.jsonl")) + len(rows(tmp_path / "run" / f"eliminated_{k}.jsonl"))
               + len(rows(tmp_path / "run" / f"failed_{k}.jsonl")) == 20 for k in (1, 2))


def test_later_round_jobs_waiting_stay_few_whatever_the_pool_size(tmp_path, monkeypatch):
    """The scheduler reads the source only while few later-round jobs wait (4 x concurrency): the jobs waiting stay
    bounded at 20,000 records (reading the whole source first left one waiting job per record, about 128 bytes
    each: 1.3 GB at 10M). Every round still gets every record, in pool order."""
    import asyncio
    from collections import deque
    from types import SimpleNamespace

    from wizevol.evolve import scheduler
    from wizevol.evolve.chain import Outcome
    from wizevol.record import Record

    most = [0]
    queues: list = []

    class Counted(deque):
        def append(self, item):
            super().append(item)
            most[0] = max(most[0], sum(len(q) for q in queues))

    def counted(*args):
        q = Counted(*args)
        queues.append(q)
        return q

    async def instant(record, k, ctx):
        await asyncio.sleep(0)
        return Outcome("kept", record, record, False)

    monkeypatch.setattr(scheduler, "deque", counted)
    monkeypatch.setattr(scheduler, "evolve_one", instant)
    n, written = 20_000, {}
    pool = (Record(id=f"r{i}", instruction=f"task {i}") for i in range(n))
    ctx = SimpleNamespace(cfg=SimpleNamespace(concurrency=8))
    asyncio.run(scheduler.run_rounds(pool, n, 1, 3, ctx, lambda k, outs: written.update({k: [o.record.id for o in outs]}),
                                     tmp_path))
    assert most[0] <= 4 * 8 + 8, f"{most[0]} later-round jobs waited at once"
    assert all(written[k] == [f"r{i}" for i in range(n)] for k in (1, 2, 3))


@pytest.mark.slow
def test_the_scheduler_holds_nothing_per_record(tmp_path, monkeypatch):
    """Where each outcome sits in its spool is kept on disk (spool_K.offsets), not in memory: the scheduler's traced
    peak over 3 rounds grows by less than 100 KB from 3,000 to 30,000 records. (Offsets held in arrays, 8 bytes a
    record and round plus the copy `ordered` made, grew it by about 1.7 MB from 6,000 to 60,000.) Every round still
    reads back in pool order."""
    import asyncio
    import tracemalloc
    from types import SimpleNamespace

    from wizevol.evolve import scheduler
    from wizevol.evolve.chain import Outcome
    from wizevol.record import Record

    async def instant(record, k, ctx):
        await asyncio.sleep(0)
        return Outcome("kept", record, record, False)

    monkeypatch.setattr(scheduler, "evolve_one", instant)

    def peak(n: int) -> int:
        seen: dict[int, int] = {}

        def finish(k, outcomes):
            for i, o in enumerate(outcomes):
                assert o.record.id == f"r{i}", (k, i, o.record.id)
                seen[k] = i + 1

        pool = (Record(id=f"r{i}", instruction=f"task {i}") for i in range(n))
        folder = tmp_path / str(n)
        folder.mkdir()
        tracemalloc.start()
        try:
            asyncio.run(scheduler.run_rounds(pool, n, 1, 3, SimpleNamespace(cfg=SimpleNamespace(concurrency=8)),
                                             finish, folder))
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            assert seen == {1: n, 2: n, 3: n}
            assert not list(folder.iterdir()), "the spools and their offsets are removed once the rounds are written"

    small, large = peak(3_000), peak(30_000)
    assert large - small < 100_000, f"peak {small:,} B at 3,000 records, {large:,} B at 30,000"
