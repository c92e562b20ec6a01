"""Every command that writes into a folder holds it: a second process (here, a holder in this one) gets one line
naming the holder, and nothing of the folder is written. Evol Stop's and the ablation's trials, `filter` and
`eval` took no lock: two processes could write the same trials/<key>/ or filters/ folder."""

from __future__ import annotations

import pytest
from conftest import evolve
from typer.testing import CliRunner

from wizevol.cli import app
from wizevol.errors import WizevolError
from wizevol.run_folder import hold


def test_filter_holds_the_runs_filters_folder(tmp_path, server):
    assert evolve(tmp_path, server, "--rounds", "1", "--limit", "3").exit_code == 0
    run = tmp_path / "run"
    with hold(run / "filters", "filter"):
        result = CliRunner().invoke(app, ["filter", str(run), "--only", "code_check"])
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"Error: {run / 'filters'} is in use by wizevol filter (pid "
                                     f"{__import__('os').getpid()}); wait for it to end, or stop it")
    assert not (run / "filters" / "code_check").exists()
    assert CliRunner().invoke(app, ["filter", str(run), "--only", "code_check"]).exit_code == 0  # released


def test_eval_holds_its_out_folder(tmp_path, server):
    out = tmp_path / "ev"
    with hold(out, "eval"):
        result = CliRunner().invoke(app, ["eval", "served-model", "--base-url", server.url, "--out", str(out),
                                          "--limit", "2", "--allow-weak-sandbox"])
    assert result.exit_code == 1 and "is in use by wizevol eval" in result.stderr
    assert not (out / "completions.jsonl").exists()


def test_a_trial_holds_its_folder(tmp_path):
    from wizevol.config_filters import TrialConfig
    from wizevol.loop.trial import eval_settings, finetune_cfg, run_trial, trial_key
    from wizevol.run_folder import RunFolder

    trial = TrialConfig()
    ft, settings = finetune_cfg(trial), eval_settings(trial)
    rows = [{"prompt": "p", "completion": "c"}]
    from wizevol.loop.trial import digest

    folder = RunFolder(tmp_path).trial(trial_key(digest(rows), ft, settings))
    with hold(folder, "trial"), pytest.raises(WizevolError, match="is in use by wizevol trial"):
        run_trial(tmp_path, rows, ft, settings, "rounds 0..1")
    assert not (folder / "data.jsonl").exists()
