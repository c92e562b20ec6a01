"""`wizevol stats RUN`: the paper's §5 figures for every round: counts kept / eliminated by rule / failed,
instruction and response lengths (words), method mix, nearest-benchmark similarity (HumanEval n-gram
coverage), tokens spent. A table, stats.json, and PNG plots."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from typing import Any

from wizevol.decontamination import Decontaminator
from wizevol.record import record_text
from wizevol.run_folder import RunFolder, read_jsonl, write_atomic


def _dist(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    qs = statistics.quantiles(values, n=10) if len(values) > 1 else [values[0]] * 9
    return {"n": len(values), "mean": round(statistics.fmean(values), 2), "median": statistics.median(values),
            "p10": round(qs[0], 2), "p90": round(qs[-1], 2), "max": max(values)}


def run_stats(run: str, plots: bool = True) -> dict[str, Any]:
    folder = RunFolder(run)
    rounds = folder.finished_rounds()
    if not rounds:
        from wizevol.errors import InputError

        raise InputError(f"{run}: no finished rounds (is this a wizevol run folder?)")
    detector = Decontaminator()
    out: dict[str, Any] = {"run": str(run), "rounds": {}}
    kept_by_round, sims_by_round = {}, {}
    for k in rounds:
        done = folder.round_done(k) or {}
        kept = kept_by_round[k] = read_jsonl(folder.kept(k))
        sims = sims_by_round[k] = [detector.nearest(record_text(r))[2] for r in kept]
        tokens = done.get("tokens", {})
        out["rounds"][str(k)] = {
            "pool": done.get("pool", len(kept)),
            "kept": len(kept),
            "eliminated_by_rule": done.get("eliminated_by_rule", {}),
            "failed": done.get("failed", 0),
            "instruction_words": _dist([len(record_text(r).split()) for r in kept]),
            "response_words": _dist([len((r.get("output") or "").split()) for r in kept]),
            "methods": dict(sorted(Counter(r.get("method") or "seed" for r in kept).items())),
            "humaneval_similarity": _dist(sims),
            "tokens": {role: t.get("prompt_tokens", 0) + t.get("completion_tokens", 0) for role, t in tokens.items()},
        }
    write_atomic(folder.path("stats.json"), json.dumps(out, indent=2) + "\n")
    if plots:
        out["plots"] = _plots(folder, out, kept_by_round, sims_by_round)
    return out


def table(stats: dict[str, Any]) -> str:
    rules = sorted({r for s in stats["rounds"].values() for r in s["eliminated_by_rule"]})
    cols = ["round", "pool", "kept", *rules, "failed", "instr_words", "resp_words", "he_sim_max", "tokens"]
    rows = []
    for k, s in stats["rounds"].items():
        rows.append([k, s["pool"], s["kept"], *(s["eliminated_by_rule"].get(r, 0) for r in rules), s["failed"],
                     s["instruction_words"].get("median", "-"), s["response_words"].get("median", "-"),
                     f"{s['humaneval_similarity'].get('max', 0):.2f}", sum(s["tokens"].values())])
    widths = [max(len(str(c)), *(len(str(r[i])) for r in rows)) for i, c in enumerate(cols)]
    fmt = lambda vals: "  ".join(str(v).rjust(w) for v, w in zip(vals, widths, strict=True))  # noqa: E731
    return "\n".join([fmt(cols), *(fmt(r) for r in rows)])


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
        data = [[len((record_text(r) if field == "instruction" else r.get("output") or "").split())
                 for r in kept[k]] or [0] for k in rounds]
        ax.boxplot(data, tick_labels=rounds)
        ax.set_xlabel("round")
        ax.set_title(title)
    fig.tight_layout()
    paths.append(_save(fig, folder.path("plot_lengths.png")))

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
    paths.append(_save(fig, folder.path("plot_eliminations.png")))

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.boxplot([sims_by_round[int(k)] or [0] for k in rounds], tick_labels=rounds)
    ax.set_xlabel("round")
    ax.set_ylabel("max 10-gram coverage of a HumanEval text")
    ax.set_title("similarity to HumanEval")
    paths.append(_save(fig, folder.path("plot_humaneval_similarity.png")))
    return paths


def _save(fig, path) -> str:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)
