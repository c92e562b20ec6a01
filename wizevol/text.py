"""Words and word n-grams: the one tokenizer of the rules (prompt_leak), near_dup and contamination."""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters, digits, underscore)."""
    return _WORD.findall(text.lower())


def ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    """Every run of `n` consecutive tokens, in order."""
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def normalize(text: str) -> str:
    """Case and whitespace normalized."""
    return " ".join(text.lower().split())
