"""The one aligned-table printer of the CLI's summaries (evolve, merge, stats)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def aligned(cols: Sequence[str], rows: Sequence[Sequence[Any]], underline: bool = False, left: int = 0) -> str:
    """Right-aligned columns, two spaces apart, but the last `left` ones (text), left-aligned; `underline` adds a
    dashed line under the header."""
    widths = [max(len(str(c)), *(len(str(r[i])) for r in rows)) for i, c in enumerate(cols)]
    first_left = len(cols) - left

    def line(values: Sequence[Any]) -> str:
        return "  ".join(str(v).ljust(w) if i >= first_left else str(v).rjust(w)
                         for i, (v, w) in enumerate(zip(values, widths, strict=True))).rstrip()

    return "\n".join([line(cols), *([line(["-" * w for w in widths])] if underline else []), *map(line, rows)])
