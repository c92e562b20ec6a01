"""One record's chain in one round of Code Evol-Instruct, and the WizardLM pool rule.

Each record in the pool gets one heuristic. Its chain: evolve -> instruction rules -> judge (no_gain) ->
respond -> response rules. The judge runs before the responder because its answer is a few tokens and a
no_gain verdict saves the long response call.

Pool rule: a kept evolution enters the next pool as itself; an eliminated or failed one puts its parent
back unchanged. So for every round: kept + eliminated + failed = pool size, and the pool never shrinks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from wizevol.config import EvolveConfig, ResolvedRole
from wizevol.evolve.rules import Candidate, RuleSet, parse_judgement
from wizevol.heuristics import choose_method
from wizevol.llm.client import LLM, CallFailed
from wizevol.prompts import PromptSet
from wizevol.record import Record, Rejection

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
    """How one record's chain in one round ended: kept, eliminated or failed."""

    kind: str  # "kept" | "eliminated" | "failed"
    record: Record  # the child; eliminated and failed ones carry their rejection
    next_pool: Record  # what the next round evolves: the child if kept, else its parent (the pool rule)
    judge_unparsed: bool = False
    siblings: tuple[Record, ...] = ()  # strategy tree: the other candidates, each eliminated or failed


@dataclass
class Roles:
    """The resolved evolver, responder and judge (None when no_gain is off)."""

    evolver: ResolvedRole
    responder: ResolvedRole
    judge: ResolvedRole | None


@dataclass
class RoundContext:
    """Everything a chain needs, shared by all records of a round."""

    cfg: EvolveConfig
    llm: LLM
    prompts: PromptSet
    rules: RuleSet
    roles: Roles
    methods: dict[str, str] | None = None  # heuristic -> text this round (strategy auto's version); None: the prompts'
    weights: dict[str, float] | None = None  # heuristic -> weight this round; None: the config's
    feedback: Callable[[Record], str] | None = None  # strategy tree: what the prompt adds of a parent's scores
    tree: Any = None  # strategy tree: the round's tree.TreeRound

    def method_text(self, method: str, parent: Record) -> str:
        """The method text sent to evolve `parent` with `method`: this round's, with the parent's scores (tree)."""
        text = (self.methods or self.prompts.methods)[method]
        extra = self.feedback(parent) if self.feedback is not None else ""
        return f"{text}\n\n{extra}" if extra else text

    def choose(self, parent: Record, k: int, salt: str = "") -> str:
        """The heuristic for `parent` in round k (a candidate's `salt` draws another): seeded, never scheduled."""
        return choose_method(self.weights or self.cfg.weights, self.cfg.seed_rng, parent.id + salt, k)


def failed(parent: Record, stage: str, err: CallFailed, partial: Record) -> Outcome:
    """A call of the chain failed for good: the parent goes back to the pool."""
    return Outcome("failed", partial.rejected(Rejection("failed", stage, str(err))), parent)


def eliminated(parent: Record, drop: tuple[str, str, dict], stage: str, partial: Record) -> Outcome:
    """A rule dropped the child: the parent goes back to the pool."""
    rule, reason, details = drop
    return Outcome("eliminated", partial.rejected(Rejection("rule", rule, reason, stage, details)), parent)


async def evolve_candidate(parent: Record, child: Record, k: int, ctx: RoundContext, at: str) -> Candidate | Outcome:
    """The evolve call for `child` (its method set) and the evolve-stage rules: the candidate, or how it ended."""
    r = ctx.roles
    request = ctx.prompts.evolve.request(r.evolver.mode, method=ctx.method_text(child.method, parent),
                                         question=parent.prompt_text())
    try:
        evolved = await ctx.llm.complete(r.evolver, request, k, at=at)
    except CallFailed as e:
        return failed(parent, "evolve", e, child)
    instruction, stripped = clean_evolved(evolved.text, ctx.prompts.headings)
    child = replace(child, instruction=instruction, extra={**child.extra, **({"stripped_heading": stripped}
                                                                            if stripped else {})})
    cand = Candidate(parent=parent, child=child, evolve=evolved)
    if drop := ctx.rules.first_drop("evolve", cand):
        return eliminated(parent, drop, "evolve", child)
    return cand


async def answer(cand: Candidate, k: int, ctx: RoundContext) -> Outcome:
    """The rest of a candidate's chain: the judge (no_gain), the responder, the response rules."""
    r, parent, child = ctx.roles, cand.parent, cand.child
    if r.judge is not None:
        judge_req = ctx.prompts.judge.request(r.judge.mode, first=parent.prompt_text(), second=child.instruction)
        try:
            cand.judge = await ctx.llm.complete(r.judge, judge_req, k, at=child.id)
        except CallFailed as e:
            return failed(parent, "judge", e, child)
        if drop := ctx.rules.first_drop("judge", cand):
            return eliminated(parent, drop, "judge", child)

    try:
        respond_req = ctx.prompts.respond.request(r.responder.mode, instruction=child.instruction)
        cand.response = await ctx.llm.complete(r.responder, respond_req, k, at=child.id)
    except CallFailed as e:
        return failed(parent, "respond", e, child)
    answered = replace(child, output=cand.response.text)
    unparsed = cand.judge is not None and parse_judgement(cand.judge.text) == "unparsed"
    if drop := ctx.rules.first_drop("response", cand):
        return replace(eliminated(parent, drop, "response", answered), judge_unparsed=unparsed)
    return Outcome("kept", answered, answered, judge_unparsed=unparsed)


def child_of(parent: Record, k: int, method: str, ctx: RoundContext) -> Record:
    """`parent`'s child in round k by `method`, its instruction still to come."""
    r = ctx.roles
    return parent.evolve_into("", k, method, evolver=r.evolver.model, responder=r.responder.model,
                              judge=r.judge.model if r.judge else None)


async def evolve_one(parent: Record, k: int, ctx: RoundContext) -> Outcome:
    """One record's chain in round k (strategies paper and auto): evolve, rules, judge, respond, rules; never
    raises for a failed call."""
    child = child_of(parent, k, ctx.choose(parent, k), ctx)
    cand = await evolve_candidate(parent, child, k, ctx, at=child.id)
    return cand if isinstance(cand, Outcome) else await answer(cand, k, ctx)
