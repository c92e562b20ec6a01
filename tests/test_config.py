"""YAML config with CLI overrides, one-line config errors, API keys from the environment only."""

from __future__ import annotations

import json

from conftest import SEED, evolve, rows
from typer.testing import CliRunner

from wizevol.cli import app
from wizevol.config_file import load_config


def test_cli_flags_override_yaml(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("backend: api\nrounds: 2\nconcurrency: 3\nevolver: {model: a, temperature: 0.7}\n")
    cfg = load_config(p, {"concurrency": 9, "evolver.model": "b", "limit": None})
    assert (cfg.rounds, cfg.concurrency, cfg.evolver.model, cfg.evolver.temperature) == (2, 9, "b", 0.7)
    responder = cfg.role("responder")
    assert (responder.model, responder.temperature, responder.top_p, responder.max_tokens) == ("b", 0.7, 0.95, 2048)


def test_paper_defaults_for_an_api_endpoint():
    cfg = load_config(None, {"backend": "api", "evolver.model": "gpt-4o-mini"})
    ev = cfg.role("evolver")
    assert (ev.temperature, ev.top_p, ev.max_tokens, ev.mode) == (1.0, 0.95, 2048, "chat")
    assert cfg.role("judge").max_tokens == 16


def test_local_backend_is_the_default_and_uses_completion_mode():
    cfg = load_config(None)
    ev = cfg.role("evolver", "http://127.0.0.1:5000/v1")
    assert (cfg.backend, ev.model, ev.mode, ev.base_url) == ("local", "gemma3-270m", "completion",
                                                             "http://127.0.0.1:5000/v1")
    assert ev.max_tokens == cfg.local.max_tokens_cap
    assert load_config(None, {"endpoint.base_url": "http://127.0.0.1:8000/v1"}).backend == "api"


def test_a_remote_model_name_with_the_local_backend_is_refused(tmp_path):
    result = CliRunner().invoke(app, ["evolve", "--seed", str(SEED), "--out", str(tmp_path / "r"), "--model", "gpt-4o"])
    assert result.exit_code == 2
    assert result.stderr.strip() == ("Error: the evolver model is 'gpt-4o' but the backend is local (serving "
                                     "'gemma3-270m'); pass --base-url or --backend api for an API endpoint, "
                                     "or set local.model (or the role's model to a local model)")


def test_unknown_key_is_one_line(tmp_path, server):
    p = tmp_path / "bad.yaml"
    p.write_text("evolver:\n  modle: x\n")
    result = CliRunner().invoke(app, ["evolve", "--seed", str(SEED), "--out", str(tmp_path / "r"), "--config", str(p)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: {p}: evolver.modle: unknown key"


def test_invalid_yaml_names_the_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("rounds: 2\nevolver: [a\n")
    result = CliRunner().invoke(app, ["evolve", "--config", str(p)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {p}:3: invalid YAML")


def test_unknown_heuristic_weight(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("weights: {add_constraints: 1, teleport: 2}\n")
    result = CliRunner().invoke(app, ["evolve", "--config", str(p)])
    assert result.exit_code == 2
    assert "weights: Value error, unknown heuristic 'teleport'" in result.stderr


def test_remote_endpoint_needs_key_from_env(tmp_path, monkeypatch):
    monkeypatch.delenv("MY_KEY", raising=False)
    p = tmp_path / "c.yaml"
    p.write_text("endpoint: {base_url: 'https://api.example.invalid/v1', api_key_env: MY_KEY}\nevolver: {model: m}\n")
    result = CliRunner().invoke(app, ["evolve", "--seed", str(SEED), "--out", str(tmp_path / "r"), "--config", str(p)])
    assert result.exit_code == 1
    assert result.stderr.strip() == ("Error: environment variable MY_KEY is not set "
                                     "(the API key for https://api.example.invalid/v1)")


def test_key_goes_on_the_wire_but_never_into_the_run_folder(tmp_path, server, monkeypatch):
    secret = "sk-test-SECRET-1234567890"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    result = evolve(tmp_path, server, "--rounds", "2")
    assert result.exit_code == 0, result.output
    for f in (tmp_path / "run").iterdir():
        assert secret.encode() not in f.read_bytes(), f
    assert secret not in result.output
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["config"]["endpoint"]["api_key_env"] == "OPENAI_API_KEY"


def test_manifest_counts_and_tokens(tmp_path, server):
    result = evolve(tmp_path, server, "--rounds", "2")
    assert result.exit_code == 0, result.output
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert [r["round"] for r in m["rounds"]] == [0, 1, 2]
    r1 = m["rounds"][1]
    assert (r1["pool"], r1["kept"], r1["eliminated"], r1["failed"]) == (20, 20, 0, 0)
    assert set(r1["tokens"]) == {"evolver", "responder", "judge"}
    assert all(t["prompt_tokens"] > 0 and t["completion_tokens"] > 0 for t in r1["tokens"].values())
    assert r1["tokens"]["evolver"]["calls"] == 20
    assert sum(r1["methods"].values()) == 20
    assert m["calls_made"] == 120 and m["versions"]["openai"]
    assert len(rows(tmp_path / "run" / "round_2.jsonl")) == 20


def test_shipped_configs_are_valid_and_default_yaml_matches_the_code():
    from conftest import ROOT

    from wizevol.config import EvolveConfig

    assert load_config(ROOT / "configs" / "default.yaml") == EvolveConfig()
    for name in ("openai", "vllm", "ollama"):
        cfg = load_config(ROOT / "configs" / f"{name}.yaml")
        assert cfg.backend == "api" and cfg.role("evolver").model


def test_fingerprint_ignores_speed_and_places_but_not_data():
    base = load_config(None)
    same = load_config(None, {"concurrency": 64, "rounds": 9, "local.n_threads": 16, "local.cache_dir": "/x",
                              "filters.near_dup.threshold": 0.5, "endpoint.timeout": 600, "endpoint.max_attempts": 12,
                              "endpoint.backoff_initial": 5, "endpoint.backoff_max": 300,
                              "endpoint.retry_after_max": 600})  # how calls travel, not what they ask
    assert base.fingerprint() == same.fingerprint()
    for key, value in (("seed_rng", 1), ("local.max_tokens_cap", 128), ("evolver.temperature", 0.7),
                       ("rules.refusal_max_words", 50), ("rules.no_gain", False), ("evolver.model", "other"),
                       ("endpoint.base_url", "http://elsewhere/v1")):
        assert load_config(None, {key: value}).fingerprint() != base.fingerprint(), key


def test_old_section_names_work_with_one_warning_line_each(tmp_path, server):
    """0.1's `filters:` (rules), `quality:` (filters) and `contaminated:` still load, each with one warning."""
    from conftest import evolve

    old = {"filters": {"no_gain": False}, "quality": {"contaminated": {"ngram": 12}}}
    result = evolve(tmp_path, server, "--rounds", "1", config=old)
    assert result.exit_code == 0, result.output
    assert server.count("judge") == 0  # the old `filters: {no_gain: false}` took effect
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warned == [
        "warning: config: 'filters:' with elimination rules is now 'rules:' (the old name works until the next "
        "release)",
        "warning: config: 'quality:' is now 'filters:' (the old name works until the next release)",
        "warning: config: 'contaminated:' is now 'contamination:' (the old name works until the next release)"]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["config"]["rules"]["no_gain"] is False
    assert manifest["config"]["filters"]["contamination"]["ngram"] == 12


def test_new_names_load_without_warnings(recwarn):
    cfg = load_config(None, {"rules.no_gain": False, "filters.contamination.ngram": 12})
    assert (cfg.rules.no_gain, cfg.filters.contamination.ngram) == (False, 12)
    assert not [w for w in recwarn if "config:" in str(w.message)]


def test_the_core_prints_nothing_and_reports_progress_as_events(tmp_path, server, capsys):
    from conftest import SEED, write_config

    from wizevol.evolve.run import run_evolve

    cfg = load_config(write_config(tmp_path / "cfg.yaml", server))
    events = []
    run_evolve(str(SEED), str(tmp_path / "run"), cfg.model_copy(update={"rounds": 2}),
               on_event=lambda event, **data: events.append((event, data)))
    out, err = capsys.readouterr()
    assert (out, err) == ("", "")
    assert events[0] == ("rounds", {"first": 1, "last": 2, "pool": 20})
    records = [d for e, d in events if e == "record"]
    assert len(records) == 40 and sum(d["round"] == 2 for d in records) == 20
    assert [d["stats"]["round"] for e, d in events if e == "round"] == [1, 2]


def test_prompt_placeholders_are_filled_in_one_pass():
    """An instruction that holds `{code}` keeps it as written: the code is not pasted into the instruction, and a
    user's other braces stay too (the review's item 6)."""
    from wizevol.prompts import fill

    template = "Task:\n{instruction}\n\nCode:\n{code}\n"
    got = fill(template, instruction="Explain what {code} and {x} mean in a format string.", code="def f(): pass")
    assert got == "Task:\nExplain what {code} and {x} mean in a format string.\n\nCode:\ndef f(): pass\n"
    assert fill("{a}{ab}{a}", a="{ab}", ab="1") == "{ab}1{ab}"
    assert fill("no placeholders {here}") == "no placeholders {here}"
