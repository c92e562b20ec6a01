"""strategy tree (Tree-of-Evolution, CodeLLM-Research/Tree-of-Evolution): each parent gets `tree.children`
candidates, each by its own drawn heuristic. A candidate that passes the evolve-stage rules is scored for complexity
(the scorer role, 1-10, complexity_judge.yaml) and diversity (1 - MiniLM cosine to the nearest of the previous round's kept
instructions: a set fixed before the round starts, so no score depends on scheduling). The best score,
complexity / 10 + diversity_weight x diversity, goes on through the chain (judge, responder, rules) under the
lineage's id; the others are its siblings, eliminated as `outscored` (or by the rule or failure that ended them).
The lineage's outcome alone obeys the pool rule, so kept + eliminated + failed = pool still holds per round.
A kept record carries its scores and its siblings' (`extra.tree`), and they go into its next round's prompt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from wizevol.config import ResolvedRole, TreeConfig
from wizevol.evolve.auto import complexity, sample
from wizevol.evolve.chain import Outcome, RoundContext, answer, child_of, evolve_candidate, failed
from wizevol.evolve.rules import Candidate
from wizevol.llm.client import CallFailed
from wizevol.prompts import fill
from wizevol.record import Record, Rejection


@dataclass
class TreeRound:
    """What a round of strategy tree scores with: the judge as scorer, the reference vectors, the settings."""

    cfg: TreeConfig
    scorer: ResolvedRole
    reference: Any  # unit MiniLM vectors (numpy rows) of the previous round's kept instructions


def reference_sample(records: Iterable[Record], cap: int, seed: int) -> list[str]:
    """The instructions diversity is measured against: all of them, or a fixed sample of `cap` (by a hash of the
    run's seed and the record's id), in that hash's order."""
    return [r.prompt_text() for r in sample(records, cap, seed)]


def encode(texts: list[str]) -> Any:
    """Unit MiniLM vectors of `texts` (the filters' encoder, loaded once per process)."""
    from wizevol.filters import encoder

    return encoder.encode(texts)


def diversity(texts: list[str], reference: Any) -> list[float]:
    """1 - the cosine of each text to its nearest reference text (1.0 against an empty reference)."""
    if reference is None or len(reference) == 0:
        return [1.0] * len(texts)
    sims = encode(texts) @ reference.T
    return [round(float(1.0 - s), 4) for s in sims.max(axis=1)]


def feedback(template: str):
    """What strategy tree adds to a parent's method text: its own scores and its siblings', when it has them."""
    def text(parent: Record) -> str:
        t = parent.extra.get("tree")
        if not t or "complexity" not in t:
            return ""
        others = [c for c in t.get("candidates", []) if c["j"] != t["candidate"] and "score" in c]
        siblings = ", ".join(f"{_shown(c['complexity'])}/10 (diversity {c['diversity']:.2f})" for c in others)
        return fill(template, complexity=_shown(t["complexity"]), diversity=f"{t['diversity']:.2f}",
                    siblings=siblings or "nothing (no other rewrite was scored)")

    return text


def _shown(complexity: int | None) -> str:
    return "?" if complexity is None else str(complexity)


def _methods(parent: Record, k: int, ctx: RoundContext) -> list[str]:
    """Each candidate's heuristic: the first as strategy paper draws it, then others drawn the same seeded way,
    distinct while the weights leave distinct ones (up to 8 draws each)."""
    live = sum(1 for w in (ctx.weights or ctx.cfg.weights).values() if w > 0)
    methods = [ctx.choose(parent, k)]
    for j in range(1, ctx.tree.cfg.children):
        m = ctx.choose(parent, k, f"~{j}")
        for again in range(1, 9):
            if m not in methods or len(set(methods)) >= live:
                break
            m = ctx.choose(parent, k, f"~{j}.{again}")
        methods.append(m)
    return methods


async def evolve_tree(parent: Record, k: int, ctx: RoundContext) -> Outcome:
    """One record's round under strategy tree: candidates, scores, the best one's chain, the others as siblings."""
    tree: TreeRound = ctx.tree
    lineage = child_of(parent, k, ctx.choose(parent, k), ctx).id
    drafts = [replace(child_of(parent, k, m, ctx), id=f"{lineage}~{j}") for j, m in enumerate(_methods(parent, k, ctx))]
    ends: list[Candidate | Outcome] = list(await asyncio.gather(
        *(evolve_candidate(parent, c, k, ctx, at=c.id) for c in drafts)))
    info: list[dict[str, Any]] = [{"j": j, "method": c.method} for j, c in enumerate(drafts)]

    alive = [j for j, e in enumerate(ends) if isinstance(e, Candidate)]
    scores = await asyncio.gather(*(complexity(ctx.llm, ctx.prompts, tree.scorer, ends[j].child, k) for j in alive),
                                  return_exceptions=True)
    for j, s in zip(alive, scores, strict=True):
        if isinstance(s, CallFailed):
            ends[j] = failed(parent, "score", s, ends[j].child)
        elif isinstance(s, BaseException):
            raise s
        else:
            info[j]["complexity"] = s
    alive = [j for j in alive if isinstance(ends[j], Candidate)]
    if alive:
        spread = await asyncio.to_thread(diversity, [ends[j].child.instruction for j in alive], tree.reference)
        for j, d in zip(alive, spread, strict=True):
            info[j]["diversity"] = d
            info[j]["score"] = round((info[j]["complexity"] or 0) / 10 + tree.cfg.diversity_weight * d, 4)
    for j, e in enumerate(ends):
        if isinstance(e, Outcome):
            info[j]["ended"] = e.record.rejection.by

    # the lineage goes on with the best score (the first such candidate on a tie), else its first candidate's end
    chosen = max(alive, key=lambda j: (info[j]["score"], -j)) if alive else 0
    summary = {"candidate": chosen, **{key: info[chosen][key] for key in ("complexity", "diversity", "score")
                                       if key in info[chosen]}, "candidates": info}

    def mark(record: Record, j: int, extra: dict[str, Any]) -> Record:
        return replace(record, extra={**record.extra, "tree": extra})

    siblings = []
    for j, e in enumerate(ends):
        if j == chosen:
            continue
        mine = {"candidate": j, "chosen": chosen, **{key: info[j][key] for key in ("complexity", "diversity", "score")
                                                      if key in info[j]}}
        if isinstance(e, Outcome):
            siblings.append(mark(e.record, j, mine))
        else:
            best = info[chosen]
            reason = (f"score {info[j]['score']:.3f} below candidate {chosen}'s {best['score']:.3f} (complexity "
                      f"{_shown(info[j]['complexity'])} vs {_shown(best['complexity'])}, diversity "
                      f"{info[j]['diversity']:.3f} vs {best['diversity']:.3f})")
            siblings.append(mark(e.child, j, mine).rejected(Rejection("rule", "outscored", reason, "tree")))

    end = ends[chosen]
    if isinstance(end, Outcome):
        record = mark(replace(end.record, id=lineage), chosen, summary)
        return replace(end, record=record, siblings=tuple(siblings))
    end.child = mark(replace(end.child, id=lineage), chosen, summary)
    out = await answer(end, k, ctx)
    return replace(out, siblings=tuple(siblings))
