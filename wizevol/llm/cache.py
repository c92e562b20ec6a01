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


class ResponseCache:
    """The run's SQLite response cache: one committed row per finished call."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
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
