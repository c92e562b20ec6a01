"""`wizevol ablate`: the paper's round analysis from a run folder, each row a real fine-tune of a tiny model and
a real eval, matched by samples and by tokens, cached cell by cell."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, evolve, rows
from typer.testing import CliRunner

from wizevol.cli import app
from wizevol.config_file import load_section
from wizevol.config_filters import EvolStopConfig, TrialConfig
from wizevol.loop.ablation import plan
from wizevol.loop.trial import finetune_cfg


def ablate(run, cfg, *args):
    return CliRunner().invoke(app, ["ablate", str(run), "--config", str(cfg), *args])


def solves(rows: list[dict]) -> int:
    """The scripted student's skill: 1 dev problem, plus 1 for each training record of round 0, 2 of round 1, ..."""
    return 1 + sum(r["metadata"]["round"] + 1 for r in rows)


@pytest.mark.slow
def test_ablation_rows_match_samples_and_tokens_and_only_new_cells_train(tmp_path, server, trial_config,
                                                                          scripted_student):
    server.fault("equal", role="judge", times=1)  # one round keeps fewer records than the others
    assert evolve(tmp_path, server, "--rounds", "2", "--limit", "4").exit_code == 0
    scripted_student(solves)
    run, cfg = tmp_path / "run", trial_config(limit=20)
    kept = {k: len((run / f"round_{k}.jsonl").read_text().splitlines()) for k in range(3)}
    assert sorted(kept.values()) == [3, 4, 4]

    first = ablate(run, cfg, "--rounds", "0-1")
    assert first.exit_code == 0, first.output
    report = json.loads((run / "ablation" / "ablation.json").read_text())
    labels = [r["label"] for r in report["rows"]]
    assert labels == ["base model", "rounds 0", "rounds 0..1", "round 0 (samples-matched)",
                      "round 1 (samples-matched)", "round 0 (tokens-matched)", "round 1 (tokens-matched)"]
    by = {r["label"]: r for r in report["rows"]}
    n = min(kept[0], kept[1])
    assert by["round 0 (samples-matched)"]["samples"] == by["round 1 (samples-matched)"]["samples"] == n
    assert by["rounds 0..1"]["samples"] == kept[0] + kept[1] and by["base model"]["samples"] == 0
    budget = min(by["rounds 0"]["tokens"], by["rounds 0..1"]["tokens"] - by["rounds 0"]["tokens"])
    for k in (0, 1):
        row = by[f"round {k} (tokens-matched)"]
        assert 0 < row["tokens"] <= budget and row["samples"] >= 1
    assert budget in {by[f"round {k} (tokens-matched)"]["tokens"] for k in (0, 1)}  # the smaller round whole
    # identical data is one trial: the rows that hold a round's whole data share a cell
    keys = {r["trial"] for r in report["rows"]}
    assert report["trained"] == len(keys) < len(report["rows"])
    assert all(r["ci95"][0] <= r["pass@1"] <= r["ci95"][1] for r in report["rows"])
    # each row shows its own trial's score: a known function of the data that trial trained on
    assert by["base model"]["pass@1"] == 1 / 20
    for r in report["rows"][1:]:
        assert r["pass@1"] == solves(rows(run / "trials" / r["trial"] / "data.jsonl")) / 20, r["label"]
    scores = {r["label"]: r["pass@1"] * 20 for r in report["rows"]}
    assert scores["rounds 0"] == 1 + kept[0] and scores["rounds 0..1"] == 1 + kept[0] + 2 * kept[1]
    assert (scores["round 0 (samples-matched)"], scores["round 1 (samples-matched)"]) == (1 + n, 1 + 2 * n)
    md = (run / "ablation" / "ablation.md").read_text()
    assert all(f"| {label} |" in md for label in labels) and "95% interval" in md
    assert (run / "ablation" / "ablation.png").read_bytes()[:4] == b"\x89PNG"
    for r in report["rows"][1:]:  # a real fine-tune: its data, its model, its eval
        trial = run / "trials" / r["trial"]
        assert (trial / "model" / "train_summary.json").is_file() and (trial / "eval" / "eval.json").is_file()
        assert len((trial / "data.jsonl").read_text().splitlines()) == r["samples"]

    again = ablate(run, cfg, "--rounds", "0-1")
    assert again.exit_code == 0 and json.loads((run / "ablation" / "ablation.json").read_text())["trained"] == 0
    assert (run / "ablation" / "ablation.md").read_text() == md
    assert "read back from its cache" in again.stderr and "fine-tune + eval" not in again.stderr

    more = ablate(run, cfg, "--rounds", "0-2")  # a new round: only the cells whose data is new are trained
    assert more.exit_code == 0, more.output
    grown = json.loads((run / "ablation" / "ablation.json").read_text())
    new_keys = {r["trial"] for r in grown["rows"]} - keys
    assert grown["trained"] == len(new_keys) > 0
    assert {r["trial"] for r in grown["rows"] if r["cached"]} <= keys


def test_plan_refuses_an_unknown_row_kind_and_an_empty_run(tmp_path, server, trial_config):
    assert evolve(tmp_path, server, "--rounds", "1", "--limit", "2").exit_code == 0
    result = ablate(tmp_path / "run", trial_config(), "--rows", "cumulative,bogus")
    assert result.exit_code == 2 and result.stderr.strip() == (
        "Error: --rows 'bogus': choose from base, cumulative, samples, tokens")
    result = ablate(tmp_path / "nowhere", trial_config())
    assert result.exit_code == 2 and result.stderr.strip() == f"Error: {tmp_path / 'nowhere'}: run folder not found"
    cfg = load_section(TrialConfig, trial_config(), {})
    rows = plan(tmp_path / "run", cfg, "0-1", kinds=("samples",))
    assert [r.label for r in rows] == ["round 0 (samples-matched)", "round 1 (samples-matched)"]


def test_a_trials_finetune_keys_go_over_its_config_file_key_by_key():
    cfg = TrialConfig(finetune_config=str(ROOT / "configs" / "finetune" / "demo-cpu.yaml"),
                      finetune={"lora_r": 4, "sft": {"max_steps": 2}})
    ft = finetune_cfg(cfg)
    assert (ft.lora_r, ft.sft["max_steps"]) == (4, 2)
    assert (ft.sft["learning_rate"], ft.sft["max_length"]) == (3e-4, 512)  # the file's sft: block stays


def test_the_shipped_trial_configs_load():
    for name in ("reproduce-cpu", "gpu"):
        cfg = load_section(TrialConfig, ROOT / "configs" / "ablate" / f"{name}.yaml", {})
        assert cfg.benchmark == "humaneval" and cfg.finetune_config
    for name in ("evol_stop", "evol_stop-cpu"):
        stop = load_section(EvolStopConfig, ROOT / "configs" / f"{name}.yaml", {}, "evol_stop")
        assert stop.benchmark == "wizevol-dev" and stop.patience == 1


def test_a_trial_is_keyed_by_its_data_its_configs_and_the_problems_themselves(tmp_path):
    from wizevol.eval import EvalSettings
    from wizevol.loop.trial import trial_key
    from wizevol.train.finetune import FinetuneConfig

    bench = tmp_path / "dev.jsonl"
    line = {"task_id": "t/0", "prompt": "def f():\n", "test": "def check(c):\n    assert c() == 1\n",
            "entry_point": "f"}
    bench.write_text(json.dumps(line) + "\n")
    ft, settings = FinetuneConfig(), EvalSettings(benchmark=str(bench))
    key = trial_key("d1", ft, settings)
    assert key == trial_key("d1", FinetuneConfig(cache_dir="elsewhere"), settings)  # a place, not a result
    assert key != trial_key("d2", ft, settings)
    assert key != trial_key("d1", FinetuneConfig(lora=True), settings)
    assert key != trial_key("d1", ft, EvalSettings(benchmark=str(bench), max_new_tokens=64))
    bench.write_text(json.dumps({**line, "test": "def check(c):\n    assert c() == 2\n"}) + "\n")
    assert key != trial_key("d1", ft, settings)  # the same file name with other tests is another trial


def test_a_killed_sweep_continues_where_it_stopped(tmp_path, server, trial_config, monkeypatch):
    import wizevol.loop.ablation as ablation

    assert evolve(tmp_path, server, "--rounds", "1", "--limit", "3").exit_code == 0
    run, cfg = tmp_path / "run", trial_config()
    real, done = ablation.run_trial, []

    def killed_after_two(*args, **kw):
        if len(done) == 2:
            raise KeyboardInterrupt
        result = real(*args, **kw)
        done.append(result["key"])
        return result

    monkeypatch.setattr(ablation, "run_trial", killed_after_two)
    killed = ablate(run, cfg, "--rows", "base,cumulative")
    assert killed.exit_code == 130 and not (run / "ablation" / "ablation.json").exists()
    monkeypatch.setattr(ablation, "run_trial", real)
    resumed = ablate(run, cfg, "--rows", "base,cumulative")
    assert resumed.exit_code == 0, resumed.output
    report = json.loads((run / "ablation" / "ablation.json").read_text())
    assert [r["trial"] for r in report["rows"] if r["cached"]] == done and report["trained"] == 1


def test_the_table_names_the_interval_it_shows(tmp_path, server, trial_config):
    """Greedy pass@1 gets Wilson's interval; with several samples a problem it is a bootstrap over problems, and
    ablation.md says which (it said Wilson for both)."""
    assert evolve(tmp_path, server, "--rounds", "1", "--limit", "2").exit_code == 0
    run = tmp_path / "run"
    greedy = ablate(run, trial_config(), "--rows", "base")
    assert greedy.exit_code == 0, greedy.output
    md = (run / "ablation" / "ablation.md").read_text()
    assert "pass@1 (greedy) on wizevol-dev (2 problems), 95% interval: Wilson's;" in md
    sampled = ablate(run, trial_config(n_samples=2, temperature=0.8), "--rows", "base")
    assert sampled.exit_code == 0, sampled.output
    report = json.loads((run / "ablation" / "ablation.json").read_text())
    assert report["rows"][0]["interval"] == "bootstrap over problems"
    md = (run / "ablation" / "ablation.md").read_text()
    assert ("pass@1 (2 samples a problem at temperature 0.8) on wizevol-dev (2 problems), 95% interval: a bootstrap "
            "over problems;") in md and "Wilson" not in md
