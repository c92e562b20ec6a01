"""Seed loading: a strict JSONL reader that names file and line, or anything `datasets.load_dataset` reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wizevol.config import EvolveConfig, SeedConfig
from wizevol.errors import InputError
from wizevol.record import Record

BOM = b"\xef\xbb\xbf"
DATASET_BUILDERS = {".json": "json", ".parquet": "parquet", ".csv": "csv", ".tsv": "csv"}


class BadRow(Exception):
    """A seed row that cannot become a record; the message says why."""

    pass


@dataclass
class Quarantined:
    """A bad seed row kept aside with its reason (--skip-bad)."""

    source: str
    line: int
    reason: str
    raw: str

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "reason": self.reason, "raw": self.raw}


JSONL_SUFFIXES = (".jsonl", ".ndjson")


def iter_seed(path: str, cfg: SeedConfig, limit: int | None = None) -> Iterator[Record | Quarantined]:
    """The seed's records and quarantined lines, one at a time. Without cfg.skip_bad the first bad line raises
    InputError (exit 2); a seed with no usable record is an error once it is read through.

    A directory is read as the seed files inside it (not recursively, in name order): all JSONL, or all of one
    `datasets` format. Record ids count lines across the files, so they stay unique."""
    p = Path(path)
    many = p.is_dir()
    if many:
        rows, unit = _directory_rows(p, cfg)
    elif p.suffix in JSONL_SUFFIXES or (p.is_file() and p.suffix not in DATASET_BUILDERS):
        rows, unit = _jsonl_rows(p, cfg), "line"
    else:
        rows, unit = _dataset_rows(path, cfg), "row"
    kept = bad = 0
    for source, n, index, raw, obj in rows:
        source = source if many else path
        if limit is not None and kept >= limit:
            break
        try:
            if isinstance(obj, BadRow):
                raise obj
            record = _to_record(obj, index, cfg)
            if many and unit == "line":
                record.extra.update(seed_file=Path(source).name, seed_line=n)
        except BadRow as e:
            if not cfg.skip_bad:
                raise InputError(f"{source}:{n}: {e} (use --skip-bad to quarantine bad {unit}s)") from None
            bad += 1
            yield Quarantined(source=str(source), line=n, reason=str(e), raw=raw)
            continue
        kept += 1
        yield record
    if not kept:
        raise InputError(f"{path}: no usable seed records" + (f" ({bad} quarantined)" if bad else ""))


Row = tuple[str, int, int, str, Any]  # source, line (or row) in it, index for the record id, raw text, object


def _directory_rows(d: Path, cfg: SeedConfig) -> tuple[Iterator[Row], str]:
    files = sorted(f for f in d.iterdir() if f.is_file() and not f.name.startswith("."))
    jsonl = [f for f in files if f.suffix in JSONL_SUFFIXES]
    other = sorted({f.suffix for f in files if f.suffix in DATASET_BUILDERS})
    if jsonl and other:
        raise InputError(f"{d}: is a directory with both JSONL and {other[0]} files; pass one file, or a "
                         "directory of one format")
    if jsonl:
        def rows() -> Iterator[Row]:
            offset = 0
            for f in jsonl:
                for _, n, _, raw, obj in _jsonl_rows(f, cfg):
                    yield str(f), n, offset + n, raw, obj
                offset += _line_count(f)
        return rows(), "line"
    if len(other) == 1:
        found = [str(f) for f in files if f.suffix == other[0]]
        return _dataset_rows(str(d), cfg, data_files=found), "row"
    if other:
        raise InputError(f"{d}: is a directory with seed files of several formats ({', '.join(other)}); "
                         "pass one file, or a directory of one format")
    raise InputError(f"{d}: is a directory with no seed files (.jsonl, .json, .parquet, .csv) in it")


def _line_count(p: Path) -> int:
    with p.open("rb") as f:
        return sum(1 for _ in f)


def _jsonl_rows(p: Path, cfg: SeedConfig) -> Iterator[Row]:
    if not p.is_file():
        raise InputError(f"{p}: seed file not found")
    src = str(p)
    with p.open("rb") as f:
        for n, line in enumerate(f, start=1):
            if n == 1 and line.startswith(BOM):
                if not cfg.skip_bad:
                    raise InputError(f"{p}:1: file starts with a UTF-8 byte-order mark (BOM); save it as UTF-8 "
                                     "without BOM, or pass --skip-bad to ignore it")
                line = line[len(BOM):]
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as e:
                yield src, n, n, line.decode("utf-8", "replace"), BadRow(
                    f"not valid UTF-8 (byte 0x{line[e.start]:02x} at column {e.start + 1})")
                continue
            if not text.strip():
                continue  # blank lines are not records
            text = text.rstrip("\r\n")
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as e:
                yield src, n, n, text, BadRow(f"invalid JSON: {e.msg} (column {e.pos + 1})")
                continue
            yield src, n, n, text, obj


def _dataset_rows(path: str, cfg: SeedConfig, data_files: list[str] | None = None) -> Iterator[Row]:
    import datasets  # heavy; only for non-JSONL seeds

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()

    p = Path(path)
    try:
        if data_files:  # the files of one format inside a directory
            suffix = Path(data_files[0]).suffix
            kwargs = {"delimiter": "\t"} if suffix == ".tsv" else {}
            ds = datasets.load_dataset(DATASET_BUILDERS[suffix], data_files=data_files, split="train", **kwargs)
        elif p.exists():
            builder = DATASET_BUILDERS.get(p.suffix)
            if builder is None:
                raise InputError(f"{path}: unsupported seed format (use .jsonl, .json, .parquet, .csv or a dataset name)")
            kwargs = {"delimiter": "\t"} if p.suffix == ".tsv" else {}
            ds = datasets.load_dataset(builder, data_files=str(p), split="train", **kwargs)
        else:
            ds = datasets.load_dataset(path, split=cfg.split)
    except InputError:
        raise
    except Exception as e:  # datasets raises many types; all mean "could not read this seed"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"{path}: cannot load seed: {first}") from None
    for i, row in enumerate(ds, start=1):
        yield path, i, i, json.dumps(row, ensure_ascii=False, default=str), row


def _to_record(obj: Any, n: int, cfg: SeedConfig) -> Record:
    if not isinstance(obj, dict):
        raise BadRow(f"expected a JSON object, got {type(obj).__name__}")
    fields = {}
    for role, name in (("instruction", cfg.instruction_field), ("input", cfg.input_field),
                       ("output", cfg.output_field)):
        value = obj.get(name)
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise BadRow(f"field {name!r} must be a string, got {type(value).__name__}")
        fields[role] = value
    if cfg.instruction_field not in obj:
        raise BadRow(f"missing field {cfg.instruction_field!r}")
    if not fields["instruction"].strip():
        raise BadRow(f"field {cfg.instruction_field!r} is empty")
    rid = f"seed-{n:05d}"
    mapped = (cfg.instruction_field, cfg.input_field, cfg.output_field)
    # the seed's own other fields (its id, metadata columns), so the output joins back to the user's data
    source = json.loads(json.dumps({k: v for k, v in obj.items() if k not in mapped}, ensure_ascii=False,
                                   default=str))
    return Record(id=rid, root_id=rid, round=0, source=source, extra={"seed_line": n}, **fields)


@dataclass
class Seed:
    """The seed as a run needs it: read through once for its fingerprint and count, and again (`records()`) to
    write round 0, so it is never all in memory."""

    path: str
    cfg: EvolveConfig
    total: int  # usable records in the whole seed
    quarantined: list

    @property
    def span(self) -> tuple[int, int]:
        """The [lo, hi) slice of the seed's records this run evolves: all of them, or its shard's."""
        shard = self.cfg.shard_of()
        if shard is None:
            return 0, self.total
        i, n = shard
        return i * self.total // n, (i + 1) * self.total // n

    @property
    def count(self) -> int:
        lo, hi = self.span
        return hi - lo

    def records(self) -> Iterator[Record]:
        lo, hi = self.span
        seen = 0
        for r in iter_seed(self.path, self.cfg.seed, self.cfg.limit):
            if isinstance(r, Record):
                if lo <= seen < hi:
                    yield r
                seen += 1
