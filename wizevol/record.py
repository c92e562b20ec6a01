"""The one record that flows through every stage (seed -> rounds -> filters -> merge), with its lineage back to
the seed, the seed's own fields, and, once a rule or a filter drops it, its rejection."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any, Literal

# What a rule or a filter says of a record: keep it, or drop it with a reason and details.
Drop = tuple[Literal[False], str, dict[str, Any]]
Verdict = Literal[True] | Drop


def drop(reason: str, **details: Any) -> Drop:
    """The verdict that drops a record: (False, reason, details)."""
    return False, reason, details


def fold_input(instruction: str, input: str | None) -> str:
    """The instruction as a model sees it: an `input` field is folded in after a blank line."""
    return f"{instruction}\n\n{input}" if input and input.strip() else instruction


@dataclass(frozen=True)
class Rejection:
    """Why a record left the data: an elimination rule of `evolve`, a call that failed for good, or a filter."""

    kind: Literal["rule", "failed", "filter"]
    by: str  # the rule's or the filter's name; for a failed call, the stage
    reason: str  # for a failed call, the error
    stage: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The columns a rejects file has always had: rule/reason/stage, stage/error, or filter/reason/details."""
        if self.kind == "rule":
            return {"rule": self.by, "reason": self.reason, "stage": self.stage,
                    **({"details": self.details} if self.details else {})}
        if self.kind == "failed":
            return {"stage": self.by, "error": self.reason}
        return {"filter": self.by, "reason": self.reason, "details": self.details}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Rejection | None:
        if "rule" in d:
            return cls("rule", d["rule"], d["reason"], d.get("stage"), d.get("details") or {})
        if "error" in d:
            return cls("failed", d["stage"], d["error"])
        if "filter" in d:
            return cls("filter", d["filter"], d["reason"], None, d.get("details") or {})
        return None


@dataclass(frozen=True)
class Record:
    """One instruction (with input and output) and its lineage; the unit of every stage."""

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
    source: dict[str, Any] = field(default_factory=dict)  # the seed's own other fields (its id, metadata)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. seed line, stripped heading
    rejection: Rejection | None = None

    def prompt_text(self) -> str:
        """The instruction with its input folded in."""
        return fold_input(self.instruction, self.input)

    def to_json(self) -> dict[str, Any]:
        """One JSONL row: the fields, `source`/`extra` when not empty, and the rejection's columns, if any."""
        d = {name: getattr(self, name) for name in _PLAIN_FIELDS}  # as dataclasses.asdict, without its deep walk
        for key in ("source", "extra"):
            value = getattr(self, key)
            if value:
                d[key] = copy.deepcopy(value)
        return {**d, **self.rejection.to_json()} if self.rejection else d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Record:
        """The record of a JSONL row (unknown keys ignored)."""
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d and k != "rejection"}
        return cls(**known, rejection=Rejection.from_json(d))

    def rejected(self, rejection: Rejection) -> Record:
        """This record, dropped."""
        return replace(self, rejection=rejection)

    def evolve_into(self, instruction: str, round_k: int, method: str, **models: str | None) -> Record:
        """The child of this record in round `round_k`; it keeps the lineage and the seed's fields."""
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
            rejection=None,
            **models,
        )


_PLAIN_FIELDS = tuple(f for f in Record.__dataclass_fields__ if f not in ("source", "extra", "rejection"))
