"""Seed loading: a strict JSONL reader that names file and line, or anything `datasets.load_dataset` reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wizevol.config import Seed
from wizevol.errors import InputError
from wizevol.record import Record

BOM = b"\xef\xbb\xbf"
DATASET_BUILDERS = {".json": "json", ".parquet": "parquet", ".csv": "csv", ".tsv": "csv"}


class BadRow(Exception):
    pass


@dataclass
class Quarantined:
    source: str
    line: int
    reason: str
    raw: str

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "reason": self.reason, "raw": self.raw}


def load_seed(path: str, cfg: Seed, limit: int | None = None) -> tuple[list[Record], list[Quarantined]]:
    """Return (records, quarantined). Without cfg.skip_bad the first bad line raises InputError (exit 2)."""
    p = Path(path)
    if p.suffix in (".jsonl", ".ndjson") or (p.is_file() and p.suffix not in DATASET_BUILDERS):
        rows = _jsonl_rows(p, cfg)
        unit = "line"
    else:
        rows = _dataset_rows(path, cfg)
        unit = "row"
    records, quarantined = [], []
    for n, raw, obj in rows:
        if limit is not None and len(records) >= limit:
            break
        try:
            if isinstance(obj, BadRow):
                raise obj
            records.append(_to_record(obj, n, cfg))
        except BadRow as e:
            if not cfg.skip_bad:
                raise InputError(f"{path}:{n}: {e} (use --skip-bad to quarantine bad {unit}s)") from None
            quarantined.append(Quarantined(source=str(path), line=n, reason=str(e), raw=raw))
    if not records:
        raise InputError(f"{path}: no usable seed records" + (f" ({len(quarantined)} quarantined)" if quarantined else ""))
    return records, quarantined


def _jsonl_rows(p: Path, cfg: Seed) -> Iterator[tuple[int, str, Any]]:
    if not p.is_file():
        raise InputError(f"{p}: seed file not found")
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
                yield n, line.decode("utf-8", "replace"), BadRow(
                    f"not valid UTF-8 (byte 0x{line[e.start]:02x} at column {e.start + 1})")
                continue
            if not text.strip():
                continue  # blank lines are not records
            text = text.rstrip("\r\n")
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as e:
                yield n, text, BadRow(f"invalid JSON: {e.msg} (column {e.pos + 1})")
                continue
            yield n, text, obj


def _dataset_rows(path: str, cfg: Seed) -> Iterator[tuple[int, str, Any]]:
    import datasets  # heavy; only for non-JSONL seeds

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()

    p = Path(path)
    try:
        if p.exists():
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
        yield i, json.dumps(row, ensure_ascii=False, default=str), row


def _to_record(obj: Any, n: int, cfg: Seed) -> Record:
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
    return Record(id=rid, root_id=rid, round=0, extra={"seed_line": n}, **fields)
