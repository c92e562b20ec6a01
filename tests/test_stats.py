"""`wizevol stats`: similarity to HumanEval by embeddings (the paper's §5) or by n-gram coverage, named in the
output; the opt-in complexity score through the judge role, cached, with unparsable answers counted."""

from __future__ import annotations

import json

from conftest import evolve, rows
from typer.testing import CliRunner

from wizevol.cli import app
from wizevol.stats import parse_complexity

# two rewordings of HumanEval/0 and /2 that share no 10-gram with them, and two unrelated tasks
PARAPHRASES = ["Given some floating point values and a limit, decide whether two of them lie closer together than "
               "that limit.",
               "For a positive float, give back only its fractional part, i.e. what is left after removing the "
               "integer part."]
CLEAN = ["Write a SQL query that lists every customer's total spend.", "Explain what a Dockerfile's EXPOSE does."]


def stats(run, *args):
    return CliRunner().invoke(app, ["stats", str(run), "--no-plots", *args])


def test_embedding_similarity_sees_a_rewording_that_ngrams_miss_and_says_which_it_shows(tmp_path, server):
    seed = tmp_path / "seed.jsonl"
    seed.write_text("".join(json.dumps({"instruction": t, "output": "ok"}) + "\n" for t in PARAPHRASES + CLEAN))
    assert evolve(tmp_path, server, "--rounds", "0", seed=seed).exit_code == 0
    by_emb = stats(tmp_path / "run")
    assert by_emb.exit_code == 0, by_emb.output
    emb = json.loads((tmp_path / "run" / "stats.json").read_text())
    by_ngram = stats(tmp_path / "run", "--similarity", "ngram")
    ngram = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert emb["similarity"].startswith("cosine of all-MiniLM-L6-v2") and ngram["similarity"].startswith("share of")
    assert emb["similarity"] in by_emb.output and ngram["similarity"] in by_ngram.output
    assert emb["rounds"]["0"]["humaneval_similarity"]["max"] > 0.7 > ngram["rounds"]["0"]["humaneval_similarity"]["max"]
    bad = stats(tmp_path / "run", "--similarity", "cosine")
    assert bad.exit_code == 2 and bad.stderr.strip() == "Error: --similarity 'cosine': choose embedding or ngram"


def test_complexity_through_the_judge_role_is_cached_and_counts_what_it_cannot_read(tmp_path, server):
    assert evolve(tmp_path, server, "--rounds", "1", "--limit", "4").exit_code == 0
    odd = rows(tmp_path / "run" / "round_1.jsonl")[0]["instruction"]  # its parent is only a prefix of it
    server.fault("text", match=odd, arg="quite hard", times=None)  # that round-1 instruction gets no number
    server.fault("text", match="Rate how difficult", arg="7/10", times=None)
    before = len(server.calls)
    result = stats(tmp_path / "run", "--complexity")
    assert result.exit_code == 0, result.output
    rated = [c for c in server.calls[before:]]
    assert len(rated) == 8 and all(c.role == "complexity" and "Rate how difficult" in c.text for c in rated)
    s = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert s["rounds"]["0"]["complexity"] == {"n": 4, "mean": 7, "median": 7, "p10": 7, "p90": 7, "max": 7,
                                              "unparsed": 0}
    assert s["rounds"]["1"]["complexity"]["n"] == 3 and s["rounds"]["1"]["complexity"]["unparsed"] == 1
    assert "complexity" in result.output.splitlines()[0].split()
    again = stats(tmp_path / "run", "--complexity")
    assert again.exit_code == 0 and len(server.calls) == before + 8  # read back from the run's cache
    plain = stats(tmp_path / "run")
    assert "complexity" not in plain.output.splitlines()[0] and len(server.calls) == before + 8


def test_parse_complexity():
    cases = {"7": 7, "10": 10, "Complexity: 8": 8, " 3/10": 3, "11": None, "0": None, "7.5": None, "": None,
             "hard": None, "about 4, maybe 5": 4}
    assert {t: parse_complexity(t) for t in cases} == cases
