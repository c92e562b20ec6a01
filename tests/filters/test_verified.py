"""The verified filter through the CLI against a scripted endpoint: the tester's unit tests run with each
answer in the sandbox; a failing answer is rejected with the assertion that failed; sampled answers give a
pass rate and a difficulty; `merge --min-pass-rate` selects by it; a rerun pays nothing."""

from __future__ import annotations

import json

from conftest import rows, write_config
from test_filters import cli, make_run

ADD = "```python\ndef add(a, b):\n    return a + b\n```"
SUB_BUG = "```python\ndef sub(a, b):\n    return a + b\n```"
RECORDS = [
    {"id": "good", "instruction": "Add two numbers.", "output": ADD},
    {"id": "bad", "instruction": "Subtract b from a.", "output": SUB_BUG},
    {"id": "notests", "instruction": "Greet the user by name.", "output": "```python\ndef greet(n):\n    "
                                                                        "return 'hi ' + n\n```"},
    {"id": "prose", "instruction": "Explain recursion.", "output": "Recursion is a function calling itself."},
]


def test_verified_marks_every_python_response_and_merge_selects_by_pass_rate(tmp_path, server):
    run = make_run(tmp_path, [RECORDS])
    tester = "Write unit tests for a solution to this programming task.\n\nTask:\n"
    server.fault("text", match=tester + "Add two", arg="```python\nassert add(1, 2) == 3\nassert add(-1, 1) == 0\n```",
                 times=None)
    server.fault("text", match=tester + "Subtract", arg="```python\nassert sub(5, 5) == 0\nassert sub(3, 1) == 2\n```",
                 times=None)
    server.fault("text", match=tester + "Greet", arg="I would test that it greets.", times=None)
    server.fault("text", match="Add two numbers.", arg=ADD, times=1)  # one of the two extra answers is right
    cfg = write_config(tmp_path / "cfg.yaml", server, filters={"verified": {"samples": 3}})
    result = cli("filter", run, "--only", "verified", "--config", cfg)
    assert result.exit_code == 0, result.output
    rejected = {r["id"]: r for r in rows(run / "filters" / "verified" / "rejected_0.jsonl")}
    assert list(rejected) == ["bad"]
    assert rejected["bad"]["reason"] == "failed its tests: AssertionError at: assert sub(5, 5) == 0"
    results = {r["id"]: r for r in rows(run / "filters" / "verified" / "results_0.jsonl")}
    assert set(results) == {"good", "bad", "notests", "prose"}  # every record, the prose one with its reason
    assert (results["prose"]["pass_rate"], results["prose"]["error"]) == (None, "no code in the response")
    assert (results["good"]["passed"], results["good"]["pass_rate"], results["good"]["difficulty"]) == (
        True, 0.6667, "medium")  # its own answer and the scripted right one pass; the default answer does not
    assert (results["bad"]["passed"], results["bad"]["pass_rate"], results["bad"]["difficulty"]) == (False, 0, "hard")
    assert results["notests"]["pass_rate"] is None and results["notests"]["passed"] is None
    stats = json.loads((run / "filters" / "verified" / "stats.json").read_text())
    assert stats["records"] == {"weak": 1, "no code": 1, "chosen: its own answer": 1, "unverified: no usable tests": 1}
    calls = len(server.calls)
    assert calls == 3 + 3 * 2  # three tester calls, two more answers for each of the three Python records

    merged = cli("merge", run, "--min-pass-rate", "0.5", "--out", tmp_path / "m.jsonl")
    assert merged.exit_code == 0, merged.output
    assert [r["metadata"]["id"] for r in rows(tmp_path / "m.jsonl")] == ["good"]
    assert "below_pass_rate" in merged.output and "unverified" in merged.output
    # the records it could not verify (the prose answer, the untestable greeting) are kept only when asked
    kept = cli("merge", run, "--min-pass-rate", "0.5", "--unverified", "keep", "--out", tmp_path / "k.jsonl")
    assert kept.exit_code == 0, kept.output
    assert sorted(r["metadata"]["id"] for r in rows(tmp_path / "k.jsonl")) == ["good", "notests", "prose"]
    bad = cli("merge", run, "--min-pass-rate", "0.5", "--unverified", "maybe", "--out", tmp_path / "x.jsonl")
    assert bad.exit_code == 2 and bad.stderr.strip() == "Error: --unverified 'maybe': choose drop or keep"
    again = cli("filter", run, "--only", "verified", "--config", cfg)
    assert again.exit_code == 0, again.output
    assert len(server.calls) == calls


def test_min_pass_rate_needs_the_verified_results(tmp_path):
    run = make_run(tmp_path, [RECORDS])
    result = cli("merge", run, "--min-pass-rate", "0.5", "--out", tmp_path / "m.jsonl")
    assert result.exit_code == 2 and "run `wizevol filter" in result.stderr and "--only verified" in result.stderr


def test_a_failed_call_is_no_answer_and_the_filter_asks_again(tmp_path, server):
    """A sampled answer whose call failed is left out of the pass rate (not counted as a failing answer), a tester
    call that failed leaves its record unverified with that reason, and the stats are no done-marker: once the
    endpoint answers, the same command runs the filter again and fills both in."""
    run = make_run(tmp_path, [RECORDS[:2]])
    tester = "Write unit tests for a solution to this programming task.\n\nTask:\n"
    server.fault("text", match=tester + "Add two", arg="```python\nassert add(1, 2) == 3\n```", times=None)
    server.fault("500", match=tester + "Subtract", times=None)
    server.fault("500", match="Add two numbers.", times=None)  # the two sampled answers of "good"
    cfg = write_config(tmp_path / "cfg.yaml", server, filters={"verified": {"samples": 3}})
    cfg.write_text(cfg.read_text().replace("max_attempts: 3", "max_attempts: 1"))
    result = cli("filter", run, "--only", "verified", "--config", cfg)
    assert result.exit_code == 0, result.output
    results = {r["id"]: r for r in rows(run / "filters" / "verified" / "results_0.jsonl")}
    assert (results["good"]["passed"], results["good"]["pass_rate"], results["good"]["samples"]) == (True, 1.0, 1)
    assert results["bad"]["passed"] is None and results["bad"]["error"] == "the tester's call failed"
    stats = json.loads((run / "filters" / "verified" / "stats.json").read_text())
    assert stats["calls_failed"] == 3 and stats["records"] == {"chosen: its own answer": 1, "unverified: the tester's call failed": 1}
    assert "3 calls failed: their records are unverified or have fewer samples" in result.output

    server.faults.clear()
    server.fault("text", match=tester + "Add two", arg="```python\nassert add(1, 2) == 3\n```", times=None)
    server.fault("text", match=tester + "Subtract", arg="```python\nassert sub(5, 5) == 0\n```", times=None)
    again = cli("filter", run, "--only", "verified", "--config", cfg)
    assert again.exit_code == 0 and "calls failed" not in again.output
    results = {r["id"]: r for r in rows(run / "filters" / "verified" / "results_0.jsonl")}
    assert results["good"]["samples"] == 3 and results["bad"]["passed"] is False
    assert json.loads((run / "filters" / "verified" / "stats.json").read_text())["calls_failed"] == 0


def test_a_chat_testers_fenced_answer_is_not_cut_at_its_fence(tmp_path, server):
    """The tester's `stop: ["```"]` ends a few-shot continuation before the next example. Sent in chat mode too,
    it cut every chat answer at its opening fence: with a real server (one that honours stop sequences) every
    record came back "unverified: no usable tests" (all 7 of the demo's Python records, on Qwen 1.5B)."""
    server.honor_stop = True
    run = make_run(tmp_path, [RECORDS[:2]])
    tester = "Write unit tests for a solution to this programming task.\n\nTask:\n"
    server.fault("text", match=tester + "Add two", arg="Here are the tests:\n```python\nassert add(1, 2) == 3\n```",
                 times=None)
    server.fault("text", match=tester + "Subtract", arg="```python\nassert sub(5, 5) == 0\n```", times=None)
    result = cli("filter", run, "--only", "verified", "--config", write_config(tmp_path / "cfg.yaml", server))
    assert result.exit_code == 0, result.output
    results = {r["id"]: r for r in rows(run / "filters" / "verified" / "results_0.jsonl")}
    assert (results["good"]["passed"], results["bad"]["passed"]) == (True, False)
    assert {c.path for c in server.calls} == {"/v1/chat/completions"}


def test_completion_mode_still_stops_at_the_fence():
    from wizevol.prompts import PromptSet

    tester = PromptSet.load().tester
    assert tester.request("completion", instruction="x", code="def f()").stop == ("```",)
    assert tester.request("chat", instruction="x", code="def f()").stop == ()


def test_a_response_that_exits_before_its_tests_run_fails_them(tmp_path, server):
    """Exit status 0 is no pass: a wrong sub() that ends the program at the top level (sys.exit(0)), before the
    tester's asserts run, fails with its own reason."""
    quits = "```python\ndef sub(a, b):\n    return a + b\n\n\nimport sys\nsys.exit(0)\n```"
    run = make_run(tmp_path, [[{"id": "quits", "instruction": "Subtract b from a.", "output": quits}]])
    server.fault("text", match="Task:\nSubtract", arg="```python\nassert sub(5, 5) == 0\n```", times=None)
    cfg = write_config(tmp_path / "cfg.yaml", server, filters={"verified": {"samples": 1}})
    result = cli("filter", run, "--only", "verified", "--config", cfg)
    assert result.exit_code == 0, result.output
    (rej,) = rows(run / "filters" / "verified" / "rejected_0.jsonl")
    assert rej["reason"] == "failed its tests: the program ended before its tests finished (exit status 0)"
