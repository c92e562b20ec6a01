"""`wizevol evolve`: seed -> round 0 -> rounds 1..N in a resumable run folder."""

from __future__ import annotations

import asyncio
import hashlib
import json
import platform
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

from tqdm import tqdm

from wizevol import __version__
from wizevol.cache import ResponseCache
from wizevol.config import EvolveConfig
from wizevol.elimination import build_rules
from wizevol.evolution import Outcome, Roles, RoundContext, run_rounds
from wizevol.llm import LLM, Usage
from wizevol.prompts import PromptSet
from wizevol.record import Record
from wizevol.run_folder import RunFolder, read_jsonl, write_jsonl
from wizevol.seed import load_seed

RULES_ORDER = ("no_gain", "refusal", "stopwords_only", "prompt_leak", "truncated", "empty")


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:16]


def _versions() -> dict[str, str]:
    out = {"wizevol": __version__, "python": platform.python_version()}
    for pkg in ("openai", "tenacity", "datasets", "typer"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _round_stats(k: int, pool_size: int, outcomes: list[Outcome], usage: Usage, wall: float) -> dict[str, Any]:
    by_rule = Counter(o.row["rule"] for o in outcomes if o.kind == "eliminated")
    kinds = Counter(o.kind for o in outcomes)
    return {
        "round": k,
        "pool": pool_size,
        "kept": kinds["kept"],
        "eliminated": sum(by_rule.values()),
        "eliminated_by_rule": dict(sorted(by_rule.items())),
        "failed": kinds["failed"],
        "failed_by_stage": dict(sorted(Counter(o.row["stage"] for o in outcomes if o.kind == "failed").items())),
        "methods": dict(sorted(Counter(o.row["method"] for o in outcomes).items())),
        "judge_unparsed": sum(o.judge_unparsed for o in outcomes),
        "tokens": usage.for_round(k),
        "finished_after_s": round(wall, 3),
    }


def summary_table(rounds: list[dict[str, Any]]) -> str:
    cols = ["round", "pool", "kept", *RULES_ORDER, "failed", "tokens", "done_at_s"]
    rows = []
    for s in rounds:
        tokens = sum(t["prompt_tokens"] + t["completion_tokens"] for t in s.get("tokens", {}).values())
        rule = s.get("eliminated_by_rule", {})
        rows.append([s["round"], s["pool"], s["kept"], *(rule.get(r, 0) for r in RULES_ORDER), s["failed"],
                     tokens, f"{s.get('finished_after_s', 0):.1f}"])
    widths = [max(len(str(c)), *(len(str(r[i])) for r in rows)) for i, c in enumerate(cols)]
    line = lambda vals: "  ".join(str(v).rjust(w) for v, w in zip(vals, widths, strict=False))  # noqa: E731
    return "\n".join([line(cols), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def run_evolve(seed: str, out: str, cfg: EvolveConfig, progress: bool | None = None) -> dict[str, Any]:
    """Run `wizevol evolve`. Input is checked before anything starts; the embedded local model is started only
    when a role needs it and a round is left to run, and is always stopped afterwards."""
    started = time.time()
    for name in ("evolver", "responder", "judge"):
        cfg.role(name)  # a config mistake fails now, before any file or server
    prompts = PromptSet.load(cfg.prompts_dir)
    records, quarantined = load_seed(seed, cfg.seed, cfg.limit)
    prompt_blob = json.dumps([[t.chat, t.completion, t.stop] for t in (prompts.evolve, prompts.respond, prompts.judge)]
                             + [prompts.methods, prompts.headings, prompts.markers, prompts.leak_phrases], sort_keys=True)
    seed_blob = "".join(json.dumps(r.to_json(), sort_keys=True) for r in records)
    fingerprint = _digest(cfg.fingerprint(), seed_blob, prompt_blob)
    folder = RunFolder(out)
    folder.prepare(fingerprint)
    if quarantined:
        write_jsonl(folder.path("quarantine_seed.jsonl"), (q.to_json() for q in quarantined))
        print(f"warning: quarantined {len(quarantined)} bad seed line(s) -> {folder.path('quarantine_seed.jsonl')}",
              file=sys.stderr)
    rest = (progress, prompts, records, quarantined, fingerprint, started)

    work_left = any(folder.round_done(k) is None for k in range(1, cfg.rounds + 1))
    if not work_left or not any(cfg.is_local(n) for n in ("evolver", "responder", "judge")):
        return _run(seed, folder, cfg, *rest, local_url=None)
    from wizevol.local_server import LocalServer, sigterm_as_interrupt

    server = LocalServer.from_config(cfg.local, log_path=folder.path("local_server.log"))
    # the local server answers one request at a time: more calls in flight only queue there
    local_cfg = cfg.model_copy(update={"concurrency": min(cfg.concurrency, cfg.local.concurrency)})
    with sigterm_as_interrupt():
        print(f"starting the local model {cfg.local.model} ({server.n_threads} threads) ...", file=sys.stderr)
        with server:
            return _run(seed, folder, local_cfg, *rest, local_url=server.url)


def _run(seed: str, folder: RunFolder, cfg: EvolveConfig, progress: bool | None, prompts: PromptSet,
         records: list[Record], quarantined: list, fingerprint: str, started: float,
         local_url: str | None) -> dict[str, Any]:
    roles = Roles(
        evolver=cfg.role("evolver", local_url),
        responder=cfg.role("responder", local_url),
        judge=cfg.role("judge", local_url) if cfg.filters.no_gain else None,
    )
    manifest: dict[str, Any] = {
        "wizevol_version": __version__,
        "started_at": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
        "seed": {"path": str(seed), "records": len(records), "quarantined": len(quarantined)},
        "fingerprint": fingerprint,
        "config": cfg.model_dump(mode="json"),
        "roles": {n: (getattr(roles, n).model_dump() if getattr(roles, n) else None)
                  for n in ("evolver", "responder", "judge")},
        "prompts_dir": prompts.source,
        "versions": _versions(),
        "rounds": [],
    }

    if folder.round_done(0) is None:
        write_jsonl(folder.kept(0), (r.to_json() for r in records))
        folder.mark_done(0, {"round": 0, "pool": len(records), "kept": len(records), "eliminated": 0,
                             "eliminated_by_rule": {}, "failed": 0, "tokens": {}, "finished_after_s": 0.0})
    manifest["rounds"].append(folder.round_done(0))

    usage = Usage()
    cache = ResponseCache(folder.path("cache.sqlite"))
    llm = LLM(cfg.endpoint, cache, usage)
    for role in (roles.evolver, roles.responder, roles.judge):
        if role is not None:
            llm.client_for(role)  # a missing API key fails here, before any work

    first = next((k for k in range(1, cfg.rounds + 1) if folder.round_done(k) is None), cfg.rounds + 1)
    for k in range(1, first):
        manifest["rounds"].append(folder.round_done(k))
    t0 = time.time()

    def round_done(k: int, outcomes: list[Outcome]) -> None:
        write_jsonl(folder.kept(k), (o.row for o in outcomes if o.kind == "kept"))
        write_jsonl(folder.eliminated(k), (o.row for o in outcomes if o.kind == "eliminated"))
        write_jsonl(folder.failed(k), (o.row for o in outcomes if o.kind == "failed"))
        write_jsonl(folder.pool(k), (o.next_pool.to_json() for o in outcomes))
        stats = _round_stats(k, len(outcomes), outcomes, usage, time.time() - t0)
        stats["fingerprint"] = fingerprint
        folder.mark_done(k, stats)
        manifest["rounds"].append(stats)
        folder.write_manifest({**manifest, "calls_made": llm.new_calls})

    async def _all_rounds() -> None:
        if first > cfg.rounds:
            return
        pool = [Record.from_json(d) for d in read_jsonl(folder.pool(first - 1))]
        rules = build_rules(cfg.filters, prompts.leak_markers(), prompts.evolve_texts(roles.evolver.mode),
                            prompts.methods)
        ctx = RoundContext(cfg=cfg, llm=llm, prompts=prompts, rules=rules, roles=roles)
        disable = None if progress is None else not progress
        bars = {k: tqdm(total=len(pool), desc=f"round {k}", unit="rec", position=k - first, disable=disable,
                        dynamic_ncols=True, leave=True) for k in range(first, cfg.rounds + 1)}
        try:
            await run_rounds(pool, first, cfg.rounds, ctx, round_done, bars)
        finally:
            for bar in bars.values():
                bar.close()
            await llm.aclose()

    try:
        asyncio.run(_all_rounds())
    finally:
        cache.close()
    manifest["wall_s"] = round(time.time() - started, 3)
    manifest["calls_made"] = llm.new_calls
    manifest["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    folder.write_manifest(manifest)
    return manifest
