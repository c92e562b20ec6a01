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
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from wizevol.config import EvolveConfig, ResolvedRole
from wizevol.elimination import Candidate, RuleSet, parse_judgement
from wizevol.heuristics import choose_method
from wizevol.llm import LLM, CallFailed
from wizevol.prompts import PromptSet
from wizevol.record import Record

# A generic answer heading ("**Rewritten Prompt:**", "## Harder question"). Not "given": a "Given Question"
# block is the parent echoed back, which prompt_leak must see.
_HEADING = re.compile(
    r"^\s*[#*_>\s]*(?:the\s+)?(?:rewritten|new|harder|evolved|revised|updated)\s+"
    r"(?:programming\s+)?(?:test\s+)?(?:question|prompt|instruction|problem|task)s?[ \t#*_]*(?::|\n|$)[ \t#*_]*",
    re.IGNORECASE,
)


def clean_evolved(text: str, headings: tuple[str, ...]) -> tuple[str, str]:
    """(instruction, stripped): strip an answer heading that opens the evolved text (the template's own
    `headings` or a generic one, possibly stacked). Nothing else is cut: a marker left anywhere else is a
    prompt_leak, so the rule sees it."""
    out = text.strip()
    for _ in range(3):  # headings can be stacked ("#Rewritten Question#:\n**Rewritten prompt:**")
        before = out
        for h in headings:
            if out.lower().startswith(h.lower()):
                out = out[len(h):].lstrip(" :*\t\n")
        m = _HEADING.match(out)
        if m:
            out = out[m.end():].strip()
        if out == before:
            break
    stripped = text.strip()[: len(text.strip()) - len(out)].strip() if out else text.strip()
    return out, stripped


@dataclass
class Outcome:
    kind: str  # "kept" | "eliminated" | "failed"
    row: dict[str, Any]
    next_pool: Record
    judge_unparsed: bool = False


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

    request = ctx.prompts.evolve.request(r.evolver.mode, method=ctx.prompts.methods[method],
                                         question=parent.prompt_text())
    try:
        evolved = await ctx.llm.complete(r.evolver, request, k, at=child.id)
    except CallFailed as e:
        return failed("evolve", e, child)
    instruction, stripped = clean_evolved(evolved.text, ctx.prompts.headings)
    child = replace(child, instruction=instruction, extra={"stripped_heading": stripped} if stripped else {})
    cand = Candidate(parent=parent, child=child, evolve=evolved)
    if drop := ctx.rules.first_drop("evolve", cand):
        return eliminated(drop, "evolve", child)

    if r.judge is not None:
        judge_req = ctx.prompts.judge.request(r.judge.mode, first=parent.prompt_text(), second=child.instruction)
        try:
            cand.judge = await ctx.llm.complete(r.judge, judge_req, k, at=child.id)
        except CallFailed as e:
            return failed("judge", e, child)
        if drop := ctx.rules.first_drop("judge", cand):
            return eliminated(drop, "judge", child)

    try:
        respond_req = ctx.prompts.respond.request(r.responder.mode, instruction=child.instruction)
        cand.response = await ctx.llm.complete(r.responder, respond_req, k, at=child.id)
    except CallFailed as e:
        return failed("respond", e, child)
    answered = replace(child, output=cand.response.text)
    unparsed = cand.judge is not None and parse_judgement(cand.judge.text) == "unparsed"
    if drop := ctx.rules.first_drop("response", cand):
        return replace(eliminated(drop, "response", answered), judge_unparsed=unparsed)
    return Outcome("kept", answered.to_json(), answered, judge_unparsed=unparsed)


async def run_rounds(pool: list[Record], first: int, last: int, ctx: RoundContext,
                     on_round_done: Callable[[int, list[Outcome]], None], bars: dict | None = None) -> None:
    """Evolve rounds first..last with continuous scheduling and no barrier between rounds.

    `concurrency` workers each take the next job, lowest round first. A job is one record's chain in one round;
    when it ends, the same lineage's next round is queued at once, so nobody waits for a round's slowest call.
    When a round's last outcome arrives, `on_round_done(k, outcomes)` gets them in pool order, whatever the
    finishing order. Lineages are independent, so round k always completes before round k+1.
    """
    n = len(pool)
    if n == 0:
        for k in range(first, last + 1):
            on_round_done(k, [])
        return
    results: dict[int, list[Outcome | None]] = {k: [None] * n for k in range(first, last + 1)}
    remaining = dict.fromkeys(results, n)
    counts = {k: {"kept": 0, "eliminated": 0, "failed": 0} for k in results}
    queue: asyncio.PriorityQueue = asyncio.PriorityQueue()
    for i, record in enumerate(pool):
        queue.put_nowait((first, i, record))
    workers = min(ctx.cfg.concurrency, n)
    finished_lineages = 0

    async def worker() -> None:
        nonlocal finished_lineages
        while True:
            k, i, record = await queue.get()
            if record is None:
                return
            out = await evolve_one(record, k, ctx)
            results[k][i] = out
            remaining[k] -= 1
            counts[k][out.kind] += 1
            if bars and k in bars:
                bars[k].update(1)
                bars[k].set_postfix(counts[k], refresh=False)
            if remaining[k] == 0:
                done = results.pop(k)
                missing = [pool[j].id for j, r in enumerate(done) if r is None]
                if missing:
                    raise RuntimeError(f"round {k}: records without an outcome: {missing[:5]}")
                on_round_done(k, done)  # type: ignore[arg-type]
            if k < last:
                queue.put_nowait((k + 1, i, out.next_pool))
            else:
                finished_lineages += 1
                if finished_lineages == n:
                    for j in range(workers):
                        queue.put_nowait((last + 1, j, None))

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for t in done:
            if t.exception() is not None:
                raise t.exception()
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if results:
        raise RuntimeError(f"rounds {sorted(results)} did not complete")
