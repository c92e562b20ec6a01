"""verified chooses the answer by execution (CodeT's dual agreement, filters/agreement.py): each rule of the
choice on its own, then through the CLI against the scripted endpoint: a wrong own answer is replaced by a right
sampled one in the clean files and the merged rows (with its labels), answers and tests in C, C++, JavaScript,
Java, Rust, Bash and SQL are run and judged, a language with no executor or no tool is kept unverified and
counted, and a filter killed mid-run resumes without paying for any call twice."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from conftest import ROOT, rows, write_config
from test_filters import cli, make_run

from wizevol.filters import executors
from wizevol.filters.agreement import choose, difficulty, groups

T, F = True, False
TESTER = "Write unit tests for a solution to this programming task.\n\nTask:\n"


def test_answers_that_pass_the_same_tests_form_one_group():
    assert groups([[T, F], [T, F], [F, F], [T, T]]) == {(0,): [0, 1], (): [2], (0, 1): [3]}


def test_a_wrong_own_answer_loses_to_right_sampled_ones():
    c = choose([[F, F], [T, T], [T, T]])
    assert (c.chosen, c.group, c.trusted, c.score, c.strength, c.pass_rate) == (1, (1, 2), (0, 1), 4, 4 / 6, 2 / 3)


def test_a_test_every_answer_fails_is_outvoted_by_tests_the_majority_passes():
    """Test 2 is wrong (no answer passes it); answers 0-2 agree on tests 0 and 1; answer 3 passes only test 0.
    The chosen group trusts tests 0 and 1, not the wrong one, and its answers all count as passing."""
    c = choose([[T, T, F], [T, T, F], [T, T, F], [T, F, F]])
    assert (c.chosen, c.group, c.trusted, c.score, c.pass_rate) == (0, (0, 1, 2), (0, 1), 6, 0.75)


def test_a_lone_answer_passing_more_tests_loses_to_a_larger_group_passing_fewer():
    """CodeT's score is size x tests passed: 3 answers x 2 tests beats 1 answer x 3 tests."""
    c = choose([[T, T, T], [T, T, F], [T, T, F], [T, T, F]])
    assert (c.chosen, c.group, c.score) == (1, (1, 2, 3), 6)
    assert c.pass_rate == 1.0  # answer 0 passes every trusted test too


def test_ties_go_to_more_tests_then_to_the_earliest_answer():
    assert choose([[T, F], [F, T]]).chosen == 0  # same size, same tests passed: the record's own answer
    assert choose([[F, T], [T, F]]).chosen == 0
    c = choose([[T, F], [T, F], [T, T]])  # 2 answers x 1 test against 1 x 2: equal scores, more tests win
    assert (c.chosen, c.group, c.trusted, c.pass_rate) == (2, (2,), (0, 1), 1 / 3)


def test_no_answer_passing_any_test_is_the_weakest_choice():
    c = choose([[F, F], [F, F]])
    assert (c.chosen, c.score, c.strength, c.pass_rate, c.trusted) == (0, 0, 0.0, 0.0, ())


def test_a_ragged_matrix_is_refused():
    with pytest.raises(ValueError):
        choose([[T, F], [T]])
    with pytest.raises(ValueError):
        choose([])


def test_kodcodes_difficulty_labels():
    assert [difficulty(r) for r in (1.0, 0.8, 2 / 3, 0.4, 1 / 3, 0.2, 0.0)] == [
        "easy", "easy", "medium", "medium", "medium", "hard", "hard"]


SUB_BUG = "```python\ndef sub(a, b):\n    return a + b\n```"
SUB = "```python\ndef sub(a, b):\n    return a - b\n```"


def test_a_wrong_own_answer_is_replaced_by_the_right_sampled_one_in_the_clean_files_and_the_merge(tmp_path, server):
    run = make_run(tmp_path, [[{"id": "bad", "instruction": "Subtract b from a.", "output": SUB_BUG}]])
    server.fault("text", match=TESTER + "Subtract", arg="```python\nassert sub(5, 5) == 0\nassert sub(3, 1) == 2\n```",
                 times=None)
    server.fault("text", match="Subtract b from a.", arg=SUB, times=None)  # both sampled answers are right
    off = {"enabled": False}
    cfg = write_config(tmp_path / "cfg.yaml", server, filters={"verified": {"enabled": True, "samples": 3},
                                                               "near_dup": off, "contamination": off, "code_check": off})
    result = cli("filter", run, "--config", cfg)
    assert result.exit_code == 0, result.output
    assert not (run / "filters" / "verified" / "rejected_0.jsonl").read_text()
    (row,) = rows(run / "filters" / "verified" / "results_0.jsonl")
    assert (row["matrix"], row["chosen"], row["group"], row["passed"], row["pass_rate"]) == (
        ["0", "1", "1"], 1, [1, 2], True, 0.6667)
    assert row["error"] == "AssertionError at: assert sub(5, 5) == 0"  # why its own answer lost
    (clean,) = rows(run / "filters" / "clean_0.jsonl")
    assert clean["output"] == SUB
    assert clean["extra"]["verified"] == {"language": "python", "passed": True, "pass_rate": 0.6667,
                                          "difficulty": "medium", "samples": 3, "tests": 1, "chosen": 1,
                                          "strength": 0.6667}
    merged = cli("merge", run, "--clean", "--format", "alpaca", "--out", tmp_path / "m.jsonl")
    assert merged.exit_code == 0, merged.output
    (out,) = rows(tmp_path / "m.jsonl")
    assert out["output"] == SUB and out["metadata"]["verified"]["difficulty"] == "medium"
    by_rate = cli("merge", run, "--min-pass-rate", "0.5", "--format", "alpaca", "--out", tmp_path / "r.jsonl")
    assert by_rate.exit_code == 0, by_rate.output
    assert [r["output"] for r in rows(tmp_path / "r.jsonl")] == [SUB]  # the chosen answer without --clean too


def test_tests_that_all_answers_fail_do_not_sink_a_right_answer(tmp_path, server):
    """Three test sets, one of them wrong: the record's right answer is kept, trusted on the two right sets."""
    run = make_run(tmp_path, [[{"id": "ok", "instruction": "Subtract b from a.", "output": SUB}]])
    server.fault("text", match=TESTER + "Subtract", arg="```python\nassert sub(3, 1) == 4\n```", times=1)
    server.fault("text", match=TESTER + "Subtract", arg="```python\nassert sub(3, 1) == 2\n```", times=None)
    server.fault("text", match="Subtract b from a.", arg=SUB, times=None)
    cfg = write_config(tmp_path / "cfg.yaml", server, filters={"verified": {"samples": 3, "tests": 3}})
    result = cli("filter", run, "--only", "verified", "--config", cfg)
    assert result.exit_code == 0, result.output
    (row,) = rows(run / "filters" / "verified" / "results_0.jsonl")
    assert sorted(row["matrix"][0]) == ["0", "1", "1"] and len(set(row["matrix"])) == 1  # all answers alike
    assert (row["chosen"], row["score"], len(row["trusted_tests"]), row["passed"]) == (0, 6, 2, True)


def test_weak_agreement_is_dropped_or_marked_by_config(tmp_path, server):
    run = make_run(tmp_path, [[{"id": "lone", "instruction": "Subtract b from a.", "output": SUB}]])
    server.fault("text", match=TESTER + "Subtract", arg="```python\nassert sub(3, 1) == 2\n```", times=None)
    server.fault("text", match="Subtract b from a.", arg=SUB_BUG, times=None)  # the samples disagree with it
    for weak in ("drop", "mark"):
        cfg = write_config(tmp_path / "cfg.yaml", server, filters={"verified": {
            "samples": 3, "min_agreement": 0.5, "weak": weak}})
        assert cli("filter", run, "--only", "verified", "--config", cfg).exit_code == 0
        (row,) = rows(run / "filters" / "verified" / "results_0.jsonl")
        assert (row["passed"], row["strength"], row["chosen"]) == (False, 0.3333, 0)
        rejected = rows(run / "filters" / "verified" / "rejected_0.jsonl")
        if weak == "drop":
            assert [r["reason"] for r in rejected] == [
                "failed its tests: the best group, 1 of 3 answers passing 1 of 1 test sets, agrees 0.33 < 0.5"]
        else:
            assert rejected == []


C_ADD = ("```c\nint add(int a, int b) { return a + b; }\n```",
         "```c\n#include <assert.h>\nint main(void) { assert(add(2, 3) == 5); return 0; }\n```")
LANGS = {
    "c": C_ADD,
    "cpp": ("```cpp\nint add(int a, int b) { return a + b; }\n```",
            "```cpp\n#include <cassert>\nint main() { assert(add(2, 3) == 5); }\n```"),
    "javascript": ("```javascript\nfunction add(a, b) { return a + b; }\n```",
                   "```javascript\nconst assert = require('assert');\nassert.strictEqual(add(2, 3), 5);\n```"),
    "java": ("```java\nclass Solution { static int add(int a, int b) { return a + b; } }\n```",
             "```java\nclass Main { public static void main(String[] args) { assert Solution.add(2, 3) == 5; } }\n```"),
    "rust": ("```rust\nfn add(a: i32, b: i32) -> i32 { a + b }\n```",
             "```rust\nfn main() { assert_eq!(add(2, 3), 5); }\n```"),
    "bash": ("```bash\nadd() { echo $(( $1 + $2 )); }\n```", "```bash\n[ \"$(add 2 3)\" = \"5\" ] || exit 1\n```"),
    "sql": ("```sql\nSELECT name FROM users WHERE age > 30;\n```",
            "```sql\nCREATE TABLE users(name TEXT, age INT);\nINSERT INTO users VALUES ('ann', 31), ('bob', 20);\n"
            "-- expected:\n-- ann\n```"),
}
WRONG = {"c": "```c\nint add(int a, int b) { return a - b; }\n```",
         "javascript": "```javascript\nfunction add(a, b) { return a - b; }\n```",
         "java": "```java\nclass Solution { static int add(int a, int b) { return a * b; } }\n```",
         "rust": "```rust\nfn add(a: i32, b: i32) -> i32 { a - b }\n```",
         "bash": "```bash\nadd() { echo $(( $1 - $2 )); }\n```",
         "sql": "```sql\nSELECT name FROM users WHERE age < 30;\n```"}


def test_answers_in_every_language_are_run_and_judged_and_the_others_counted(tmp_path, server, monkeypatch):
    records, written = [], {}
    for lang, (answer, tests) in LANGS.items():
        records.append({"id": lang, "instruction": f"Add two numbers ({lang}).", "output": answer})
        written[lang] = tests
        if lang in WRONG:
            records.append({"id": f"{lang}-wrong", "instruction": f"Add two numbers, {lang}.", "output": WRONG[lang]})
            written[f"{lang}-wrong"] = tests
    records.append({"id": "go", "instruction": "Add two numbers in Go.",
                    "output": "```go\nfunc add(a, b int) int { return a + b }\n```"})
    records.append({"id": "prose", "instruction": "Explain recursion.", "output": "A function that calls itself."})
    run = make_run(tmp_path, [records])
    for r in records:
        if r["id"] in written:
            server.fault("text", match=TESTER + r["instruction"], arg=written[r["id"]], times=None)
    monkeypatch.setitem(executors.TOOLS, "cpp", "no-such-g++")  # as on a machine without g++
    executors.tool.cache_clear()
    try:
        cfg = write_config(tmp_path / "cfg.yaml", server, filters={"verified": {}})
        result = cli("filter", run, "--only", "verified", "--config", cfg)
    finally:
        executors.tool.cache_clear()
    assert result.exit_code == 0, result.output
    results = {r["id"]: r for r in rows(run / "filters" / "verified" / "results_0.jsonl")}
    for lang in ("c", "javascript", "java", "rust", "bash", "sql"):
        assert (results[lang]["language"], results[lang]["passed"], results[lang]["matrix"]) == (lang, True, ["1"])
        assert (results[f"{lang}-wrong"]["passed"], results[f"{lang}-wrong"]["matrix"]) == (False, ["0"]), lang
    assert results["cpp"]["passed"] is None and results["cpp"]["error"] == "cpp: no-such-g++ not installed"
    assert results["go"]["passed"] is None and results["go"]["error"] == "no executor for go"
    rejected = sorted(r["id"] for r in rows(run / "filters" / "verified" / "rejected_0.jsonl"))
    assert rejected == sorted(f"{lang}-wrong" for lang in WRONG)
    stats = json.loads((run / "filters" / "verified" / "stats.json").read_text())
    assert stats["records"] == {"chosen: its own answer": 6, "weak": 6, "no code": 1,
                                "unverified: cpp: no-such-g++ not installed": 1, "unverified: no executor for go": 1}
    merged = cli("merge", run, "--min-pass-rate", "0.5", "--out", tmp_path / "m.jsonl")
    assert merged.exit_code == 0, merged.output
    assert sorted(r["metadata"]["id"] for r in rows(tmp_path / "m.jsonl")) == sorted(
        ["c", "javascript", "java", "rust", "bash", "sql"])
    assert ("dropped 3 record(s) the verified filter could not judge: 1 cpp: no-such-g++ not installed, "
            "1 no executor for go, 1 no code in the response (--unverified keep keeps them)") in merged.output


def _answered(server, before=0):
    return sum(c.action != "hang" for c in server.calls[before:])


def test_a_filter_killed_mid_run_resumes_without_paying_for_a_call_twice(tmp_path, server):
    """The filter runs in its own process; the server answers its first 7 calls and holds the rest. Once those 7
    are in the run's cache, the process is killed (SIGKILL). The next `wizevol filter` asks only for what it never
    got: the calls answered over both runs are exactly those of one uninterrupted run."""
    recs = [{"id": f"s{i}", "instruction": f"Subtract b from a ({i}).", "output": SUB} for i in range(4)]
    run = make_run(tmp_path, [recs])
    server.fault("text", match=TESTER, arg="```python\nassert sub(3, 1) == 2\n```", times=None)
    server.fault("text", match="Subtract b from a", arg=SUB, times=None)
    hold = server.fault("hang", skip=7, times=None, arg=600)
    server.faults.insert(0, server.faults.pop())  # the hold comes before the answers
    cfg = write_config(tmp_path / "cfg.yaml", server, filters={"verified": {"samples": 3, "tests": 2}})
    proc = subprocess.Popen([sys.executable, "-m", "wizevol", "filter", str(run), "--only", "verified", "--config",
                             str(cfg)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    db, deadline = run / "cache.sqlite", time.time() + 120
    while time.time() < deadline:
        try:
            cached = sqlite3.connect(db).execute("SELECT count(*) FROM responses").fetchone()[0] if db.exists() else -1
        except sqlite3.Error:
            cached = -1
        if any(c.action == "hang" for c in server.calls) and cached == _answered(server) == 7:
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail(f"the filter never got its first 7 answers cached ({len(server.calls)} calls)")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    hold.released = True
    assert not (run / "filters" / "verified" / "stats.json").exists()
    result = cli("filter", run, "--only", "verified", "--config", cfg)
    assert result.exit_code == 0, result.output
    assert _answered(server) == 4 * (2 + 2)  # 4 records x (2 test sets + 2 sampled answers), each paid once
    assert [r["passed"] for r in rows(run / "filters" / "verified" / "results_0.jsonl")] == [True] * 4


def test_the_tester_is_its_own_role_whose_unset_fields_are_the_responders():
    from wizevol.config import EvolveConfig

    base = {"backend": "api", "endpoint": {"base_url": "http://a/v1"}, "evolver": {"model": "evolver"},
            "responder": {"model": "coder", "base_url": "http://r/v1", "temperature": 0.2}}
    cfg = EvolveConfig.model_validate(base)
    tester = cfg.role("tester")
    assert (tester.model, tester.base_url, tester.temperature) == ("coder", "http://r/v1", 0.2)
    own = EvolveConfig.model_validate({**base, "tester": {"model": "big-instruct", "base_url": "http://t/v1"}})
    assert (own.role("tester").model, own.role("tester").base_url, own.role("tester").temperature) == (
        "big-instruct", "http://t/v1", 0.2)
    assert own.fingerprint() == cfg.fingerprint()  # a filter's role: the run it checks is the same run


def test_a_filter_run_without_verified_says_in_one_line_why_it_is_off(tmp_path, server):
    from wizevol.filters.verified import OFF

    run = make_run(tmp_path, [[{"id": "ok", "instruction": "Subtract b from a.", "output": SUB}]])
    off = {"enabled": False}
    cfg = write_config(tmp_path / "cfg.yaml", server, filters={"near_dup": off, "contamination": off})
    result = cli("filter", run, "--config", cfg)
    assert result.exit_code == 0, result.output
    assert result.output.count(OFF) == 1 and not server.calls
    only = cli("filter", run, "--only", "code_check", "--config", cfg)
    assert only.exit_code == 0 and OFF not in only.output
    on = write_config(tmp_path / "on.yaml", server, filters={"near_dup": off, "contamination": off,
                                                             "verified": {"enabled": True}})
    assert OFF not in cli("filter", run, "--config", on).output


def test_tests_that_define_the_answer_again_check_the_answer_not_their_copy(tmp_path, server):
    """A small tester writes the solution again before its asserts. In Python the later definition wins: the
    tests checked their own right copy and a wrong answer passed. In C the answer no longer compiled and a right
    answer was dropped. The tests' own definitions of the answer's names are taken out before they run."""
    hcf = "int hcf(int x, int y) {\n    while (y) { int r = x % y; x = y; y = r; }\n    return x;\n}"
    run = make_run(tmp_path, [[
        {"id": "py-wrong", "instruction": "Subtract b from a.", "output": SUB_BUG},
        {"id": "c-right", "instruction": "Highest common factor in C.", "output": f"```c\n{hcf}\n```"}]])
    server.fault("text", match=TESTER + "Subtract", arg="```python\ndef sub(a, b):\n    return a - b\n\n"
                                                         "assert sub(3, 1) == 2\n```", times=None)
    server.fault("text", match=TESTER + "Highest", arg=f"```c\n#include <assert.h>\n{hcf}\nint main(void) {{ "
                                                        "if (hcf(4, 2)) { assert(hcf(48, 18) == 6); } return 0; }\n```",
                 times=None)
    cfg = write_config(tmp_path / "cfg.yaml", server, filters={"verified": {}})
    assert cli("filter", run, "--only", "verified", "--config", cfg).exit_code == 0
    results = {r["id"]: r for r in rows(run / "filters" / "verified" / "results_0.jsonl")}
    assert (results["py-wrong"]["passed"], results["py-wrong"]["error"]) == (
        False, "AssertionError at: assert sub(3, 1) == 2")
    assert (results["c-right"]["passed"], results["c-right"]["matrix"]) == (True, ["1"])


def test_a_javascript_copy_of_the_answer_in_the_tests_is_taken_out_and_a_call_in_an_if_is_not():
    from wizevol.filters.tester import without_answer

    tests = ("function add(a, b) { if (a) { return a + b; } return b; }\nconst assert = require('assert');\n"
             "if (add(1, 1) > 0) { assert.strictEqual(add(2, 3), 5); }\n")
    out = without_answer(tests, "function add(a, b) { return a - b; }", "javascript")
    assert out == "\nconst assert = require('assert');\nif (add(1, 1) > 0) { assert.strictEqual(add(2, 3), 5); }\n"
    assert without_answer(tests, "function other() { return 1; }", "javascript") == tests
