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

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

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


def shortlist(model: Any, records: Sequence[str], queries: Sequence[str], groups: Iterable[list[int]],
              k: int) -> list[int]:
    """Indices (sorted) of the records among the `k` statically nearest to any group of queries (a group is one
    benchmark problem's texts; a record's score for it is its best cosine to any of them)."""
    vecs = static_vectors(model, list(records) + list(queries))
    rec, qry = vecs[:len(records)], vecs[len(records):]
    mean = rec.mean(0)
    rec, qry = _unit(rec - mean), _unit(qry - mean)
    k = min(k, len(records))
    chosen: set[int] = set()
    for rows in groups:
        best = (qry[rows] @ rec.T).max(0)
        chosen.update(np.argpartition(-best, k - 1)[:k].tolist())
    return sorted(chosen)
