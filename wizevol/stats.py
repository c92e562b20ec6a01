"""`wizevol stats RUN`: the paper's §5 figures for every round: counts kept / eliminated by rule / failed,
instruction and response lengths (words), method mix, nearest-benchmark similarity (HumanEval n-gram
coverage), tokens spent. A table, stats.json, and PNG plots."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from typing import Any

from wizevol.filters.contamination import Contamination
from wizevol.record import Record
from wizevol.run_folder import RunFolder, read_jsonl, write_atomic
from wizevol.table import aligned


def _dist(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    qs = statistics.quantiles(values, n=10) if len(values) > 1 else [values[0]] * 9
    return {"n": len(values), "mean": round(statistics.fmean(values), 2), "median": statistics.median(values),
            "p10": round(qs[0], 2), "p90": round(qs[-1], 2), "max": max(values)}


def run_stats(run: str, plots: bool = True) -> dict[str, Any]:
    """Compute the per-round figures of a run folder, write stats.json and (optionally) the plots."""
    folder = RunFolder(run)
    rounds = folder.finished_rounds()
    if not rounds:
        from wizevol.errors import InputError

        raise InputError(f"{run}: no finished rounds (is this a wizevol run folder?)")
    detector = Contamination()
    out: dict[str, Any] = {"run": str(run), "rounds": {}}
    kept_by_round, sims_by_round = {}, {}
    for k in rounds:
        done = folder.read_done(k) or {}
        kept = kept_by_round[k] = [Record.from_json(d) for d in read_jsonl(folder.kept(k))]
        sims = sims_by_round[k] = [detector.nearest(r.prompt_text())[2] for r in kept]
        tokens = done.get("tokens", {})
        out["rounds"][str(k)] = {
            "pool": done.get("pool", len(kept)),
            "kept": len(kept),
            "eliminated_by_rule": done.get("eliminated_by_rule", {}),
            "failed": done.get("failed", 0),
            "instruction_words": _dist([len(r.prompt_text().split()) for r in kept]),
            "response_words": _dist([len(r.output.split()) for r in kept]),
            "methods": dict(sorted(Counter(r.method or "seed" for r in kept).items())),
            "humaneval_similarity": _dist(sims),
            "tokens": {role: t.get("prompt_tokens", 0) + t.get("completion_tokens", 0) for role, t in tokens.items()},
        }
    write_atomic(folder.stats(), json.dumps(out, indent=2) + "\n")
    if plots:
        out["plots"] = _plots(folder, out, kept_by_round, sims_by_round)
    return out


def table(stats: dict[str, Any]) -> str:
    """The per-round figures as an aligned table."""
    rules = sorted({r for s in stats["rounds"].values() for r in s["eliminated_by_rule"]})
    cols = ["round", "pool", "kept", *rules, "failed", "instr_words", "resp_words", "he_sim_max", "tokens"]
    rows = []
    for k, s in stats["rounds"].items():
        rows.append([k, s["pool"], s["kept"], *(s["eliminated_by_rule"].get(r, 0) for r in rules), s["failed"],
                     s["instruction_words"].get("median", "-"), s["response_words"].get("median", "-"),
                     f"{s['humaneval_similarity'].get('max', 0):.2f}", sum(s["tokens"].values())])
    return aligned(cols, rows)


def _plots(folder: RunFolder, stats: dict[str, Any], kept_by_round: dict[int, list], sims_by_round: dict[int, list]
           ) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rounds = list(stats["rounds"])
    kept = {str(k): v for k, v in kept_by_round.items()}
    paths = []

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, field, title in ((axes[0], "instruction", "instruction length (words)"),
                             (axes[1], "output", "response length (words)")):
        data = [[len((r.prompt_text() if field == "instruction" else r.output).split())
                 for r in kept[k]] or [0] for k in rounds]
        ax.boxplot(data, tick_labels=rounds)
        ax.set_xlabel("round")
        ax.set_title(title)
    fig.tight_layout()
    paths.append(_save(fig, folder.plot("lengths")))

    fig, ax = plt.subplots(figsize=(7, 4))
    rules = sorted({r for s in stats["rounds"].values() for r in s["eliminated_by_rule"]})
    bottom = [0] * len(rounds)
    for rule in rules:
        vals = [stats["rounds"][k]["eliminated_by_rule"].get(rule, 0) for k in rounds]
        ax.bar(rounds, vals, bottom=bottom, label=rule)
        bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
    failed = [stats["rounds"][k]["failed"] for k in rounds]
    ax.bar(rounds, failed, bottom=bottom, label="failed", color="grey")
    ax.set_xlabel("round")
    ax.set_ylabel("records")
    ax.set_title("eliminated by rule, and failed")
    if rules or any(failed):
        ax.legend()
    paths.append(_save(fig, folder.plot("eliminations")))

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.boxplot([sims_by_round[int(k)] or [0] for k in rounds], tick_labels=rounds)
    ax.set_xlabel("round")
    ax.set_ylabel("max 10-gram coverage of a HumanEval text")
    ax.set_title("similarity to HumanEval")
    paths.append(_save(fig, folder.plot("humaneval_similarity")))
    return paths


def _save(fig, path) -> str:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)
