"""Training formats of merged data: alpaca, prompt-completion (WizardCoder's Alpaca prompt), messages."""

from __future__ import annotations

from typing import Any

from wizevol.record import Record

ALPACA_PROMPT = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request."
    "\n\n### Instruction:\n{instruction}\n\n### Response:"
)
FORMATS = ("alpaca", "prompt-completion", "messages")
LINEAGE = ("id", "round", "method", "parent_id", "root_id", "evolver", "responder", "judge")




def to_format(rec: Record, fmt: str) -> dict[str, Any]:
    """One training row in `fmt`, with the record's lineage (and its seed's own fields, and the verified filter's
    labels) in `metadata`."""
    meta = {k: getattr(rec, k) for k in LINEAGE}
    if rec.source:
        meta["source"] = rec.source
    if "verified" in rec.extra:  # how the verified filter chose the response; KodCode's difficulty
        meta["verified"] = rec.extra["verified"]
    if fmt == "alpaca":
        return {"instruction": rec.instruction, "input": rec.input, "output": rec.output, "metadata": meta}
    if fmt == "prompt-completion":
        return {"prompt": ALPACA_PROMPT.format(instruction=rec.prompt_text()), "completion": rec.output,
                "metadata": meta}
    return {"messages": [{"role": "user", "content": rec.prompt_text()},
                         {"role": "assistant", "content": rec.output}], "metadata": meta}
