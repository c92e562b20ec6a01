"""The one aligned-table printer of the CLI's summaries (evolve, merge, stats)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def aligned(cols: Sequence[str], rows: Sequence[Sequence[Any]], underline: bool = False) -> str:
    """Right-aligned columns, two spaces apart; `underline` adds a dashed line under the header."""
    widths = [max(len(str(c)), *(len(str(r[i])) for r in rows)) for i, c in enumerate(cols)]

    def line(values: Sequence[Any]) -> str:
        return "  ".join(str(v).rjust(w) for v, w in zip(values, widths, strict=True))

    return "\n".join([line(cols), *([line(["-" * w for w in widths])] if underline else []), *map(line, rows)])
