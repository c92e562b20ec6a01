"""Quality filters over a finished run (near_dup, contaminated, code_check): the same form as the elimination
rules. Each filter's `check` returns True to keep a record, or (False, reason, details) to reject it; the
runner counts kept / rejected / rejected-by-reason and writes rejects to their own file with the reason.

Each filter is its own step over the kept records of every round (round_K.jsonl), in round order:
  runs/NAME/quality/<filter>/rejected_K.jsonl   rejected records + `filter`, `reason`, `details`
  runs/NAME/quality/<filter>/stats.json         counts per round; also the done-marker (re-run skips it)
  runs/NAME/quality/clean_K.jsonl               records that no enabled filter rejected
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

from wizevol.run_folder import RunFolder, read_jsonl, write_atomic, write_jsonl

Verdict = bool | tuple[bool, str, dict[str, Any]]


class QualityFilter:
    name = ""

    def fingerprint(self) -> str:
        """What changes the filter's output: its settings."""
        return json.dumps(self.settings(), sort_keys=True, default=str)

    def settings(self) -> dict[str, Any]:
        return {}

    def start(self) -> None:
        """Called once before the first round (filters with cross-round state reset it here)."""

    def prepare_round(self, records: list[dict[str, Any]]) -> None:
        """Called with a round's records before they are checked one by one (for batched work)."""

    def check(self, record: dict[str, Any]) -> Verdict:
        raise NotImplementedError


def _input_digest(folder: RunFolder, rounds: list[int]) -> str:
    h = hashlib.sha256()
    for k in rounds:
        h.update(folder.kept(k).read_bytes())
    return h.hexdigest()[:16]


def run_filter(folder: RunFolder, flt: QualityFilter, progress=None) -> dict[str, Any]:
    """Run one filter over every finished round; skipped when its stats (done-marker) match the inputs."""
    rounds = folder.finished_rounds()
    out = folder.root / "quality" / flt.name
    stamp = {"inputs": _input_digest(folder, rounds), "settings": flt.fingerprint()}
    stats_path = out / "stats.json"
    if stats_path.exists():
        old = json.loads(stats_path.read_text())
        if old.get("stamp") == stamp:
            return old
    flt.start()
    per_round = {}
    for k in rounds:
        rejected, reasons, n = [], Counter(), 0
        records = read_jsonl(folder.kept(k))
        flt.prepare_round(records)
        for rec in records:
            n += 1
            verdict = flt.check(rec)
            if progress is not None:
                progress.update(1)
            if verdict is True:
                continue
            _, reason, details = verdict
            reasons[reason.split(":")[0]] += 1
            rejected.append({**rec, "filter": flt.name, "reason": reason, "details": details})
        write_jsonl(out / f"rejected_{k}.jsonl", rejected)
        per_round[str(k)] = {"records": n, "kept": n - len(rejected), "rejected": len(rejected),
                             "rejected_by_reason": dict(sorted(reasons.items()))}
    stats = {"filter": flt.name, "stamp": stamp, "settings": flt.settings(), "rounds": per_round}
    write_atomic(stats_path, json.dumps(stats, indent=2) + "\n")
    return stats


def write_clean(folder: RunFolder, names: list[str]) -> dict[int, int]:
    """quality/clean_K.jsonl: the kept records of round K that none of `names` rejected."""
    counts = {}
    for k in folder.finished_rounds():
        rejected = set()
        for name in names:
            path = folder.root / "quality" / name / f"rejected_{k}.jsonl"
            if path.exists():
                rejected.update(r["id"] for r in read_jsonl(path))
        clean = [r for r in read_jsonl(folder.kept(k)) if r["id"] not in rejected]
        write_jsonl(folder.root / "quality" / f"clean_{k}.jsonl", clean)
        counts[k] = len(clean)
    return counts
