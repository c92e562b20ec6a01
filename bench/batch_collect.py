"""Collecting a batch job's output: 50,000 output lines, each looked up among the job's 50,000 request keys. The
collection now looks keys up in a set; before, in the job's list of keys (quadratic). Both run here side by side
on the same output, through BatchRunner._collect with an in-memory client and cache (no network, no disk).

    .venv/bin/python bench/batch_collect.py [--n 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from types import SimpleNamespace

from wizevol.config import BatchConfig
from wizevol.llm.batch import BatchRunner
from wizevol.run_folder import RunFolder


class Cache(dict):
    def put(self, key, value):
        self[key] = value


def output(n: int) -> str:
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2}}
    return "".join(json.dumps({"custom_id": f"key-{i:08d}", "response": {"status_code": 200, "body": body}}) + "\n"
                   for i in range(n))


class ListKeys(list):
    """The job's keys as the old code held them: a list (`key in keys` walks it)."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000)
    args = ap.parse_args()
    text = output(args.n)
    keys = [f"key-{i:08d}" for i in range(args.n)]
    client = SimpleNamespace(files=SimpleNamespace(content=lambda fid: _text(text)))
    job = SimpleNamespace(id="batch-x", status="completed", output_file_id="file-out", error_file_id=None)
    with tempfile.TemporaryDirectory() as tmp:
        runner = BatchRunner(SimpleNamespace(cache=Cache()), RunFolder(tmp), BatchConfig(), 3)
        event = {"id": "batch-x", "mode": "chat", "keys": keys}
        t0 = time.perf_counter()
        asyncio.run(runner._collect(client, job, event))
        now = time.perf_counter() - t0
        assert len(runner.llm.cache) == args.n
        runner.llm.cache.clear()
        t0 = time.perf_counter()
        old(text, keys, runner)
        before = time.perf_counter() - t0
        assert len(runner.llm.cache) == args.n
    print(f"{args.n} output lines against {args.n} keys: the set {now:.2f} s, the list (before) {before:.2f} s: "
          f"{before / now:.1f}x")


def old(text: str, keys: list[str], runner: BatchRunner) -> None:
    """The membership test the collection made before, on the same rows: `key not in event["keys"]` (a list)."""
    from wizevol.llm.batch import _rows, parse_body

    for row in _rows(SimpleNamespace(text=text)):
        key = row.get("custom_id")
        if key not in keys:
            continue
        runner.llm.cache.put(key, parse_body(row["response"]["body"], "chat"))


async def _text(text: str):
    return SimpleNamespace(text=text)


if __name__ == "__main__":
    main()
