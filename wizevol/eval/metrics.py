"""pass@k with the unbiased estimator (Chen et al. 2021) and a 95% interval.

The interval: with one sample a problem (greedy), pass@1 is a proportion of problems and gets the Wilson score
interval (honest at 0 and 1, where a normal interval collapses); with n samples, a percentile bootstrap over
problems (seeded, so the same results give the same interval).
"""

from __future__ import annotations

import math
import random


def pass_at_k(n: int, c: int, k: int) -> float:
    """The chance that at least one of k samples drawn from n (c of them correct) is correct."""
    if n - c < k:
        return 1.0
    prob = 1.0
    for i in range(n - c + 1, n + 1):
        prob *= 1.0 - k / i
    return 1.0 - prob


def wilson(successes: int, total: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a proportion."""
    if total == 0:
        return 0.0, 1.0
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap(values: list[float], resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of the mean, resampling problems."""
    if not values:
        return 0.0, 1.0
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    return means[int(0.025 * resamples)], means[min(resamples - 1, int(0.975 * resamples))]


def summarize(correct: dict[str, tuple[int, int]], ks: tuple[int, ...] = (1, 10, 100)) -> dict:
    """pass@k for each k that every problem has enough samples for, with its interval and how it was made."""
    if not correct:
        return {}
    out = {}
    n_min = min(n for n, _ in correct.values())
    for k in ks:
        if k > n_min:
            continue
        per_problem = [pass_at_k(n, c, k) for n, c in correct.values()]
        score = sum(per_problem) / len(per_problem)
        if k == 1 and all(n == 1 for n, _ in correct.values()):
            low, high = wilson(sum(c for _, c in correct.values()), len(correct))
            method = "wilson"
        else:
            low, high = bootstrap(per_problem)
            method = "bootstrap over problems"
        out[f"pass@{k}"] = {"score": score, "ci95": [low, high], "interval": method}
    return out
