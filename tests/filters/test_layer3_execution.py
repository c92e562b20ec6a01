"""Contamination layer 3 against execution: MiniLM and the judge match an instruction with a HumanEval problem on
its words; where layer 4 runs, the record's response is run against that problem's tests too, and a match whose
code does another task is kept. The real-seed audit's wrong drops were of this kind: "the first n prime numbers"
matched HumanEval/96 (the primes below n) at cosine 0.71 with the 1.5B judge's P(Same) 0.65."""

from __future__ import annotations

import json

from conftest import rows
from test_filters import cli, make_run

from wizevol.filters.solves_benchmark import Evidence, SolvesBenchmark
from wizevol.filters.solves_benchmark import tested_problems as humaneval_problems

PRIME = "all(k % d for d in range(2, int(k ** 0.5) + 1))"
FIRST_N = ("Write a Python function that returns the first n prime numbers.",  # HumanEval/96 at cosine 0.71
           "```python\ndef first_primes(n):\n    out, k = [], 2\n    while len(out) < n:\n"
           f"        if {PRIME}:\n            out.append(k)\n        k += 1\n    return out\n```")
BELOW = ("Write a Python function that returns a list of the prime numbers less than n.",  # HumanEval/96's task
         f"```python\ndef primes_below(n):\n    return [k for k in range(2, n) if {PRIME}]\n```")
DIGITS = ("Write a Python function that returns the product of the digits of a number.",  # HumanEval/97 at 0.71
          "```python\ndef digit_product(n):\n    out = 1\n    for c in str(abs(n)):\n        out *= int(c)\n"
          "    return out\n```")
SCRIPT = (DIGITS[0],  # no function to run
          "```python\nn = 1234\nout = 1\nfor c in str(n):\n    out *= int(c)\nprint(out)\n```")


def _run(tmp_path, server, extra: str = ""):
    run = make_run(tmp_path, [[{"id": name, "instruction": text, "output": code} for name, (text, code) in
                               (("first_n", FIRST_N), ("below", BELOW), ("digits", DIGITS), ("script", SCRIPT))]])
    cfg = tmp_path / "judge.yaml"
    cfg.write_text(f"backend: api\nendpoint: {{base_url: '{server.url}', max_attempts: 1}}\n"
                   "evolver: {model: judge-model}\n"
                   "filters: {contamination: {allow_weak_sandbox: true, translate: false" + extra + "}}\n")
    server.fault("text", role="near_dup_judge", match="Write a Python", arg="Same", times=None)  # a judge that errs
    return run, cfg


def test_a_match_whose_code_does_another_task_is_kept_and_one_whose_code_does_the_task_is_dropped(tmp_path, server):
    run, cfg = _run(tmp_path, server)
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0, result.output
    folder = run / "filters" / "contamination"
    rejected = {r["id"]: r for r in rows(folder / "rejected_0.jsonl")}
    assert set(rejected) == {"below", "script"}  # the task's own code; no code to say otherwise
    assert rejected["below"]["reason"].startswith("embedding+judge: instruction is close to HumanEval/96 ")
    assert rejected["script"]["details"]["task"] == "HumanEval/97"
    kept = {r["id"]: r["kept"] for r in rows(folder / "results_0.jsonl")}
    kept_rows = {r["id"]: r for r in rows(folder / "results_0.jsonl")}
    assert kept["first_n"] == ("embedding+judge match with HumanEval/96 overruled by execution: the response's "
                               "first_primes() fails the problem's tests and answers as its canonical solution on 8% "
                               "of inputs near them")
    assert (kept_rows["first_n"]["cosine"], kept_rows["first_n"]["p_same"]) == (0.71, [1.0])  # the judge said Same
    assert kept["digits"] == ("embedding+judge match with HumanEval/97 overruled by execution: no function of the "
                              "response takes the problem's arguments")
    stats = json.loads((folder / "stats.json").read_text())
    assert stats["embedding"]["contradicted"] == 2 and stats["settings"]["contradict_below"] == 0.5
    assert "2 layer-3 matches whose response's code does another task: kept" in result.output


def test_with_contradict_below_null_every_match_the_judge_confirms_is_dropped(tmp_path, server):
    run, cfg = _run(tmp_path, server, ", contradict_below: null")
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0, result.output
    folder = run / "filters" / "contamination"
    assert {r["id"] for r in rows(folder / "rejected_0.jsonl")} == {"first_n", "below", "digits", "script"}
    assert "contradicted" not in json.loads((folder / "stats.json").read_text())["embedding"]


def test_what_execution_says_of_a_task_the_text_chose():
    """Each case on its own: a pass, a failed check with its agreement, another arity, no function of arguments,
    and what each says against a text match."""
    layer = SolvesBenchmark([p for p in humaneval_problems() if p.task in ("HumanEval/96", "HumanEval/97")])
    codes = [BELOW[1], FIRST_N[1], "def pair(a, b):\n    return [a, b]\n", "def main():\n    print(1)\n",
             "def near(n):\n    out = [k for k in range(2, n) if " + PRIME + "]\n    return out[:-1] if n == 47 else out\n"]
    found = layer.scores([(code.strip("`").removeprefix("python\n"), ["HumanEval/96"]) for code in codes])
    passed, wrong, arity, none, near = (f["HumanEval/96"] for f in found)
    assert passed == Evidence("primes_below", True, 1.0) and passed.contradicts(0.5) is None
    assert (wrong.function, wrong.passed) == ("first_primes", False) and wrong.agreement < 0.5
    assert wrong.contradicts(0.5).startswith("the response's first_primes() fails the problem's tests")
    assert arity == Evidence(None, False, 0.0, fits=False)  # HumanEval/96 takes one argument, pair() two
    assert none is None  # a function of no arguments reads its input elsewhere: nothing to say
    # one test wrong, the inputs near the tests right: a near miss (or a bug), not another task
    assert (near.passed, near.agreement > 0.9, near.contradicts(0.5)) == (False, True, None)
    (two,) = layer.scores([(DIGITS[1].strip("`").removeprefix("python\n"), ["HumanEval/97"])])
    assert two["HumanEval/97"] == Evidence(None, False, 0.0, fits=False)  # HumanEval/97 takes two
