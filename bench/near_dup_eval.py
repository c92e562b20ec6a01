"""near_dup on short reworded instructions: which measure tells a reworded duplicate from a different task?
data/near_dup/pairs.jsonl holds 40 pairs of the same short instruction reworded (synonyms, words moved, voice)
and 40 pairs on the same topic that ask for different things. Each measure's threshold is chosen on one half
(even-numbered pairs: the highest recall with no false positive there) and reported on the other.

    .venv/bin/python bench/near_dup_eval.py
"""

from __future__ import annotations

import json
from pathlib import Path

from wizevol.text import ngrams, words

DATA = Path(__file__).resolve().parent.parent / "data" / "near_dup" / "pairs.jsonl"


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def word_grams(text: str, n: int) -> set:
    w = words(text)
    return {" ".join(g) for g in ngrams(w, n)} if len(w) >= n else {" ".join(w)}


def char_grams(text: str, n: int) -> set:
    t = " ".join(words(text))
    return {t[i:i + n] for i in range(max(1, len(t) - n + 1))}


def measures(pairs: list[dict]) -> dict[str, list[float]]:
    from wizevol.filters.contamination import _embedder

    out = {
        "word 5-gram Jaccard (today)": [jaccard(word_grams(p["a"], 5), word_grams(p["b"], 5)) for p in pairs],
        "word 3-gram Jaccard": [jaccard(word_grams(p["a"], 3), word_grams(p["b"], 3)) for p in pairs],
        "word 1-gram Jaccard": [jaccard(word_grams(p["a"], 1), word_grams(p["b"], 1)) for p in pairs],
        "char 5-gram Jaccard": [jaccard(char_grams(p["a"], 5), char_grams(p["b"], 5)) for p in pairs],
    }
    model = _embedder()
    va = model.encode([p["a"] for p in pairs], normalize_embeddings=True, show_progress_bar=False)
    vb = model.encode([p["b"] for p in pairs], normalize_embeddings=True, show_progress_bar=False)
    out["MiniLM cosine"] = [float(x @ y) for x, y in zip(va, vb, strict=True)]
    return out


def main() -> None:
    pairs = [json.loads(line) for line in DATA.read_text().splitlines()]
    tune = [i for i, p in enumerate(pairs) if int(p["id"].split("-")[1]) % 2 == 0]
    report = [i for i in range(len(pairs)) if i not in tune]
    print(f"{len(pairs)} pairs ({sum(p['duplicate'] for p in pairs)} reworded duplicates); tune {len(tune)}, "
          f"report {len(report)}")
    print(f"{'measure':<30}{'threshold':>10}{'recall':>8}{'false pos':>11}")
    for name, score in measures(pairs).items():
        neg = max(score[i] for i in tune if not pairs[i]["duplicate"])
        threshold = round(neg + 0.005, 3)  # just above every different pair of the tune half
        dup = [i for i in report if pairs[i]["duplicate"]]
        diff = [i for i in report if not pairs[i]["duplicate"]]
        recall = sum(score[i] >= threshold for i in dup) / len(dup)
        fp = sum(score[i] >= threshold for i in diff)
        print(f"{name:<30}{threshold:>10.3f}{recall:>8.2f}{fp:>7}/{len(diff)}")


if __name__ == "__main__":
    main()
