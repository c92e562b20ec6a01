"""`wizevol merge`: round selection, exact dedup across rounds, seeded shuffle, formats, lineage, outputs."""

from __future__ import annotations

import json

import pytest
from conftest import evolve, rows, seed_instruction
from typer.testing import CliRunner

from wizevol.cli import app
from wizevol.config import EvolveConfig
from wizevol.heuristics import choose_method
from wizevol.train.formats import ALPACA_PROMPT
from wizevol.train.merge import parse_rounds

W = EvolveConfig().weights
# Seed 1's round-1 evolution comes back as another seed's instruction (one with an output and no input): a
# duplicate across lineages and rounds. Round 2 evolves that copy with its own fresh call; the seed whose text
# it copied must draw another heuristic in round 1, else the two lineages would meet again in round 2.
TWIN = next(n for n in (4, 5, 6, 12, 14, 19)
            if choose_method(W, 42, f"seed-{n:05d}", 1) != choose_method(W, 42, "seed-00001-r1", 2))


@pytest.fixture
def run(tmp_path, server):
    server.fault("text", role="evolve", match=seed_instruction(1)[:40], arg=seed_instruction(TWIN), times=1)
    # the twin is another language's seed (seed 1 asks for Python): language_lost would eliminate the copy this
    # fixture makes on purpose
    result = evolve(tmp_path, server, "--rounds", "3", config={"rules": {"language_lost": False}})
    assert result.exit_code == 0, result.output
    return tmp_path / "run"


def merge(*args):
    return CliRunner().invoke(app, ["merge", *map(str, args)])


def test_rounds_dedup_and_counts(run, tmp_path):
    out = tmp_path / "m.jsonl"
    result = merge(run, "--rounds", "0-2", "--out", out, "--format", "alpaca")
    assert result.exit_code == 0, result.output
    seeds_without_output = sum(1 for r in rows(run / "round_0.jsonl") if not r["output"].strip())
    lines = result.output.splitlines()
    assert lines[1].split() == ["0", "20", "0", str(seeds_without_output), str(20 - seeds_without_output)]
    # the seed it copied has a reference output, so seed 1's round-1 copy is the duplicate
    assert lines[2].split() == ["1", "20", "1", "0", "19"]
    # round 2 evolves that copy with a call of its own: a new text, no duplicate
    assert lines[3].split() == ["2", "20", "0", "0", "20"]
    merged = rows(out)
    assert len(merged) == 20 - seeds_without_output + 19 + 20
    assert {r["metadata"]["round"] for r in merged} == {0, 1, 2}
    keys = [(r["instruction"], r["input"]) for r in merged]
    assert len(keys) == len(set(keys))
    dup = [r for r in merged if r["instruction"] == seed_instruction(TWIN)]
    assert [d["metadata"]["id"] for d in dup] == [f"seed-{TWIN:05d}"]  # the earliest round wins
    r2 = next(r for r in merged if r["metadata"]["round"] == 2)
    assert r2["metadata"]["parent_id"].endswith("-r1") and r2["metadata"]["method"]


def test_formats(run, tmp_path):
    for fmt in ("prompt-completion", "messages"):
        assert merge(run, "--rounds", "0", "--out", tmp_path / f"{fmt}.jsonl", "--format", fmt).exit_code == 0
    pc = rows(tmp_path / "prompt-completion.jsonl")
    msgs = rows(tmp_path / "messages.jsonl")
    by_id = {r["id"]: r for r in rows(run / "round_0.jsonl")}
    for p in pc:
        seed = by_id[p["metadata"]["id"]]
        text = seed["instruction"] + (f"\n\n{seed['input']}" if seed["input"] else "")
        assert p["prompt"] == ALPACA_PROMPT.format(instruction=text)
        assert p["prompt"].startswith("Below is an instruction that describes a task.")
        assert p["prompt"].endswith("### Response:") and p["completion"] == seed["output"]
    m = msgs[0]["messages"]
    assert [x["role"] for x in m] == ["user", "assistant"]


def test_seeded_shuffle(run, tmp_path):
    ids = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        assert merge(run, "--out", tmp_path / f"{name}.jsonl", "--seed", seed).exit_code == 0
        ids[name] = [r["metadata"]["id"] for r in rows(tmp_path / f"{name}.jsonl")]
    assert ids["a"] == ids["b"] != ids["c"]
    assert sorted(ids["a"]) == sorted(ids["c"])
    assert {i.split("-r")[-1] for i in ids["a"] if "-r" in i} == {"1", "2", "3"}  # default: all rounds


def test_parquet_and_hf_dataset(run, tmp_path):
    import datasets

    result = merge(run, "--rounds", "1,3", "--out", tmp_path / "m.parquet", "--hf-dataset", tmp_path / "ds")
    assert result.exit_code == 0, result.output
    pq = datasets.load_dataset("parquet", data_files=str(tmp_path / "m.parquet"), split="train")
    disk = datasets.load_from_disk(str(tmp_path / "ds"))
    assert len(pq) == len(disk) == 40  # round 0 is not selected, so seed 1's round-1 copy stays
    assert set(pq.column_names) == {"prompt", "completion", "metadata"}
    assert {r["metadata"]["round"] for r in disk} == {1, 3}


def test_push_to_hub_offline_is_one_line(run, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_TOKEN", "hf_dummy_token_for_test")
    result = merge(run, "--out", tmp_path / "m.jsonl", "--push-to-hub", "someone/wizevol-test")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: push to the Hub (someone/wizevol-test) failed:")


def test_bad_round_spec_and_unfinished_round(run, tmp_path):
    result = merge(run, "--rounds", "0-9", "--out", tmp_path / "m.jsonl")
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: round 4 is not finished in this run folder (finished: 0, 1, 2, 3)"
    result = merge(run, "--rounds", "3-1", "--out", tmp_path / "m.jsonl")
    assert result.exit_code == 2 and "expected a range like 0-3" in result.stderr
    assert parse_rounds("0,2-3", [0, 1, 2, 3]) == [0, 2, 3]
    result = merge(tmp_path / "nope", "--out", tmp_path / "m.jsonl")
    assert result.exit_code == 2 and result.stderr.strip() == f"Error: {tmp_path / 'nope'}: run folder not found"


def test_manifest_is_not_needed_but_jsonl_is_valid(run, tmp_path):
    assert merge(run, "--out", tmp_path / "m.jsonl").exit_code == 0
    for line in (tmp_path / "m.jsonl").read_text().splitlines():
        json.loads(line)
