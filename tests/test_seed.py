"""Bad seed input: one-line error naming file and line (exit 2), or a quarantine file with --skip-bad.
Other formats through `datasets`, with column mapping."""

from __future__ import annotations

import json
import time

import pytest
from conftest import SEED, evolve, rows, write_config
from typer.testing import CliRunner

from wizevol.cli import app

GOOD = json.dumps({"instruction": "Write a function that adds two numbers.", "input": "", "output": ""})

BAD_LINES = [
    ("malformed", b'{"instruction": "x",\n', "invalid JSON: Expecting property name enclosed in double quotes (column 21)"),
    ("missing", b'{"input": "abc"}\n', "missing field 'instruction'"),
    ("empty", b'{"instruction": "   "}\n', "field 'instruction' is empty"),
    ("not_object", b'["instruction", "x"]\n', "expected a JSON object, got list"),
    ("non_utf8", b'{"instruction": "caf\xe9 menu"}\n', "not valid UTF-8 (byte 0xe9 at column 21)"),
    ("wrong_type", b'{"instruction": 42}\n', "field 'instruction' must be a string, got int"),
]


def write_seed(tmp_path, bad: bytes, bad_line: int = 2):
    lines = [GOOD.encode() + b"\n"] * 3
    lines.insert(bad_line - 1, bad)
    p = tmp_path / "seed.jsonl"
    p.write_bytes(b"".join(lines))
    return p


@pytest.mark.parametrize("name,bad,reason", BAD_LINES, ids=[b[0] for b in BAD_LINES])
def test_bad_line_is_one_line_error_with_file_and_line(tmp_path, server, name, bad, reason):
    seed = write_seed(tmp_path, bad)
    result = evolve(tmp_path, server, "--rounds", "1", seed=seed)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: {seed}:2: {reason} (use --skip-bad to quarantine bad lines)"
    assert server.count() == 0


@pytest.mark.parametrize("name,bad,reason", BAD_LINES, ids=[b[0] for b in BAD_LINES])
def test_skip_bad_quarantines_with_reason(tmp_path, server, name, bad, reason):
    seed = write_seed(tmp_path, bad)
    result = evolve(tmp_path, server, "--rounds", "1", "--skip-bad", seed=seed)
    assert result.exit_code == 0, result.output
    (q,) = rows(tmp_path / "run" / "quarantine_seed.jsonl")
    assert (q["line"], q["reason"], q["source"]) == (2, reason, str(seed))
    assert len(rows(tmp_path / "run" / "round_0.jsonl")) == 3
    assert [r["id"] for r in rows(tmp_path / "run" / "round_0.jsonl")] == ["seed-00001", "seed-00003", "seed-00004"]


def test_bom_is_an_error_and_skip_bad_reads_past_it(tmp_path, server):
    seed = tmp_path / "seed.jsonl"
    seed.write_bytes(b"\xef\xbb\xbf" + (GOOD + "\n").encode() * 2)
    result = evolve(tmp_path, server, "--rounds", "1", seed=seed)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {seed}:1: file starts with a UTF-8 byte-order mark (BOM)")
    result = evolve(tmp_path, server, "--rounds", "1", "--skip-bad", seed=seed)
    assert result.exit_code == 0, result.output
    assert len(rows(tmp_path / "run" / "round_0.jsonl")) == 2  # nothing lost


def test_missing_seed_file(tmp_path, server):
    result = evolve(tmp_path, server, seed=tmp_path / "nope.jsonl")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: {tmp_path / 'nope.jsonl'}: seed file not found"


def test_parquet_and_csv_seeds_with_column_mapping(tmp_path, server):
    import datasets

    data = {"question": ["Write a Go HTTP server.", "Parse a CSV line in C."], "ctx": ["", "a,b,c"],
            "answer": ["package main", ""]}
    datasets.Dataset.from_dict(data).to_parquet(str(tmp_path / "seed.parquet"))
    datasets.Dataset.from_dict(data).to_csv(str(tmp_path / "seed.csv"), index=False)
    for name in ("seed.parquet", "seed.csv"):
        result = evolve(tmp_path, server, "--rounds", "1", "--instruction-field", "question", "--input-field", "ctx",
                        "--output-field", "answer", seed=tmp_path / name, out=f"run-{name}")
        assert result.exit_code == 0, result.output
        r0 = rows(tmp_path / f"run-{name}" / "round_0.jsonl")
        assert [(r["instruction"], r["input"], r["output"]) for r in r0] == [
            ("Write a Go HTTP server.", "", "package main"), ("Parse a CSV line in C.", "a,b,c", "")]
        r1 = rows(tmp_path / f"run-{name}" / "round_1.jsonl")
        assert "a,b,c" in r1[1]["instruction"] and r1[1]["input"] == ""  # input folded into the instruction


def test_missing_column_in_dataset_names_the_row(tmp_path, server):
    import datasets

    datasets.Dataset.from_dict({"question": ["x"]}).to_parquet(str(tmp_path / "seed.parquet"))
    result = evolve(tmp_path, server, "--rounds", "1", seed=tmp_path / "seed.parquet")
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"Error: {tmp_path / 'seed.parquet'}:1: missing field 'instruction' "
                                     "(use --skip-bad to quarantine bad rows)")


def test_limit_takes_the_first_n(tmp_path, server):
    result = evolve(tmp_path, server, "--rounds", "1", "--limit", "5")
    assert result.exit_code == 0, result.output
    assert len(rows(tmp_path / "run" / "round_0.jsonl")) == 5
    assert len(rows(tmp_path / "run" / "pool_1.jsonl")) == 5


def test_cli_help_lists_evolve():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0 and "evolve" in result.output


def test_a_directory_of_jsonl_files_is_read_in_name_order(tmp_path, server):
    d = tmp_path / "seeds"
    d.mkdir()
    (d / "b.jsonl").write_text(json.dumps({"instruction": "Write a function that reverses a list."}) + "\n")
    (d / "a.jsonl").write_text("\n".join(json.dumps({"instruction": f"Task {i}: add {i} to x."}) for i in (1, 2)))
    (d / "README.txt").write_text("not a seed")
    result = evolve(tmp_path, server, "--rounds", "1", seed=d)
    assert result.exit_code == 0, result.output
    seeds = rows(tmp_path / "run" / "round_0.jsonl")
    assert [(r["id"], r["instruction"][:6], r["extra"]) for r in seeds] == [
        ("seed-00001", "Task 1", {"seed_line": 1, "seed_file": "a.jsonl"}),
        ("seed-00002", "Task 2", {"seed_line": 2, "seed_file": "a.jsonl"}),
        ("seed-00003", "Write ", {"seed_line": 1, "seed_file": "b.jsonl"})]
    assert len(rows(tmp_path / "run" / "pool_1.jsonl")) == 3


def test_a_bad_line_in_a_seed_directory_names_the_file(tmp_path, server):
    d = tmp_path / "seeds"
    d.mkdir()
    (d / "a.jsonl").write_text(GOOD + "\n")
    (d / "b.jsonl").write_text(GOOD + "\n{oops\n")
    result = evolve(tmp_path, server, "--rounds", "1", seed=d)
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(f"Error: {d / 'b.jsonl'}:2: invalid JSON")


def test_a_directory_of_parquet_files_goes_through_datasets(tmp_path, server):
    import datasets

    d = tmp_path / "pq"
    d.mkdir()
    for name, n in (("part-0", 2), ("part-1", 1)):
        datasets.Dataset.from_list([{"prompt": f"{name}: write a function number {i}."} for i in range(n)]).to_parquet(
            str(d / f"{name}.parquet"))
    result = evolve(tmp_path, server, "--rounds", "1", "--instruction-field", "prompt", seed=d)
    assert result.exit_code == 0, result.output
    assert [r["instruction"][:6] for r in rows(tmp_path / "run" / "round_0.jsonl")] == ["part-0", "part-0", "part-1"]


@pytest.mark.parametrize("files,message", [
    ((), "is a directory with no seed files (.jsonl, .json, .parquet, .csv) in it"),
    (("a.jsonl", "b.csv"), "is a directory with both JSONL and .csv files; pass one file, or a directory of one format"),
], ids=["empty", "mixed"])
def test_a_directory_without_one_kind_of_seed_file_is_one_line_at_once(tmp_path, server, files, message):
    d = tmp_path / "seeds"
    d.mkdir()
    for f in files:
        (d / f).write_text(GOOD + "\n")
    t0 = time.monotonic()
    result = evolve(tmp_path, server, "--rounds", "1", seed=d)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: {d}: {message}"
    assert time.monotonic() - t0 < 10  # not a Hub lookup retried over the network
    assert server.count() == 0


@pytest.mark.parametrize("where", ["under_a_file", "under_proc"])
def test_out_that_cannot_be_created_is_one_clear_line(tmp_path, server, where):
    if where == "under_a_file":
        blocker = tmp_path / "a_file"
        blocker.write_text("x")
        out, why = blocker / "run", "Not a directory"
    else:
        out, why = "/proc/wizevol-no-such-dir/run", "No such file or directory"
    cfg = write_config(tmp_path / "cfg.yaml", server)
    result = CliRunner().invoke(app, ["evolve", "--seed", str(SEED), "--out", str(out), "--config", str(cfg)])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: {out}: cannot create the run folder here: {why}"
    assert server.count() == 0


def test_the_seeds_own_fields_travel_with_its_lineage_into_merged_data(tmp_path, server):
    seed = tmp_path / "seed.jsonl"
    seed.write_text("\n".join(json.dumps(r) for r in (
        {"id": "task-17", "instruction": "Write a function that adds two numbers.", "output": "def add(a, b): ...",
         "topic": "math", "tags": ["easy"]},
        {"instruction": "Write a function that reverses a list.", "output": "def rev(xs): ..."})) + "\n")
    result = evolve(tmp_path, server, "--rounds", "2", seed=seed)
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    by_root = {r["root_id"]: r for r in rows(run / "round_2.jsonl")}
    assert by_root["seed-00001"]["source"] == {"id": "task-17", "topic": "math", "tags": ["easy"]}
    assert "source" not in by_root["seed-00002"]  # nothing beyond the mapped fields: nothing added
    out = tmp_path / "m.jsonl"
    assert CliRunner().invoke(app, ["merge", str(run), "--out", str(out)]).exit_code == 0
    sources = [r["metadata"].get("source") for r in rows(out) if r["metadata"]["root_id"] == "seed-00001"]
    assert len(sources) == 3 and all(s["id"] == "task-17" for s in sources)
