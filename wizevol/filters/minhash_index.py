"""The kept records' MinHash LSH index for near_dup, on disk: its memory does not grow with the run.

datasketch's `MinHashLSH` holds every band of every kept signature in dicts (about 5 KB a record here: 5 GB at
1M records). This index holds the same bands in a temporary SQLite database (deleted when it closes; SQLite
keeps `CACHE_MB` of it in memory and the rest in its temp dir), with each kept record's signature, lineage and
languages. The bands are datasketch's own (`_optimal_param` at weights 0.5/0.5, as `MinHashLSH(threshold,
num_perm)` chooses them), each stored as a 64-bit hash of its values, so a query finds the records that share a
band with the signature: the candidates `MinHashLSH.query` returns (a hash collision only adds a candidate,
which the Jaccard check then drops).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator

import numpy as np

CACHE_MB = 32  # SQLite's page cache for the index
COMMIT_EVERY = 5000  # inserts per transaction


class MinHashIndex:
    """Kept signatures by LSH band; `query` gives (id, root, hashvalues, languages, has_input) of the candidates."""

    def __init__(self, threshold: float, num_perm: int):
        from datasketch.lsh import _optimal_param

        b, r = _optimal_param(threshold, num_perm, 0.5, 0.5)
        self.ranges = [(i * r, (i + 1) * r) for i in range(b)]
        self.con = sqlite3.connect("", isolation_level=None)  # "": a private temp database, deleted on close
        self.con.executescript(f"""
            PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -{CACHE_MB * 1024};
            CREATE TABLE bands (key INTEGER NOT NULL, row INTEGER NOT NULL, PRIMARY KEY (key, row)) WITHOUT ROWID;
            CREATE TABLE kept (row INTEGER PRIMARY KEY, id TEXT NOT NULL, root TEXT NOT NULL, sig BLOB NOT NULL,
                               languages TEXT, has_input INTEGER);
            BEGIN;""")
        self.rows = self._pending = 0

    def _keys(self, hashvalues: np.ndarray) -> list[int]:
        out = []
        for i, (start, end) in enumerate(self.ranges):
            digest = hashlib.blake2b(hashvalues[start:end].tobytes(), digest_size=8, salt=bytes([i])).digest()
            out.append(int.from_bytes(digest, "little", signed=True))
        return out

    def query(self, hashvalues: np.ndarray) -> Iterator[tuple[str, str, np.ndarray, frozenset[str] | None, bool]]:
        keys = self._keys(hashvalues)
        rows = self.con.execute(
            f"SELECT id, root, sig, languages, has_input FROM kept WHERE row IN "
            f"(SELECT row FROM bands WHERE key IN ({','.join('?' * len(keys))}))", keys)
        for rid, root, sig, languages, has_input in rows:
            yield (rid, root, np.frombuffer(sig, dtype=hashvalues.dtype),
                   None if languages is None else frozenset(filter(None, languages.split("|"))), bool(has_input))

    def insert(self, record_id: str, root: str, hashvalues: np.ndarray, languages: frozenset[str] | None,
               has_input: bool) -> None:
        self.rows += 1
        self.con.execute("INSERT INTO kept VALUES (?, ?, ?, ?, ?, ?)",
                         (self.rows, record_id, root, hashvalues.astype(np.uint32).tobytes(),
                          None if languages is None else "|".join(sorted(languages)), int(has_input)))
        self.con.executemany("INSERT OR IGNORE INTO bands VALUES (?, ?)",
                             [(key, self.rows) for key in self._keys(hashvalues)])
        self._pending += 1
        if self._pending >= COMMIT_EVERY:
            self.con.execute("COMMIT")
            self.con.execute("BEGIN")
            self._pending = 0

    def close(self) -> None:
        self.con.close()
