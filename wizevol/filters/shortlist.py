"""shortlist: the records MiniLM has to encode for contamination layer 3, when a run is large.

MiniLM costs about 11 ms a record on 2 CPU cores (18 minutes per 100k records), yet layer 3 only needs each
benchmark problem's top_k nearest records. A static embedding made from the same model finds them cheaply:
each token's vector is MiniLM's output for that token alone (`[CLS] token [SEP]`, mean-pooled, as model2vec
distils a sentence model), a text's vector the mean of its tokens' vectors, centred on the run's mean (which
removes what all coding instructions share). Each problem keeps its `k` nearest records by that; MiniLM
encodes only the union, and the top_k and the threshold are then taken on MiniLM's own cosines, so a reject's
cosine is the one the full encode would give. `bench/filters.py --compare-full` measures what the shortlist
misses against encoding every record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from wizevol.filters.base import blocks

_TOKEN_VECS: dict[int, np.ndarray] = {}  # token id -> its static vector (the packaged model is the only one)


def token_vectors(model: Any, ids: np.ndarray) -> np.ndarray:
    """The static vector of each token id (rows in the order of `ids`); computed once per process."""
    import torch

    missing = [int(i) for i in ids if int(i) not in _TOKEN_VECS]
    if missing:
        tok, bert = model.tokenizer, model[0].auto_model
        with torch.inference_mode():
            for s in range(0, len(missing), 2048):
                chunk = torch.tensor(missing[s:s + 2048], device=model.device)
                inp = torch.stack([torch.full_like(chunk, tok.cls_token_id), chunk,
                                   torch.full_like(chunk, tok.sep_token_id)], 1)
                out = bert(input_ids=inp, attention_mask=torch.ones_like(inp)).last_hidden_state.mean(1)
                for i, v in zip(missing[s:s + 2048], out.float().cpu().numpy(), strict=True):
                    _TOKEN_VECS[i] = v
    return np.stack([_TOKEN_VECS[int(i)] for i in ids])


def static_vectors(model: Any, texts: Sequence[str]) -> np.ndarray:
    """Each text's mean token vector, unit length (a text with no token gets zeros)."""
    from scipy.sparse import csr_matrix

    enc = model.tokenizer(list(texts), add_special_tokens=False, truncation=True,
                          max_length=model.max_seq_length)["input_ids"]
    lengths = np.fromiter((len(e) for e in enc), dtype=np.int64, count=len(enc))
    flat = np.fromiter((i for e in enc for i in e), dtype=np.int64, count=int(lengths.sum()))
    used, cols = np.unique(flat, return_inverse=True)
    rows = np.repeat(np.arange(len(enc)), lengths)
    counts = csr_matrix((np.ones(len(flat), np.float32), (rows, cols)), shape=(len(enc), len(used)))
    if not len(used):
        return np.zeros((len(enc), model.get_sentence_embedding_dimension()), np.float32)
    vecs = np.asarray(counts @ token_vectors(model, used))
    return _unit(vecs)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)


def shortlist(model: Any, records: Iterable[str], queries: Sequence[str], groups: Iterable[list[int]],
              k: int, block: int = 10_000) -> list[int]:
    """Indices (sorted) of the records among the `k` statically nearest to any group of queries (a group is one
    benchmark problem's texts; a record's score for it is its best cosine to any of them). `records` is walked
    twice, `block` texts at a time (the run's mean, then the scores), and may be a view that reads them from disk:
    the memory is the block's and each group's k best, not the run's."""
    n, total = 0, None
    for texts in blocks(records, block):
        vecs = static_vectors(model, texts)
        total = vecs.sum(0) if total is None else total + vecs.sum(0)
        n += len(texts)
    if not n:
        return []
    mean = total / n
    qry = _unit(static_vectors(model, list(queries)) - mean)
    groups = list(groups)
    k = min(k, n)
    best = [(np.empty(0, np.float32), np.empty(0, np.int64)) for _ in groups]  # each group's k best: scores, indices
    start = 0
    for texts in blocks(records, block):
        sims = qry @ _unit(static_vectors(model, texts) - mean).T  # queries x the block's records
        for g, rows in enumerate(groups):
            scores = np.concatenate([best[g][0], sims[rows].max(0)])
            index = np.concatenate([best[g][1], np.arange(start, start + len(texts))])
            top = np.argpartition(-scores, k - 1)[:k] if len(scores) > k else np.arange(len(scores))
            best[g] = (scores[top], index[top])
        start += len(texts)
    return sorted({int(i) for _, index in best for i in index})


def shortlisted(model: Any, records: Iterable[Any], text: Callable[[Any], str], queries: Sequence[str],
                groups: Iterable[list[int]], k: int) -> list[Any]:
    """The records `shortlist` chooses, read from `records` (a list, or base.RunRecords over the round files,
    walked three times), in their order."""
    chosen = set(shortlist(model, _TextsOf(records, text), queries, groups, k))
    return [r for j, r in enumerate(records) if j in chosen]


class _TextsOf:
    """Each record's text, read again from `records` each time it is walked."""

    def __init__(self, records: Iterable[Any], text: Callable[[Any], str]):
        self.records, self.text = records, text

    def __iter__(self) -> Iterator[str]:
        return (self.text(r) for r in self.records)
