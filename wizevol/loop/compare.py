"""`wizevol compare RUN_A RUN_B ...`: the same seed evolved in several ways, compared round by round on what the
data is worth: the judge's complexity score (mean, 95% bootstrap interval), the `verified` pass rate of Python
responses (where that filter ran), diversity (mean distance of each kept instruction to its nearest neighbour in
the round, 1 - MiniLM cosine), the elimination rate by rule, the calls answered and tokens spent, and the
dev-set pass@1 where Evol Stop measured one. compare.json, compare.md and compare.png in the output folder."""

from __future__ import annotations

import json
import random
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wizevol.complexity import COMPLEXITY, Complexity, readings, summary
from wizevol.cost import answered, price_of
from wizevol.errors import InputError
from wizevol.record import Record
from wizevol.run_folder import RunFolder, read_jsonl, write_atomic
from wizevol.table import aligned

RESAMPLES = 2000


def mean_interval(values: list[float], seed: int = 0) -> dict[str, Any]:
    """Mean and its 95% percentile-bootstrap interval (a fixed seed: the same values give the same interval)."""
    if not values:
        return {"n": 0, "mean": None, "ci95": None}
    rng = random.Random(seed)
    means = sorted(statistics.fmean(rng.choices(values, k=len(values))) for _ in range(RESAMPLES))
    return {"n": len(values), "mean": round(statistics.fmean(values), 3),
            "ci95": [round(means[int(0.025 * RESAMPLES)], 3), round(means[int(0.975 * RESAMPLES) - 1], 3)]}


def diversity(texts: list[str]) -> float | None:
    """Mean over the texts of 1 - the MiniLM cosine to the nearest other text (None under two texts)."""
    if len(texts) < 2:
        return None
    from wizevol.filters import encoder

    return round(float((1.0 - nearest_other(encoder.encode(texts))).mean()), 4)


def nearest_other(vecs, block: int = 1024):
    """Each vector's largest cosine with another one, `block` rows at a time: memory grows with block x N, not
    N x N (50,000 kept records made a 10 GB matrix)."""
    import numpy as np

    out = np.empty(len(vecs), dtype=np.float32)
    for start in range(0, len(vecs), block):
        sims = vecs[start:start + block] @ vecs.T
        rows = np.arange(sims.shape[0])
        sims[rows, rows + start] = -1.0
        out[start:start + block] = sims.max(axis=1)
    return out


def _verified(folder: RunFolder, k: int) -> dict[str, Any] | None:
    """The mean pass rate of round k's verified Python records, where `wizevol filter` ran `verified`."""
    path = folder.filter_results("verified", k)
    if not path.is_file():
        return None
    rates = [r["pass_rate"] for r in read_jsonl(path) if r.get("pass_rate") is not None]
    return mean_interval(rates)


def _dev_pass_at_1(folder: RunFolder) -> dict[int, float]:
    path = folder.root / "evol_stop.json"
    if not path.is_file():
        return {}
    return {p["round"]: p["pass@1"] for p in json.loads(path.read_text(encoding="utf-8")).get("curve", [])}


SPEND_WITHOUT_ASKING = 0.10  # USD: complexity ratings estimated above this need --yes


def compare_runs(runs: list[str], out: str | Path, complexity: bool = True, config: str | Path | None = None,
                 notify: Callable[[str], None] | None = None, yes: bool = False) -> dict[str, Any]:
    """Compare the runs over the rounds all of them finished; write compare.json, compare.md, compare.png. The
    complexity ratings' calls and dollars are said first; above SPEND_WITHOUT_ASKING they need `yes`."""
    if len(runs) < 2:
        raise InputError("compare needs at least two run folders")
    folders = [RunFolder(r) for r in runs]
    for f in folders:
        if not f.finished_rounds():
            raise InputError(f"{f.root}: no finished rounds (is this a wizevol run folder?)")
    rounds = sorted(set.intersection(*(set(f.finished_rounds()) for f in folders)) - {0})
    if not rounds:
        raise InputError("the runs share no finished round past the seed")
    judge_cfg = None
    if complexity:
        from wizevol.filters import run_config

        judge_cfg = run_config(folders[0], config)  # one judge scores every run
        _ask_to_spend(judge_cfg, sum(len(read_jsonl(f.kept(k))) for f in folders for k in rounds), notify, yes)
    report: dict[str, Any] = {"runs": [str(f.root) for f in folders], "rounds": rounds,
                              "strategies": {str(f.root): _strategy(f) for f in folders},
                              "complexity": COMPLEXITY if complexity else None, "by_run": {}}
    for f in folders:
        report["by_run"][str(f.root)] = _one_run(f, rounds, judge_cfg, notify)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "compare.json", json.dumps(report, indent=2) + "\n")
    write_atomic(out / "compare.md", markdown(report) + "\n")
    _plot(report, out / "compare.png")
    return report


def _ask_to_spend(cfg, calls: int, notify: Callable[[str], None] | None, yes: bool) -> None:
    """Say what the complexity ratings cost at most (every kept record of the shared rounds, one short call each;
    those in the runs' caches are free); refuse above SPEND_WITHOUT_ASKING unless `yes`."""

    role = cfg.role("judge")
    price = price_of(role, cfg)
    usd = price.cost(calls, calls * 200, calls * 4)  # the rating prompt is about 200 tokens, the answer a digit
    if notify is not None:
        notify(f"complexity: at most {calls} ratings by {role.model} ({price.source}): about ${usd:.2f}")
    if usd > SPEND_WITHOUT_ASKING and not yes:
        raise InputError(f"complexity would spend about ${usd:.2f} on {calls} ratings by {role.model}: pass --yes to "
                         "spend it, or --no-complexity")


def _strategy(folder: RunFolder) -> str:
    """The strategy a run was made with (runs from before strategies: paper)."""
    path = folder.manifest()
    return json.loads(path.read_text(encoding="utf-8")).get("strategy", "paper") if path.exists() else "paper"


def _one_run(folder: RunFolder, rounds: list[int], judge_cfg, notify) -> dict[str, Any]:
    kept = {k: [Record.from_json(d) for d in read_jsonl(folder.kept(k))] for k in rounds}
    scores: dict[str, Complexity | None] = {}
    if judge_cfg is not None:
        from wizevol.complexity import rate_complexity

        scores = rate_complexity(folder, judge_cfg, [r for k in rounds for r in kept[k]], notify)
    dev = _dev_pass_at_1(folder)
    out = {}
    for k in rounds:
        done = folder.read_done(k) or {}
        pool = done.get("pool") or 1
        tokens = done.get("tokens", {})
        ratings = [scores.get(r.id) for r in kept[k]]
        rated, written = readings(ratings)
        out[str(k)] = {
            "kept": len(kept[k]),
            "complexity": {**mean_interval(rated), **summary(ratings)} if judge_cfg is not None else None,
            "complexity_written": mean_interval(written) if judge_cfg is not None else None,
            "verified_pass_rate": _verified(folder, k),
            "diversity": diversity([r.prompt_text() for r in kept[k]]),
            "elimination_rate": {rule: round(n / pool, 4) for rule, n in
                                 sorted(done.get("eliminated_by_rule", {}).items())},
            "sibling_rate": {rule: round(n / pool, 4) for rule, n in sorted(done.get("siblings", {}).items())},
            "calls": sum(answered(t) for t in tokens.values()),
            "tokens": sum(t.get("prompt_tokens", 0) + t.get("completion_tokens", 0) for t in tokens.values()),
            "dev_pass@1": dev.get(k),
        }
    return out


def _interval(x: dict[str, Any] | None) -> str:
    if not x or x.get("mean") is None:
        return "-"
    return f"{x['mean']:.2f} [{x['ci95'][0]:.2f}, {x['ci95'][1]:.2f}]"


def _rows(report: dict[str, Any], rules: list[str], siblings: list[str] = ()) -> list[list[Any]]:
    """A row per (run, round): kept, complexity, verified, diversity, each rule's rate (and each sibling end's, for
    strategy tree), calls, tokens, dev pass@1."""
    return [[run, k, s["kept"], _interval(s["complexity"]), _interval(s["verified_pass_rate"]),
             "-" if s["diversity"] is None else f"{s['diversity']:.3f}",
             *(f"{s['elimination_rate'].get(r, 0):.2f}" for r in rules),
             *(f"{s.get('sibling_rate', {}).get(r, 0):.2f}" for r in siblings), s["calls"], s["tokens"],
             "-" if s["dev_pass@1"] is None else f"{s['dev_pass@1']:.3f}"]
            for run, by_round in report["by_run"].items() for k, s in by_round.items()]


def markdown(report: dict[str, Any]) -> str:
    """The comparison as a markdown table: a row per (run, round)."""
    rules = sorted({r for rs in report["by_run"].values() for s in rs.values() for r in s["elimination_rate"]})
    siblings = sorted({r for rs in report["by_run"].values() for s in rs.values() for r in s.get("sibling_rate", {})})
    cols = ["run", "round", "kept", "complexity (95% CI)", "verified pass rate", "diversity",
            *(f"elim {r}" for r in rules), *(f"sibling {r}" for r in siblings), "calls", "tokens", "dev pass@1"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in _rows(report, rules, siblings)]
    note = ("complexity: the judge's 1-9 score (the expectation over its first token's probabilities where the "
            "endpoint gives them, else the number it wrote; compare.json has both), mean with a 95% bootstrap "
            "interval; diversity: mean 1 - MiniLM cosine to the nearest other kept instruction of the round; calls: "
            "answered requests")
    if siblings:
        note += ("; sibling: strategy tree's candidates that did not go on, per parent, by how they ended (a "
                 "tree run's complexity is scored on its judge's favourite of several: score it with another judge)")
    strategies = ", ".join(f"{run}: {s}" for run, s in report.get("strategies", {}).items())
    return "\n".join(lines) + "\n\n" + note + (f"\n\nstrategies: {strategies}" if strategies else "")


def table(report: dict[str, Any]) -> str:
    """The comparison as an aligned text table (the CLI's; the elimination rates are in compare.md)."""
    rows = [row[:6] + row[-3:-1] for row in _rows(report, [])]
    return aligned(["run", "round", "kept", "complexity", "verified", "diversity", "calls", "tokens"], rows)


def _plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig = figure(report)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _labels(report: dict[str, Any]) -> dict[str, str]:
    """Each run's name in a legend: its folder's name and strategy, or its whole path where two names agree."""
    runs = list(report["by_run"])
    names = {run: Path(run).name for run in runs}
    if len(set(names.values())) < len(runs):
        names = {run: run for run in runs}
    strategies = report.get("strategies", {})
    return {run: f"{names[run]} ({strategies[run]})" if run in strategies else names[run] for run in runs}


def figure(report: dict[str, Any]):
    """compare.png: complexity and the verified pass rate with their intervals (the runs side by side at each
    round), and diversity. A round with nothing measured is left out of a panel, not drawn at 0; a run has one
    colour in every panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    labels = _labels(report)
    for i, (run, by_round) in enumerate(report["by_run"].items()):
        dodge = 0.08 * (i - (len(labels) - 1) / 2)  # side by side, so that the intervals do not hide each other
        for ax, key in ((axes[0], "complexity"), (axes[1], "verified_pass_rate")):
            rated = [(int(k), s[key]) for k, s in by_round.items() if s.get(key) and s[key]["n"]]
            if rated:
                ax.errorbar([k + dodge for k, _ in rated], [c["mean"] for _, c in rated],
                            yerr=[[c["mean"] - c["ci95"][0] for _, c in rated],
                                  [c["ci95"][1] - c["mean"] for _, c in rated]], capsize=3, marker="o",
                            color=f"C{i}", label=labels[run])
        measured = [(int(k), s["diversity"]) for k, s in by_round.items() if s.get("diversity") is not None]
        if measured:
            axes[2].plot(*zip(*measured, strict=True), marker="o", color=f"C{i}", label=labels[run])
    axes[0].set_title("complexity (judge, 1-9, expected), 95% interval")
    axes[1].set_title("verified pass rate (Python answers), 95% interval")
    axes[2].set_title("diversity (1 - nearest-neighbour cosine)")
    for ax in axes:
        ax.set_xlabel("round")
        ax.set_xticks(report["rounds"])
        if ax.get_legend_handles_labels()[0]:  # nothing measured: nothing to name
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
