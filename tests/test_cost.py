"""Cost: every round is priced per role (a prices: table, genai-prices, or free on a local endpoint), `evolve
--dry-run` estimates calls, tokens and cost without a call, and the manifest compares the estimate to the bill."""

from __future__ import annotations

import json

from conftest import evolve
from typer.testing import CliRunner

from wizevol.cli import app
from wizevol.config import EvolveConfig, ResolvedRole
from wizevol.cost import answered, price_of

PRICES = {"prices": {"test-model": {"input": 3.0, "output": 15.0}}}


def usd(t: dict) -> float:
    return (t["prompt_tokens"] * 3.0 + t["completion_tokens"] * 15.0) / 1e6


def test_each_round_is_priced_per_role_and_the_manifest_compares_estimate_and_bill(tmp_path, server):
    result = evolve(tmp_path, server, "--rounds", "2", config=PRICES)
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    manifest = json.loads((run / "manifest.json").read_text())
    bill = 0.0
    for k in (1, 2):
        done = json.loads((run / f"round_{k}.done").read_text())
        assert set(done["cost"]["by_role"]) == {"evolver", "judge", "responder"}
        for role, t in done["tokens"].items():
            c = done["cost"]["by_role"][role]
            assert c["price"] == "prices: table" and abs(c["usd"] - usd(t)) < 1e-6
        assert abs(done["cost"]["usd"] - sum(usd(t) for t in done["tokens"].values())) < 1e-6
        bill += done["cost"]["usd"]
    cost = manifest["cost"]
    assert cost["rounds"] == [1, 2] and abs(cost["bill_usd"] - bill) < 1e-6 and cost["bill_usd"] > 0
    assert cost["answered_calls"] == len(server.calls)  # every answered call is counted once
    assert cost["estimate_calls"] == 3 * 20 * 2 >= cost["answered_calls"]  # the estimate is an upper bound on calls
    assert cost["estimate_usd"] > 0
    assert f"cost of rounds 1-2: ${cost['bill_usd']:.4f} (estimated ${cost['estimate_usd']:.4f})" in result.output
    assert "cost_usd" in result.output.splitlines()[0]

    stats = CliRunner().invoke(app, ["stats", str(run), "--similarity", "ngram", "--no-plots"])
    assert stats.exit_code == 0, stats.output
    assert "cost_usd" in stats.output and "cost by role: evolver $" in stats.output
    saved = json.loads((run / "stats.json").read_text())
    assert saved["rounds"]["1"]["cost"] == json.loads((run / "round_1.done").read_text())["cost"]


def test_a_resumed_round_still_bills_the_calls_an_earlier_process_paid_for(tmp_path, server):
    server.drop_after = 30
    cfg = {**PRICES, "endpoint": {"max_attempts": 2, "dead_after": 3}, "concurrency": 4}
    assert evolve(tmp_path, server, "--rounds", "1", config=cfg).exit_code == 1
    server.drop_after = None
    assert evolve(tmp_path, server, "--rounds", "1", config=cfg).exit_code == 0
    done = json.loads((tmp_path / "run" / "round_1.done").read_text())
    assert sum(t["cached"] for t in done["tokens"].values()) > 0
    assert sum(answered(t) for t in done["tokens"].values()) == len(server.calls)
    assert abs(done["cost"]["usd"] - sum(usd(t) for t in done["tokens"].values())) < 1e-6


def test_dry_run_makes_no_call_writes_nothing_and_uses_measured_tokens_once_a_round_is_done(tmp_path, server):
    result = evolve(tmp_path, server, "--rounds", "2", "--dry-run", config=PRICES)
    assert result.exit_code == 0, result.output
    assert server.calls == [] and not (tmp_path / "run").exists()
    lines = result.output.splitlines()
    assert lines[0].split() == ["round", "role", "calls", "prompt_tokens", "completion_tokens", "usd", "price"]
    table = {(r[0], r[1]): r for r in (line.split() for line in lines[2:]) if r[0] in ("1", "2")}
    assert set(table) == {(k, role) for k in "12" for role in ("evolver", "judge", "responder")}
    for r in table.values():
        assert r[2] == "20" and abs(float(r[5]) - (int(r[3]) * 3 + int(r[4]) * 15) / 1e6) < 1e-4
    assert int(table[("2", "evolver")][3]) > int(table[("1", "evolver")][3])  # instructions grow round by round
    assert "estimate, no call made: the first round's prompts rendered from the seed" in result.output

    assert evolve(tmp_path, server, "--rounds", "1", config=PRICES).exit_code == 0
    calls = len(server.calls)
    result = evolve(tmp_path, server, "--rounds", "2", "--dry-run", config=PRICES)
    assert result.exit_code == 0 and len(server.calls) == calls
    assert not (tmp_path / "run" / "round_2.done").exists()
    table = {(r[0], r[1]): r for r in (line.split() for line in result.output.splitlines()[2:]) if r[0] == "2"}
    assert set(table) == {("2", role) for role in ("evolver", "judge", "responder")}  # round 1 is done
    t = json.loads((tmp_path / "run" / "round_1.done").read_text())["tokens"]["responder"]
    assert int(table[("2", "responder")][4]) == round(20 * t["completion_tokens"] / answered(t))
    assert "measured on this run's finished rounds" in result.output


def role(model: str, base_url: str) -> ResolvedRole:
    return ResolvedRole(name="evolver", model=model, mode="chat", base_url=base_url, api_key_env="K",
                        temperature=1.0, top_p=0.95, max_tokens=16)


def test_where_a_price_comes_from():
    from genai_prices import Usage, calc_price

    cfg = EvolveConfig()
    openai = price_of(role("gpt-4o-mini", "https://api.openai.com/v1"), cfg)
    assert openai.source == "genai-prices (openai)"
    expected = float(calc_price(Usage(input_tokens=1200, output_tokens=300), "gpt-4o-mini",
                                provider_api_url="https://api.openai.com/v1").total_price)
    assert expected > 0 and abs(openai.cost(4, 4800, 1200) - 4 * expected) < 1e-12
    assert price_of(role("gpt-4o-mini", "http://127.0.0.1:8000/v1"), cfg).source == "local endpoint (free)"
    unknown = price_of(role("my-finetuned-coder", "https://vllm.example.com/v1"), cfg)
    assert unknown.source == "unpriced" and unknown.cost(10, 1000, 1000) == 0
    table = EvolveConfig(prices={"gpt-4o-mini": {"input": 1.0, "output": 0.0}})
    own = price_of(role("gpt-4o-mini", "https://api.openai.com/v1"), table)  # the table wins, even over a local URL
    assert own.source == "prices: table" and own.cost(2, 2_000_000, 5) == 2.0


def test_the_manifest_keeps_every_process_and_the_runs_totals(tmp_path, server):
    """Rounds 2, then 3, then a rerun with nothing left: each process wrote its own bill and time over the last
    (the last said 0 / 0). The manifest keeps one entry per process and the whole run's totals, and the report
    shows the totals."""
    for rounds in ("2", "3", "3"):
        result = evolve(tmp_path, server, "--rounds", rounds, config=PRICES)
        assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    m = json.loads((run / "manifest.json").read_text())
    bill = sum(json.loads((run / f"round_{k}.done").read_text())["cost"]["usd"] for k in (1, 2, 3))
    assert [p["rounds"] for p in m["processes"]] == [[1, 2], [3], []]
    assert [p["calls_made"] > 0 for p in m["processes"]] == [True, True, False]
    t = m["totals"]
    assert abs(t["bill_usd"] - bill) < 1e-6 and t["bill_usd"] > 0 and m["cost"]["bill_usd"] == 0  # the last: none
    assert t["answered_calls"] == len(server.calls) and t["processes"] == 3
    assert t["calls_made"] == sum(p["calls_made"] for p in m["processes"]) == len(server.calls)
    assert abs(t["wall_s"] - sum(p["wall_s"] for p in m["processes"])) < 1e-3
    assert m["started_at"] == m["processes"][0]["started_at"]
    from wizevol.report.data import manifest
    from wizevol.run_folder import RunFolder

    assert manifest(RunFolder(run))["totals"] == t  # what the report's page reads
