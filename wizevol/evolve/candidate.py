"""What an elimination rule looks at (one evolution: parent, child and the calls' completions) and the shape of a
rule: a name, the stage of the chain it runs in, and `check`, which keeps (True) or drops with a reason."""

from __future__ import annotations

from dataclasses import dataclass

from wizevol.llm.client import Completion
from wizevol.record import Record, Verdict


@dataclass
class Candidate:
    """Everything the rules may look at for one evolution."""

    parent: Record
    child: Record
    evolve: Completion
    judge: Completion | None = None
    response: Completion | None = None


class Rule:
    """One elimination rule: a name, the stage it runs in, and `check`."""

    name: str = ""
    stage: str = ""

    def check(self, c: Candidate) -> Verdict:
        raise NotImplementedError
