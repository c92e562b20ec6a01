"""near_dup on short reworded instructions: which measure tells a reworded duplicate from a different task, and
what the judge adds.

data/near_dup/pairs.jsonl, the tune set: 40 pairs of one short instruction reworded (synonyms, words moved,
voice) and 40 same-topic pairs that ask for different things. data/near_dup/heldout.jsonl, the report set, was
written before the judge check was built: 40 and 40 more, its different pairs mostly a word or two apart
("uppercase" / "lowercase", "union" / "intersection"). Each measure's threshold is set on the tune set (the
highest recall there with no false positive) and reported on the held-out set.

With --judge CONFIG, near_dup itself runs on each pair with the config's judge role (`llm_judge: true`): the
first text is kept, the second is checked, and a pair at MiniLM cosine >= --judge-threshold (the config's
judge_threshold, 0.65) is asked about with near_dup_judge.yaml ("the same task?"), in both orders unless the
first says Same. A perfect judge's recall is the share of duplicates at that cosine.

    .venv/bin/python bench/near_dup_eval.py [--judge configs/local/qwen15.yaml [--judge-threshold 0.65]]
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from wizevol.config_filters import NearDupConfig
from wizevol.filters.near_dup import NearDup
from wizevol.record import Record
from wizevol.text import ngrams, words

DATA = Path(__file__).resolve().parent.parent / "data" / "near_dup"


def load(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines()]


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def word_grams(text: str, n: int) -> set:
    w = words(text)
    return {" ".join(g) for g in ngrams(w, n)} if len(w) >= n else {" ".join(w)}


def char_grams(text: str, n: int) -> set:
    t = " ".join(words(text))
    return {t[i:i + n] for i in range(max(1, len(t) - n + 1))}


def cosines(pairs: list[dict]) -> list[float]:
    from wizevol.filters.encoder import model as _embedder

    model = _embedder()
    va = model.encode([p["a"] for p in pairs], normalize_embeddings=True, show_progress_bar=False)
    vb = model.encode([p["b"] for p in pairs], normalize_embeddings=True, show_progress_bar=False)
    return [float(x @ y) for x, y in zip(va, vb, strict=True)]


def measures(pairs: list[dict]) -> dict[str, list[float]]:
    return {
        "word 5-gram Jaccard (MinHash)": [jaccard(word_grams(p["a"], 5), word_grams(p["b"], 5)) for p in pairs],
        "word 3-gram Jaccard": [jaccard(word_grams(p["a"], 3), word_grams(p["b"], 3)) for p in pairs],
        "word 1-gram Jaccard": [jaccard(word_grams(p["a"], 1), word_grams(p["b"], 1)) for p in pairs],
        "char 5-gram Jaccard": [jaccard(char_grams(p["a"], 5), char_grams(p["b"], 5)) for p in pairs],
        "MiniLM cosine": cosines(pairs),
    }


def rates(caught: list[bool], pairs: list[dict]) -> tuple[float, int, int]:
    """(recall on the duplicates, false positives, different pairs)."""
    dup = [c for c, p in zip(caught, pairs, strict=True) if p["duplicate"]]
    diff = [c for c, p in zip(caught, pairs, strict=True) if not p["duplicate"]]
    return sum(dup) / len(dup), sum(diff), len(diff)


def judged(equal: Callable[[str, str], str | bool | None], threshold: float, pairs: list[dict]) -> dict:
    """near_dup with a judge on each pair on its own (two lineages: a kept, b checked): which pairs it rejects,
    and the judge's answers."""
    caught, asked = [], {"calls": 0, "same": 0, "different": 0, "unparsed": 0, "failed": 0}
    for p in pairs:
        nd = NearDup(judge=equal, judge_threshold=threshold)
        nd.start()
        a, b = (Record(id=f"{p['id']}-{s}", instruction=p[s], root_id=f"{p['id']}-{s}") for s in "ab")
        nd.prepare_round([a, b])
        assert nd.check(a) is True
        caught.append(nd.check(b) is not True)
        asked = {k: asked[k] + v for k, v in nd.report()["judge"].items()}
    return {"caught": caught, "asked": asked}


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--judge", help="a wizevol config whose judge role decides the candidate pairs")
    ap.add_argument("--judge-threshold", type=float, default=NearDupConfig().judge_threshold,
                    help="MiniLM cosine of the pairs the judge sees (default: the config's)")
    args = ap.parse_args()
    tune, report = load("pairs.jsonl"), load("heldout.jsonl")
    print(f"tune: pairs.jsonl, {len(tune)} pairs; report: heldout.jsonl, {len(report)} pairs")
    print(f"{'measure':<31}{'threshold':>10}{'tune recall':>13}{'report recall':>15}{'report false pos':>18}")
    scores_tune, scores_report = measures(tune), measures(report)
    for name, score in scores_tune.items():
        threshold = round(max(s for s, p in zip(score, tune, strict=True) if not p["duplicate"]) + 0.005, 3)
        recall_t, _, _ = rates([s >= threshold for s in score], tune)
        recall, fp, n = rates([s >= threshold for s in scores_report[name]], report)
        print(f"{name:<31}{threshold:>10.3f}{recall_t:>13.2f}{recall:>15.2f}{fp:>12}/{n}")
    cos = scores_report["MiniLM cosine"]
    for t in (0.89, 0.80, 0.75):
        recall, fp, n = rates([c >= t for c in cos], report)
        print(f"  MiniLM cosine >= {t:.2f} on the report set: recall {recall:.2f}, false positives {fp}/{n}")
    print("candidates for a judge (judge_threshold): a perfect judge's recall, and the different pairs it must refuse")
    reach = {}
    for t in (0.60, 0.65, 0.70, 0.75, 0.80, 0.85):
        (rt, ft, _), (rr, fr, _) = (rates([c >= t for c in sc["MiniLM cosine"]], ps)
                                    for sc, ps in ((scores_tune, tune), (scores_report, report)))
        reach[t] = rt
        print(f"  cosine >= {t:.2f}: tune {rt:.2f} ({ft} to refuse), report {rr:.2f} ({fr} to refuse)")
    chosen = max(t for t, r in reach.items() if r >= 1.0)
    print(f"  the highest where a perfect judge finds every reworded pair of the tune set: {chosen:.2f} "
          f"(the default judge_threshold: {NearDupConfig().judge_threshold:.2f})")
    if args.judge:
        with_judge(args.judge, args.judge_threshold, tune, report)


def with_judge(config: str, threshold: float, tune: list[dict], report: list[dict]) -> None:
    import contextlib
    import tempfile

    from wizevol.config_file import load_config
    from wizevol.filters.judge import llm_judge
    from wizevol.run_folder import RunFolder

    cfg = load_config(config)
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        equal = llm_judge(RunFolder(tmp), cfg, stack, lambda text: print(text, flush=True)).same_task
        print(f"\nnear_dup with the judge {cfg.role('judge').model} on pairs at MiniLM cosine >= {threshold:.2f}:")
        for name, pairs in (("tune", tune), ("report", report)):
            t0 = time.perf_counter()
            out = judged(equal, threshold, pairs)
            recall, fp, n = rates(out["caught"], pairs)
            bound, _, _ = rates([c >= threshold for c in cosines(pairs)], pairs)
            print(f"  {name:<7} recall {recall:.2f} (a perfect judge: {bound:.2f}), false positives {fp}/{n}; "
                  f"judge {out['asked']} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
