"""`wizevol stats`: similarity to HumanEval by embeddings (the paper's §5) or by n-gram coverage, named in the
output; the opt-in complexity score through the judge role, cached, with unparsable answers counted, measured as
the expectation over the judge's first-token probabilities where the endpoint returns them."""

from __future__ import annotations

import json
import math

import pytest
from conftest import evolve, rows
from typer.testing import CliRunner

from wizevol.cli import app
from wizevol.complexity import parse_complexity

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


@pytest.mark.slow
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
    assert all("Answer with a single digit from 1 to 9." in c.text for c in rated)  # the measure's own scale
    s = json.loads((tmp_path / "run" / "stats.json").read_text())
    # the server gives "7" all of its first token's probability: the expectation is the written 7
    assert s["rounds"]["0"]["complexity"] == {"n": 4, "mean": 7, "median": 7, "p10": 7, "p90": 7, "max": 7,
                                              "expected": 4, "written_only": 0, "unreadable": 0, "digit_mass": 1.0,
                                              "written": {"n": 4, "mean": 7, "median": 7, "p10": 7, "p90": 7,
                                                          "max": 7}}
    assert s["rounds"]["1"]["complexity"]["n"] == 3 and s["rounds"]["1"]["complexity"]["unreadable"] == 1
    assert "complexity" in result.output.splitlines()[0].split()
    again = stats(tmp_path / "run", "--complexity")
    assert again.exit_code == 0 and len(server.calls) == before + 8  # read back from the run's cache
    plain = stats(tmp_path / "run")
    assert "complexity" not in plain.output.splitlines()[0] and len(server.calls) == before + 8


def test_parse_complexity():
    cases = {"7": 7, "10": 10, "Complexity: 8": 8, " 3/10": 3, "11": None, "0": None, "7.5": None, "": None,
             "hard": None, "about 4, maybe 5": 4}
    assert {t: parse_complexity(t) for t in cases} == cases
    assert parse_complexity("10", top=9) is None and parse_complexity("9", top=9) == 9


def test_complexity_is_the_expectation_over_the_judges_first_token_where_the_endpoint_gives_it(tmp_path, server):
    """A judge that writes 8 for every instruction still tells them apart by how sure it is: stats measures the
    expectation over its first token's score probabilities. An answer whose first token is a word counts by the
    number it wrote; one with neither is unreadable."""
    seed = tmp_path / "seed.jsonl"
    tasks = ["Sort a list.", "Reverse a string.", "Parse a date in ISO format.", "Say hello."]
    seed.write_text("".join(json.dumps({"instruction": t, "output": "ok"}) + "\n" for t in tasks))
    assert evolve(tmp_path, server, "--rounds", "0", seed=seed).exit_code == 0
    server.fault("logprobs", match="Sort a list", arg={"8": 0.5, "6": 0.3, "The": 0.2}, times=None)
    server.fault("logprobs", match="Reverse a string", arg={" 8": 0.6, "9": 0.2, "8": 0.2}, times=None)
    server.fault("text", match="Parse a date", arg="Complexity: 9", times=None)
    server.fault("text", match="Say hello", arg="easy", times=None)
    result = stats(tmp_path / "run", "--complexity")
    assert result.exit_code == 0, result.output
    c = json.loads((tmp_path / "run" / "stats.json").read_text())["rounds"]["0"]["complexity"]
    # (8 x 0.5 + 6 x 0.3) / 0.8 = 7.25; (8 x 0.8 + 9 x 0.2) / 1.0 = 8.2 (" 8" and "8" are one score); 9 as written
    assert c["n"] == 3 and c["mean"] == round((7.25 + 8.2 + 9.0) / 3, 2)
    assert (c["median"], c["max"]) == (8.2, 9.0)
    assert (c["expected"], c["written_only"], c["unreadable"]) == (2, 1, 1)
    assert c["written"]["n"] == 3 and c["written"]["mean"] == round((8 + 8 + 9) / 3, 2)
    # the mean share of probability on a score, over the answers that carried logprobs (the word-first one: 0)
    assert c["digit_mass"] == round((0.8 + 1.0 + 0.0 + 0.0) / 4, 4)
    row = [line.split() for line in result.output.splitlines() if line.split()[:1] == ["0"]][0]
    assert "8.20" in row  # the table's median, of the expectations


def test_expected_complexity_weighs_the_first_tokens_scores():
    from wizevol.complexity import expected_complexity
    from wizevol.llm.wire import Completion

    def answer(text, probs):
        return Completion(text, "stop", top_logprobs=tuple((t, math.log(p)) for t, p in probs.items()))

    assert expected_complexity(answer("9", {"9": 0.6, "1": 0.4})).expected == round(5.4 + 0.4, 4)
    # on the measure's 1-9 scale "0" and "10" are not scores, and a written 10 is not one either
    odd = expected_complexity(answer("10", {"1": 0.5, "10": 0.3, "0": 0.2}))
    assert (odd.written, odd.expected, odd.digit_mass) == (None, 1.0, 0.5)
    # under half the mass on scores: the written number, and no expectation
    low = expected_complexity(answer("7", {"The": 0.45, "0": 0.1, "11": 0.05, "7": 0.4}))
    assert (low.written, low.expected, low.value, low.digit_mass) == (7, None, 7.0, 0.4)
    none = expected_complexity(Completion("7", "stop"))  # an endpoint that gives no logprobs
    assert (none.expected, none.value, none.digit_mass) == (None, 7.0, None)


def test_stats_show_each_filters_drops_by_rule_as_a_share_of_the_round(tmp_path):
    """`wizevol filter` then `wizevol stats`: near_dup's drops are counted under their rule (minhash, embedding),
    not under each reason's text (every original's id was a reason of its own), as a share of the round, with a
    sampled reason; a filter that drops a tenth of a round or more is said in a line of its own."""
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent / "filters"))
    from test_filters import make_run

    long = "Write a Python function that parses a date string in ISO format and returns the weekday name in English"
    records = [{"id": "a", "instruction": long}, {"id": "b", "instruction": long + "!"},  # a copy: minhash
               {"id": "c", "instruction": long + " please"},  # a near copy: minhash
               {"id": "d", "instruction": "Count the uppercase letters in a string."},
               {"id": "e", "instruction": "Count how many capital letters a string holds."},  # embedding
               *({"id": f"x{i}", "instruction": t} for i, t in enumerate(CLEAN + [
                   "Draw a bar chart of monthly rainfall with matplotlib.", "Write a Dockerfile for a Go web server.",
                   "Compute the determinant of a 3x3 matrix in C."]))]
    run = make_run(tmp_path, [[{**r, "root_id": r["id"]} for r in records]])
    cfg = tmp_path / "nd.yaml"
    cfg.write_text(json.dumps({"filters": {"near_dup": {"embedding_threshold": 0.6, "llm_judge": False}}}))
    assert CliRunner().invoke(app, ["filter", str(run), "--only", "near_dup", "--config", str(cfg)]).exit_code == 0
    nd = json.loads((run / "filters" / "near_dup" / "stats.json").read_text())["rounds"]["0"]
    assert nd["rejected_by_reason"] == {"embedding": 1, "minhash": 2}
    assert nd["examples_by_reason"]["embedding"] == ["near-duplicate of d (embedding cosine " +
                                                     nd["examples_by_reason"]["embedding"][0].split("cosine ")[1]]
    result = stats(run)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    row = next(line for line in lines if "minhash" in line).split()
    assert row[:5] == ["0", "near_dup", "minhash", "2", "20.0%"] and "near-duplicate of a" in " ".join(row[5:])
    assert next(line for line in lines if " embedding " in line).split()[:5] == ["0", "near_dup", "embedding", "1",
                                                                                  "10.0%"]
    assert "warning: near_dup drops 30% of round 0 (3 of 10): read filters/near_dup/rejected_0.jsonl" in lines
    saved = json.loads((run / "stats.json").read_text())["filters"]["near_dup"]["0"]
    assert saved["records"] == 10 and saved["rules"]["minhash"]["dropped"] == 2
    assert saved["rules"]["minhash"]["share"] == 0.2


def test_an_endpoint_that_refuses_logprobs_gets_the_written_number_said_once(tmp_path, server):
    """Every call that asked for logprobs failed (a 400) and was swallowed: the table showed "-". Those ratings
    are asked again without logprobs, counted as written_only, and the console says so once."""
    assert evolve(tmp_path, server, "--rounds", "0", "--limit", "3").exit_code == 0
    server.fault("refuse_logprobs", times=None)
    server.fault("text", match="Rate how difficult", arg="6", times=None)
    result = stats(tmp_path / "run", "--complexity")
    assert result.exit_code == 0, result.output
    c = json.loads((tmp_path / "run" / "stats.json").read_text())["rounds"]["0"]["complexity"]
    assert (c["n"], c["mean"], c["expected"], c["written_only"], c["unreadable"]) == (3, 6, 0, 3, 0)
    said = [line for line in result.output.splitlines() if "refused" in line]
    assert said == ["the judge's endpoint refused 3 ratings with logprobs and answered them without: their "
                    "complexity is the number written (counted as written_only)"]
