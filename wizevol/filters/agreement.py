"""Dual execution agreement (CodeT, Chen et al. 2022): n answers to one task and m tests written for it, each
answer run against each test; the answer is chosen by what the answers and the tests agree on, not by any one
test.

Answers that pass exactly the same tests form a group (a consensus set). A group's score is its size times the
number of tests it passes: a test many answers pass weighs more than one no answer passes, and an answer many
others agree with weighs more than a lone one. The best group wins (ties: more tests passed, then the group
holding the earliest answer, the record's own answer being answer 0); within it the earliest answer is chosen.
The tests the winning group passes are the trusted tests; an answer's verdict is whether it passes all of them.

`strength` is the winning score over n * m: 1.0 when every answer passes every test, 0.0 when no answer passes
any test (then nothing is chosen by agreement and the record is weak). Pure functions, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

Matrix = list[list[bool]]  # matrix[i][j]: answer i passes test j


@dataclass(frozen=True)
class Choice:
    chosen: int  # the answer kept
    group: tuple[int, ...]  # the answers of the winning group
    trusted: tuple[int, ...]  # the tests the winning group passes
    score: int  # len(group) * len(trusted)
    strength: float  # score / (n * m), in [0, 1]
    pass_rate: float  # the share of answers that pass every trusted test (KodCode's rate for difficulty)

    def to_json(self) -> dict:
        return {"chosen": self.chosen, "group": list(self.group), "trusted_tests": list(self.trusted),
                "score": self.score, "strength": round(self.strength, 4), "pass_rate": round(self.pass_rate, 4)}


def groups(matrix: Matrix) -> dict[tuple[int, ...], list[int]]:
    """The consensus sets: the tests passed (as indices) -> the answers that pass exactly those, in order."""
    out: dict[tuple[int, ...], list[int]] = {}
    for i, row in enumerate(matrix):
        out.setdefault(tuple(j for j, ok in enumerate(row) if ok), []).append(i)
    return out


def choose(matrix: Matrix) -> Choice:
    """CodeT's choice over an n x m pass matrix (n >= 1 answers, m >= 1 tests)."""
    if not matrix or not matrix[0] or any(len(row) != len(matrix[0]) for row in matrix):
        raise ValueError("the pass matrix needs n >= 1 rows of the same m >= 1 tests")
    n, m = len(matrix), len(matrix[0])
    best = min(groups(matrix).items(), key=lambda g: (-len(g[1]) * len(g[0]), -len(g[0]), g[1][0]))
    trusted, members = best
    score = len(members) * len(trusted)
    passing = sum(all(row[j] for j in trusted) for row in matrix) if trusted else 0
    return Choice(chosen=members[0], group=tuple(members), trusted=trusted, score=score, strength=score / (n * m),
                  pass_rate=passing / n)


def difficulty(pass_rate: float) -> str:
    """KodCode's labels by the share of sampled answers that pass."""
    return "easy" if pass_rate > 2 / 3 else "medium" if pass_rate >= 1 / 3 else "hard"
