"""Evol Stop (WizardCoder §4.4): how many rounds to evolve, decided by the data's use. After each round k, merge
rounds 0..k, fine-tune, measure pass@1 on a dev set (never the test benchmark), and stop evolving once pass@1
has not risen by more than `margin` for `patience` rounds; the rounds after the stop are never paid for.

Evolution runs round by round here (the decision needs round k's model before round k+1 starts), and each
step is resumable on its own: rounds by their done-markers, trials by theirs (trial.py). The curve, the
decision and its reason go to evol_stop.json and into the manifest.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from wizevol.config import EvolveConfig
from wizevol.eval.benchmark import load_benchmark
from wizevol.evolve.run import run_evolve
from wizevol.loop.trial import eval_settings, finetune_cfg, run_trial
from wizevol.run_folder import RunFolder, write_atomic
from wizevol.train.merge import collect, training_rows

Event = Callable[..., None]


@dataclass(frozen=True)
class Decision:
    """After the last point of a curve: stop or go on, the best round so far, and why."""

    stop: bool
    best_round: int | None
    reason: str


def decide(curve: list[tuple[int, float]], margin: float, patience: int) -> Decision:
    """A point counts as a rise only when it beats the best earlier pass@1 by more than `margin`; after
    `patience` points in a row without a rise, stop. The best round is the first to reach the best score."""
    best_k: int | None = None
    best = 0.0
    stale = 0
    for k, score in curve:
        if best_k is None or score > best + margin:
            best_k, best, stale = k, score, 0
        else:
            stale += 1
    if best_k is None:
        return Decision(False, None, "no round evaluated yet")
    last_k, last = curve[-1]
    if stale >= patience:
        return Decision(True, best_k, f"pass@1 has not risen by more than {margin:g} above {best:.3f} (rounds "
                                      f"0..{best_k}) for {stale} round{'s' if stale > 1 else ''}: "
                                      f"rounds 0..{last_k} gave {last:.3f}")
    if last_k == best_k:
        return Decision(False, best_k, f"pass@1 {last:.3f} at rounds 0..{last_k} is the best so far")
    return Decision(False, best_k, f"pass@1 {last:.3f} at rounds 0..{last_k}, below the best {best:.3f} (rounds "
                                   f"0..{best_k}) for {stale} of {patience} round{'s' if patience > 1 else ''}")


def evolve_or_stop(seed: str, out: str, cfg: EvolveConfig, on_event: Event | None = None) -> dict[str, Any]:
    """`wizevol evolve`: under Evol Stop where the config asks for it (`evol_stop:`), else every round. The loop
    sits above evolve and chooses; evolve/ knows of no loop."""
    if cfg.evol_stop is not None:
        return run_evol_stop(seed, out, cfg, on_event)
    return run_evolve(seed, out, cfg, on_event)


def run_evol_stop(seed: str, out: str, cfg: EvolveConfig, on_event: Event | None = None,
                  trial: Callable[..., dict[str, Any]] = run_trial) -> dict[str, Any]:
    """Evolve round by round under Evol Stop; returns the manifest of the rounds run, with `evol_stop` in it."""
    emit = on_event or (lambda event, **data: None)
    stop_cfg = cfg.evol_stop
    assert stop_cfg is not None
    ft, settings = finetune_cfg(stop_cfg), eval_settings(stop_cfg)
    load_benchmark(settings.benchmark, settings.limit)  # a missing or bad dev set fails before any call
    folder = RunFolder(out)
    plain = cfg.model_copy(update={"evol_stop": None})
    points: list[dict[str, Any]] = []
    report: dict[str, Any] = {}
    manifest: dict[str, Any] = {}
    started, calls = time.time(), 0
    for k in range(cfg.rounds + 1):
        manifest = run_evolve(seed, out, plain.model_copy(update={"rounds": k}), on_event)
        calls += manifest["calls_made"]
        records, _ = collect(out, f"0-{k}")
        if not records:
            points.append({"round": k, "samples": 0, "skipped": "no records with a response to train on"})
        else:
            result = trial(out, training_rows(records), ft, settings, f"rounds 0..{k}", on_event,
                           batch_size=stop_cfg.batch_size, allow_weak_sandbox=stop_cfg.allow_weak_sandbox)
            points.append({"round": k, "samples": result["samples"], "pass@1": result["pass@1"]["score"],
                           "ci95": result["pass@1"]["ci95"], "trial": result["key"], "cached": result["cached"]})
        scored = [(p["round"], p["pass@1"]) for p in points if "pass@1" in p]
        decision = decide(scored, stop_cfg.margin, stop_cfg.patience)
        stopped_early = decision.stop and k < cfg.rounds
        report = {
            "benchmark": settings.benchmark,
            "margin": stop_cfg.margin,
            "patience": stop_cfg.patience,
            "rounds_asked": cfg.rounds,
            "curve": points,
            "decision": {**asdict(decision), "stop": decision.stop or k == cfg.rounds,
                         "reason": decision.reason if decision.stop or k < cfg.rounds else
                         f"{decision.reason}; all {cfg.rounds} rounds run",
                         "stopped_after_round": k if stopped_early else None,
                         "merge": f"0-{decision.best_round}" if decision.best_round is not None else None},
            "config": stop_cfg.model_dump(mode="json"),
        }
        write_atomic(folder.evol_stop(), json.dumps(report, indent=2) + "\n")
        manifest.update(evol_stop=report, calls_made=calls,  # all rounds and trials of this command
                        wall_s=round(time.time() - started, 3))
        folder.write_manifest(manifest)
        emit("evol_stop", point=points[-1], decision=report["decision"])
        if decision.stop:
            break
    return manifest

