"""The run folder: atomic files, per-round done-markers, the manifest.

runs/NAME/
  manifest.json          resolved config (no secrets), counts per round and rule, tokens, wall time, versions
  cache.sqlite           content-addressed response cache (resume without paying twice)
  quarantine_seed.jsonl  bad seed lines with reasons (only with --skip-bad)
  round_0.jsonl          the normalized seed
  round_K.jsonl          records kept in round K (the round's dataset)
  eliminated_K.jsonl     evolutions dropped in round K, each with `rule` and `reason`
  failed_K.jsonl         evolutions whose calls failed for good, each with `stage` and `error`
  pool_K.jsonl           what round K+1 evolves: survivors as themselves, parents of failures unchanged
  round_K.done           done-marker with the round's stats; a re-run skips the round
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from wizevol.errors import WizevolError


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dumps_line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=False) + "\n"


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    write_atomic(path, "".join(dumps_line(r) for r in rows))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class RunFolder:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def prepare(self, fingerprint: str) -> None:
        """Create the folder, or check that an existing one was made by the same config."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK | os.X_OK):
                raise PermissionError(13, "Permission denied")
        except OSError as e:
            raise WizevolError(f"{self.root}: cannot create the run folder here: {e.strerror or e}") from None
        stamp = self.root / "fingerprint"
        if stamp.exists():
            old = stamp.read_text().strip()
            if old != fingerprint:
                raise WizevolError(
                    f"{self.root} holds a run made with a different config or seed (fingerprint {old} != "
                    f"{fingerprint}); choose another --out, or delete the folder to start over")
        else:
            write_atomic(stamp, fingerprint + "\n")

    def path(self, name: str) -> Path:
        return self.root / name

    def kept(self, k: int) -> Path:
        return self.root / f"round_{k}.jsonl"

    def eliminated(self, k: int) -> Path:
        return self.root / f"eliminated_{k}.jsonl"

    def failed(self, k: int) -> Path:
        return self.root / f"failed_{k}.jsonl"

    def pool(self, k: int) -> Path:
        return self.kept(0) if k == 0 else self.root / f"pool_{k}.jsonl"

    def done_marker(self, k: int) -> Path:
        return self.root / f"round_{k}.done"

    def finished_rounds(self) -> list[int]:
        return sorted(int(p.name.split("_")[1].split(".")[0]) for p in self.root.glob("round_*.done"))

    def round_done(self, k: int) -> dict[str, Any] | None:
        marker = self.done_marker(k)
        if not marker.exists():
            return None
        return json.loads(marker.read_text(encoding="utf-8"))

    def mark_done(self, k: int, stats: dict[str, Any]) -> None:
        write_atomic(self.done_marker(k), json.dumps(stats, indent=2, sort_keys=True) + "\n")

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        write_atomic(self.root / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
