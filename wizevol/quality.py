"""`wizevol filter`: build the enabled quality filters from the config and run them over a run folder."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from tqdm import tqdm

from wizevol.config import EvolveConfig, Quality, load_config
from wizevol.errors import InputError
from wizevol.quality_filter import QualityFilter, run_filter, write_clean
from wizevol.run_folder import RunFolder, read_jsonl

NAMES = ("near_dup", "contaminated", "code_check")


def build(name: str, q: Quality, judge=None) -> QualityFilter:
    if name == "near_dup":
        from wizevol.near_dup import NearDup

        return NearDup(q.near_dup.num_perm, q.near_dup.threshold, q.near_dup.ngram)
    if name == "contaminated":
        from wizevol.decontamination import Decontaminator

        c = q.contaminated
        return Decontaminator(c.ngram, c.coverage, c.benchmarks, c.humaneval, c.embedding, c.embedding_threshold,
                              judge if c.llm_judge else None)
    from wizevol.code_check import CodeCheck
    from wizevol.sandbox import Limits

    c = q.code_check
    return CodeCheck(c.execute, Limits(cpu_s=c.cpu_s, wall_s=c.wall_s, memory_mb=c.memory_mb))


def _config(folder: RunFolder, config: str | Path | None) -> EvolveConfig:
    if config is not None:
        return load_config(config)
    manifest = folder.path("manifest.json")
    if manifest.exists():  # the config the run was made with
        return EvolveConfig.model_validate(json.loads(manifest.read_text())["config"])
    return EvolveConfig()


def llm_judge(folder: RunFolder, cfg: EvolveConfig, stack: contextlib.ExitStack):
    """A sync yes/no judge over the judge role, through the run's cache (and the local model if it is local)."""
    from wizevol.cache import ResponseCache
    from wizevol.llm import LLM, CallFailed, Usage
    from wizevol.prompts import PromptSet

    local_url = None
    if cfg.is_local("judge"):
        from wizevol.local_server import LocalServer

        server = stack.enter_context(LocalServer.from_config(cfg.local, log_path=folder.path("local_server.log")))
        local_url = server.url
    role = cfg.role("judge", local_url).model_copy(update={"max_tokens": 8, "temperature": 0.0})
    prompts = PromptSet.load(cfg.prompts_dir)
    cache = ResponseCache(folder.path("cache.sqlite"))
    llm = LLM(cfg.endpoint, cache, Usage())
    loop = asyncio.new_event_loop()

    def close() -> None:
        loop.run_until_complete(llm.aclose())
        loop.close()
        cache.close()

    stack.callback(close)

    def judge(benchmark: str, candidate: str) -> bool:
        request = prompts.contamination_judge.request(role.mode, benchmark=benchmark, candidate=candidate)
        try:
            answer = loop.run_until_complete(llm.complete(role, request, 0)).text
        except CallFailed:
            return True  # unconfirmed: the embedding hit stands
        return answer.strip().lower().lstrip("*\"' ").startswith("yes")

    return judge


def run_quality(run: str | Path, only: str | None, config: str | Path | None) -> tuple[dict[str, Any], dict]:
    folder = RunFolder(run)
    if not folder.root.is_dir() or not folder.finished_rounds():
        raise InputError(f"{run}: no finished rounds (is this a wizevol run folder?)")
    if only is not None and only not in NAMES:
        raise InputError(f"--only {only!r}: choose one of {', '.join(NAMES)}")
    cfg = _config(folder, config)
    q = cfg.quality
    enabled = [n for n in NAMES if getattr(q, n).enabled]
    names = [only] if only else enabled
    with contextlib.ExitStack() as stack:
        judge = None
        if "contaminated" in names and q.contaminated.embedding and q.contaminated.llm_judge:
            judge = llm_judge(folder, cfg, stack)
        total = sum(len(read_jsonl(folder.kept(k))) for k in folder.finished_rounds())
        results = {}
        for name in names:
            with tqdm(total=total, desc=name, unit="rec", disable=None) as bar:
                results[name] = run_filter(folder, build(name, q, judge), bar)
    clean = write_clean(folder, enabled) if not only else {}
    return results, clean
