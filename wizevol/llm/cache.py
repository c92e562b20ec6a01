"""Persistent, content-addressed response cache (SQLite in the run folder).

Each finished call is committed on its own, so a run killed with SIGKILL loses only the calls in flight.
The key covers the model, the messages, the generation parameters and the call's place in a lineage (the
child's id and the role: `seed-00003-r2/evolver`), never the URL or the key. The place makes every
(record, round, role) its own sample: a parent put back into the pool after a failed evolution gets a fresh
sample next round even when it draws the same heuristic, while a rerun or a resume replays exactly the calls
it made. Calls that have no place in a lineage (the contamination judge) pass none and are keyed by content.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any


def cache_key(model: str, messages: Any, params: dict[str, Any], mode: str = "chat", at: str | None = None) -> str:
    """The request's content, plus `at` (child id / role) for calls that belong to one place in a lineage."""
    blob = json.dumps({"v": 2, "mode": mode, "model": model, "messages": messages, "params": params, "at": at},
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


# file systems where SQLite's WAL mode does not work (its shared memory needs one host): a rollback journal there
NETWORK_FS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "ceph", "fuse.ceph", "lustre", "gpfs", "9p",
              "glusterfs", "fuse.glusterfs", "afs", "beegfs", "fuse.s3fs", "fuse.gcsfuse")


def fs_type(path: Path, mounts: str | None = None) -> str:
    """The type of the file system holding `path` (the longest mount point above it in /proc/mounts), or ""."""
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text()
        except OSError:
            return ""
    target, best = str(Path(path).resolve()), ("", "")
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            point = parts[1].replace("\\040", " ")
            if (target == point or target.startswith(point.rstrip("/") + "/")) and len(point) > len(best[0]):
                best = (point, parts[2])
    return best[1]


def journal_mode(path: Path, mounts: str | None = None) -> str:
    """WAL on a local disk (readers never block the writer); a rollback journal (DELETE) on a network file
    system, where WAL's shared-memory index does not work across hosts (shards on NFS)."""
    return "DELETE" if fs_type(path, mounts) in NETWORK_FS else "WAL"


class ResponseCache:
    """The run's SQLite response cache: one committed row per finished call."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.journal = journal_mode(self.path.parent)
        self._db.execute(f"PRAGMA journal_mode={self.journal}")
        self._db.execute("PRAGMA synchronous=NORMAL" if self.journal == "WAL" else "PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached answer for a key, or None."""
        row = self._db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store an answer (committed at once)."""
        self._db.execute("INSERT OR REPLACE INTO responses (key, value) VALUES (?, ?)",
                         (key, json.dumps(value, ensure_ascii=False)))

    def close(self) -> None:
        self._db.close()
