"""near_dup: MinHash LSH (datasketch) on word 5-grams of the instruction, within a round and against every
earlier round, across lineages only. The earliest record is kept; a rejected one names the record it duplicates.

A record is never compared with its own lineage (same `root_id`): evolution makes a child close to its parent by
design ("add ~10 words"), so at 60+ words a child's 5-gram Jaccard with its parent is above 0.8. Two seeds (or
branches) that reach the same text are duplicates: the earliest stays."""

from __future__ import annotations

from typing import Any

from datasketch import LeanMinHash, MinHash, MinHashLSH

from wizevol.filters.base import Filter
from wizevol.record import Record, Verdict, drop
from wizevol.text import ngrams, words


def word_shingles(text: str, n: int) -> list[bytes]:
    """Word n-grams as bytes for MinHash; a text shorter than n words is one shingle."""
    tokens = words(text)
    if len(tokens) < n:
        return [" ".join(tokens).encode()] if tokens else []
    return [" ".join(g).encode() for g in ngrams(tokens, n)]


class NearDup(Filter):
    """Rejects a record whose instruction nearly repeats an earlier one of another lineage."""

    name = "near_dup"

    def __init__(self, num_perm: int = 128, threshold: float = 0.8, ngram: int = 5, seed: int = 1):
        self.num_perm, self.threshold, self.ngram, self.seed = num_perm, threshold, ngram, seed
        self._template = MinHash(num_perm=num_perm, seed=seed)  # permutations are computed once

    def settings(self) -> dict[str, Any]:
        return {"num_perm": self.num_perm, "threshold": self.threshold, "ngram": self.ngram, "seed": self.seed}

    def start(self) -> None:
        self.lsh = MinHashLSH(threshold=self.threshold, num_perm=self.num_perm)
        self.sigs: dict[str, LeanMinHash] = {}
        self.lineage: dict[str, str] = {}  # record id -> root_id

    def signature(self, text: str) -> LeanMinHash:
        """The MinHash signature of a text's word n-grams."""
        m = self._template.copy()
        shingles = word_shingles(text, self.ngram)
        if shingles:
            m.update_batch(shingles)
        return LeanMinHash(m)

    def check(self, record: Record) -> Verdict:
        sig = self.signature(record.prompt_text())
        root = record.root_id or record.id
        best, best_j = None, 0.0
        for other in self.lsh.query(sig):
            if self.lineage[other] == root:
                continue  # its own ancestor: evolution, not duplication
            j = sig.jaccard(self.sigs[other])
            if j >= self.threshold and (j > best_j or (j == best_j and other < best)):
                best, best_j = other, j
        if best is not None:
            return drop(f"near-duplicate of {best} (estimated Jaccard {best_j:.2f})", duplicate_of=best,
                        jaccard=round(float(best_j), 3))
        key = record.id
        self.lsh.insert(key, sig)
        self.sigs[key] = sig
        self.lineage[key] = root
        return True

