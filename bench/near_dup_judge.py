"""near_dup with llm_judge: asking the judge ahead, all of a round's questions at once, next to asking them one
by one in check(), side by side in one run.

Every text of data/near_dup/ (both pair sets), each its own lineage, over two rounds. The judge is
tests/scripted_server.py on 127.0.0.1 with a fixed latency, answering Same for the reworded pairs. Both ways
run the real filter (MiniLM encode included) through the openai SDK, each in a fresh run folder (its own
cache), and must reject the same records.

    .venv/bin/python bench/near_dup_judge.py [--latency 0.2] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from scripted_server import ScriptedServer  # noqa: E402

from wizevol.config import EvolveConfig  # noqa: E402
from wizevol.filters.base import run_filter  # noqa: E402
from wizevol.filters.judge import llm_judge  # noqa: E402
from wizevol.filters.near_dup import NearDup  # noqa: E402
from wizevol.run_folder import RunFolder  # noqa: E402


def make_run(root: Path, texts: list[str]) -> RunFolder:
    half = len(texts) // 2
    for k, part in enumerate((texts[:half], texts[half:])):
        recs = [{"id": f"t{k}-{i:03d}", "instruction": t, "input": "", "output": "", "round": k}
                for i, t in enumerate(part)]
        (root / f"round_{k}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
        (root / f"round_{k}.done").write_text(json.dumps({"round": k, "pool": len(recs), "kept": len(recs),
                                                           "eliminated_by_rule": {}, "failed": 0, "tokens": {}}))
    return RunFolder(root)


def one(server: ScriptedServer, texts: list[str], concurrency: int, ahead: bool) -> dict:
    cfg = EvolveConfig.model_validate({
        "backend": "api", "concurrency": concurrency, "evolver": {"model": "judge"},
        "endpoint": {"base_url": server.url, "timeout": 30, "max_attempts": 2}})
    before = server.count("near_dup_judge")
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        folder = make_run(Path(tmp), texts)
        judge = llm_judge(folder, cfg, stack)
        flt = NearDup(judge=judge.same_task, judge_ahead=judge.same_task_ahead if ahead else None)
        t0 = time.perf_counter()
        stats = run_filter(folder, flt)
        wall = time.perf_counter() - t0
        rejected = sorted(json.loads(line)["id"] for k in (0, 1)
                          for line in folder.filter_rejected("near_dup", k).read_text().splitlines())
    return {"wall_s": wall, "rejected": rejected, "judge": stats["judge"], "calls": server.count("near_dup_judge") - before}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.2, help="seconds the server takes per call")
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    pairs = [json.loads(line) for name in ("pairs.jsonl", "heldout.jsonl")
             for line in (ROOT / "data" / "near_dup" / name).read_text().splitlines()]
    texts = list(dict.fromkeys(t for p in pairs for t in (p["a"], p["b"])))
    server = ScriptedServer(latency=args.latency).start()
    try:
        for p in pairs:
            if p["duplicate"]:
                for a, b in ((p["a"], p["b"]), (p["b"], p["a"])):
                    server.fault("text", role="near_dup_judge", match=f"Instruction A:\n{a}\n\nInstruction B:\n{b}",
                                 arg="Same", times=None)
        from wizevol.filters.encoder import model as _embedder

        _embedder()  # MiniLM loaded before either is timed
        by_one = one(server, texts, args.concurrency, ahead=False)
        ahead = one(server, texts, args.concurrency, ahead=True)
    finally:
        server.stop()
    assert by_one["rejected"] == ahead["rejected"], "the two ways must reject the same records"
    print(f"{len(texts)} texts over 2 rounds; judge latency {args.latency} s, concurrency {args.concurrency}")
    for name, r in (("one by one in check()", by_one), ("asked ahead per round", ahead)):
        print(f"  {name:<24} {r['wall_s']:6.1f} s  {r['calls']:4d} calls to the server  "
              f"{len(r['rejected'])} rejected  check() asked {r['judge']['calls']}")
    print(f"ratio: {by_one['wall_s'] / ahead['wall_s']:.1f}x")


if __name__ == "__main__":
    main()
