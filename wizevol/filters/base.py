"""The base of the filters over a finished run (near_dup, contamination, code_check): the same form as the
elimination rules. Each filter's `check` returns True to keep a record, or (False, reason, details) to reject
it; the runner counts kept / rejected / rejected-by-reason and writes rejects to their own file.

Each filter is its own step over the kept records of every round (round_K.jsonl), in round order:
  runs/NAME/filters/<filter>/rejected_K.jsonl   rejected records + `filter`, `reason`, `details`
  runs/NAME/filters/<filter>/stats.json         counts per round; also the done-marker (re-run skips it)
  runs/NAME/filters/clean_K.jsonl               records that no enabled filter rejected
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from wizevol.record import Record, Rejection, Verdict
from wizevol.run_folder import JsonlWriter, RunFolder, count_rows, stream_jsonl, write_atomic, write_jsonl


class Filter:
    """A filter over a finished run: `check` keeps a record or drops it with a reason."""

    name = ""
    # events of long whole-run work, as run_filters renders them: ("phase", name=, total=), ("step",), ("note", text=)
    events: Callable[..., None] | None = None
    # the filter's folder in the run (set by run_filter): what it keeps there lets an interrupted run resume
    work: Path | None = None

    def fingerprint(self) -> str:
        """What changes the filter's output: its settings."""
        return json.dumps(self.settings(), sort_keys=True, default=str)

    def settings(self) -> dict[str, Any]:
        """The settings that change what the filter rejects (recorded in its stats)."""
        return {}

    def start(self) -> None:
        """Called once before the first round (filters with cross-round state reset it here)."""

    def prepare_run(self, records: RunRecords | list[Record]) -> None:
        """Called once with the kept records of every round, before any is checked (for whole-run work): a
        `RunRecords` that reads them from disk each time it is walked; hold what the work needs, not the records."""

    def prepare_round(self, records: list[Record]) -> None:
        """Called with each block of a round's records (at most BLOCK, in order) before they are checked one by
        one (for batched work)."""

    def check(self, record: Record) -> Verdict:
        """True to keep the record, or (False, reason, details)."""
        raise NotImplementedError

    def finish_round(self, k: int) -> list[dict[str, Any]] | None:
        """Rows about every checked record of round k (not only the rejected), written to results_K.jsonl."""
        return None

    def report(self) -> dict[str, Any]:
        """Counts of the whole run beyond kept / rejected (e.g. what could not be checked), for its stats."""
        return {}

    def complete(self) -> bool:
        """False when part of the work could not be done (a judge that did not answer): the stats are written,
        but they are no done-marker, and the next `wizevol filter` runs the filter again."""
        return True


EXAMPLES = 3  # reasons kept per rule and round in a filter's stats: a fixed sample (by a hash of the record id)


def _sample_key(record_id: str) -> str:
    return hashlib.blake2b(record_id.encode(), digest_size=8).hexdigest()


def drops(folder: RunFolder) -> dict[str, dict[str, dict[str, Any]]]:
    """What each filter that ran dropped, per round and rule, as a share of the round:
    {filter: {round: {"records": n, "rules": {rule: {"dropped": n, "share": x, "examples": [reason, ...]}}}}}."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted(folder.root.glob("filters/*/stats.json")):
        stats = json.loads(path.read_text(encoding="utf-8"))
        rounds = {}
        for k, r in stats.get("rounds", {}).items():
            n = r.get("records", 0)
            rounds[k] = {"records": n, "rules": {
                rule: {"dropped": c, "share": round(c / n, 4) if n else 0.0,
                       "examples": r.get("examples_by_reason", {}).get(rule, [])}
                for rule, c in r.get("rejected_by_reason", {}).items()}}
        out[stats.get("filter", path.parent.name)] = rounds
    return out


def rule_of(reason: str, details: dict[str, Any] | None) -> str:
    """The rule a reject falls under, for its counts: the filter's own name for it (details' `rule` or `layer`),
    else its reason up to the first colon ("syntax", "failed its tests")."""
    details = details or {}
    return str(details.get("rule") or details.get("layer") or reason.split(":")[0])


def _input_digest(folder: RunFolder, rounds: list[int]) -> str:
    h = hashlib.sha256()
    for k in rounds:
        with folder.kept(k).open("rb") as f:  # in blocks: a round of a large run is gigabytes
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


BLOCK = 10_000  # records a filter's prepare_round sees at once: what it asks ahead is batched, the round is not held


class RunRecords:
    """The kept records of a run's finished rounds, read from their files each time they are walked: a filter over
    a large run never holds them all. `len()` counts them once."""

    def __init__(self, folder: RunFolder, rounds: list[int]):
        self.folder, self.rounds, self._n = folder, rounds, None

    def of_round(self, k: int) -> Iterator[Record]:
        return (Record.from_json(d) for d in stream_jsonl(self.folder.kept(k)))

    def __iter__(self) -> Iterator[Record]:
        for k in self.rounds:
            yield from self.of_round(k)

    def __len__(self) -> int:
        if self._n is None:
            self._n = sum(count_rows(self.folder.kept(k)) for k in self.rounds)
        return self._n


def blocks(items: Iterable[Any], n: int | None = None) -> Iterator[list[Any]]:
    """Lists of up to n (BLOCK) items, in order."""
    it, n = iter(items), n or BLOCK
    while block := list(islice(it, n)):
        yield block


def run_filter(folder: RunFolder, flt: Filter, on_record: Callable[[], None] | None = None) -> dict[str, Any]:
    """Run one filter over every finished round; skipped when its stats (done-marker) match the inputs. The
    records stream from the round files in blocks, and rejects stream to their file."""
    rounds = folder.finished_rounds()
    stamp = {"inputs": _input_digest(folder, rounds), "settings": flt.fingerprint()}
    stats_path = folder.filter_stats(flt.name)
    if stats_path.exists():
        old = json.loads(stats_path.read_text())
        if old.get("stamp") == stamp:
            return old
    flt.work = stats_path.parent
    flt.start()
    per_round = {}
    run = RunRecords(folder, rounds)
    flt.prepare_run(run)
    for k in rounds:
        n, reasons, examples = 0, Counter(), {}
        rejected = JsonlWriter(folder.filter_rejected(flt.name, k))
        try:
            for block in blocks(run.of_round(k)):
                flt.prepare_round(block)
                for rec in block:
                    n += 1
                    verdict = flt.check(rec)
                    if on_record is not None:
                        on_record()
                    if verdict is True:
                        continue
                    _, reason, details = verdict
                    rule = rule_of(reason, details)
                    reasons[rule] += 1
                    heapq.heappush(examples.setdefault(rule, []), (_neg(_sample_key(rec.id)), reason))
                    if len(examples[rule]) > EXAMPLES:  # the EXAMPLES smallest keys: a fixed sample
                        heapq.heappop(examples[rule])
                    rejected.write(rec.rejected(Rejection("filter", flt.name, reason, details=details)).to_json())
        except BaseException:
            rejected.abort()
            raise
        rejected.commit()
        results = flt.finish_round(k)
        if results is not None:
            write_jsonl(folder.filter_results(flt.name, k), results)
        dropped = sum(reasons.values())
        per_round[str(k)] = {"records": n, "kept": n - dropped, "rejected": dropped,
                             "rejected_by_reason": dict(sorted(reasons.items())),
                             "examples_by_reason": {r: [reason for _, reason in sorted(e, key=lambda x: _neg(x[0]))]
                                                    for r, e in sorted(examples.items())}}
    if not flt.complete():
        stamp["incomplete"] = True  # never equal to a later run's stamp: that run does the filter again
    stats = {"filter": flt.name, "stamp": stamp, "settings": flt.settings(), "rounds": per_round, **flt.report()}
    write_atomic(stats_path, json.dumps(stats, indent=2) + "\n")
    return stats


def _neg(key: str) -> str:
    """A hex key turned so that the heap's smallest is the key's largest (the heap keeps the smallest keys)."""
    return key.translate(_FLIP)


_FLIP = str.maketrans("0123456789abcdef", "fedcba9876543210")


def changes_of(folder: RunFolder, names: list[str], k: int) -> dict[str, dict[str, Any]]:
    """What the filters' result rows of round k change in the records they kept: a row's `record`, e.g.
    verified's {"output": the chosen answer, "extra": {"verified": its labels}}."""
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        path = folder.filter_results(name, k)
        if path.exists():
            for row in stream_jsonl(path):
                if row.get("record"):
                    out.setdefault(row["id"], {}).update(row["record"])
    return out


def changed(row: dict[str, Any], change: dict[str, Any] | None) -> dict[str, Any]:
    """A record's row with a filter's change applied: plain fields replaced, `extra` merged."""
    if not change:
        return row
    out = {**row, **{k: v for k, v in change.items() if k != "extra"}}
    if change.get("extra"):
        out["extra"] = {**row.get("extra", {}), **change["extra"]}
    return out


def write_clean(folder: RunFolder, names: list[str]) -> dict[int, int]:
    """filters/clean_K.jsonl: the kept records of round K that none of `names` rejected, with what their result
    rows change (verified's chosen answer); filters/clean.json: the filters and their stamps then (what
    `merge --clean` checks)."""
    counts = {}
    for k in folder.finished_rounds():
        rejected = set()  # the ids of the round's rejects only: the round's records stream through
        for name in names:
            path = folder.filter_rejected(name, k)
            if path.exists():
                rejected.update(r["id"] for r in stream_jsonl(path))
        counts[k] = 0
        changes = changes_of(folder, names, k)
        out = JsonlWriter(folder.clean(k))
        for r in stream_jsonl(folder.kept(k)):
            if r["id"] not in rejected:
                out.write(changed(r, changes.get(r["id"])))
                counts[k] += 1
        out.commit()
    stamps = {n: json.loads(p.read_text()).get("stamp") if (p := folder.filter_stats(n)).exists() else None
              for n in names}
    write_atomic(folder.clean_stamp(), json.dumps({"filters": names, "stamps": stamps}, indent=2) + "\n")
    return counts


def clean_is_current(folder: RunFolder) -> None:
    """`merge --clean` reads the clean files only when every filter they come from finished over the run's
    current rounds and has not run again since they were written; else an InputError naming the filter and what
    to rerun."""
    from wizevol.errors import InputError

    run = folder.root
    if not folder.clean_stamp().exists():
        raise InputError(f"{run}: no clean files yet: run `wizevol filter {run}` first")
    written = json.loads(folder.clean_stamp().read_text())
    inputs = _input_digest(folder, folder.finished_rounds())
    for name in written["filters"]:
        path = folder.filter_stats(name)
        stamp = json.loads(path.read_text()).get("stamp") if path.exists() else None
        why = ("has not run" if stamp is None else
               "did not finish (a call failed or a check ran out of time)" if stamp.get("incomplete") else
               "ran over other rounds than the run has now" if stamp.get("inputs") != inputs else
               "ran again after the clean files were written" if stamp != written["stamps"].get(name) else None)
        if why:
            raise InputError(f"{run}: filter {name} {why}: run `wizevol filter {run}` again before merge --clean")
