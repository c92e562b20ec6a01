"""`wizevol evolve`: seed -> round 0 -> rounds 1..N in a resumable run folder."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from wizevol import __version__, versions
from wizevol.config import EvolveConfig
from wizevol.cost import answered, estimate, measured_per_call, price_of, round_cost
from wizevol.errors import InputError
from wizevol.evolve.chain import Outcome, Roles, RoundContext
from wizevol.evolve.rules import build_rules
from wizevol.evolve.scheduler import run_rounds
from wizevol.llm.client import Usage
from wizevol.llm.session import Session, open_session
from wizevol.prompts import PromptSet
from wizevol.record import Record
from wizevol.run_folder import RunFolder, read_jsonl, write_jsonl
from wizevol.seed import load_seed
from wizevol.table import aligned

ROLES = ("evolver", "responder", "judge")
RULES_ORDER = ("no_gain", "refusal", "stopwords_only", "prompt_leak", "truncated", "empty")


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:16]



def _round_stats(k: int, pool_size: int, outcomes: list[Outcome], usage: Usage, wall: float) -> dict[str, Any]:
    by_rule = Counter(o.record.rejection.by for o in outcomes if o.kind == "eliminated")
    kinds = Counter(o.kind for o in outcomes)
    return {
        "round": k,
        "pool": pool_size,
        "kept": kinds["kept"],
        "eliminated": sum(by_rule.values()),
        "eliminated_by_rule": dict(sorted(by_rule.items())),
        "failed": kinds["failed"],
        "failed_by_stage": dict(sorted(Counter(o.record.rejection.by for o in outcomes if o.kind == "failed").items())),
        "methods": dict(sorted(Counter(o.record.method for o in outcomes).items())),
        "judge_unparsed": sum(o.judge_unparsed for o in outcomes),
        "tokens": usage.for_round(k),
        "finished_after_s": round(wall, 3),
    }


def summary_table(rounds: list[dict[str, Any]]) -> str:
    """The per-round counts of a run as the table `wizevol evolve` prints."""
    cols = ["round", "pool", "kept", *RULES_ORDER, "failed", "tokens", "cost_usd", "done_at_s"]
    rows = []
    for s in rounds:
        tokens = sum(t["prompt_tokens"] + t["completion_tokens"] for t in s.get("tokens", {}).values())
        rule = s.get("eliminated_by_rule", {})
        cost = s.get("cost", {}).get("usd")
        rows.append([s["round"], s["pool"], s["kept"], *(rule.get(r, 0) for r in RULES_ORDER), s["failed"],
                     tokens, "-" if cost is None else f"{cost:.4f}", f"{s.get('finished_after_s', 0):.1f}"])
    return aligned(cols, rows, underline=True)


def estimate_table(est: dict[str, Any]) -> str:
    """The `--dry-run` estimate: calls, tokens and cost per round and role."""
    rows = []
    for k, r in est["rounds"].items():
        for role, t in r["by_role"].items():
            rows.append([k, role, t["calls"], t["prompt_tokens"], t["completion_tokens"], f"{t['usd']:.4f}",
                         t["price"]])
    rows.append(["all", "", est["calls"], "", "", f"{est['usd']:.4f}", f"{est['tokens']} tokens"])
    return aligned(["round", "role", "calls", "prompt_tokens", "completion_tokens", "usd", "price"], rows,
                   underline=True)


Event = Callable[..., None]


def _prepare(seed: str, cfg: EvolveConfig) -> tuple[PromptSet, list[Record], list, str]:
    """The prompts, the seed's records and quarantine, and the run's fingerprint."""
    for name in ROLES:
        cfg.role(name)  # a config mistake fails now, before any file or server
    if cfg.batch.enabled and any(cfg.served_locally(n) for n in ROLES):
        raise InputError("--batch needs a provider's Batch API (backend: api); the local model has none")
    prompts = PromptSet.load(cfg.prompts_dir)
    records, quarantined = load_seed(seed, cfg.seed, cfg.limit)
    prompt_blob = json.dumps([[t.chat, t.completion, t.stop] for t in (prompts.evolve, prompts.respond, prompts.judge)]
                             + [prompts.methods, prompts.headings, prompts.markers, prompts.leak_phrases], sort_keys=True)
    seed_blob = "".join(json.dumps(r.to_json(), sort_keys=True) for r in records)
    return prompts, records, quarantined, _digest(cfg.fingerprint(), seed_blob, prompt_blob)


def _roles(cfg: EvolveConfig, local_url: str | None) -> dict[str, Any]:
    names = [n for n in ROLES if n != "judge" or cfg.rules.no_gain]
    return {n: cfg.role(n, local_url) for n in names}


def dry_run(seed: str, out: str, cfg: EvolveConfig) -> dict[str, Any]:
    """`evolve --dry-run`: calls, tokens and cost of the rounds left to run, from the seed and the config. No
    call is made, no server started and nothing written; a run folder's finished rounds lend their measured
    tokens per call."""
    prompts, records, _, fingerprint = _prepare(seed, cfg)
    folder = RunFolder(out)
    done = []
    if folder.manifest().exists() and json.loads(folder.manifest().read_text()).get("fingerprint") == fingerprint:
        done = [d for k in range(1, cfg.rounds + 1) if (d := folder.read_done(k)) is not None]
    left = [k for k in range(1, cfg.rounds + 1) if k not in {d["round"] for d in done}]
    return estimate(records, left, cfg, prompts, _roles(cfg, None), measured_per_call(done))


def run_evolve(seed: str, out: str, cfg: EvolveConfig, on_event: Event | None = None) -> dict[str, Any]:
    """Run `wizevol evolve`. Input is checked before anything starts; the embedded local model is started only
    when a role needs it and a round is left to run, and is always stopped afterwards.

    `on_event(event, **data)` is how the caller hears of progress (the core prints nothing):
    "note" (text), "rounds" (first, last, pool: rounds about to run), "record" (round, counts: one more record
    of that round finished), "round" (stats: a round is written); under Evol Stop (`cfg.evol_stop`) also
    "trial" (label, cached: a fine-tune + eval starts or is read back) and "evol_stop" (point, decision)."""
    if cfg.evol_stop is not None:
        from wizevol.loop.evol_stop import run_evol_stop

        return run_evol_stop(seed, out, cfg, on_event)
    emit = on_event or (lambda event, **data: None)
    started = time.time()
    prompts, records, quarantined, fingerprint = _prepare(seed, cfg)
    folder = RunFolder(out)
    folder.prepare(fingerprint)
    if quarantined:
        write_jsonl(folder.quarantine(), (q.to_json() for q in quarantined))
        emit("note", text=f"warning: quarantined {len(quarantined)} bad seed line(s) -> "
                          f"{folder.quarantine()}")
    work_left = any(folder.read_done(k) is None for k in range(1, cfg.rounds + 1))
    with open_session(cfg, folder, ROLES if work_left else (), lambda text: emit("note", text=text)) as session:
        return _run(seed, folder, session, prompts, records, quarantined, fingerprint, started, emit)


def _run(seed: str, folder: RunFolder, session: Session, prompts: PromptSet, records: list[Record],
         quarantined: list, fingerprint: str, started: float, emit: Event) -> dict[str, Any]:
    cfg, llm, usage = session.cfg, session.llm, session.usage
    roles = Roles(
        evolver=cfg.role("evolver", session.local_url),
        responder=cfg.role("responder", session.local_url),
        judge=cfg.role("judge", session.local_url) if cfg.rules.no_gain else None,
    )
    manifest: dict[str, Any] = {
        "wizevol_version": __version__,
        "started_at": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
        "seed": {"path": str(seed), "records": len(records), "quarantined": len(quarantined)},
        "fingerprint": fingerprint,
        "config": cfg.model_dump(mode="json"),
        "roles": {n: (getattr(roles, n).model_dump() if getattr(roles, n) else None) for n in ROLES},
        "prompts_dir": prompts.source,
        "versions": versions("openai", "tenacity", "datasets", "typer"),
        "rounds": [],
    }

    if folder.read_done(0) is None:
        write_jsonl(folder.kept(0), (r.to_json() for r in records))
        folder.mark_done(0, {"round": 0, "pool": len(records), "kept": len(records), "eliminated": 0,
                             "eliminated_by_rule": {}, "failed": 0, "tokens": {}, "finished_after_s": 0.0})
    manifest["rounds"].append(folder.read_done(0))

    for role in (roles.evolver, roles.responder, roles.judge):
        if role is not None:
            llm.client_for(role)  # a missing API key fails here, before any work

    first = next((k for k in range(1, cfg.rounds + 1) if folder.read_done(k) is None), cfg.rounds + 1)
    for k in range(1, first):
        manifest["rounds"].append(folder.read_done(k))
    left = list(range(first, cfg.rounds + 1))
    priced = _roles(cfg, session.local_url)
    prices = {name: price_of(role, cfg) for name, role in priced.items()}
    pool0 = [Record.from_json(d) for d in read_jsonl(folder.pool(first - 1))] if left else []
    manifest["estimate"] = estimate(pool0, left, cfg, prompts, priced, measured_per_call(manifest["rounds"][1:]))
    t0 = time.time()

    def finish_round(k: int, outcomes: list[Outcome]) -> None:
        for kind, path in (("kept", folder.kept(k)), ("eliminated", folder.eliminated(k)), ("failed", folder.failed(k))):
            write_jsonl(path, (o.record.to_json() for o in outcomes if o.kind == kind))
        write_jsonl(folder.pool(k), (o.next_pool.to_json() for o in outcomes))
        stats = _round_stats(k, len(outcomes), outcomes, usage, time.time() - t0)
        stats["cost"] = round_cost(stats["tokens"], prices, cfg.batch.discount)
        stats["fingerprint"] = fingerprint
        folder.mark_done(k, stats)
        manifest["rounds"].append(stats)
        folder.write_manifest({**manifest, "calls_made": llm.new_calls, "endpoints": llm.endpoint_report()})
        emit("round", stats=stats)

    async def _all_rounds() -> None:
        if first > cfg.rounds:
            return
        pool = [Record.from_json(d) for d in read_jsonl(folder.pool(first - 1))]
        rules = build_rules(cfg.rules, prompts.leak_markers(), prompts.evolve_texts(roles.evolver.mode),
                            prompts.methods)
        ctx = RoundContext(cfg=cfg, llm=llm, prompts=prompts, rules=rules, roles=roles)
        emit("rounds", first=first, last=cfg.rounds, pool=len(pool))
        try:
            if not cfg.batch.enabled:
                await run_rounds(pool, first, cfg.rounds, ctx, finish_round,
                                 lambda k, counts: emit("record", round=k, counts=counts))
                return
            from wizevol.evolve.chain import evolve_one
            from wizevol.llm.batch import BatchRunner, prefetch_round

            runner = BatchRunner(llm, folder, cfg.batch, cfg.endpoint.max_attempts, lambda t: emit("note", text=t))
            llm.batch_only = True  # every answer comes from a batch job; nothing is sent online
            for k in range(first, cfg.rounds + 1):  # a round's stages need the round before it
                pool = [Record.from_json(d) for d in read_jsonl(folder.pool(k - 1))]
                await prefetch_round(pool, k, ctx, evolve_one, runner)
                await run_rounds(pool, k, k, ctx, finish_round, lambda k, counts: emit("record", round=k, counts=counts))
        finally:
            await llm.aclose()

    asyncio.run(_all_rounds())
    manifest["wall_s"] = round(time.time() - started, 3)
    manifest["calls_made"] = llm.new_calls
    manifest["endpoints"] = llm.endpoint_report()  # tries, failures and times taken out, per endpoint
    ran = [r for r in manifest["rounds"] if r["round"] in left]
    manifest["cost"] = {"rounds": left, "estimate_usd": manifest["estimate"]["usd"],
                        "bill_usd": round(sum(r["cost"]["usd"] for r in ran), 6),
                        "estimate_calls": manifest["estimate"]["calls"],
                        "answered_calls": sum(answered(t) for r in ran for t in r["tokens"].values()),
                        "estimate_tokens": manifest["estimate"]["tokens"],
                        "tokens": sum(t["prompt_tokens"] + t["completion_tokens"] for r in ran
                                      for t in r["tokens"].values()),
                        "prices": {name: p.source for name, p in prices.items()}}
    manifest["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    folder.write_manifest(manifest)
    return manifest
