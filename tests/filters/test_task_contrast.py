"""near_dup never calls two records duplicates when they are different tasks by language or by input, whatever
their words or the judge say (task_contrast.py): pairs from the real-seed audit that the 1.5B judge called Same."""

from __future__ import annotations

import json

from conftest import rows
from test_filters import cli, make_run

from wizevol.filters.task_contrast import Contrast, answer_languages, named_languages


def test_the_languages_an_instruction_names():
    cases = {"Write a C++ program that prints Hello World.": {"c++"},
             "Write a C program that prints Hello, World!": {"c"},
             "Write a function in C that swaps two integers.": {"c"},
             "Write a Go function that reverses a string.": {"go"},
             "Let us go over the list and count the words.": set(),  # "go" and "C" only as a language
             "Write a JavaScript function that counts the vowels.": {"javascript"},
             "Write a Java method that reverses a string.": {"java"},
             "Translate the following Python code into JavaScript.": {"python", "javascript"},
             "Write an R function that computes the mean.": {"r"},
             "Write a SQL query that counts the orders.": {"sql"}, "Write a Bash one-liner.": {"bash"},
             "Write a C# class Person.": {"c#"}, "Write a function that counts the vowels in a string.": set()}
    assert {t: set(named_languages(t)) for t in cases} == cases


def test_an_answers_language_when_the_instruction_names_none():
    assert answer_languages("def f(x):\n    return x") == {"python"}
    assert answer_languages("```js\nconst f = x => x;\n```") == {"javascript"}
    assert answer_languages("```cpp\nint f();\n```\n```python\nf = 1\n```") == {"c++", "python"}
    assert answer_languages("total_price") == set()  # parses as Python, but is no code
    assert answer_languages("A list is mutable: you can add, remove and change its elements.") == set()


def test_what_sets_two_records_apart():
    js = Contrast("Write a JavaScript function that counts the vowels in a string.", "", "")
    plain = Contrast("Write a function that counts the vowels in a string.", "", "def f(s):\n    return 0")
    py = Contrast("Write a Python function that counts the vowels in a given string.", "", "")
    unknown = Contrast("Write a function that counts the vowels.", "", "It counts them.")
    assert js.differs(plain) == "language" and py.differs(plain) is None and js.differs(unknown) is None
    loop = Contrast("Modify the given loop so that it sums the numbers from 1 to n.", "for i in range(1, n):\n    "
                    "print(i)", "")
    general = Contrast("Write a Python function to compute the sum of the numbers from 1 to n.", "", "")
    assert loop.differs(general) == "input" and loop.differs(loop) is None


def test_near_dup_keeps_another_language_and_a_given_input_and_says_how_many(tmp_path, server):
    """The judge says Same about every pair (both orders) and word 5-grams see "C++" and "C" as one text: only the
    pair that is the same task in the same language, with no input on either side, is dropped."""
    records = [
        {"id": "plain", "instruction": "Write a function that counts the vowels in a string.",
         "output": "def count_vowels(s):\n    return sum(c in 'aeiou' for c in s)"},
        {"id": "js", "instruction": "Write a JavaScript function that counts the vowels in a string.",
         "output": "```javascript\nconst f = s => (s.match(/[aeiou]/g) || []).length;\n```"},
        {"id": "py", "instruction": "Write a Python function that counts the number of vowels in a given string.",
         "output": "def vowels(t):\n    return len([c for c in t if c in 'aeiou'])"},
        {"id": "c", "instruction": "Write a C program that prints Hello World to the screen and then exits.",
         "output": "```c\nint main(void) { return 0; }\n```"},
        {"id": "cpp", "instruction": "Write a C++ program that prints Hello World to the screen and then exits.",
         "output": "```cpp\nint main() { return 0; }\n```"},
        {"id": "sum", "instruction": "Write a Python function to compute the sum of the numbers from 1 to n.",
         "output": "def s(n):\n    return n * (n + 1) // 2"},
        {"id": "loop", "instruction": "Modify the given loop so that it sums the numbers from 1 to n.",
         "input": "for i in range(1, n):\n    print(i)", "output": "total = sum(range(1, n + 1))"},
    ]
    run = make_run(tmp_path, [[{**r, "root_id": r["id"]} for r in records]])
    server.fault("text", role="near_dup_judge", arg="Same", times=None)
    cfg = tmp_path / "judge.yaml"
    cfg.write_text(f"backend: api\nendpoint: {{base_url: '{server.url}', max_attempts: 1}}\n"
                   "evolver: {model: judge-model}\nfilters: {near_dup: {llm_judge: true, judge_threshold: 0.3}}\n")
    result = cli("filter", run, "--only", "near_dup", "--config", cfg)
    assert result.exit_code == 0, result.output
    rej = {r["id"]: r for r in rows(run / "filters" / "near_dup" / "rejected_0.jsonl")}
    assert set(rej) == {"py"} and rej["py"]["details"]["duplicate_of"] == "plain"
    stats = json.loads((run / "filters" / "near_dup" / "stats.json").read_text())
    assert stats["set_apart"]["language"] >= 2 and stats["set_apart"]["input"] >= 1
    asked = [c.text for c in server.calls if c.role == "near_dup_judge"]
    assert not [t for t in asked if "JavaScript" in t or "given loop" in t]  # set apart before any question

    (tmp_path / "off").mkdir()
    run = make_run(tmp_path / "off", [[{**r, "root_id": r["id"]} for r in records]])
    cfg.write_text(cfg.read_text().replace("judge_threshold: 0.3", "judge_threshold: 0.3, contrasts: false"))
    assert cli("filter", run, "--only", "near_dup", "--config", cfg).exit_code == 0
    assert {"js", "cpp", "loop"} <= {r["id"] for r in rows(run / "filters" / "near_dup" / "rejected_0.jsonl")}
