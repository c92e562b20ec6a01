"""Each elimination rule on its own: unit-level, then through the CLI with one injected fault each,
asserting the exact rule and reason recorded in eliminated_1.jsonl."""

from __future__ import annotations

import pytest
from conftest import evolve, rows, seed_instruction

from wizevol.evolve.rules import (
    Answered,
    Candidate,
    Empty,
    IdenticalToParent,
    NoGain,
    PromptLeak,
    Refusal,
    StopwordsOnly,
    Truncated,
    parse_judgement,
)
from wizevol.llm.client import Completion
from wizevol.prompts import PromptSet
from wizevol.record import Record

PROMPTS = PromptSet.load()

PARENT = Record(id="seed-00001", root_id="seed-00001", instruction="Sort a list.")


def cand(instruction="Sort a list in place, stably, without sort().", response="def f(xs): ...",
         evolve_finish="stop", response_finish="stop", judge=None, method="add_constraints",
         parent=PARENT) -> Candidate:
    child = parent.evolve_into(instruction, 1, method)
    return Candidate(parent=parent, child=child, evolve=Completion(instruction, evolve_finish),
                     response=Completion(response, response_finish),
                     judge=Completion(judge, "stop") if judge is not None else None)


def test_refusal_needs_sorry_and_few_words():
    assert Refusal(80).check(cand(response="Sorry, I can't do that.")) == (
        False, "response contains 'sorry' and has 5 words (< 80)", {})
    long_sorry = "Sorry for the wait. " + "word " * 80
    assert Refusal(80).check(cand(response=long_sorry)) is True
    assert Refusal(80).check(cand(response="Here you go: print(1)")) is True


def test_stopwords_only_uses_a_real_list():
    assert StopwordsOnly().check(cand(response="It is what it is, and that is all!")) == (
        False, "response has only punctuation and stop words", {})
    assert StopwordsOnly().check(cand(response="It is sorted.")) is True
    assert StopwordsOnly().check(cand(response="...?!")) == (False, "response has only punctuation and stop words", {})


def test_prompt_leak_finds_template_words():
    rule = PromptLeak(("rewritten prompt", "#given question#"))
    assert rule.check(cand(instruction="Improve the Rewritten   Prompt to sort a list.")) == (
        False, "instruction copies the evolving prompt's words: 'rewritten prompt'", {})
    assert rule.check(cand(instruction="Given a prompt string, sort its words.")) is True


def test_prompt_leak_ignores_a_phrase_the_parent_already_has():
    rule = PromptLeak(PROMPTS.leak_markers())
    parent = Record(id="p", root_id="p", instruction="Given question marks in a text, count them.")
    child = parent.evolve_into("Given question marks in a text, count them in one pass, ignoring quotes.", 1,
                               "add_constraints")
    assert rule.check(Candidate(parent=parent, child=child, evolve=Completion("", "stop"))) is True
    fresh = PARENT.evolve_into("Given question marks in a text, count them.", 1, "add_constraints")
    assert rule.check(Candidate(parent=PARENT, child=fresh, evolve=Completion("", "stop"))) == (
        False, "instruction copies the evolving prompt's words: 'given question'", {})


def test_prompt_leak_names_a_marker_anywhere_in_the_text():
    rule = PromptLeak(PROMPTS.leak_markers())
    assert rule.check(cand(instruction="Sort a list stably.\n\n#Given Question#:\nSort a list.")) == (
        False, "instruction copies the evolving prompt's words: '#given question#'", {})
    assert rule.check(cand(instruction="Sort a list stably. ### Method: add constraints")) == (
        False, "instruction copies the evolving prompt's words: '### method:'", {})


def leak_rule(mode: str) -> PromptLeak:
    return PromptLeak(PROMPTS.leak_markers(), PROMPTS.evolve_texts(mode), PROMPTS.methods)


def test_prompt_leak_checks_the_template_of_the_mode_sent():
    """'in a single pass, using O(1) extra space' is a completion-mode few-shot example: copying it is a leak in
    completion mode, and a natural result of the complexity heuristic in chat mode, where it was never sent."""
    child = PARENT.evolve_into("Sort a list in a single pass, using O(1) extra space.", 1, "complexity")
    c = Candidate(parent=PARENT, child=child, evolve=Completion("", "stop"))
    assert leak_rule("chat").check(c) is True
    assert leak_rule("completion").check(c) == (
        False, "instruction copies the evolving prompt's words: 'a list in a single pass'", {})


def test_prompt_leak_checks_only_the_method_text_sent():
    method = PROMPTS.methods["reasoning_steps"]
    words = method.split()[:8]
    copied = " ".join(words)
    for name, expected in (("reasoning_steps", False), ("add_constraints", True)):
        child = PARENT.evolve_into(f"{copied} and sort a list.", 1, name)
        verdict = leak_rule("chat").check(Candidate(parent=PARENT, child=child, evolve=Completion("", "stop")))
        assert (verdict is True) is expected, (name, verdict)


def test_prompt_leak_finds_copied_template_text_but_not_text_from_the_parent():
    method = "If the original problem can be solved with only a few logical steps, please add more reasoning steps."
    rule = PromptLeak((), (method, "### Question: Write a Python function that counts the vowels in a word."))
    leaked = cand(instruction="If the original problem can be solved with a few logical steps, sort a list.")
    assert rule.check(leaked) == (False, "instruction copies the evolving prompt's words: "
                                         "'if the original problem can be'", {})
    example = cand(instruction="Write a Python function that counts the vowels in a word, in O(1) space.")
    assert rule.check(example) == (False, "instruction copies the evolving prompt's words: "
                                          "'a python function that counts the'", {})
    parent = Record(id="p", root_id="p", instruction="Write a Python function that counts the vowels in a word.")
    child = parent.evolve_into("Write a Python function that counts the vowels in a word, ignoring case.", 1, "m")
    assert rule.check(Candidate(parent=parent, child=child, evolve=Completion("", "stop"))) is True


def test_identical_to_parent_needs_no_judge():
    rule = IdenticalToParent(PROMPTS.leak_markers())
    assert rule.check(cand(instruction="  sort A\n list. ")) == (False, "identical to parent", {})
    assert rule.check(cand(instruction="#Given Question#:\nSort a list.\n\n#Rewritten Question#:")) == (
        False, "identical to parent", {})
    assert rule.check(cand(instruction="Sort a list.")) == (False, "identical to parent", {})
    assert rule.check(cand(instruction="Sort a list!")) is True  # a real (if small) change: the judge decides
    assert rule.check(cand(instruction="Sort a list. Rewritten: in place.")) is True
    arrow = Record(id="a", root_id="a", instruction="Print an arrow like ->")
    child = arrow.evolve_into("Print an arrow like", 1, "add_constraints")  # not markers: a real change
    assert rule.check(Candidate(parent=arrow, child=child, evolve=Completion("", "stop"))) is True
    with_input = Record(id="s", root_id="s", instruction="Sum the numbers.", input="[1, 2, 3]")
    child = with_input.evolve_into("Sum the numbers.\n\n[1, 2, 3]", 1, "add_constraints")
    assert rule.check(Candidate(parent=with_input, child=child, evolve=Completion("", "stop"))) == (
        False, "identical to parent", {})


JUDGE_ANSWERS = [
    ("Equal", "equal"), ("Not Equal", "not_equal"), ("NotEqual", "not_equal"), ("Not equal.", "not_equal"),
    ("They are not equal", "not_equal"), ("**Equal**", "equal"), ("**Not equal**", "not_equal"),
    ("The answer is: Not Equal", "not_equal"), ("Equal; nothing is different", "equal"),
    ("They are equal.", "equal"), ("Unequal", "not_equal"), ("not the same", "not_equal"),
    ("The same.", "equal"), ("Different: the second adds a constraint.", "not_equal"),
    ("Not different at all", "equal"), ("Yes.", "equal"), ("No", "not_equal"), ("", "unparsed"),
    ("I cannot tell", "unparsed"), ("   ", "unparsed"), ("Judgement:", "unparsed"),
]


@pytest.mark.parametrize("answer,expected", JUDGE_ANSWERS, ids=[repr(a) for a, _ in JUDGE_ANSWERS])
def test_judge_answers_parse_as_intended(answer, expected):
    assert parse_judgement(answer) == expected


def test_no_gain_parses_equal_and_not_equal():
    assert NoGain().check(cand(judge="Equal")) == (
        False, "judge answered Equal: the evolved instruction adds nothing to its parent", {})
    assert NoGain().check(cand(judge="Not Equal.")) is True
    assert NoGain().check(cand(judge="**Not equal**")) is True
    assert NoGain().check(cand(judge="I cannot tell")) is True  # unparsed answers keep the record


def test_truncated_and_empty():
    assert Truncated("evolve").check(cand(evolve_finish="length")) == (
        False, "evolved instruction was cut off at max_tokens (finish_reason=length)", {})
    assert Truncated("response").check(cand(response_finish="length")) == (
        False, "response was cut off at max_tokens (finish_reason=length)", {})
    assert Empty("evolve").check(cand(instruction="  ")) == (False, "evolver returned no text", {})
    assert Empty("response").check(cand(response="")) == (False, "responder returned no text", {})
    assert Empty("response").check(cand()) is True


# what an evolver wrote when it answered a JavaScript seed instead of rewriting it (the shape seen with Qwen 1.5B)
JS_ANSWER = """```javascript
function uniqueSorted(arr) {
  return [...new Set(arr)].sort((a, b) => a - b);
}
```

This function uses a Set to drop the duplicates, then sorts the numbers in ascending order."""


@pytest.mark.parametrize("text,reason", [
    ("Sure! Here's a function that sorts a list:\n```python\ndef f(xs): return sorted(xs)\n```",
     "instruction opens as an answer, not a task: 'Sure'"),
    ("Certainly. Sort the list with merge sort.", "instruction opens as an answer, not a task: 'Certainly'"),
    ("To solve this problem, we can use merge sort, which is stable.",
     "instruction opens as an answer, not a task: 'To solve this'"),
    ("Here is the implementation in Python:\n```python\ndef f(xs): ...\n```",
     "instruction opens as an answer, not a task: 'Here is the implementation'"),
    ("Here's the updated code:\n```python\ndef f(xs): ...\n```",
     "instruction opens as an answer, not a task: \"Here's the updated code\""),
    (JS_ANSWER, "instruction gives code and explains it, an answer, not a task: 'This function uses'"),
    ("```python\ndef f(xs):\n    return sorted(xs)\n```\n### Explanation\nsorted() is stable.",
     "instruction gives code and explains it, an answer, not a task: '### Explanation'"),
])
def test_answered_drops_a_solution_with_its_reason(text, reason):
    assert Answered().check(cand(instruction=text)) == (False, reason, {})


@pytest.mark.parametrize("text,method", [
    # tasks that look a little like answers
    ("Sort a list in place, stably, without sort(). Make sure it also handles an empty list.", "add_constraints"),
    ("Sort a list of (name, age) pairs by age; to solve this, you may not use sorted().", "add_constraints"),
    ("Here is a piece of erroneous code for reference:\n```python\ndef f(xs): xs.sort(reverse=True)\n```\n"
     "This function uses sort() but orders the list the wrong way. Fix it and keep the sort stable.",
     "erroneous_code"),
    ("Sort a list. The function should take a list of integers and return a new list; explain its complexity.",
     "reasoning_steps"),
    ("Given this helper:\n```python\ndef key(x): return x[1]\n```\nSort a list of pairs with it, stably.",
     "rare_requirement"),
])
def test_answered_keeps_tasks(text, method):
    assert Answered().check(cand(instruction=text, method=method)) is True


def test_answered_ignores_what_the_parent_already_has():
    parent = Record(id="seed-00002", root_id="seed-00002",
                    instruction="Here is the implementation of a stack; add a peek() method.")
    child = "Here is the implementation of a stack; add a peek() method that runs in O(1)."
    assert Answered().check(cand(instruction=child, parent=parent)) is True
    assert Answered().check(cand(instruction="Sure, " + child, parent=parent)) == (
        False, "instruction opens as an answer, not a task: 'Sure'", {})


def test_answered_through_the_cli_and_its_switch(tmp_path, server):
    answer = "Sure! Here is the solution:\n" + JS_ANSWER  # an opening the rule sees whatever the heuristic drawn
    (tmp_path / "on").mkdir()
    target, (e,) = evolve_seed4_as(tmp_path / "on", server, lambda t: answer)
    assert (e["rule"], e["reason"], e["stage"], e["parent_id"]) == (
        "answered", "instruction opens as an answer, not a task: 'Sure'", "evolve", "seed-00004")
    assert not [c for c in server.calls if c.role == "judge" and "uniqueSorted" in c.text]  # no judge call spent
    pool = rows(tmp_path / "on" / "run" / "pool_1.jsonl")
    assert target in [r["instruction"] for r in pool]  # the parent goes back into the pool
    (tmp_path / "off").mkdir()
    server.fault("text", role="evolve", match=target[:40], arg=answer)
    result = evolve(tmp_path / "off", server, "--rounds", "1", config={"rules": {"answered": False}})
    assert result.exit_code == 0, result.output
    assert answer in [r["instruction"] for r in rows(tmp_path / "off" / "run" / "round_1.jsonl")]


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


def evolve_seed4_as(tmp_path, server, answer) -> tuple[str, list[dict]]:
    """One round where seed 4's evolver answers `answer(seed 4's text)`: (that text, eliminated_1 rows)."""
    target = seed_instruction(4)
    server.fault("text", role="evolve", match=target[:40], arg=answer(target))
    result = evolve(tmp_path, server, "--rounds", "1")
    assert result.exit_code == 0, result.output
    return target, rows(tmp_path / "run" / "eliminated_1.jsonl")


def test_identical_evolution_is_no_gain_without_a_judge_call(tmp_path, server):
    target, (e,) = evolve_seed4_as(tmp_path, server, lambda t: f"#Rewritten Question#:\n  {t.upper()}  ")
    assert (e["rule"], e["reason"], e["stage"], e["parent_id"]) == (
        "no_gain", "identical to parent", "evolve", "seed-00004")
    assert not [c for c in server.calls if c.role == "judge" and target[:40] in c.text]
    assert server.count("judge") == 19


def test_parent_echoed_before_a_marker_is_a_leak_not_an_evolution(tmp_path, server):
    """A cut at the marker would have left the parent verbatim as the 'evolved' instruction."""
    echo = "#Given Question#:\n{t}\n\n#Rewritten Question#:\n{t} Use no loops.".format
    target, (e,) = evolve_seed4_as(tmp_path, server, lambda t: echo(t=t))
    assert (e["rule"], e["reason"], e["stage"]) == (
        "prompt_leak", "instruction copies the evolving prompt's words: '#given question#'", "evolve")
    assert e["instruction"] == echo(t=target)
    assert all(r["instruction"] != target for r in rows(tmp_path / "run" / "round_1.jsonl"))


def test_trailing_marker_is_a_leak_and_an_opening_heading_is_recorded(tmp_path, server):
    target, (e,) = evolve_seed4_as(
        tmp_path, server, lambda t: f"#Rewritten Question#:\n{t} Use no loops.\n\n#Given Question#:\n{t}")
    assert (e["rule"], e["reason"]) == ("prompt_leak", "instruction copies the evolving prompt's words: "
                                                       "'#given question#'")
    assert e["extra"] == {"stripped_heading": "#Rewritten Question#:"}
    assert e["instruction"].startswith(target)
    kept = rows(tmp_path / "run" / "round_1.jsonl")
    assert {r["extra"]["stripped_heading"] for r in kept} == {"#Rewritten Question#:"}  # the scripted evolver's


def test_complexity_phrase_from_a_completion_example_is_kept_in_chat_mode(tmp_path, server):
    _, eliminated = evolve_seed4_as(tmp_path, server, lambda t: f"{t} Do it in a single pass, using O(1) extra space.")
    assert eliminated == []
    kept = {r["parent_id"]: r for r in rows(tmp_path / "run" / "round_1.jsonl")}
    assert kept["seed-00004"]["instruction"].endswith("in a single pass, using O(1) extra space.")
