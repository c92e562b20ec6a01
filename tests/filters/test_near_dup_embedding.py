"""near_dup's opt-in embedding check for short reworded instructions (data/near_dup/pairs.jsonl): what word
5-grams miss, it catches at its threshold, naming the original; a record's own lineage is still never its
duplicate, and long instructions are left to MinHash."""

from __future__ import annotations

import json

from conftest import ROOT, rows
from test_filters import cli

from wizevol.filters.contamination import _embedder

PAIRS = [json.loads(line) for line in (ROOT / "data" / "near_dup" / "pairs.jsonl").read_text().splitlines()]
THRESHOLD = 0.89


def run_of(tmp_path, first: list[dict], second: list[dict]):
    run = tmp_path / "run"
    run.mkdir()
    for k, recs in enumerate((first, second)):
        (run / f"round_{k}.jsonl").write_text("".join(json.dumps({"round": k, "input": "", "output": "", **r}) + "\n"
                                                      for r in recs))
        (run / f"round_{k}.done").write_text(json.dumps({"round": k, "pool": len(recs), "kept": len(recs),
                                                          "eliminated_by_rule": {}, "failed": 0, "tokens": {}}))
    return run


def filter_with(tmp_path, run, settings: dict):
    cfg = tmp_path / "nd.yaml"
    cfg.write_text(json.dumps({"filters": {"near_dup": settings}}))
    result = cli("filter", run, "--only", "near_dup", "--config", cfg)
    assert result.exit_code == 0, result.output
    return {r["id"]: r for r in rows(run / "filters" / "near_dup" / "rejected_1.jsonl")}


def test_reworded_short_instructions_are_caught_only_by_the_embedding_check(tmp_path):
    dups = [p for p in PAIRS if p["duplicate"]]
    model = _embedder()
    a = model.encode([p["a"] for p in dups], normalize_embeddings=True)
    b = model.encode([p["b"] for p in dups], normalize_embeddings=True)
    close = {p["id"] for p, x, y in zip(dups, a, b, strict=True) if float(x @ y) >= THRESHOLD}
    assert len(close) >= 5
    first = [{"id": f"{p['id']}-a", "instruction": p["a"], "root_id": f"{p['id']}-a"} for p in dups]
    second = [{"id": f"{p['id']}-b", "instruction": p["b"], "root_id": f"{p['id']}-b"} for p in dups]
    run = run_of(tmp_path, first, second)
    assert filter_with(tmp_path, run, {}) == {}  # word 5-grams see none of the rewordings
    rej = filter_with(tmp_path, run, {"embedding_threshold": THRESHOLD})
    caught = {i.removesuffix("-b") for i in rej}
    assert close <= caught  # every pair at or above the threshold (another pair's original may be closer)
    for r in rej.values():
        assert r["reason"].startswith("near-duplicate of ") and "embedding cosine" in r["reason"]
        assert r["details"]["cosine"] >= THRESHOLD
    assert all(r["details"]["duplicate_of"].endswith("-a") for r in rej.values())  # an original of round 0
    own = sum(rej[f"{i}-b"]["details"]["duplicate_of"] == f"{i}-a" for i in close)
    assert own >= len(close) - 1  # almost always its own original, the closest one


def test_the_embedding_check_keeps_lineage_and_leaves_long_texts_to_minhash(tmp_path):
    dups = [p for p in PAIRS if p["duplicate"]]
    first = [{"id": f"{p['id']}-a", "instruction": p["a"], "root_id": p["id"]} for p in dups]
    second = [{"id": f"{p['id']}-b", "instruction": p["b"], "root_id": p["id"]} for p in dups]  # same lineage
    run = run_of(tmp_path, first, second)
    assert filter_with(tmp_path, run, {"embedding_threshold": THRESHOLD}) == {}
    (tmp_path / "apart").mkdir()
    apart = run_of(tmp_path / "apart", [{**r, "root_id": r["id"]} for r in first],
                   [{**r, "root_id": r["id"]} for r in second])
    assert filter_with(tmp_path, apart, {"embedding_threshold": THRESHOLD, "short_words": 3}) == {}  # all "long"
    assert filter_with(tmp_path, apart, {"embedding_threshold": THRESHOLD}) != {}  # the same run, short enough
