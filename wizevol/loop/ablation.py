"""The paper's round analysis, `wizevol ablate RUN` (WizardCoder Figure 3 and Table 4): which rounds' data helps.

Rows, each one trial (fine-tune from the same base, then eval), all cached by trial.py:
  base        the base model as it is (the line every row should beat)
  cumulative  rounds 0, 0..1, ..., 0..K merged (Figure 3; the merge `wizevol merge` would write)
  samples     each round alone, sub-sampled to the sample count of the smallest round (Table 4)
  tokens      each round alone, sub-sampled to the token count of the smallest round (Table 4; tokens of
              prompt + response under the fine-tuned model's tokenizer)
A sub-sample is a seeded shuffle's first records, so a row is the same data every time. Output in
runs/NAME/ablation/: ablation.json, ablation.md (a table with pass@1 and its 95% interval, samples and tokens
per row) and ablation.png.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wizevol.config_filters import TrialConfig
from wizevol.errors import InputError, WizevolError
from wizevol.eval.benchmark import load_benchmark
from wizevol.loop.trial import count_tokens, eval_settings, finetune_cfg, run_trial
from wizevol.record import Record
from wizevol.run_folder import RunFolder, write_atomic
from wizevol.table import aligned
from wizevol.train.merge import collect, parse_rounds, training_rows

Event = Callable[..., None]
KINDS = ("base", "cumulative", "samples", "tokens")


@dataclass
class Row:
    """One row of the ablation: which data, how much of it, and (once run) how the tuned model did."""

    kind: str
    rounds: list[int]
    data: list[dict[str, Any]] | None  # training rows; None: the base model
    tokens: int = 0
    result: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        if self.kind == "base":
            return "base model"
        if self.kind == "cumulative":
            return "rounds " + ("0" if self.rounds == [0] else f"{self.rounds[0]}..{self.rounds[-1]}"
                                if self.rounds == list(range(self.rounds[0], self.rounds[-1] + 1))
                                else ",".join(map(str, self.rounds)))
        return f"round {self.rounds[0]} ({self.kind}-matched)"


def _rows_of(records: list[Record], tokens_of: dict[str, int]) -> tuple[list[dict[str, Any]], int]:
    rows = training_rows(records)
    return rows, sum(tokens_of[r["metadata"]["id"]] for r in rows)


def plan(run: str | Path, cfg: TrialConfig, rounds_spec: str | None = None, clean: bool = False,
         kinds: tuple[str, ...] = KINDS) -> list[Row]:
    """The rows of the ablation, with their data, before anything is trained."""
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise InputError(f"--rows {unknown[0]!r}: choose from {', '.join(KINDS)}")
    folder = RunFolder(run)
    if not folder.root.is_dir():
        raise InputError(f"{run}: run folder not found")
    rounds = parse_rounds(rounds_spec, folder.finished_rounds())
    if not rounds:
        raise InputError(f"{run}: no finished rounds (is this a wizevol run folder?)")
    per_round = {k: collect(run, str(k), clean)[0] for k in rounds}
    every = [r for k in rounds for r in per_round[k]]
    every_rows = training_rows(every)  # a row keeps its record's id in `metadata`
    counts = count_tokens(every_rows, finetune_cfg(cfg)) if every_rows else []
    tokens_of = {row["metadata"]["id"]: n for row, n in zip(every_rows, counts, strict=True)}

    out: list[Row] = []
    if "base" in kinds:
        out.append(Row("base", [], None))
    if "cumulative" in kinds:
        for i in range(len(rounds)):
            records, _ = collect(run, ",".join(map(str, rounds[:i + 1])), clean)
            if records:
                data, tok = _rows_of(records, tokens_of)
                out.append(Row("cumulative", rounds[:i + 1], data, tok))
    with_data = [k for k in rounds if per_round[k]]
    if "samples" in kinds and with_data:
        n = min(len(per_round[k]) for k in with_data)
        for k in with_data:
            data = training_rows(per_round[k])[:n]
            out.append(Row("samples", [k], data, sum(tokens_of[r["metadata"]["id"]] for r in data)))
    if "tokens" in kinds and with_data:
        budget = min(sum(tokens_of[r.id] for r in per_round[k]) for k in with_data)
        for k in with_data:
            data, used = [], 0
            for r in training_rows(per_round[k]):
                t = tokens_of[r["metadata"]["id"]]
                if used + t <= budget:
                    data.append(r)
                    used += t
            if data:
                out.append(Row("tokens", [k], data, used))
    if not any(r.data for r in out) and "base" not in kinds:
        raise WizevolError(f"{run}: no records with a response in rounds {rounds}: nothing to train on")
    return out


def run_ablation(run: str | Path, cfg: TrialConfig, rounds_spec: str | None = None, out: str | Path | None = None,
                 clean: bool = False, kinds: tuple[str, ...] = KINDS, on_event: Event | None = None
                 ) -> dict[str, Any]:
    """Plan the rows, run (or read back) each row's trial, write ablation.json / .md / .png."""
    emit = on_event or (lambda event, **data: None)
    ft, settings = finetune_cfg(cfg), eval_settings(cfg)
    bench, problems = load_benchmark(settings.benchmark, settings.limit)  # fail before any training
    rows = plan(run, cfg, rounds_spec, clean, kinds)
    target = Path(out) if out is not None else RunFolder(run).root / "ablation"
    emit("note", text=f"{len(rows)} rows: " + ", ".join(r.label for r in rows))
    for row in rows:
        row.result = run_trial(run, row.data, ft, settings, row.label, on_event, tokens=row.tokens,
                               batch_size=cfg.batch_size, allow_weak_sandbox=cfg.allow_weak_sandbox)
    report = {
        "run": str(run),
        "benchmark": bench,
        "problems": len(problems),
        "clean": clean,
        "finetune": ft.model_dump(mode="json"),
        "eval": cfg.model_dump(mode="json"),
        "trained": sum(not r.result["cached"] for r in rows),
        "rows": [{"label": r.label, "kind": r.kind, "rounds": r.rounds, "samples": len(r.data or []),
                  "tokens": r.tokens, "pass@1": r.result["pass@1"]["score"], "ci95": r.result["pass@1"]["ci95"],
                  "interval": r.result["pass@1"].get("interval", "wilson"),
                  "final_loss": (r.result.get("train") or {}).get("final_loss"), "trial": r.result["key"],
                  "cached": r.result["cached"]} for r in rows],
    }
    target.mkdir(parents=True, exist_ok=True)
    write_atomic(target / "ablation.json", json.dumps(report, indent=2) + "\n")
    write_atomic(target / "ablation.md", markdown(report))
    report["plot"] = _plot(report, target / "ablation.png")
    return report


def overlapping(rows: list[dict[str, Any]]) -> bool:
    """Do all rows' 95% intervals overlap one another (no row is apart from another at this scale)?"""
    return all(a["ci95"][0] <= b["ci95"][1] and b["ci95"][0] <= a["ci95"][1] for a in rows for b in rows)


def table(report: dict[str, Any]) -> str:
    """The rows as an aligned text table."""
    cols = ["row", "samples", "tokens", "pass@1", "95% interval", "final loss"]
    return aligned(cols, [[r["label"], r["samples"], r["tokens"], f"{r['pass@1']:.3f}",
                           f"[{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]",
                           "-" if r["final_loss"] is None else f"{r['final_loss']:.3f}"] for r in report["rows"]])


def markdown(report: dict[str, Any]) -> str:
    """ablation.md: what was run, the table, and whether any difference is beyond the intervals."""
    n, methods = report["eval"]["n_samples"], {r.get("interval", "wilson") for r in report["rows"]}
    how = "greedy" if n == 1 else f"{n} samples a problem at temperature {report['eval']['temperature']:g}"
    interval = {frozenset({"wilson"}): "Wilson's", frozenset({"bootstrap over problems"}): "a bootstrap over problems"
                }.get(frozenset(methods), " or ".join(sorted(methods)))
    lines = [f"# Round ablation of {report['run']}", "",
             f"pass@1 ({how}) on {report['benchmark']} ({report['problems']} problems), 95% interval: {interval}; "
             f"each row fine-tunes {report['finetune']['model']} from the same start"
             f"{' on filtered data (--clean)' if report['clean'] else ''}.", "",
             "| row | samples | tokens | pass@1 | 95% interval | final loss |", "|---|---:|---:|---:|---|---:|"]
    for r in report["rows"]:
        loss = "-" if r["final_loss"] is None else f"{r['final_loss']:.3f}"
        lines.append(f"| {r['label']} | {r['samples']} | {r['tokens']} | {r['pass@1']:.3f} | "
                     f"[{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}] | {loss} |")
    lines.append("")
    if overlapping(report["rows"]):
        lines.append("Every row's interval overlaps every other's: at this size no row is shown better than another.")
    else:
        lines.append("Some intervals do not overlap: those rows differ beyond the 95% intervals.")
    return "\n".join(lines) + "\n"


def _plot(report: dict[str, Any], path: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["rows"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    cum = [r for r in rows if r["kind"] == "cumulative"]

    def err(rs):
        return [[r["pass@1"] - r["ci95"][0] for r in rs], [r["ci95"][1] - r["pass@1"] for r in rs]]

    if cum:
        x = [r["rounds"][-1] for r in cum]
        left.errorbar(x, [r["pass@1"] for r in cum], yerr=err(cum), marker="o", capsize=4, label="rounds 0..k")
        left.set_xticks(x)
    base = [r for r in rows if r["kind"] == "base"]
    if base:
        left.axhline(base[0]["pass@1"], linestyle="--", color="grey", label="base model")
    left.set_xlabel("last round merged (k)")
    left.set_ylabel(f"pass@1 on {report['benchmark']}")
    left.set_title("cumulative merges (Figure 3)")
    left.legend()
    for offset, kind in ((-0.2, "samples"), (0.2, "tokens")):
        rs = [r for r in rows if r["kind"] == kind]
        if rs:
            right.bar([r["rounds"][0] + offset for r in rs], [r["pass@1"] for r in rs], width=0.4, yerr=err(rs),
                      capsize=3, label=f"{kind}-matched")
    right.set_xlabel("round alone")
    right.set_ylabel(f"pass@1 on {report['benchmark']}")
    right.set_title("each round alone (Table 4)")
    if any(r["kind"] in ("samples", "tokens") for r in rows):
        right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)
