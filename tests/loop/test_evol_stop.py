"""Evol Stop: the decision on a curve (each case its own row), the loop that evolves round by round and stops
paying once pass@1 on the dev set stops rising, and a real run through the CLI that stops and resumes."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import SEED, evolve, write_config

from wizevol.config_file import load_config
from wizevol.config_filters import EvolStopConfig
from wizevol.loop.evol_stop import decide, run_evol_stop
from wizevol.run_folder import read_jsonl


@pytest.mark.parametrize("scores, margin, patience, stop, best", [
    ([0.1], 0.0, 1, False, 0),                      # one point never stops
    ([0.1, 0.2, 0.3], 0.0, 1, False, 2),            # rising
    ([0.1, 0.2, 0.2], 0.0, 1, True, 1),             # equal is not a rise
    ([0.1, 0.2, 0.15], 0.0, 1, True, 1),            # a fall
    ([0.1, 0.15], 0.05, 1, True, 0),                # a rise of exactly the margin is not more than it
    ([0.1, 0.16], 0.05, 1, False, 1),               # more than the margin
    ([0.1, 0.3, 0.2, 0.4], 0.0, 2, False, 3),       # patience 2: one dip, then a rise
    ([0.1, 0.3, 0.2, 0.25], 0.0, 2, True, 1),       # patience 2: two rounds below the best
    ([0.0, 0.0, 0.0], 0.0, 3, False, 0),            # flat, but patience not used up
])
def test_decide(scores, margin, patience, stop, best):
    d = decide(list(enumerate(scores)), margin, patience)
    assert (d.stop, d.best_round) == (stop, best)
    if stop:
        assert f"rounds 0..{best}" in d.reason and "has not risen" in d.reason


def scripted_trial(scores):
    calls = []

    def trial(root, rows, ft, settings, label, on_event=None, batch_size=8, allow_weak_sandbox=False):
        k = len(calls)
        calls.append({"label": label, "samples": len(rows)})
        return {"key": f"t{k}", "samples": len(rows), "pass@1": {"score": scores[k], "ci95": [0.0, 1.0]},
                "cached": False}

    return trial, calls


def test_the_loop_stops_evolving_once_pass_at_1_stops_rising(tmp_path, server):
    """Scores stand in for the trials here (the trial itself is real in the CLI test below): the loop must run
    round k+1 only after round k's decision, and never pay for rounds after the stop."""
    cfg = load_config(write_config(tmp_path / "c.yaml", server), {"rounds": 4, "limit": 3})
    cfg = cfg.model_copy(update={"evol_stop": EvolStopConfig(finetune_config=None, patience=1)})
    trial, calls = scripted_trial([0.1, 0.2, 0.3, 0.3, 0.9])
    manifest = run_evol_stop(str(SEED), str(tmp_path / "run"), cfg, trial=trial)
    assert [c["label"] for c in calls] == ["rounds 0..0", "rounds 0..1", "rounds 0..2", "rounds 0..3"]
    assert [c["samples"] for c in calls] == [3, 6, 9, 12]  # what `merge --rounds 0-k` holds
    assert (tmp_path / "run" / "round_3.done").exists() and not (tmp_path / "run" / "round_4.done").exists()
    assert server.count("evolve") == 9  # 3 records in each of rounds 1-3; round 4 never asked
    report = json.loads((tmp_path / "run" / "evol_stop.json").read_text())
    assert [p["pass@1"] for p in report["curve"]] == [0.1, 0.2, 0.3, 0.3]
    d = report["decision"]
    assert (d["stop"], d["stopped_after_round"], d["best_round"], d["merge"]) == (True, 3, 2, "0-2")
    assert manifest["evol_stop"] == report and manifest["calls_made"] == len(server.calls) == 27
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["evol_stop"] == report


def test_a_curve_that_keeps_rising_runs_every_round(tmp_path, server):
    cfg = load_config(write_config(tmp_path / "c.yaml", server), {"rounds": 2, "limit": 2})
    cfg = cfg.model_copy(update={"evol_stop": EvolStopConfig(finetune_config=None, patience=1)})
    trial, calls = scripted_trial([0.1, 0.2, 0.3])
    run_evol_stop(str(SEED), str(tmp_path / "run"), cfg, trial=trial)
    d = json.loads((tmp_path / "run" / "evol_stop.json").read_text())["decision"]
    assert len(calls) == 3 and (d["stopped_after_round"], d["best_round"], d["merge"]) == (None, 2, "0-2")
    assert d["reason"].endswith("all 2 rounds run")


def test_evol_stop_through_the_cli_with_real_trials_stops_and_resumes(tmp_path, server, trial_config,
                                                                      scripted_student):
    """The tiny model's fine-tunes are real; its answers are scripted: it solves 3 of the 6 dev problems after
    rounds 0..0 (3 records) and 2 after rounds 0..1 (6 records), so patience 1 stops after round 1: rounds 2 and
    3 are never evolved, and the best is rounds 0..0. A rerun makes no call and trains nothing."""
    scripted_student(lambda rows: {3: 3, 6: 2}[len(rows)])
    stop = trial_config(patience=1, limit=6)
    result = evolve(tmp_path, server, "--rounds", "3", "--limit", "3", "--evol-stop", str(stop))
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    report = json.loads((run / "evol_stop.json").read_text())
    curve = report["curve"]
    assert [(p["round"], p["pass@1"]) for p in curve] == [(0, 0.5), (1, 2 / 6)]
    assert report["decision"]["stopped_after_round"] == 1 and report["decision"]["merge"] == "0-0"
    assert report["benchmark"] == "wizevol-dev"
    assert not (run / "round_2.done").exists() and server.count("evolve") == 3  # round 1 only
    for p in curve:
        trial = run / "trials" / p["trial"]
        summary = json.loads((trial / "model" / "train_summary.json").read_text())
        assert summary["train_records"] == 3 * (p["round"] + 1) and summary["steps"] == 1
        samples = read_jsonl(trial / "eval" / "samples.jsonl")
        assert sorted(s["task_id"] for s in samples) == [f"WizevolDev/{i}" for i in range(6)]  # really run
        assert sum(s["result"] == "passed" for s in samples) == 6 * p["pass@1"]
    assert "Evol Stop: pass@1 has not risen" in result.stdout and "--rounds 0-0" in result.stdout
    calls = len(server.calls)
    again = evolve(tmp_path, server, "--rounds", "3", "--limit", "3", "--evol-stop", str(stop))
    assert again.exit_code == 0 and len(server.calls) == calls
    assert again.stderr.count("read back from its cache") == 2 and "fine-tune + eval" not in again.stderr
    assert json.loads((run / "evol_stop.json").read_text())["curve"] == [{**p, "cached": True} for p in curve]


def test_the_test_benchmark_is_refused_as_a_dev_set(tmp_path, server, trial_config):
    stop = trial_config(benchmark="humaneval")
    result = evolve(tmp_path, server, "--rounds", "1", "--evol-stop", str(stop))
    assert result.exit_code == 2 and result.stderr.strip().startswith(f"Error: {stop}: benchmark: Value error, "
                                                                     "Evol Stop decides on a dev set")
    cfg = yaml.safe_load(stop.read_text())
    stop.write_text(yaml.safe_dump({"evol_stop": {**cfg, "benchmark": "wizevol-dev", "patiense": 2}}))
    result = evolve(tmp_path, server, "--rounds", "1", "--evol-stop", str(stop))
    assert result.exit_code == 2 and result.stderr.strip() == f"Error: {stop}: patiense: unknown key"


def test_a_plain_run_continues_under_evol_stop_from_the_run_configs_section(tmp_path, server):
    """Evol Stop is not part of the data's fingerprint: rounds made without it are reused, not refused."""
    assert evolve(tmp_path, server, "--rounds", "1", "--limit", "2").exit_code == 0
    calls = len(server.calls)
    cfg_path = write_config(tmp_path / "stop.yaml", server, limit=2, rounds=2,
                            evol_stop={"finetune_config": None, "patience": 1})
    cfg = load_config(cfg_path)
    assert cfg.evol_stop is not None and cfg.evol_stop.benchmark == "wizevol-dev"
    assert cfg.fingerprint() == cfg.model_copy(update={"evol_stop": None}).fingerprint()
    trial, seen = scripted_trial([0.1, 0.2, 0.4])
    run_evol_stop(str(SEED), str(tmp_path / "run"), cfg, trial=trial)
    assert [c["samples"] for c in seen] == [2, 4, 6]
    new = server.calls[calls:]  # only round 2 was paid for: its 2 chains of evolve, judge, respond
    assert sorted(c.role for c in new) == ["evolve", "evolve", "judge", "judge", "respond", "respond"]
