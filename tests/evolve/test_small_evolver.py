"""The rules for what a small evolver gets wrong (evolve/small_evolver.py), each on its own with its exact reason
and the cases built to fool it, then through the CLI: an elimination puts the parent back and is a column of the
round table. And prompt_leak keeps the erroneous-code heuristic's own phrase where it introduces code."""

from __future__ import annotations

from dataclasses import replace

from conftest import evolve, rows, seed_instruction

from wizevol.evolve.rules import Candidate, PromptLeak
from wizevol.evolve.small_evolver import Commentary, DanglingReference, Easier, LanguageLost, MethodNotApplied
from wizevol.llm.client import Completion
from wizevol.prompts import PromptSet
from wizevol.record import Record

PARENT = Record(id="p", root_id="p", instruction="Explain what the following Python code prints and why.",
                input="x = [1, 2, 3]\ny = x\ny.append(4)\nprint(x)")
SQL = Record(id="q", root_id="q", instruction="Write a SQL query that lists the names of customers who placed more "
                                              "than three orders.", input="Tables: customers(id, name), orders(id)")


def cand(instruction: str, parent: Record = PARENT, method: str = "add_constraints", response: str = "",
         child_input: str = "") -> Candidate:
    child = replace(parent.evolve_into(instruction, 1, method), input=child_input)
    return Candidate(parent=parent, child=child, evolve=Completion(instruction, "stop"),
                     response=Completion(response, "stop"))


def test_a_reference_to_code_that_is_not_given_is_dangling():
    rule = DanglingReference()
    assert rule.check(cand("Modify the given Python code so that it outputs the elements of list `y` instead.")) == (
        False, "instruction refers to 'the given Python code' and gives none", {"reference": "the given Python code"})
    assert rule.check(cand("Explain what the following input prints, step by step.")) == (
        False, "instruction refers to 'the following input' and gives none", {"reference": "the following input"})
    assert rule.check(cand("Fix the code below so that it handles an empty list.")) == (
        False, "instruction refers to 'the code below' and gives none", {"reference": "the code below"})
    assert rule.check(cand("Explain what this Python code prints, step by step.")) == (
        False, "instruction refers to 'this Python code' and gives none", {"reference": "this Python code"})


def test_a_reference_that_is_answered_is_not_dangling():
    rule = DanglingReference()
    given_code = "Modify the given Python code so that it prints y instead of x."
    assert rule.check(cand(given_code, child_input="x = [1]\ny = [2]\nprint(x)")) is True  # given in input
    assert rule.check(cand(given_code + "\n\nx = [1]\ny = [2]\nprint(x)")) is True  # unfenced, lines of code
    assert rule.check(cand(given_code + "\n```python\nprint(x)\n```")) is True
    assert rule.check(cand("Modify the given code `print(x)` so that it prints y.")) is True  # inline
    assert rule.check(cand("Sum the following list: [3, 1, 2], and explain each step.")) is True  # a literal
    assert rule.check(cand("Reverse the following sentence: The quick brown fox.")) is True  # after a colon
    # a parameter, not a reference to something shown: the function's argument is the given list
    assert rule.check(cand("Write a Python function that returns the largest element of the given list.")) is True
    assert rule.check(cand("Remove duplicates from an array while preserving the original sequence.")) is True
    # "this program" as the answer asked for, not something shown
    assert rule.check(cand("Write a Python program that sorts numbers. This program should read them from stdin.")) is True


def test_erroneous_code_with_no_code_is_a_method_not_applied():
    rule = MethodNotApplied()
    bare = "Write a Java method that checks whether a string is a palindrome, avoiding common errors."
    assert rule.check(cand(bare, method="erroneous_code")) == (
        False, "erroneous_code evolution holds no code to misdirect with", {})
    assert rule.check(cand(bare, method="add_constraints")) is True  # only erroneous_code must show code
    unfenced = bare + "\nThis attempt is wrong:\npublic boolean isPal(String s) {\n    return s.equals(s);\n}"
    assert rule.check(cand(unfenced, method="erroneous_code")) is True  # code there, but unfenced
    assert rule.check(cand(bare + " This is wrong: `return s == s[::-1].lower()`.", method="erroneous_code")) is True


def test_the_parents_language_lost_for_another_one():
    rule = LanguageLost()
    task = "List the names of customers who placed more than three orders, with their totals."
    pandas = "```python\nimport pandas as pd\nout = df.groupby('name').size()\n```"
    assert rule.check(cand(task, parent=SQL, response=pandas)) == (
        False, "the parent asks for SQL; the child is answered in Python",
        {"parent_languages": ["SQL"], "child_languages": ["Python"]})
    assert rule.check(cand("Write a Python function with pandas that " + task.lower(), parent=SQL)) == (
        False, "the parent asks for SQL; the child names Python",
        {"parent_languages": ["SQL"], "child_languages": ["Python"]})
    assert rule.check(cand(task, parent=SQL, response="```sql\nSELECT name FROM customers;\n```")) is True
    assert rule.check(cand(task, parent=SQL, response="It depends on the schema.")) is True  # nothing says it left
    assert rule.check(cand("Write a MySQL query: " + task, parent=SQL, response=pandas)) is True  # SQL still named


def test_a_language_named_only_in_the_parents_input():
    """The parent's instruction names no language; its input holds SQL. A child that keeps the query keeps the
    language; a child that lost it and is answered in Python is the failure."""
    parent = Record(id="r", root_id="r", instruction="Make this query faster.",
                    input="```sql\nSELECT * FROM orders WHERE total > 100;\n```")
    assert LanguageLost().check(cand("Make this query faster and explain the plan.", parent=parent,
                                     child_input=parent.input, response="```python\nprint(1)\n```")) is True
    assert LanguageLost().check(cand("Make the lookup of large orders faster.", parent=parent,
                                     response="```python\norders = [o for o in orders if o.total > 100]\n```")) == (
        False, "the parent asks for SQL; the child is answered in Python",
        {"parent_languages": ["SQL"], "child_languages": ["Python"]})


def test_a_child_that_keeps_little_of_its_parent_is_easier():
    parent = Record(id="e", root_id="e", instruction="Modify the given Python code such that it outputs the elements "
                                                     "of list y instead of list x, in reverse order.", input="x = [1]")
    assert Easier(0.6).check(cand("Return the elements of a list y.", parent=parent)) == (
        False, "the child has 7 words where its parent has 23 (< 60%): a rewrite that drops what the task asked",
        {"words": 7, "parent_words": 23})
    assert Easier(0.6).check(cand(parent.instruction + " Use no loops.", parent=parent)) is True
    short = Record(id="s", root_id="s", instruction="Sort a list.")
    assert Easier(0.6).check(cand("Sort.", parent=short)) is True  # a parent under 8 words is never judged


def test_the_evolvers_commentary_on_its_rewrite():
    rule = Commentary()
    text = ("Write a function that merges two sorted lists. The difficulty has been increased by adding these new "
            "constraints: no sort() and O(1) extra space.")
    assert rule.check(cand(text)) == (
        False, "instruction holds the evolver's commentary on its rewrite: 'The difficulty has been increased'", {})
    assert rule.check(cand("Write a function that merges two sorted lists. I added a constraint: no sort().")) == (
        False, "instruction holds the evolver's commentary on its rewrite: 'I added'", {})
    assert rule.check(cand("Write a Go program that counts words. Please note that this problem requires additional "
                           "context to be considered.")) == (
        False, "instruction holds the evolver's commentary on its rewrite: 'Please note that this problem'", {})
    assert rule.check(cand("Write a function that merges two sorted lists without sort(), in O(1) space.")) is True
    parent = Record(id="c", root_id="c", instruction="Explain why the difficulty has been increased in this puzzle.")
    assert rule.check(cand(parent.instruction + " Use an example.", parent=parent)) is True  # the parent's words


def test_the_erroneous_code_phrase_introducing_code_is_not_a_leak():
    prompts = PromptSet.load()
    rule = PromptLeak(prompts.leak_markers(), prompts.evolve_texts("chat"), prompts.methods)
    parent = Record(id="s", root_id="s", instruction="Write a Python function that returns the second largest value.")
    shown = ("Write a Python function that returns the second largest value. Here is a piece of erroneous code as a "
             "reference to increase misdirection:\n```python\ndef second(xs):\n    return sorted(xs)[-1]\n```")
    assert rule.check(cand(shown, parent=parent, method="erroneous_code")) is True
    bare = ("Write a Python function that returns the second largest value. Provide a piece of erroneous code as a "
            "reference to increase misdirection.")
    verdict = rule.check(cand(bare, parent=parent, method="erroneous_code"))
    assert verdict is not True and verdict[1].startswith("instruction copies the evolving prompt's words: ")


def test_through_the_cli_a_dangling_child_puts_its_parent_back_and_is_a_column(tmp_path, server):
    target = seed_instruction(7)  # "Explain what the following Python code prints and why." (its code in input)
    server.fault("text", role="evolve", match=target[:40],
                 arg="#Rewritten Question#:\nModify the given Python code such that it outputs list y, not x.")
    result = evolve(tmp_path, server, "--rounds", "1")
    assert result.exit_code == 0, result.output
    (e,) = [r for r in rows(tmp_path / "run" / "eliminated_1.jsonl") if r["parent_id"] == "seed-00007"]
    assert (e["rule"], e["reason"], e["stage"]) == (
        "dangling_reference", "instruction refers to 'the given Python code' and gives none", "evolve")
    pool = {r["id"]: r for r in rows(tmp_path / "run" / "pool_1.jsonl")}
    assert pool["seed-00007"]["instruction"] == target  # the parent goes on
    header = next(line for line in result.output.splitlines() if line.startswith("round"))
    assert "dangling_reference" in header.split()


def test_a_lineage_that_stopped_naming_its_language_and_then_left_it():
    """Round 2 dropped "SQL" and was still answered in SQL; round 3, naming no language either, is answered in
    pandas: the parent's own answer says what its language was."""
    parent = Record(id="d", root_id="d", instruction="Find customers who ordered more than three items in a period.",
                    output="```sql\nSELECT customer_id FROM orders GROUP BY customer_id HAVING COUNT(*) > 3;\n```")
    child = "Find customers who ordered more than three items in a period, counting each order's quantity."
    pandas = "```python\nimport pandas as pd\nout = df.groupby('customer_id')['qty'].sum()\n```"
    assert LanguageLost().check(cand(child, parent=parent, response=pandas)) == (
        False, "the parent was answered in SQL; the child is answered in Python",
        {"parent_languages": ["SQL"], "child_languages": ["Python"]})
    assert LanguageLost().check(cand(child, parent=parent, response="```sql\nSELECT 1;\n```")) is True
    # a child that names its language chooses it: the parent's answer says nothing then
    assert LanguageLost().check(cand("Write a Python function: " + child, parent=parent, response=pandas)) is True
