"""One round of Code Evol-Instruct, and the run of N rounds (the WizardLM pool rule).

Each record in the pool gets one heuristic. Its chain runs as its own task under the concurrency bound:
evolve -> instruction rules -> judge (no_gain) -> respond -> response rules. The judge runs before the
responder because its answer is a few tokens and a no_gain verdict saves the long response call.

Pool rule: a kept evolution enters the next pool as itself; an eliminated or failed one puts its parent
back unchanged. So for every round: kept + eliminated + failed = pool size, and the pool never shrinks.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field, replace
from typing import Any

from wizevol.config import EvolveConfig, ResolvedRole
from wizevol.elimination import Candidate, RuleSet, parse_judgement
from wizevol.heuristics import choose_method
from wizevol.llm import LLM, CallFailed
from wizevol.prompts import PromptSet
from wizevol.record import Record

_HEADING = re.compile(
    r"^\s*(?:[#*_>\s]*)(?:the\s+)?(?:rewritten|new|harder|evolved|given|revised|updated)\s+"
    r"(?:programming\s+)?(?:test\s+)?(?:question|prompt|instruction|problem|task)s?\s*[#*_]*\s*:?\s*[#*_]*\s*",
    re.IGNORECASE,
)


def clean_evolved(text: str, markers: tuple[str, ...]) -> str:
    """Strip what models echo around the evolved text: the template's markers and heading lines."""
    out = text.strip()
    for _ in range(3):  # markers can be stacked ("#Rewritten Question#:\n**Question:**")
        before = out
        for m in markers:
            if out.lower().startswith(m.lower()):
                out = out[len(m):].lstrip(" :*\t\n")
        out = _HEADING.sub("", out, count=1).strip() if _HEADING.match(out) else out
        if out == before:
            break
    # a trailing marker means the model started another turn: cut it off
    for m in markers:
        idx = out.lower().find(m.lower())
        if idx > 0:
            out = out[:idx].rstrip()
    return out


@dataclass
class Outcome:
    kind: str  # "kept" | "eliminated" | "failed"
    row: dict[str, Any]
    next_pool: Record


@dataclass
class Roles:
    evolver: ResolvedRole
    responder: ResolvedRole
    judge: ResolvedRole | None


@dataclass
class RoundContext:
    cfg: EvolveConfig
    llm: LLM
    prompts: PromptSet
    rules: RuleSet
    roles: Roles
    judge_unparsed: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {"kept": 0, "eliminated": 0, "failed": 0})


async def evolve_one(parent: Record, k: int, ctx: RoundContext) -> Outcome:
    r = ctx.roles
    method = choose_method(ctx.cfg.weights, ctx.cfg.seed_rng, parent.id, k)
    models = {"evolver": r.evolver.model, "responder": r.responder.model,
              "judge": r.judge.model if r.judge else None}
    child = parent.evolve_into("", k, method, **models)

    def failed(stage: str, err: CallFailed, partial: Record) -> Outcome:
        return Outcome("failed", {**partial.to_json(), "stage": stage, "error": str(err)}, parent)

    def eliminated(drop: tuple[str, str], stage: str, partial: Record) -> Outcome:
        rule, reason = drop
        return Outcome("eliminated", {**partial.to_json(), "rule": rule, "reason": reason, "stage": stage}, parent)

    messages = ctx.prompts.evolve.messages(method=ctx.prompts.methods[method], question=parent.prompt_text())
    try:
        evolved = await ctx.llm.chat(r.evolver, messages, k)
    except CallFailed as e:
        return failed("evolve", e, child)
    child = replace(child, instruction=clean_evolved(evolved.text, ctx.prompts.markers))
    cand = Candidate(parent=parent, child=child, evolve=evolved)
    if drop := ctx.rules.first_drop("evolve", cand):
        return eliminated(drop, "evolve", child)

    if r.judge is not None:
        judge_msgs = ctx.prompts.judge.messages(first=parent.prompt_text(), second=child.instruction)
        try:
            cand.judge = await ctx.llm.chat(r.judge, judge_msgs, k)
        except CallFailed as e:
            return failed("judge", e, child)
        if parse_judgement(cand.judge.text) == "unparsed":
            ctx.judge_unparsed += 1
        if drop := ctx.rules.first_drop("judge", cand):
            return eliminated(drop, "judge", child)

    try:
        cand.response = await ctx.llm.chat(r.responder, ctx.prompts.respond.messages(instruction=child.instruction), k)
    except CallFailed as e:
        return failed("respond", e, child)
    answered = replace(child, output=cand.response.text)
    if drop := ctx.rules.first_drop("response", cand):
        return eliminated(drop, "response", answered)
    return Outcome("kept", answered.to_json(), answered)


async def run_round(pool: list[Record], k: int, ctx: RoundContext, progress=None) -> list[Outcome]:
    """Evolve every pool record with continuous scheduling: `concurrency` workers, each pulling the next
    record as soon as its previous chain ends. Results come back in pool order, whatever the finishing order."""
    results: list[Outcome | None] = [None] * len(pool)
    indices = iter(range(len(pool)))

    async def worker() -> None:
        for i in indices:
            out = await evolve_one(pool[i], k, ctx)
            results[i] = out
            ctx.counts[out.kind] += 1
            if progress is not None:
                progress.update(1)
                progress.set_postfix(ctx.counts, refresh=False)

    tasks = [asyncio.create_task(worker()) for _ in range(min(ctx.cfg.concurrency, len(pool)))]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for t in done:
            if t.exception() is not None:
                raise t.exception()
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    missing = [pool[i].id for i, r in enumerate(results) if r is None]
    if missing:
        raise RuntimeError(f"round {k}: records without an outcome: {missing[:5]}")
    return results  # type: ignore[return-value]
