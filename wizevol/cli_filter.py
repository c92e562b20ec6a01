"""What `wizevol filter` prints of each filter's stats: its counts, each rule's drops as a share of the records,
a benchmark problem that many records leak, and what could not be done (and what a rerun does)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

MANY_HITS = 3  # a benchmark problem that this many records leak is named


def filter_lines(name: str, stats: dict[str, Any], run: Path) -> list[str]:
    """The lines of one filter's summary."""
    out = []
    rejected = sum(r["rejected"] for r in stats["rounds"].values())
    kept = sum(r["kept"] for r in stats["rounds"].values())
    out.append(f"{name:>13}: kept {kept}, rejected {rejected} -> {run}/filters/{name}/")
    by_rule = Counter()
    for r in stats["rounds"].values():
        by_rule.update(r.get("rejected_by_reason", {}))
    if by_rule and kept + rejected:
        out.append(f"{'':>13}  " + ", ".join(f"{rule} {n} ({n / (kept + rejected):.1%})"
                                             for rule, n in by_rule.most_common()))
    many = {t: n for t, n in stats.get("rejected_by_task", {}).items() if n >= MANY_HITS}
    if many:
        out.append(f"{'':>13}  " + ", ".join(f"{t} {n}" for t, n in many.items()) + " records each: a "
                   "textbook task several records ask for; read their reasons in the rejects")
    unconfirmed = stats.get("execution", {}).get("unconfirmed")
    if unconfirmed:
        out.append(f"{'':>13}  {unconfirmed} responses pass a benchmark problem's tests under another task: "
                   f"kept, listed in {run}/filters/{name}/results_K.jsonl")
    contradicted = stats.get("embedding", {}).get("contradicted")
    if contradicted:
        out.append(f"{'':>13}  {contradicted} layer-3 matches whose response's code does another task: kept, listed "
                   f"in {run}/filters/{name}/results_K.jsonl")
    judge = stats.get("judge")
    if judge and judge["failed"]:
        out.append(f"{'':>13}  the judge's call failed for {judge['failed']} of {judge['calls']} questions: "
                   "those records were kept; `wizevol filter` again asks them again")
    if judge and judge["unparsed"]:
        out.append(f"{'':>13}  {judge['unparsed']} of the judge's {judge['calls']} answers were neither Same nor "
                   "Different: those records were kept")
    if stats.get("calls_failed"):
        out.append(f"{'':>13}  {stats['calls_failed']} calls failed: their records are unverified or have fewer "
                   "samples; `wizevol filter` again asks them again")
    if stats.get("judge_failed"):
        out.append(f"{'':>13}  the judge's call failed for {stats['judge_failed']} questions: those hits stand "
                   "(rejected); `wizevol filter` again asks them again")
    if stats.get("execution", {}).get("unfinished"):
        out.append(f"{'':>13}  {stats['execution']['unfinished']} responses did not finish their checks within "
                   "the time limits: kept for now; `wizevol filter` again runs them again")
    if stats.get("execution", {}).get("given_up"):
        out.append(f"{'':>13}  {stats['execution']['given_up']} responses ran out of time in their checks 3 runs in a "
                   "row: taken as they are (filters.contamination.check_s gives each check more time)")
    if stats.get("translated", {}).get("failed"):
        out.append(f"{'':>13}  the judge's translation failed for {stats['translated']['failed']} texts in other "
                   "languages (responses not run, instructions compared as written); `wizevol filter` again "
                   "asks them again")
    return out
