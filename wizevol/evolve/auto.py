"""strategy auto (Auto Evol-Instruct, arXiv 2406.00770; arcee-ai/EvolKit): the evolving methods learn from the
rounds. Round 1 uses the prompts' five texts. Before each later round K, the optimizer role reads how round K-1 went
(its counts by method, a sample of its eliminations with their rule and reason, a sample of its kept instructions
with the `scorer` role's 1-10 complexity) and rewrites the texts, or adds one method (`auto_K`, at the mean
weight).

Each version is written to the run folder as methods_K.json, with the round it serves, before that round starts; a
resumed run reads it back instead of asking again, so a run can be read and replayed. The optimizer's and the
complexity judge's calls go through the run's cache and are counted and priced in round K like every other call.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import json
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from wizevol.complexity import parse_complexity
from wizevol.config import EvolveConfig, ResolvedRole
from wizevol.llm.client import LLM, CallFailed
from wizevol.prompts import PromptSet
from wizevol.record import Record
from wizevol.run_folder import RunFolder, stream_jsonl

MAX_TEXT = 600  # characters a method text may have; a longer one is kept out of the prompt as unreadable


def first_version(prompts: PromptSet, cfg: EvolveConfig) -> dict[str, Any]:
    """The method version round 1 uses: the prompts' texts and the config's weights."""
    return {"round": 1, "from_round": None, "methods": dict(prompts.methods), "weights": dict(cfg.weights),
            "changed": [], "added": None, "ignored": [], "unparsed": False}


def sample(records: Iterable[Record], size: int, *key: object) -> list[Record]:
    """A fixed sample: the `size` records with the smallest sha256 of (key..., id), NUL between, in that order."""
    def rank(r: Record) -> bytes:
        return hashlib.sha256("\x00".join([*map(str, key), r.id]).encode()).digest()

    return heapq.nsmallest(size, records, key=rank)


async def complexity(llm: LLM, prompts: PromptSet, scorer: ResolvedRole, record: Record, k: int) -> int | None:
    """The scorer's 1-10 complexity of a record, cached at its place (None: unreadable); CallFailed when the call
    failed for good."""
    request = prompts.complexity_judge.request(scorer.mode, instruction=record.prompt_text())
    return parse_complexity((await llm.complete(scorer, request, k, at=f"{record.id}#complexity")).text)


def _records(path) -> Iterable[Record]:
    return map(Record.from_json, stream_jsonl(path)) if path.exists() else iter(())


def report(folder: RunFolder, k: int, cfg: EvolveConfig, scores: dict[str, int | None]) -> str:
    """How round k went, as the optimizer reads it."""
    kept_by, dropped_by = Counter(), Counter()
    for r in _records(folder.kept(k)):
        kept_by[r.method] += 1
    for r in _records(folder.eliminated(k)):
        dropped_by[(r.method, r.rejection.by if r.rejection else "?")] += 1
    lines = ["Counts by method (kept; eliminated by rule):"]
    for m in sorted({*kept_by, *(m for m, _ in dropped_by)}, key=str):
        rules = ", ".join(f"{rule} {n}" for (mm, rule), n in sorted(dropped_by.items()) if mm == m) or "none"
        lines.append(f"- {m}: kept {kept_by[m]}; eliminated: {rules}")
    lines.append("\nEliminated rewrites (method, rule: reason):")
    for r in sample(_records(folder.eliminated(k)), cfg.auto.sample, cfg.seed_rng, "eliminated"):
        lines.append(f"- [{r.method}] {r.rejection.by}: {r.rejection.reason}\n  {_short(r.instruction)}")
    lines.append("\nKept rewrites (method, the judge's complexity 1-10):")
    for r in sample(_records(folder.kept(k)), cfg.auto.sample, cfg.seed_rng, "kept"):
        score = scores.get(r.id)
        lines.append(f"- [{r.method}] complexity {'?' if score is None else score}\n  {_short(r.instruction)}")
    return "\n".join(lines)


def _short(text: str, limit: int = 400) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + " ..."


def parse(text: str, previous: dict[str, Any], k: int) -> dict[str, Any]:
    """The next version from the optimizer's answer: its first JSON object's known names with a new text replace
    theirs, "new" adds `auto_K` (unless a method already has its text), any other key (or a value that is not a
    text of at most MAX_TEXT characters) is listed as ignored; an answer with no such object leaves the methods as they were (unparsed)."""
    methods, weights = dict(previous["methods"]), dict(previous["weights"])
    found = _first_object(text)
    changed, added, ignored = [], None, []
    for name, value in (found or {}).items():
        if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_TEXT or (
                name not in methods and name != "new"):
            ignored.append(name)
            continue
        if name in methods and value.strip() != methods[name]:
            methods[name] = value.strip()
            changed.append(name)
        elif name == "new" and added is None and value.strip() not in methods.values():
            added = f"auto_{k}"
            methods[added] = value.strip()
            live = [w for w in weights.values() if w > 0]
            weights[added] = round(sum(live) / len(live), 4)
    return {"round": k, "from_round": k - 1, "methods": methods, "weights": weights, "changed": changed,
            "added": added, "ignored": ignored, "unparsed": found is None}


def _first_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in a text (a ```json fence or not), or None."""
    decoder = json.JSONDecoder()
    for m in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text[m.start():])
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


async def next_version(folder: RunFolder, k: int, cfg: EvolveConfig, llm: LLM, prompts: PromptSet,
                       previous: dict[str, Any], optimizer: ResolvedRole, scorer: ResolvedRole) -> dict[str, Any]:
    """Round k's method version, from round k-1's files and the version that served it (calls in round k)."""
    kept = sample(_records(folder.kept(k - 1)), cfg.auto.sample, cfg.seed_rng, "kept")

    bound = asyncio.Semaphore(cfg.concurrency)  # no more calls in flight than the chains may have: a run killed here
    # repays what was in flight, and no more than `concurrency` of it

    async def rate(r: Record) -> int | None:
        async with bound:
            try:
                return await complexity(llm, prompts, scorer, r, k)
            except CallFailed:
                return None  # the optimizer reads "?"

    scores = dict(zip((r.id for r in kept), await asyncio.gather(*(rate(r) for r in kept)), strict=True))
    request = prompts.optimizer.request(optimizer.mode, methods=json.dumps(previous["methods"], indent=1),
                                        report=report(folder, k - 1, cfg, scores))
    done = await llm.complete(optimizer, request, k, at=f"methods_{k}")  # CallFailed stops the run: rerun
    version = parse(done.text, previous, k)
    version["answer"] = done.text
    version["kept_complexity"] = scores
    return version
