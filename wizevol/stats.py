"""`wizevol stats RUN`: the paper's §5 figures for every round: counts kept / eliminated by rule / failed,
instruction and response lengths (words), method mix, similarity to the test benchmark (HumanEval: by
embeddings as the paper's §5, or by n-gram coverage; stats.json and the table say which), a complexity score
(opt-in: the judge role rates each instruction 1-9, wizevol/complexity.py), tokens spent. A table, stats.json,
and PNG plots."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wizevol.complexity import COMPLEXITY, Complexity, rate_complexity, readings, summary
from wizevol.errors import InputError
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


SIMILARITY = {
    "embedding": "cosine of all-MiniLM-L6-v2 embeddings to the nearest HumanEval problem (as the paper's §5)",
    "ngram": "share of the nearest HumanEval text's 10-grams found in the instruction",
}


def run_stats(run: str, plots: bool = True, similarity: str = "embedding", complexity: bool = False,
              config: str | Path | None = None, notify: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Compute the per-round figures of a run folder, write stats.json and (optionally) the plots."""
    folder = RunFolder(run)
    rounds = folder.finished_rounds()
    if not rounds:
        raise InputError(f"{run}: no finished rounds (is this a wizevol run folder?)")
    if similarity not in SIMILARITY:
        raise InputError(f"--similarity {similarity!r}: choose embedding or ngram")
    detector = Contamination(embedding=similarity == "embedding")
    kept_by_round = {k: [Record.from_json(d) for d in read_jsonl(folder.kept(k))] for k in rounds}
    scores: dict[str, Complexity | None] = {}
    if complexity:
        from wizevol.filters import run_config

        scores = rate_complexity(folder, run_config(folder, config), [r for k in rounds for r in kept_by_round[k]],
                                 notify)
    out: dict[str, Any] = {"run": str(run), "similarity": SIMILARITY[similarity],
                           "complexity": COMPLEXITY if complexity else None, "rounds": {}}
    sims_by_round, complexity_by_round = {}, {}
    for k in rounds:
        done = folder.read_done(k) or {}
        kept = kept_by_round[k]
        if similarity == "embedding":
            detector.prepare_run(kept)
            sims = [detector.nearest_embedding(r)[1] for r in kept]
        else:
            sims = [detector.nearest(r.prompt_text())[2] for r in kept]
        sims_by_round[k] = sims
        ratings = [scores.get(r.id) for r in kept]
        rated, written = readings(ratings)
        complexity_by_round[k] = rated
        tokens = done.get("tokens", {})
        out["rounds"][str(k)] = {
            "pool": done.get("pool", len(kept)),
            "kept": len(kept),
            "eliminated_by_rule": done.get("eliminated_by_rule", {}),
            "failed": done.get("failed", 0),
            "instruction_words": _dist([len(r.prompt_text().split()) for r in kept]),
            "response_words": _dist([len(r.output.split()) for r in kept]),
            "methods": dict(sorted(Counter(r.method or "seed" for r in kept).items())),
            "humaneval_similarity": _dist([round(x, 4) for x in sims]),
            **({"complexity": {**_dist(rated), **summary(ratings), "written": _dist(written)}} if complexity else {}),
            "tokens": {role: t.get("prompt_tokens", 0) + t.get("completion_tokens", 0) for role, t in tokens.items()},
            "cost": done.get("cost"),  # {"usd", "by_role": {role: {"usd", "price"}}}; None before wizevol priced calls
        }
    from wizevol.filters.base import drops

    out["filters"] = drops(folder)  # what each filter that ran dropped, per round and rule
    write_atomic(folder.stats(), json.dumps(out, indent=2) + "\n")
    if plots:
        out["plots"] = _plots(folder, out, kept_by_round, sims_by_round, complexity_by_round)
    return out


def _median(x: dict[str, Any]) -> str:
    return "-" if x.get("median") is None else f"{x['median']:.2f}"


def table(stats: dict[str, Any]) -> str:
    """The per-round figures as an aligned table."""
    rules = sorted({r for s in stats["rounds"].values() for r in s["eliminated_by_rule"]})
    rated = stats.get("complexity") is not None
    cols = ["round", "pool", "kept", *rules, "failed", "instr_words", "resp_words", "he_sim_max",
            *(["complexity"] if rated else []), "tokens", "cost_usd"]
    rows = []
    for k, s in stats["rounds"].items():
        rows.append([k, s["pool"], s["kept"], *(s["eliminated_by_rule"].get(r, 0) for r in rules), s["failed"],
                     s["instruction_words"].get("median", "-"), s["response_words"].get("median", "-"),
                     f"{s['humaneval_similarity'].get('max', 0):.2f}",
                     *([_median(s["complexity"])] if rated else []), sum(s["tokens"].values()),
                     f"{s['cost']['usd']:.4f}" if s.get("cost") else "-"])
    notes = "\nword counts and complexity are medians; he_sim_max: " + stats["similarity"]
    by_role = {}
    for s in stats["rounds"].values():
        for role, c in ((s.get("cost") or {}).get("by_role") or {}).items():
            by_role.setdefault(role, [0.0, c["price"]])[0] += c["usd"]
    if by_role:
        notes += "\ncost by role: " + ", ".join(f"{r} ${u:.4f} ({p})" for r, (u, p) in by_role.items())
    return aligned(cols, rows) + notes + filters_table(stats.get("filters") or {})


HEAVY = 0.10  # a filter that drops this share of a round or more is said in a line of its own


def filters_table(filters: dict[str, Any]) -> str:
    """What each filter dropped, per round and rule, as a share of the round, with one sampled reason; then a line
    for each filter that dropped a tenth of a round or more. Empty when no filter has run."""
    rows, heavy = [], []
    for name, rounds in filters.items():
        for k, r in rounds.items():
            total = sum(c["dropped"] for c in r["rules"].values())
            if r["records"] and total / r["records"] >= HEAVY:
                heavy.append(f"{name} drops {total / r['records']:.0%} of round {k} ({total} of {r['records']}): "
                             f"read filters/{name}/rejected_{k}.jsonl")
            for rule, c in r["rules"].items():
                example = (c["examples"] or ["-"])[0]
                rows.append([k, name, rule, c["dropped"], f"{c['share']:.1%}",
                             example if len(example) <= 90 else example[:87] + "..."])
    if not filters:
        return ""
    if not rows:
        return "\n\nfilters: " + ", ".join(filters) + " dropped nothing"
    body = aligned(["round", "filter", "rule", "dropped", "share", "a sampled reason"],
                   sorted(rows, key=lambda r: (int(r[0]), r[1], r[2])), left=1)
    return "\n\n" + body + "".join(f"\nwarning: {line}" for line in heavy)


def eliminations_figure(stats: dict[str, Any]):
    """The eliminations plot: each round's eliminations stacked by rule, then its failures; the legend beside the
    axes, and room above the tallest bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rounds = list(stats["rounds"])
    fig, ax = plt.subplots(figsize=(8, 4))
    rules = sorted({r for s in stats["rounds"].values() for r in s["eliminated_by_rule"]})
    bottom = [0] * len(rounds)
    for rule in rules:
        vals = [stats["rounds"][k]["eliminated_by_rule"].get(rule, 0) for k in rounds]
        ax.bar(rounds, vals, bottom=bottom, label=rule)
        bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
    failed = [stats["rounds"][k]["failed"] for k in rounds]
    ax.bar(rounds, failed, bottom=bottom, label="failed", color="grey")
    top = max((b + f for b, f in zip(bottom, failed, strict=True)), default=0)
    ax.set_ylim(0, max(1, top) * 1.12)  # room above the tallest bar: none is cut at the frame
    ax.yaxis.get_major_locator().set_params(integer=True)  # records are whole
    ax.set_xlabel("round")
    ax.set_ylabel("records")
    ax.set_title("eliminated by rule, and failed")
    if rules or any(failed):  # beside the axes, where it covers no bar
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, fontsize=9)
    fig.tight_layout()
    return fig


def _plots(folder: RunFolder, stats: dict[str, Any], kept_by_round: dict[int, list], sims_by_round: dict[int, list],
           complexity_by_round: dict[int, list]) -> list[str]:
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

    paths.append(_save(eliminations_figure(stats), folder.plot("eliminations")))

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.boxplot([sims_by_round[int(k)] or [0] for k in rounds], tick_labels=rounds)
    ax.set_xlabel("round")
    ax.set_ylabel("embedding cosine to the nearest HumanEval problem" if stats["similarity"].startswith("cosine")
                  else "max 10-gram coverage of a HumanEval text")
    ax.set_title("similarity to HumanEval")
    paths.append(_save(fig, folder.plot("humaneval_similarity")))
    if stats.get("complexity") is not None:
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.boxplot([complexity_by_round[int(k)] or [0] for k in rounds], tick_labels=rounds)
        ax.set_xlabel("round")
        ax.set_ylabel("complexity (judge, 1-9, expected)")
        ax.set_title("instruction complexity per round")
        paths.append(_save(fig, folder.plot("complexity")))
    return paths


def _save(fig, path) -> str:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)
