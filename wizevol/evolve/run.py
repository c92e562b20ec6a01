"""`wizevol evolve`: seed -> round 0 -> rounds 1..N in a resumable run folder."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

from wizevol import __version__, versions
from wizevol.config import EvolveConfig
from wizevol.cost import answered, estimate, measured_per_call, price_of, round_cost, run_totals
from wizevol.errors import InputError
from wizevol.evolve.chain import Outcome, Roles, RoundContext
from wizevol.evolve.rules import build_rules
from wizevol.evolve.scheduler import run_rounds
from wizevol.llm.client import Usage
from wizevol.llm.session import Session, open_session
from wizevol.prompts import PromptSet
from wizevol.record import Record
from wizevol.run_folder import JsonlWriter, RunFolder, stream_jsonl, write_atomic, write_jsonl
from wizevol.seed import Seed, iter_seed
from wizevol.table import aligned

ROLES = ("evolver", "responder", "judge")
RULES_ORDER = ("no_gain", "refusal", "stopwords_only", "prompt_leak", "answered", "truncated", "empty",
               "commentary", "dangling_reference", "method_not_applied", "easier", "language_lost")


def _write_round(folder: RunFolder, k: int, outcomes: Iterator[Outcome], usage: Usage, wall: float
                 ) -> dict[str, Any]:
    """Write round k's files from its outcomes in pool order, in one pass; its stats. The counts are of lineages
    (kept + eliminated + failed = pool); strategy tree's siblings are written beside them and counted apart."""
    writers = {kind: JsonlWriter(path) for kind, path in (("kept", folder.kept(k)), ("eliminated", folder.eliminated(k)),
                                                         ("failed", folder.failed(k)), ("pool", folder.pool(k)))}
    by_rule, kinds, by_stage, methods, siblings = Counter(), Counter(), Counter(), Counter(), Counter()
    pool_size = unparsed = 0
    try:
        for o in outcomes:
            pool_size += 1
            kinds[o.kind] += 1
            methods[o.record.method] += 1
            unparsed += o.judge_unparsed
            if o.kind == "eliminated":
                by_rule[o.record.rejection.by] += 1
            elif o.kind == "failed":
                by_stage[o.record.rejection.by] += 1
            writers[o.kind].write(o.record.to_json())
            writers["pool"].write(o.next_pool.to_json())
            for sib in o.siblings:  # strategy tree: the candidates that did not go on (not in the pool's count)
                siblings[sib.rejection.by if sib.rejection.kind == "rule" else "failed"] += 1
                writers["eliminated" if sib.rejection.kind == "rule" else "failed"].write(sib.to_json())
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    for w in writers.values():
        w.commit()
    return {
        "round": k,
        "pool": pool_size,
        "kept": kinds["kept"],
        "eliminated": sum(by_rule.values()),
        "eliminated_by_rule": dict(sorted(by_rule.items())),
        "failed": kinds["failed"],
        "failed_by_stage": dict(sorted(by_stage.items())),
        "methods": dict(sorted(methods.items())),
        "judge_unparsed": unparsed,
        **({"siblings": dict(sorted(siblings.items()))} if siblings else {}),
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


def _prepare(seed: str, cfg: EvolveConfig) -> tuple[PromptSet, Seed, str, str]:
    """The prompts, the seed, the run's fingerprint, and the fingerprint earlier versions gave the same run (its
    config hash held the retry settings)."""
    for name in dict.fromkeys(ROLES + _needed(cfg)):
        cfg.role(name)  # a config mistake fails now, before any file or server
    if cfg.batch.enabled and any(cfg.served_locally(n) for n in ROLES):
        raise InputError("--batch needs a provider's Batch API (backend: api); the local model has none")
    if cfg.batch.enabled and cfg.strategy != "paper":
        raise InputError(f"--batch runs strategy paper only (strategy {cfg.strategy} needs each round's answers "
                         "before the next round's prompts)")
    prompts = PromptSet.load(cfg.prompts_dir)
    strategy_texts = {"paper": [], "tree": [prompts.tree_feedback, prompts.complexity_judge.chat,
                                            prompts.complexity_judge.completion],
                      "auto": [prompts.optimizer.chat, prompts.optimizer.completion, prompts.complexity_judge.chat,
                               prompts.complexity_judge.completion]}[cfg.strategy]
    prompt_blob = json.dumps([[t.chat, t.completion, t.stop] for t in (prompts.evolve, prompts.respond, prompts.judge)]
                             + [prompts.methods, prompts.headings, prompts.markers, prompts.leak_phrases]
                             + strategy_texts, sort_keys=True)
    h, old = hashlib.sha256(), hashlib.sha256()  # config, seed (streamed record by record) and prompts, NUL after each
    h.update(cfg.fingerprint().encode("utf-8") + b"\x00")
    old.update(cfg.fingerprint(legacy=True).encode("utf-8") + b"\x00")
    count, quarantined = 0, []
    for item in iter_seed(seed, cfg.seed, cfg.limit):
        if isinstance(item, Record):
            count += 1
            line = json.dumps(item.to_json(), sort_keys=True).encode("utf-8")
            h.update(line)
            old.update(line)
        else:
            quarantined.append(item)
    h.update(b"\x00" + prompt_blob.encode("utf-8") + b"\x00")
    old.update(b"\x00" + prompt_blob.encode("utf-8") + b"\x00")
    return prompts, Seed(seed, cfg, count, quarantined), h.hexdigest()[:16], old.hexdigest()[:16]


def _needed(cfg: EvolveConfig) -> tuple[str, ...]:
    """The roles a run calls: the judge for no_gain; for strategies auto and tree the scorer (complexity, 1-10), and
    for auto the optimizer."""
    names = tuple(n for n in ROLES if n != "judge" or cfg.rules.no_gain)
    return names + {"paper": (), "tree": ("scorer",), "auto": ("scorer", "optimizer")}[cfg.strategy]


def _roles(cfg: EvolveConfig, local_url: dict[str, str] | None) -> dict[str, Any]:
    return {n: cfg.role(n, local_url) for n in _needed(cfg)}


def _stream(path) -> Iterator[Record]:
    """A pool file's records, read one at a time."""
    return map(Record.from_json, stream_jsonl(path))


def dry_run(seed: str, out: str, cfg: EvolveConfig) -> dict[str, Any]:
    """`evolve --dry-run`: calls, tokens and cost of the rounds left to run, from the seed and the config. No
    call is made, no server started and nothing written; a run folder's finished rounds lend their measured
    tokens per call."""
    prompts, seed_info, fingerprint, legacy = _prepare(seed, cfg)
    folder = RunFolder(out)
    done = []
    if folder.manifest().exists() and json.loads(folder.manifest().read_text()).get("fingerprint") in (fingerprint,
                                                                                                        legacy):
        done = [d for k in range(1, cfg.rounds + 1) if (d := folder.read_done(k)) is not None]
    left = [k for k in range(1, cfg.rounds + 1) if k not in {d["round"] for d in done}]
    return estimate(seed_info.records, left, cfg, prompts, _roles(cfg, None), measured_per_call(done))


def run_evolve(seed: str, out: str, cfg: EvolveConfig, on_event: Event | None = None) -> dict[str, Any]:
    """Run `wizevol evolve`. Input is checked before anything starts; the embedded local model is started only
    when a role needs it and a round is left to run, and is always stopped afterwards.

    `on_event(event, **data)` is how the caller hears of progress (the core prints nothing):
    "note" (text), "rounds" (first, last, pool: rounds about to run), "record" (round, counts: one more record
    of that round finished), "round" (stats: a round is written). Every round is run: Evol Stop
    (`cfg.evol_stop`) is loop.evol_stop's, which calls this round by round."""
    emit = on_event or (lambda event, **data: None)
    started = time.time()
    prompts, seed_info, fingerprint, legacy = _prepare(seed, cfg)
    folder = RunFolder(out)
    shard = f" shard {cfg.shard}" if cfg.shard else ""
    folder.prepare(fingerprint + shard, also=legacy + shard)
    with folder.lock("evolve"):
        return _locked(seed_info, folder, cfg, prompts, (fingerprint, legacy), started, emit)


def _locked(seed_info: Seed, folder: RunFolder, cfg: EvolveConfig, prompts: PromptSet, fingerprint: tuple[str, str],
            started: float, emit: Event) -> dict[str, Any]:
    """run_evolve with the folder held by this process."""
    quarantined = seed_info.quarantined
    if quarantined:
        write_jsonl(folder.quarantine(), (q.to_json() for q in quarantined))
        emit("note", text=f"warning: quarantined {len(quarantined)} bad seed line(s) -> "
                          f"{folder.quarantine()}")
    work_left = any(folder.read_done(k) is None for k in range(1, cfg.rounds + 1))
    needed = _needed(cfg) if work_left else ()
    with open_session(cfg, folder, needed, lambda text: emit("note", text=text)) as session:
        return _run(seed_info, folder, session, prompts, fingerprint, started, emit)


def _start_manifest(seed: Seed, cfg: EvolveConfig, roles: Roles, prompts: PromptSet, fingerprint: tuple[str, str],
                    started: float, folder: RunFolder) -> dict[str, Any]:
    """What the manifest says of a run before its rounds: the seed, the shard, the config, roles and versions, and
    the fingerprint (with the one an older wizevol gave the same run: a shard it made is a shard of this run)."""
    now = datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds")
    first_start, earlier = _earlier_processes(folder)
    return {
        "wizevol_version": __version__,
        "started_at": first_start or now,  # the run's; this process's is the last of `processes`
        "processes": [*earlier, {"started_at": now}],
        "seed": {"path": str(seed.path), "records": seed.count, "quarantined": len(seed.quarantined)},
        **({"shard": {"index": cfg.shard_of()[0], "of": cfg.shard_of()[1], "seed_records": seed.total,
                      "span": list(seed.span)}} if cfg.shard else {}),
        "fingerprint": fingerprint[0],
        "fingerprint_legacy": fingerprint[1],
        "config": cfg.model_dump(mode="json"),
        "roles": {n: (getattr(roles, n).model_dump() if getattr(roles, n) else None) for n in ROLES},
        "prompts_dir": prompts.source,
        "strategy": cfg.strategy,
        "versions": versions("openai", "tenacity", "datasets", "typer"),
        "rounds": [],
    }


def _earlier_processes(folder: RunFolder) -> tuple[str | None, list[dict[str, Any]]]:
    """The run's first start and the processes an earlier manifest records (one made before processes were
    recorded counts as one process)."""
    try:
        m = json.loads(folder.manifest().read_text())
    except (OSError, ValueError):
        return None, []
    if "processes" in m:
        return m.get("started_at"), m["processes"]
    one = {k: m[k] for k in ("started_at", "finished_at", "wall_s", "calls_made") if k in m}
    return m.get("started_at"), [one] if "wall_s" in one else []


def _cost(manifest: dict[str, Any], left: list[int], prices: dict[str, Any]) -> dict[str, Any]:
    """The rounds run in this process: the estimate made before them beside the bill of their answered calls."""
    ran = [r for r in manifest["rounds"] if r["round"] in left]
    return {"rounds": left, "estimate_usd": manifest["estimate"]["usd"],
            "bill_usd": round(sum(r["cost"]["usd"] for r in ran), 6),
            "estimate_calls": manifest["estimate"]["calls"],
            "answered_calls": sum(answered(t) for r in ran for t in r["tokens"].values()),
            "estimate_tokens": manifest["estimate"]["tokens"],
            "tokens": sum(t["prompt_tokens"] + t["completion_tokens"] for r in ran for t in r["tokens"].values()),
            "prices": {name: p.source for name, p in prices.items()}}


async def _batch_rounds(folder: RunFolder, first: int, last: int, n: int, ctx: RoundContext,
                        finish_round: Callable[[int, Iterator[Outcome]], None], emit: Event) -> None:
    """`--batch`: each round's stages go out as provider batch jobs, then the round runs from their answers."""
    from wizevol.evolve.chain import evolve_one
    from wizevol.llm.batch import BatchRunner, prefetch_round

    cfg, llm = ctx.cfg, ctx.llm
    runner = BatchRunner(llm, folder, cfg.batch, cfg.endpoint.max_attempts, lambda t: emit("note", text=t),
                         (cfg.endpoint.backoff_initial, cfg.endpoint.backoff_max))
    llm.batch_only = True  # every answer comes from a batch job; nothing is sent online
    for k in range(first, last + 1):  # a round's stages need the round before it
        await prefetch_round(lambda k=k: _stream(folder.pool(k - 1)), k, ctx, evolve_one, runner)
        await run_rounds(_stream(folder.pool(k - 1)), n, k, k, ctx, finish_round, folder.root,
                         lambda k, counts: emit("record", round=k, counts=counts))


async def _round_by_round(folder: RunFolder, first: int, last: int, n: int, ctx: RoundContext, session: Session,
                          finish_round: Callable[[int, Iterator[Outcome]], None],
                          on_record: Callable[[int, dict[str, int]], None]) -> None:
    """Strategies auto and tree: one round at a time, since a round's prompts need the round before it whole
    (auto: the optimizer's new methods; tree: the kept set diversity is measured against)."""
    from dataclasses import replace

    from wizevol.errors import WizevolError
    from wizevol.evolve import auto, tree
    from wizevol.llm.client import CallFailed

    cfg, prompts, llm = ctx.cfg, ctx.prompts, ctx.llm
    scorer = cfg.role("scorer", session.local_urls).model_copy(update={"max_tokens": 4, "temperature": 0.0})
    version = auto.first_version(prompts, cfg)
    for k in range(first, last + 1):
        round_ctx, chain = ctx, None
        if cfg.strategy == "auto":
            path = folder.methods(k)
            if path.exists():  # written before round k started: a resumed run reads it, asking nothing again,
                version = json.loads(path.read_text(encoding="utf-8"))
                for role, counts in version.get("usage", {}).items():  # and bills round k the calls it took
                    llm.usage.add(k, role, cached=counts["answered"], **counts)
            else:
                if k > 1:
                    previous = json.loads(folder.methods(k - 1).read_text(encoding="utf-8"))
                    try:
                        version = await auto.next_version(folder, k, cfg, llm, prompts, previous,
                                                          cfg.role("optimizer", session.local_urls), scorer)
                    except CallFailed as e:
                        raise WizevolError(f"the optimizer's call for round {k} failed ({e}); round {k} was not "
                                           "started, rerun to continue") from None
                    spent = llm.usage.for_round(k)  # nothing else of round k has run yet; the answers, not how
                    version["usage"] = {r: {f: spent[r][f] for f in ("answered", "prompt_tokens", "completion_tokens")}
                                        for r in ("scorer", "optimizer") if r in spent}  # this process got them
                write_atomic(path, json.dumps(version, indent=1, ensure_ascii=False) + "\n")
            rules = build_rules(cfg.rules, prompts.leak_markers(), prompts.evolve_texts(ctx.roles.evolver.mode),
                                version["methods"])
            round_ctx = replace(ctx, methods=version["methods"], weights=version["weights"], rules=rules)
        else:
            kept = _stream(folder.kept(k - 1))
            reference = tree.reference_sample(kept, cfg.tree.reference, cfg.seed_rng)
            vectors = await asyncio.to_thread(tree.encode, reference) if reference else None
            texts = prompts.evolve_texts(ctx.roles.evolver.mode) + tuple(
                p for p in re.split(r"\{\w+\}", prompts.tree_feedback) if p.strip())
            rules = build_rules(cfg.rules, prompts.leak_markers(), texts, prompts.methods)
            round_ctx = replace(ctx, rules=rules, feedback=tree.feedback(prompts.tree_feedback),
                                tree=tree.TreeRound(cfg.tree, scorer, vectors))
            chain = tree.evolve_tree
        await run_rounds(_stream(folder.pool(k - 1)), n, k, k, round_ctx, finish_round, folder.root, on_record,
                         chain=chain)


def _run(seed: Seed, folder: RunFolder, session: Session, prompts: PromptSet, fingerprint: tuple[str, str],
         started: float, emit: Event) -> dict[str, Any]:
    cfg, llm, usage = session.cfg, session.llm, session.usage
    roles = Roles(
        evolver=cfg.role("evolver", session.local_urls),
        responder=cfg.role("responder", session.local_urls),
        judge=cfg.role("judge", session.local_urls) if cfg.rules.no_gain else None,
    )
    manifest = _start_manifest(seed, cfg, roles, prompts, fingerprint, started, folder)
    for name in (n for n in _needed(cfg) if n not in ROLES):  # the strategy's own roles: scorer, optimizer
        manifest["roles"][name] = cfg.role(name, session.local_urls).model_dump()

    if folder.read_done(0) is None:
        write_jsonl(folder.kept(0), (r.to_json() for r in seed.records()))
        folder.mark_done(0, {"round": 0, "pool": seed.count, "kept": seed.count, "eliminated": 0,
                             "eliminated_by_rule": {}, "failed": 0, "tokens": {}, "finished_after_s": 0.0})
    manifest["rounds"].append(folder.read_done(0))

    for role in (roles.evolver, roles.responder, roles.judge):
        if role is not None:
            llm.client_for(role)  # a missing API key fails here, before any work

    first = next((k for k in range(1, cfg.rounds + 1) if folder.read_done(k) is None), cfg.rounds + 1)
    for k in range(1, first):
        manifest["rounds"].append(folder.read_done(k))
    left = list(range(first, cfg.rounds + 1))
    priced = _roles(cfg, session.local_urls)
    prices = {name: price_of(role, cfg) for name, role in priced.items()}
    manifest["estimate"] = estimate(lambda: _stream(folder.pool(first - 1)) if left else iter(()), left, cfg, prompts,
                                    priced, measured_per_call(manifest["rounds"][1:]))
    t0 = time.time()

    def finish_round(k: int, outcomes: Iterator[Outcome]) -> None:
        stats = _write_round(folder, k, outcomes, usage, time.time() - t0)
        if cfg.strategy == "auto":
            stats["method_version"] = {"file": folder.methods(k).name,
                                       "sha256": hashlib.sha256(folder.methods(k).read_bytes()).hexdigest()[:16]}
        stats["cost"] = round_cost(stats["tokens"], prices, cfg.batch.discount)
        stats["fingerprint"] = fingerprint[0]
        folder.mark_done(k, stats)
        manifest["rounds"].append(stats)
        manifest["processes"][-1].update(wall_s=round(time.time() - started, 3), calls_made=llm.new_calls)
        folder.write_manifest({**manifest, "calls_made": llm.new_calls, "endpoints": llm.endpoint_report(),
                               "totals": run_totals(manifest["rounds"], manifest["processes"])})
        emit("round", stats=stats)

    async def _all_rounds() -> None:
        if first > cfg.rounds:
            return
        n = folder.read_done(first - 1)["pool"]  # every round's pool has the seed's size
        rules = build_rules(cfg.rules, prompts.leak_markers(), prompts.evolve_texts(roles.evolver.mode),
                            prompts.methods)
        ctx = RoundContext(cfg=cfg, llm=llm, prompts=prompts, rules=rules, roles=roles)
        emit("rounds", first=first, last=cfg.rounds, pool=n)
        try:
            if cfg.strategy != "paper":
                await _round_by_round(folder, first, cfg.rounds, n, ctx, session, finish_round,
                                      lambda k, counts: emit("record", round=k, counts=counts))
                return
            if not cfg.batch.enabled:
                await run_rounds(_stream(folder.pool(first - 1)), n, first, cfg.rounds, ctx, finish_round, folder.root,
                                 lambda k, counts: emit("record", round=k, counts=counts))
                return
            await _batch_rounds(folder, first, cfg.rounds, n, ctx, finish_round, emit)
        finally:
            await llm.aclose()

    asyncio.run(_all_rounds())
    manifest["wall_s"] = round(time.time() - started, 3)
    manifest["calls_made"] = llm.new_calls
    manifest["endpoints"] = llm.endpoint_report()  # tries, failures and times taken out, per endpoint
    manifest["cost"] = _cost(manifest, left, prices)
    manifest["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    manifest["processes"][-1].update(wall_s=manifest["wall_s"], calls_made=llm.new_calls,
                                     finished_at=manifest["finished_at"], rounds=left)
    manifest["totals"] = run_totals(manifest["rounds"], manifest["processes"])
    folder.write_manifest(manifest)
    return manifest
