"""Each elimination rule on its own: unit-level, then through the CLI with one injected fault each,
asserting the exact rule and reason recorded in eliminated_1.jsonl."""

from __future__ import annotations

import pytest
from conftest import evolve, rows, seed_instruction

from wizevol.elimination import (
    Candidate,
    Empty,
    NoGain,
    PromptLeak,
    Refusal,
    StopwordsOnly,
    Truncated,
    parse_judgement,
)
from wizevol.llm import Completion
from wizevol.record import Record

PARENT = Record(id="seed-00001", root_id="seed-00001", instruction="Sort a list.")


def cand(instruction="Sort a list in place, stably, without sort().", response="def f(xs): ...",
         evolve_finish="stop", response_finish="stop", judge=None) -> Candidate:
    child = PARENT.evolve_into(instruction, 1, "add_constraints")
    return Candidate(parent=PARENT, child=child, evolve=Completion(instruction, evolve_finish),
                     response=Completion(response, response_finish),
                     judge=Completion(judge, "stop") if judge is not None else None)


def test_refusal_needs_sorry_and_few_words():
    assert Refusal(80).check(cand(response="Sorry, I can't do that.")) == (
        False, "response contains 'sorry' and has 5 words (< 80)")
    long_sorry = "Sorry for the wait. " + "word " * 80
    assert Refusal(80).check(cand(response=long_sorry)) is True
    assert Refusal(80).check(cand(response="Here you go: print(1)")) is True


def test_stopwords_only_uses_a_real_list():
    assert StopwordsOnly().check(cand(response="It is what it is, and that is all!")) == (
        False, "response has only punctuation and stop words")
    assert StopwordsOnly().check(cand(response="It is sorted.")) is True
    assert StopwordsOnly().check(cand(response="...?!")) == (False, "response has only punctuation and stop words")


def test_prompt_leak_finds_template_words():
    rule = PromptLeak(("rewritten prompt", "#given question#"))
    assert rule.check(cand(instruction="Improve the Rewritten   Prompt to sort a list.")) == (
        False, "instruction copies the evolving prompt's words: 'rewritten prompt'")
    assert rule.check(cand(instruction="Given a prompt string, sort its words.")) is True


def test_prompt_leak_finds_copied_template_text_but_not_text_from_the_parent():
    method = "If the original problem can be solved with only a few logical steps, please add more reasoning steps."
    rule = PromptLeak((), (method, "### Question: Write a Python function that counts the vowels in a word."))
    leaked = cand(instruction="If the original problem can be solved with a few logical steps, sort a list.")
    assert rule.check(leaked) == (False, "instruction copies the evolving prompt's words: "
                                         "'if the original problem can be'")
    example = cand(instruction="Write a Python function that counts the vowels in a word, in O(1) space.")
    assert rule.check(example) == (False, "instruction copies the evolving prompt's words: "
                                          "'a python function that counts the'")
    parent = Record(id="p", root_id="p", instruction="Write a Python function that counts the vowels in a word.")
    child = parent.evolve_into("Write a Python function that counts the vowels in a word, ignoring case.", 1, "m")
    assert rule.check(Candidate(parent=parent, child=child, evolve=Completion("", "stop"))) is True


def test_no_gain_parses_equal_and_not_equal():
    assert NoGain().check(cand(judge="Equal")) == (
        False, "judge answered Equal: the evolved instruction adds nothing to its parent")
    assert NoGain().check(cand(judge="Not Equal.")) is True
    assert NoGain().check(cand(judge="**Not equal**")) is True
    assert parse_judgement("They are equal.") == "equal"
    assert parse_judgement("Unequal") == "not_equal"
    assert parse_judgement("I cannot tell") == "unparsed"
    assert NoGain().check(cand(judge="I cannot tell")) is True  # unparsed answers keep the record


def test_truncated_and_empty():
    assert Truncated("evolve").check(cand(evolve_finish="length")) == (
        False, "evolved instruction was cut off at max_tokens (finish_reason=length)")
    assert Truncated("response").check(cand(response_finish="length")) == (
        False, "response was cut off at max_tokens (finish_reason=length)")
    assert Empty("evolve").check(cand(instruction="  ")) == (False, "evolver returned no text")
    assert Empty("response").check(cand(response="")) == (False, "responder returned no text")
    assert Empty("response").check(cand()) is True


# -- through the CLI: one fault on seed 4, everything else clean --
CASES = [
    ("refusal", "respond", "refusal", "response contains 'sorry' and has 9 words (< 80)", "response"),
    ("stopwords", "respond", "stopwords_only", "response has only punctuation and stop words", "response"),
    ("leak", "evolve", "prompt_leak", "instruction copies the evolving prompt's words: 'rewritten prompt'", "evolve"),
    ("equal", "judge", "no_gain", "judge answered Equal: the evolved instruction adds nothing to its parent", "judge"),
    ("length", "respond", "truncated", "response was cut off at max_tokens (finish_reason=length)", "response"),
    ("length", "evolve", "truncated", "evolved instruction was cut off at max_tokens (finish_reason=length)", "evolve"),
    ("empty", "evolve", "empty", "evolver returned no text", "evolve"),
    ("empty", "respond", "empty", "responder returned no text", "response"),
]


@pytest.mark.parametrize("action,role,rule,reason,stage", CASES, ids=[f"{c[2]}-{c[1]}" for c in CASES])
def test_rule_through_cli(tmp_path, server, action, role, rule, reason, stage):
    target = seed_instruction(4)
    server.fault(action, role=role, match=target[:40], times=1)
    result = evolve(tmp_path, server, "--rounds", "1")
    assert result.exit_code == 0, result.output
    eliminated = rows(tmp_path / "run" / "eliminated_1.jsonl")
    assert len(eliminated) == 1
    (e,) = eliminated
    assert (e["rule"], e["reason"], e["stage"], e["parent_id"]) == (rule, reason, stage, "seed-00004")
    assert len(rows(tmp_path / "run" / "round_1.jsonl")) == 19


def test_no_gain_can_be_switched_off(tmp_path, server):
    server.fault("equal", role="judge", times=None)
    result = evolve(tmp_path, server, "--rounds", "1", config={"filters": {"no_gain": False}})
    assert result.exit_code == 0, result.output
    assert server.count("judge") == 0
    assert len(rows(tmp_path / "run" / "round_1.jsonl")) == 20


def test_judge_runs_before_the_responder(tmp_path, server):
    """A no_gain verdict saves the long response call."""
    server.fault("equal", role="judge", times=None)
    result = evolve(tmp_path, server, "--rounds", "1")
    assert result.exit_code == 0, result.output
    assert server.count("respond") == 0
    assert {e["rule"] for e in rows(tmp_path / "run" / "eliminated_1.jsonl")} == {"no_gain"}
