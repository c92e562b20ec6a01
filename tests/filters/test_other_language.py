"""Contamination by execution for code in another language: the judge role translates a C, JavaScript or C++
response into Python (over real HTTP, to the scripted server), and layer 4 runs the translation against
HumanEval's tests. Each rule on its own, then the CLI end to end, with a failed translation and a base model."""

from __future__ import annotations

import json

import pytest
from conftest import SEED, rows
from test_filters import cli, make_run

from wizevol.filters.other_language import other_language_code, translated_python

# HumanEval/13 (greatest_common_divisor) in C, renamed, its comment reworded
HCF_C = """Use Euclid's algorithm:

```c
/* highest factor shared by x and y */
int hcf(int x, int y) {
    while (y != 0) { int r = x % y; x = y; y = r; }
    return x;
}
```
"""
HCF_PY = "```python\ndef hcf(x, y):\n    while y != 0:\n        x, y = y, x % y\n    return x\n```"
# a hard negative on the same topic: the least common multiple, in JavaScript
LCM_JS = "```js\nfunction lcm(a, b) {\n  let x = a, y = b;\n  while (y) { [x, y] = [y, x % y]; }\n  return a / x * b;\n}\n```"
LCM_PY = ("```python\ndef lcm(a, b):\n    x, y = a, b\n    while y:\n        x, y = y, x % y\n    return a // x * b\n"
          "```")


def test_code_in_another_language_is_found_and_python_is_left_to_layer_4():
    assert other_language_code(HCF_C) == ("C", HCF_C.split("```c\n")[1].split("```")[0].strip())
    assert other_language_code(LCM_JS)[0] == "JavaScript"
    both = "```cpp\nint f(int x) { return x; }\n```\nand the header:\n```c++\nint f(int x);\n```"
    assert other_language_code(both) == ("C++", "int f(int x) { return x; }\n\nint f(int x);")  # one language, joined
    assert other_language_code("```python\ndef f(x):\n    return x\n```\n```js\nf(1)\n```") is None  # Python runs as is
    assert other_language_code("```bash\nls -l\n```") is None  # a shell line solves no benchmark problem
    assert other_language_code("```\nint f(int x) { return x; }\n```") is None  # untagged and not Python: unknown
    assert other_language_code("Add x and y.") is None
    assert other_language_code("```c\n\n```") is None


def test_the_translation_is_the_answers_python():
    assert translated_python(HCF_PY) == HCF_PY.split("```python\n")[1].split("```")[0]
    assert translated_python("def f(x):\n    return x\n") == "def f(x):\n    return x\n"  # no fence: the whole answer
    assert translated_python("I cannot translate this.") == ""
    assert translated_python(None) == ""


def _run(tmp_path, server, extra: str = ""):
    records = [{"id": "hcf", "instruction": "Write a C function that gives the highest factor two numbers share.",
                "output": HCF_C},
               {"id": "lcm", "instruction": "Write the least common multiple in JavaScript.", "output": LCM_JS},
               {"id": "prose", "instruction": "Explain recursion.", "output": "Recursion is a function calling itself."}]
    run = make_run(tmp_path, [records])
    cfg = tmp_path / "judge.yaml"
    cfg.write_text(f"backend: api\nendpoint: {{base_url: '{server.url}', max_attempts: 1}}\n"
                   "evolver: {model: judge-model}\n"
                   "filters: {contamination: {embedding: false, allow_weak_sandbox: true" + extra + "}}\n")
    # the judge confirms layer 4's hit: the instruction asks for HumanEval/13's task (both orders)
    server.fault("text", role="near_dup_judge", match="highest factor two numbers share", arg="Same", times=None)
    return run, cfg


def test_a_c_solution_of_a_humaneval_problem_is_caught_through_its_translation(tmp_path, server):
    """By default (an API judge in chat is capable), the C response is translated and its hcf() passes
    HumanEval/13's tests; the JavaScript lcm() is translated too and passes none; prose is not sent."""
    run, cfg = _run(tmp_path, server)
    server.fault("text", role="translate", match="int hcf(int x, int y)", arg=HCF_PY, times=None)
    server.fault("text", role="translate", match="function lcm(a, b)", arg=LCM_PY, times=None)
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0, result.output
    (rej,) = rows(run / "filters" / "contamination" / "rejected_0.jsonl")
    assert rej["id"] == "hcf"
    assert rej["reason"] == ("execution: the response's hcf() (its C translated into Python) passes the tests of "
                             "HumanEval/13")
    assert (rej["details"]["layer"], rej["details"]["translated_from"]) == ("execution", "C")
    asked = [c for c in server.calls if c.role == "translate"]
    assert len(asked) == 2 and {c.model for c in asked} == {"judge-model"}
    assert "Translate this JavaScript code into Python" in next(c.text for c in asked if "lcm" in c.text)
    stats = json.loads((run / "filters" / "contamination" / "stats.json").read_text())
    assert stats["translated"] == {"responses": 2, "instructions": 0, "failed": 0, "untranslated": 0}
    assert stats["settings"]["translate"] is True

    # a rerun of a finished filter asks nothing again
    before = len(server.calls)
    assert cli("filter", run, "--only", "contamination", "--config", cfg).exit_code == 0
    assert len(server.calls) == before


def test_without_the_translation_the_c_solution_gets_through(tmp_path, server):
    run, cfg = _run(tmp_path, server, ", translate: false")
    server.fault("text", role="translate", match="int hcf", arg=HCF_PY, times=None)
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0, result.output
    assert rows(run / "filters" / "contamination" / "rejected_0.jsonl") == []
    assert not [c for c in server.calls if c.role == "translate"]


def test_a_failed_translation_is_said_and_asked_again(tmp_path, server):
    """The response is not run (its leak is not caught yet), the console says so, and the filter is not done: the
    same command asks again once the judge answers."""
    run, cfg = _run(tmp_path, server)
    server.fault("500", role="translate", times=None)
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0, result.output
    assert ("the judge's translation failed for 2 texts in other languages (responses not run, instructions "
            "compared as written); `wizevol filter` again asks them again") in result.output
    assert rows(run / "filters" / "contamination" / "rejected_0.jsonl") == []
    server.faults.clear()
    server.fault("text", role="translate", match="int hcf", arg=HCF_PY, times=None)
    server.fault("text", role="near_dup_judge", match="highest factor two numbers share", arg="Same", times=None)
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0 and "translation failed" not in result.output
    assert [r["id"] for r in rows(run / "filters" / "contamination" / "rejected_0.jsonl")] == ["hcf"]


def test_a_base_model_judge_translates_nothing_and_says_so_once(tmp_path, server):
    """A judge asked in completion mode (a base model, like the embedded gemma3-270m) is off for every judge
    question by default, with one console line."""
    run, cfg = _run(tmp_path, server)
    cfg.write_text(cfg.read_text().replace("evolver: {model: judge-model}", "evolver: {model: base, mode: completion}"))
    result = cli("filter", run, "--config", cfg)
    assert result.exit_code == 0, result.output
    assert result.output.count("the judges are off: base is asked in completion mode (a base model); set "
                               "filters.near_dup.llm_judge: true / filters.contamination.llm_judge: true / "
                               "filters.contamination.translate: true to use them anyway") == 1
    assert not [c for c in server.calls if c.role == "translate"]
    assert "hcf" not in {r["id"] for r in rows(run / "filters" / "contamination" / "rejected_0.jsonl")}


def test_english_is_told_from_other_languages():
    from wizevol.filters.other_language import looks_english

    for text in ("Return the sum of a list of integers.", "Write a function that checks whether n is prime.",
                 "Given two strings, find the longest common prefix.", "123 + 456", ""):
        assert looks_english(text), text
    for text in ("Dado un número de punto flotante positivo, devuelve solo su parte decimal.",
                 "Pour une chaîne de parenthèses, renvoie la profondeur maximale d'imbrication.",
                 "Finde das kürzeste Palindrom, das mit einer gegebenen Zeichenkette beginnt.",
                 "给定一个整数列表，返回其中所有偶数的和。", ZH,
                 "Escribe `is_palindrome(s: str) -> bool`, que devuelve True si la cadena se lee igual al revés."):
        assert not looks_english(text), text
    # identifiers, signatures and code are not counted as English words, nor as other words
    for text in ("Write `has_close_elements(numbers: list, threshold: float) -> bool` that says whether two numbers "
                 "are closer than threshold.", "Fix this:\n```python\ndef suma_pares(numeros): return sum(numeros)\n```",
                 "Implement quickSort(arr) in JavaScript using Array.prototype.filter."):
        assert looks_english(text), text


# a Chinese paraphrase of HumanEval/0 that names the function and its parameters (its identifiers are English
# words: has, close, elements, numbers, list, threshold, float, bool), and its English translation
ZH = "编写函数 has_close_elements(numbers: list, threshold: float) -> bool，判断列表中是否存在两个数的距离小于给定阈值。"
ZH_EN = ("Write has_close_elements(numbers: list, threshold: float) -> bool, which checks whether any two numbers in "
         "the list are closer to each other than the given threshold.")

# a Spanish paraphrase of HumanEval/2 (truncate_number) and its English translation
ES = "Dado un número de punto flotante positivo, devuelve su parte decimal: lo que queda tras quitar la parte entera."
EN = "For a positive float x, return the decimal part of x, that is x minus its integer part."  # MiniLM: 0.75 to it
# (as written, the Spanish is at 0.36 from HumanEval/2, under judge_threshold's 0.70)


def test_an_instruction_in_another_language_is_compared_in_english(tmp_path, server):
    """MiniLM is an English model: the Spanish paraphrase is not among HumanEval/2's candidates as written. The
    judge translates it into English, MiniLM and the judge read the translation, and the leak is caught; an
    English instruction is not sent for translation."""
    clean = [{"id": f"c{i}", "instruction": r["instruction"]} for i, r in enumerate(rows(SEED))]
    run = make_run(tmp_path, [[{"id": "es", "instruction": ES}] + clean])
    cfg = tmp_path / "judge.yaml"
    cfg.write_text(f"backend: api\nendpoint: {{base_url: '{server.url}', max_attempts: 1}}\n"
                   "evolver: {model: judge-model}\nfilters: {contamination: {execution: false}}\n")
    server.fault("text", role="translate_english", match=ES, arg=EN, times=None)
    server.fault("text", role="near_dup_judge", match=EN, arg="Same", times=None)
    server.fault("text", role="near_dup_judge", match=ES, arg="Same", times=None)  # were it asked as written
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0, result.output
    (rej,) = rows(run / "filters" / "contamination" / "rejected_0.jsonl")
    assert rej["id"] == "es" and rej["reason"].startswith("embedding+judge: instruction (in English) is close to "
                                                          "HumanEval/2 ")
    assert rej["details"]["english"] == EN
    asked = [c for c in server.calls if c.role == "translate_english"]
    assert len(asked) == 1 and ES in asked[0].text  # the seed's English tasks are not sent
    stats = json.loads((run / "filters" / "contamination" / "stats.json").read_text())
    assert stats["translated"] == {"responses": 0, "instructions": 1, "failed": 0, "untranslated": 0}

    # without the translation, the same judge is never asked about it: MiniLM does not propose it
    (tmp_path / "off").mkdir()
    run = make_run(tmp_path / "off", [[{"id": "es", "instruction": ES}] + clean])
    cfg.write_text(cfg.read_text().replace("execution: false", "execution: false, translate: false"))
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0, result.output
    assert rows(run / "filters" / "contamination" / "rejected_0.jsonl") == []


def test_a_chinese_instruction_that_names_identifiers_is_translated_and_caught(tmp_path, server):
    """Its code names made it look English, and it was compared as written; now it is sent for translation, and
    MiniLM and the judge read the English."""
    clean = [{"id": f"c{i}", "instruction": r["instruction"]} for i, r in enumerate(rows(SEED))]
    run = make_run(tmp_path, [[{"id": "zh", "instruction": ZH}] + clean])
    cfg = tmp_path / "judge.yaml"
    cfg.write_text(f"backend: api\nendpoint: {{base_url: '{server.url}', max_attempts: 1}}\n"
                   "evolver: {model: judge-model}\nfilters: {contamination: {execution: false}}\n")
    server.fault("text", role="translate_english", match=ZH, arg=ZH_EN, times=None)
    server.fault("text", role="near_dup_judge", match=ZH_EN, arg="Same", times=None)
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0, result.output
    (rej,) = rows(run / "filters" / "contamination" / "rejected_0.jsonl")
    assert rej["id"] == "zh" and rej["reason"].startswith("embedding+judge: instruction (in English) is close to "
                                                          "HumanEval/0 ")
    asked = [c for c in server.calls if c.role == "translate_english"]
    assert len(asked) == 1 and ZH in asked[0].text


@pytest.mark.slow
def test_an_empty_translation_is_asked_again_and_then_left_untranslated_so_the_filter_finishes(tmp_path, server):
    """An empty but successful answer was cached and counted as failed: every rerun read it again and the filter
    never finished (merge --clean refused for good). It is asked again as a fresh sample, up to three answers;
    then the instruction is compared as written, counted `untranslated`, and the filter is done."""
    run = make_run(tmp_path, [[{"id": "es", "instruction": ES}]])
    cfg = tmp_path / "judge.yaml"
    cfg.write_text(f"backend: api\nendpoint: {{base_url: '{server.url}', max_attempts: 1}}\n"
                   "evolver: {model: judge-model}\nfilters: {contamination: {execution: false}}\n")
    server.fault("text", role="translate_english", match=ES, arg="", times=None)
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0, result.output
    stats = json.loads((run / "filters" / "contamination" / "stats.json").read_text())
    assert stats["translated"] == {"responses": 0, "instructions": 1, "failed": 0, "untranslated": 1}
    assert "incomplete" not in stats["stamp"]
    asked = [c for c in server.calls if c.role == "translate_english"]
    assert len(asked) == 3  # the first answer, then two fresh samples
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0 and server.count("translate_english") == 3  # done: not asked again


def test_a_fresh_sample_replaces_an_empty_translation(tmp_path, server):
    clean = [{"id": f"c{i}", "instruction": r["instruction"]} for i, r in enumerate(rows(SEED))]
    run = make_run(tmp_path, [[{"id": "es", "instruction": ES}] + clean])
    cfg = tmp_path / "judge.yaml"
    cfg.write_text(f"backend: api\nendpoint: {{base_url: '{server.url}', max_attempts: 1}}\n"
                   "evolver: {model: judge-model}\nfilters: {contamination: {execution: false}}\n")
    server.fault("text", role="translate_english", match=ES, arg="", times=1)
    server.fault("text", role="translate_english", match=ES, arg=EN, times=None)
    server.fault("text", role="near_dup_judge", match=EN, arg="Same", times=None)
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0, result.output
    (rej,) = rows(run / "filters" / "contamination" / "rejected_0.jsonl")
    assert rej["id"] == "es" and rej["details"]["english"] == EN
