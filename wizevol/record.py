"""The record that flows through every round, with its lineage back to the seed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any


def fold_input(instruction: str, input: str | None) -> str:
    """The instruction as a model sees it: an `input` field is folded in after a blank line."""
    return f"{instruction}\n\n{input}" if input and input.strip() else instruction


def record_text(rec: dict[str, Any]) -> str:
    """`fold_input` for a record stored as JSON."""
    return fold_input(rec["instruction"], rec.get("input"))


@dataclass(frozen=True)
class Record:
    id: str
    instruction: str
    input: str = ""
    output: str = ""
    round: int = 0
    method: str | None = None
    parent_id: str | None = None
    root_id: str = ""
    evolver: str | None = None
    responder: str | None = None
    judge: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. source line of a seed

    def prompt_text(self) -> str:
        return fold_input(self.instruction, self.input)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        if not d["extra"]:
            del d["extra"]
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Record:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)

    def evolve_into(self, instruction: str, round_k: int, method: str, **models: str | None) -> Record:
        return replace(
            self,
            id=f"{self.root_id}-r{round_k}",
            instruction=instruction,
            input="",
            output="",
            round=round_k,
            method=method,
            parent_id=self.id,
            extra={},
            **models,
        )
