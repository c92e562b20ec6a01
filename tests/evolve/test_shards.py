"""`--shard I/N` evolves a deterministic slice of the seed in its own run folder; `wizevol merge` joins the shard
folders of one run, and the result is byte for byte what one process makes."""

from __future__ import annotations

import json

from conftest import evolve, rows
from typer.testing import CliRunner

from wizevol.cli import app

FILES = ("round", "eliminated", "failed", "pool")


def merge(*args):
    return CliRunner().invoke(app, ["merge", *map(str, args)])


def test_three_shards_merge_into_exactly_the_unsharded_run(tmp_path, server):
    assert evolve(tmp_path, server, "--rounds", "2", out="full").exit_code == 0
    for i in (2, 0, 1):  # any order, any machine
        result = evolve(tmp_path, server, "--rounds", "2", "--shard", f"{i}/3", out=f"s{i}")
        assert result.exit_code == 0, result.output
    shards = [tmp_path / f"s{i}" for i in range(3)]
    spans = [json.loads((s / "manifest.json").read_text())["shard"]["span"] for s in shards]
    assert spans == [[0, 6], [6, 13], [13, 20]]
    for k in (0, 1, 2):
        for name in FILES:
            if k == 0 and name != "round":
                continue
            joined = b"".join((s / f"{name}_{k}.jsonl").read_bytes() for s in shards)
            assert joined == (tmp_path / "full" / f"{name}_{k}.jsonl").read_bytes(), (name, k)
    assert merge(tmp_path / "full", "--out", tmp_path / "one.jsonl").exit_code == 0
    result = merge(shards[2], shards[0], shards[1], "--out", tmp_path / "sharded.jsonl")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "sharded.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes()
    assert len(rows(tmp_path / "one.jsonl")) > 20


def test_merge_refuses_shards_that_are_not_one_whole_run(tmp_path, server):
    for i in (0, 1, 2):
        assert evolve(tmp_path, server, "--rounds", "1", "--shard", f"{i}/3", out=f"s{i}").exit_code == 0
    other = evolve(tmp_path, server, "--rounds", "1", "--shard", "2/3", "--seed-rng", "7", out="other")
    assert other.exit_code == 0
    s0, s1, s2 = (tmp_path / f"s{i}" for i in range(3))
    cases = [
        ((s0, s1), "Error: shard 2/3 missing: a merge of part of a run would silently lose records"),
        ((s1,), "Error: shards 0/3, 2/3 missing: a merge of part of a run would silently lose records"),
        ((s0, s1, tmp_path / "other"), f"Error: {tmp_path / 'other'} and {s0} are not shards of one run"),
        ((s0, s0, s1, s2), f"Error: {s0} and {s0} are the same shard 0/3"),
    ]
    for folders, message in cases:
        result = merge(*folders, "--out", tmp_path / "m.jsonl")
        assert result.exit_code == 2 and result.stderr.strip().startswith(message), result.stderr
    assert not (tmp_path / "m.jsonl").exists()
    # a shard folder resumed as another shard is refused
    result = evolve(tmp_path, server, "--rounds", "1", "--shard", "1/3", out="s0")
    assert result.exit_code == 1 and "holds a run made with a different config or seed" in result.stderr
    bad = evolve(tmp_path, server, "--rounds", "1", "--shard", "3/3", out="bad")
    assert bad.exit_code == 2 and "shard 3/3: want I/N with 0 <= I < N" in bad.stderr


def test_a_shard_stamped_by_an_older_wizevol_merges_with_a_resumed_one(tmp_path, server):
    """An older wizevol stamped its shards with the fingerprint it computed (the retry settings in the config
    hash); a shard resumed since carries today's. Both are the same config: merge joins them."""
    for i in (0, 1):
        assert evolve(tmp_path, server, "--rounds", "1", "--shard", f"{i}/2", out=f"s{i}").exit_code == 0
    manifest = tmp_path / "s1" / "manifest.json"
    m = json.loads(manifest.read_text())
    assert m["fingerprint_legacy"] != m["fingerprint"]
    m["fingerprint"] = m.pop("fingerprint_legacy")  # as the older wizevol wrote it
    manifest.write_text(json.dumps(m))
    result = merge(tmp_path / "s0", tmp_path / "s1", "--out", tmp_path / "m.jsonl")
    assert result.exit_code == 0, result.stderr
    assert len(rows(tmp_path / "m.jsonl")) > 20


def test_ray_flags_that_contradict_each_other_are_one_error_line(tmp_path, server):
    """Checked before Ray is imported or a cluster started: a user learns at once, in one line."""
    for flags, said in ((["--shards", "3"], "--ray and --shards N go together"),
                        (["--ray", "--shards", "0"], "--ray and --shards N go together"),
                        (["--ray", "--shards", "2", "--shard", "0/2"], "--ray runs every shard itself: drop --shard")):
        result = evolve(tmp_path, server, "--rounds", "1", *flags, out="ray")
        assert result.exit_code != 0 and result.output.strip().splitlines()[-1] == f"Error: {said}", result.output
    assert not (tmp_path / "ray").exists()
