"""The five Code Evol-Instruct heuristics, and the reproducible choice of one per record and round."""

from __future__ import annotations

import bisect
import hashlib
import random

# Order matters only for display; the texts live in prompts/heuristics/<name>.yaml.
METHODS: tuple[str, ...] = (
    "add_constraints",  # 1. add constraints or requirements (~10 more words)
    "rare_requirement",  # 2. replace a common requirement with a rarer one
    "reasoning_steps",  # 3. add reasoning steps
    "erroneous_code",  # 4. erroneous code as misdirection
    "complexity",  # 5. stricter time/space complexity (lower default weight)
)


def choose_method(weights: dict[str, float], seed: int, record_id: str, round_k: int) -> str:
    """Pick a method from (seed, record id, round) alone, so the choice never depends on scheduling. Methods
    beyond the five (strategy auto adds them) come after them, in the weights' order."""
    names = [m for m in (*METHODS, *(w for w in weights if w not in METHODS)) if weights.get(m, 0.0) > 0]
    digest = hashlib.sha256(f"{seed}\x00{record_id}\x00{round_k}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    cum, total = [], 0.0
    for m in names:
        total += weights[m]
        cum.append(total)
    return names[min(bisect.bisect_right(cum, rng.random() * total), len(names) - 1)]
