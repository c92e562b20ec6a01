"""`wizevol merge`: rounds 0..k of a run folder -> one training set (WizardCoder: rounds 0..3 of 4 was best).

Exact duplicates across rounds are removed (first occurrence, i.e. the lowest round, wins); records without a
response (seeds that came without a reference output) can't be trained on and are counted, not dropped
silently. A seeded shuffle, then one of three formats:
  alpaca             instruction / input / output (axolotl, LLaMA-Factory)
  prompt-completion  the WizardCoder Alpaca prompt as `prompt`, the response as `completion` (TRL masks the
                     prompt out of the loss)
  messages           a user / assistant conversation, for instruct models
Lineage (id, round, method, parent_id, root_id, models) and the seed's own fields are kept in `metadata`.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from wizevol.errors import InputError, WizevolError
from wizevol.filters.base import changed
from wizevol.record import Record
from wizevol.run_folder import RunFolder, read_jsonl, write_atomic
from wizevol.table import aligned
from wizevol.train.formats import FORMATS, to_format


def parse_rounds(spec: str | None, available: list[int]) -> list[int]:
    """'0-3', '0,2,3', '2' or None (all rounds) -> sorted round numbers."""
    if not spec:
        return available
    rounds: set[int] = set()
    try:
        for part in spec.split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if lo > hi:
                    raise ValueError
                rounds.update(range(lo, hi + 1))
            else:
                rounds.add(int(part))
    except ValueError:
        raise InputError(f"--rounds {spec!r}: expected a range like 0-3 or a list like 0,2,3") from None
    missing = sorted(rounds - set(available))
    if missing:
        raise InputError(f"round {missing[0]} is not finished in this run folder (finished: "
                         f"{', '.join(map(str, available)) or 'none'})")
    return sorted(rounds)


@dataclass
class MergeReport:
    """What merge read, dropped and wrote, per round."""

    rounds: list[int]
    per_round: dict[int, dict[str, int]] = field(default_factory=dict)
    written: int = 0
    unverified: Counter[str] = field(default_factory=Counter)  # records with no verdict, by why
    unverified_kept: bool = False

    def table(self) -> str:
        """Per round: read, duplicate, no_output, merged; then the total, and (with --min-pass-rate) one line of
        the records without a verdict, by why."""
        extra = ("below_pass_rate", "unverified") if any("unverified" in c for c in self.per_round.values()) else ()
        cols = ("round", "read", "duplicate", "no_output", *extra, "merged")
        rows = [[k, *(c[col] for col in cols[1:])] for k, c in self.per_round.items()]
        out = aligned(cols, rows) + f"\ntotal merged: {self.written}"
        n = sum(self.unverified.values())
        if n:
            whys = ", ".join(f"{c} {why}" for why, c in self.unverified.most_common())
            out += (f"\n{'kept' if self.unverified_kept else 'dropped'} {n} record(s) the verified filter could not "
                    f"judge: {whys}" + ("" if self.unverified_kept else " (--unverified keep keeps them)"))
        return out


def _key(rec: Record) -> str:
    return " ".join(rec.prompt_text().split())


def shards_of(runs: list[str | Path]) -> list[RunFolder]:
    """The shard folders of one sharded run, in shard order; refused unless they share one fingerprint (config,
    seed and prompts) and split the seed into disjoint shards that cover it."""
    folders, seen = [], {}
    for run in runs:
        folder = RunFolder(run)
        if not folder.manifest().exists():
            raise InputError(f"{run}: not a wizevol run folder (no manifest.json)")
        m = json.loads(folder.manifest().read_text())
        if "shard" not in m:
            raise InputError(f"{run}: not a shard (made without --shard); merge it on its own")
        # a shard an older wizevol made carries the fingerprint it computed; a resumed one, today's and that one
        stamps = (m["fingerprint"], *([m["fingerprint_legacy"]] if m.get("fingerprint_legacy") else []))
        folders.append((m["shard"]["index"], m["shard"]["of"], stamps, folder))
    first = folders[0]
    for i, n, fp, folder in folders:
        if not set(fp) & set(first[2]):
            raise InputError(f"{folder.root} and {first[3].root} are not shards of one run (fingerprints "
                             f"{fp[0]} != {first[2][0]}: another config, seed or prompts)")
        if n != first[1]:
            raise InputError(f"{folder.root} is shard {i}/{n} but {first[3].root} is shard {first[0]}/{first[1]}")
        if i in seen:
            raise InputError(f"{folder.root} and {seen[i]} are the same shard {i}/{n}")
        seen[i] = folder.root
    missing = sorted(set(range(first[1])) - set(seen))
    if missing:
        raise InputError(f"shard{'s' if len(missing) > 1 else ''} {', '.join(f'{i}/{first[1]}' for i in missing)} "
                         "missing: a merge of part of a run would silently lose records")
    return [f for _, _, _, f in sorted(folders, key=lambda x: x[0])]


def _is_shard(run: str | Path) -> bool:
    manifest = RunFolder(run).manifest()
    return manifest.exists() and "shard" in json.loads(manifest.read_text())


def collect(run: str | Path | list, rounds_spec: str | None, clean: bool = False,
            min_pass_rate: float | None = None, unverified: str = "drop") -> tuple[list[Record], MergeReport]:
    """The records of the chosen rounds that can be trained on, in round order: exact duplicates across
    rounds removed (the lowest round wins), records without a response counted and left out; with
    `min_pass_rate`, only records the verified filter gave at least that pass rate (the others counted); those it
    could not verify (no Python, no usable tests, a failed call) are dropped or kept as `unverified` says.

    `run` may be the shard folders of one sharded run: each round is then its shards' records in shard order,
    which is the unsharded run's pool order, so the merge is the one a single process would have made."""
    runs = run if isinstance(run, list) else [run]
    folders = shards_of(runs) if len(runs) > 1 or _is_shard(runs[0]) else [RunFolder(runs[0])]
    for folder in folders:
        if not folder.root.is_dir():
            raise InputError(f"{folder.root}: run folder not found")
    if clean:
        from wizevol.filters.base import clean_is_current

        for folder in folders:
            clean_is_current(folder)
    finished = sorted(set.intersection(*(set(f.finished_rounds()) for f in folders)))
    report = MergeReport(rounds=parse_rounds(rounds_spec, finished), unverified_kept=unverified == "keep")
    seen: set[str] = set()
    merged: list[Record] = []
    for k in report.rounds:
        counts = {"read": 0, "duplicate": 0, "no_output": 0, "merged": 0}
        if min_pass_rate is not None:
            counts.update(below_pass_rate=0, unverified=0)
        for folder in folders:
            _collect_round(folder, k, clean, min_pass_rate, counts, seen, merged, unverified, report.unverified)
        report.per_round[k] = counts
    return merged, report


def _collect_round(folder: RunFolder, k: int, clean: bool, min_pass_rate: float | None, counts: dict[str, int],
                   seen: set[str], merged: list[Record], unverified: str = "drop",
                   why: Counter[str] | None = None) -> None:
    """Add one folder's round k to `merged` (and its counts), skipping what was seen."""
    run = folder.root
    source = folder.clean(k) if clean else folder.kept(k)
    if not source.exists():
        raise InputError(f"{source}: not found; run `wizevol filter {run}` first")
    rates = None
    if min_pass_rate is not None:
        results = folder.filter_results("verified", k)
        if not results.exists():
            raise InputError(f"{results}: not found; run `wizevol filter {run} --only verified` first "
                             "(with filters.verified.enabled or --only)")
        verdicts = {r["id"]: r for r in read_jsonl(results)}
        rates = {i: r["pass_rate"] for i, r in verdicts.items()}
    for row in read_jsonl(source):
        if rates is not None:  # the chosen answer (a clean file has it already: the change is the same again)
            row = changed(row, verdicts.get(row["id"], {}).get("record"))
        rec = Record.from_json(row)
        counts["read"] += 1
        if not rec.output.strip():
            counts["no_output"] += 1
            continue
        if rates is not None:
            rate = rates.get(rec.id)
            if rate is None:
                counts["unverified"] += 1
                if why is not None:
                    why[verdicts.get(rec.id, {}).get("error") or "no row in the verified results"] += 1
                if unverified == "drop":
                    continue
            elif rate < min_pass_rate:
                counts["below_pass_rate"] += 1
                continue
        key = _key(rec)
        if key in seen:
            counts["duplicate"] += 1
            continue
        seen.add(key)
        counts["merged"] += 1
        merged.append(rec)


def training_rows(records: list[Record], fmt: str = "prompt-completion", seed: int = 42) -> list[dict]:
    """Records -> rows of a training file: a seeded shuffle, then the format."""
    shuffled = list(records)
    random.Random(seed).shuffle(shuffled)
    return [to_format(r, fmt) for r in shuffled]


def merge(run: str | Path, rounds_spec: str | None, out: str | Path, fmt: str = "prompt-completion",
          seed: int = 42, parquet: bool = False, hf_dataset: str | Path | None = None,
          push_to_hub: str | None = None, clean: bool = False, min_pass_rate: float | None = None,
          unverified: str = "drop") -> MergeReport:
    """Join the chosen rounds into one training file (and parquet / an HF dataset / the Hub)."""
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if unverified not in ("drop", "keep"):
        raise InputError(f"--unverified {unverified!r}: choose drop or keep")
    merged, report = collect(run, rounds_spec, clean, min_pass_rate, unverified)
    if not merged:
        raise WizevolError(f"{run}: nothing to merge from rounds {report.rounds} (no records with a response)")
    rows = training_rows(merged, fmt, seed)
    report.written = len(rows)

    out = Path(out)
    if parquet or out.suffix == ".parquet" or hf_dataset or push_to_hub:
        import datasets

        datasets.disable_progress_bars()
        ds = datasets.Dataset.from_list(rows)
        if parquet or out.suffix == ".parquet":
            out.parent.mkdir(parents=True, exist_ok=True)
            ds.to_parquet(str(out.with_suffix(".parquet")))
        if hf_dataset:
            ds.save_to_disk(str(hf_dataset))
        if push_to_hub:
            _push(ds, push_to_hub)
    if out.suffix != ".parquet":
        write_atomic(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return report


def _push(ds, repo: str) -> None:
    """Push through `datasets` (token from HF_TOKEN or `huggingface-cli login`). Offline, it fails in one line."""
    try:
        ds.push_to_hub(repo, private=True)
    except Exception as e:  # hub errors come in many types; the user needs the message
        first = " ".join(str(e).split())[:300] or type(e).__name__
        raise WizevolError(f"push to the Hub ({repo}) failed: {type(e).__name__}: {first}") from None
