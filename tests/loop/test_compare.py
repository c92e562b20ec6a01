"""`wizevol compare`: two runs of the same seed, evolved with different heuristic draws, compared per round
through the CLI, with a scripted judge whose complexity score is a known function of the instruction."""

from __future__ import annotations

import json

from conftest import evolve, rows, write_config
from typer.testing import CliRunner

from wizevol.cli import app
from wizevol.loop.compare import diversity, mean_interval

HARD = "must run in O(n log n) time"  # the scripted evolver's suffix for the complexity heuristic


def compare(*args):
    return CliRunner().invoke(app, ["compare", *map(str, args)])


def expected_complexity(run, k: int) -> float:
    texts = [r["instruction"] for r in rows(run / f"round_{k}.jsonl")]
    return round(sum(9 if HARD in t else 5 for t in texts) / len(texts), 3)


def test_two_runs_compared_per_round_through_the_cli(tmp_path, server):
    assert evolve(tmp_path, server, "--rounds", "2", "--limit", "6", out="a").exit_code == 0
    calls_a = len(server.calls)
    server.fault("equal", role="judge", times=2)  # run b loses two evolutions to no_gain
    assert evolve(tmp_path, server, "--rounds", "2", "--limit", "6", "--seed-rng", "7", out="b").exit_code == 0
    a, b = tmp_path / "a", tmp_path / "b"
    # the judge rates the complexity heuristic's instructions 9, every other one 5
    server.fault("text", match=HARD, arg="9", times=None)
    server.fault("text", match="Rate how difficult", arg="5", times=None)
    # a verified result for run a's round 1, and a dev-set point from Evol Stop
    (a / "filters" / "verified").mkdir(parents=True)
    (a / "filters" / "verified" / "results_1.jsonl").write_text(
        "".join(json.dumps({"id": f"x{i}", "pass_rate": r}) + "\n" for i, r in enumerate([1.0, 0.5, None])))
    (b / "evol_stop.json").write_text(json.dumps({"curve": [{"round": 1, "pass@1": 0.25}]}))

    result = compare(a, b, "--out", tmp_path / "cmp")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert report["rounds"] == [1, 2]
    ra, rb = report["by_run"][str(a)], report["by_run"][str(b)]
    for run, by in ((a, ra), (b, rb)):
        for k in (1, 2):
            assert by[str(k)]["complexity"]["mean"] == expected_complexity(run, k)
            assert by[str(k)]["kept"] == len(rows(run / f"round_{k}.jsonl"))
    means = {(r, k): by[str(k)]["complexity"]["mean"] for r, by in (("a", ra), ("b", rb)) for k in (1, 2)}
    assert len(set(means.values())) > 1  # the draws differ, and so do the scores
    assert ra["1"]["verified_pass_rate"]["mean"] == 0.75 and ra["2"]["verified_pass_rate"] is None
    assert rb["1"]["dev_pass@1"] == 0.25 and ra["1"]["dev_pass@1"] is None
    no_gain = {k: sum(e["rule"] == "no_gain" for e in rows(b / f"eliminated_{k}.jsonl")) for k in (1, 2)}
    assert sum(no_gain.values()) == 2
    assert all(rb[str(k)]["elimination_rate"].get("no_gain", 0) == round(no_gain[k] / 6, 4) for k in (1, 2))
    assert ra["1"]["calls"] + ra["2"]["calls"] == calls_a  # every call run a paid, by round
    md = (tmp_path / "cmp" / "compare.md").read_text()
    assert md.startswith("| run | round | kept | complexity (95% CI) |") and md.count(f"| {a} |") == 2
    assert (tmp_path / "cmp" / "compare.png").read_bytes()[:4] == b"\x89PNG"
    rated = len(server.calls)
    again = compare(a, b, "--out", tmp_path / "cmp")
    assert again.exit_code == 0 and len(server.calls) == rated  # the judge's scores come from each run's cache


def test_compare_refuses_what_it_cannot_compare(tmp_path, server):
    assert evolve(tmp_path, server, "--rounds", "1", "--limit", "2", out="a").exit_code == 0
    one = compare(tmp_path / "a", "--no-complexity")
    assert one.exit_code == 2 and one.stderr.strip() == "Error: compare needs at least two run folders"
    missing = compare(tmp_path / "a", tmp_path / "nowhere", "--no-complexity")
    assert missing.exit_code == 2 and "nowhere: no finished rounds" in missing.stderr


def test_intervals_and_diversity():
    assert mean_interval([]) == {"n": 0, "mean": None, "ci95": None}
    flat = mean_interval([5.0] * 10)
    assert flat == {"n": 10, "mean": 5.0, "ci95": [5.0, 5.0]}
    spread = mean_interval([1.0, 9.0] * 10)
    assert spread["mean"] == 5.0 and spread["ci95"][0] < 5.0 < spread["ci95"][1]
    assert spread == mean_interval([1.0, 9.0] * 10)  # a fixed seed: the same interval every time
    assert diversity(["Sort a list of numbers."]) is None
    assert diversity(["Sort a list of numbers.", "Sort a list of numbers."]) == 0.0
    apart = diversity(["Sort a list of numbers.", "Write a haiku about the sea at dawn."])
    assert 0.3 < apart <= 1.0


def test_a_tree_run_against_a_paper_run_shows_the_strategies_and_the_siblings(tmp_path, server):
    server.fault("text", role="complexity", arg="5", times=None)
    assert evolve(tmp_path, server, "--rounds", "1", "--limit", "4", out="p").exit_code == 0
    assert evolve(tmp_path, server, "--rounds", "1", "--limit", "4", "--strategy", "tree", out="t").exit_code == 0
    p, t = str(tmp_path / "p"), str(tmp_path / "t")
    result = compare(p, t, "--out", tmp_path / "cmp")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert report["strategies"] == {p: "paper", t: "tree"}
    assert report["by_run"][t]["1"]["sibling_rate"] == {"outscored": 2.0}  # two candidates a parent did not go on
    assert report["by_run"][p]["1"]["sibling_rate"] == {}
    assert report["by_run"][p]["1"]["calls"] == 4 * 3 and report["by_run"][t]["1"]["calls"] == 4 * 8
    md = (tmp_path / "cmp" / "compare.md").read_text()
    head, *body = [line for line in md.splitlines() if line.startswith("| ")]
    at = head.split(" | ").index("sibling outscored")
    assert {row.split(" | ")[0][2:]: row.split(" | ")[at] for row in body} == {p: "0.00", t: "2.00"}
    assert f"strategies: {p}: paper, {t}: tree" in md


def test_a_judge_that_writes_the_same_number_for_everything_is_read_by_its_probabilities(tmp_path, server):
    """The embedded 1.5B judge wrote 8 for nearly every instruction. compare reads the expectation over its first
    token's probabilities, which still moves with the instruction, and keeps the written number beside it."""
    assert evolve(tmp_path, server, "--rounds", "1", "--limit", "6", out="a").exit_code == 0
    assert evolve(tmp_path, server, "--rounds", "1", "--limit", "6", "--seed-rng", "7", out="b").exit_code == 0
    server.fault("logprobs", match=HARD, arg={"8": 0.5, "9": 0.5}, times=None)  # expected 8.5, written 8 or 9
    server.fault("logprobs", match="Rate how difficult", arg={"8": 0.6, "6": 0.4}, times=None)  # 7.2, written 8
    result = compare(tmp_path / "a", tmp_path / "b", "--out", tmp_path / "cmp")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    for run in ("a", "b"):
        texts = [r["instruction"] for r in rows(tmp_path / run / "round_1.jsonl")]
        by = report["by_run"][str(tmp_path / run)]["1"]
        assert by["complexity"]["mean"] == round(sum(8.5 if HARD in t else 7.2 for t in texts) / len(texts), 3)
        assert (by["complexity"]["expected"], by["complexity"]["written_only"]) == (len(texts), 0)
        assert by["complexity_written"]["n"] == len(texts) and 8 <= by["complexity_written"]["mean"] <= 9
    assert report["complexity"].startswith("judge role, 1-9 (complexity_measure.yaml): the expectation over its first")


def test_the_plot_shows_whole_rounds_and_each_runs_interval_beside_the_others():
    import matplotlib.pyplot as plt

    from wizevol.loop.compare import figure

    one = {"mean": 5.0, "ci95": [4.5, 5.5], "n": 3}
    report = {"rounds": [1, 2, 3], "by_run": {run: {str(k): {"complexity": one, "diversity": 0.5} for k in (1, 2, 3)}
                                              for run in ("a", "b", "c")}}
    fig = figure(report)
    ax = fig.axes[0]
    assert list(ax.get_xticks()) == [1, 2, 3]
    xs = [tuple(bars.lines[0].get_xdata()) for bars in ax.containers]  # each run's errorbar: its data line
    assert len(xs) == 3 and len({x[0] for x in xs}) == 3  # three runs, three places at round 1
    assert all(abs(x[0] - 1) < 0.2 for x in xs)  # each still at its round
    plt.close(fig)


def test_the_plot_names_runs_by_folder_and_strategy_shows_the_pass_rate_and_draws_nothing_unmeasured():
    import matplotlib.pyplot as plt

    from wizevol.loop.compare import figure

    one = {"mean": 5.0, "ci95": [4.5, 5.5], "n": 3}
    rate = {"mean": 0.5, "ci95": [0.2, 0.8], "n": 4}
    none = {"n": 0, "mean": None, "ci95": None}  # a round without a Python answer
    a, b = "/runs/seed_48-paper", "/runs/seed_48-tree"
    report = {"rounds": [1, 2], "strategies": {a: "paper", b: "tree"}, "by_run": {
        a: {"1": {"complexity": one, "verified_pass_rate": rate, "diversity": 0.5},
            "2": {"complexity": one, "verified_pass_rate": none, "diversity": None}},
        b: {"1": {"complexity": one, "verified_pass_rate": None, "diversity": 0.4},  # tree alone in round 2
            "2": {"complexity": one, "verified_pass_rate": rate, "diversity": 0.6}}}}
    fig = figure(report)
    complexity, verified, diversity = fig.axes
    assert [t.get_text() for t in complexity.get_legend().get_texts()] == ["seed_48-paper (paper)", "seed_48-tree (tree)"]
    pass_rates = {c.get_label(): (list(c.lines[0].get_xdata()), list(c.lines[0].get_ydata()))
                  for c in verified.containers}
    assert [round(x) for x in pass_rates["seed_48-paper (paper)"][0]] == [1]  # round 2 measured nothing: no point
    assert [round(x) for x in pass_rates["seed_48-tree (tree)"][0]] == [2]
    assert all(ys == [0.5] for _, ys in pass_rates.values())
    lines = {line.get_label(): list(line.get_xdata()) for line in diversity.get_lines()}
    assert lines == {"seed_48-paper (paper)": [1], "seed_48-tree (tree)": [1, 2]}  # None is not drawn as 0
    plt.close(fig)
    same = {"rounds": [1], "by_run": {"/x/run": {"1": {"complexity": one, "diversity": None}},  # nothing but complexity
                                      "/y/run": {"1": {"complexity": one, "verified_pass_rate": rate, "diversity": 0.4}}}}
    fig = figure(same)
    complexity, verified, diversity = fig.axes
    assert [t.get_text() for t in complexity.get_legend().get_texts()] == ["/x/run", "/y/run"]  # names agree: paths
    colours = [{c.get_label(): c.lines[0].get_color() for c in ax.containers} for ax in (complexity, verified)]
    colours.append({line.get_label(): line.get_color() for line in diversity.get_lines()})
    assert colours[1] == colours[2] == {"/y/run": colours[0]["/y/run"]} != {"/y/run": colours[0]["/x/run"]}
    plt.close(fig)  # /y/run is the second colour in every panel, though alone in two of them


def test_diversity_is_computed_in_blocks_without_an_n_by_n_matrix():
    """50,000 kept records made a 10 GB similarity matrix. Row blocks give the same nearest-other cosines, and
    the peak memory grows with block x N."""
    import tracemalloc

    import numpy as np

    from wizevol.loop.compare import nearest_other

    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(3000, 64)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    full = vecs @ vecs.T
    np.fill_diagonal(full, -1.0)
    expected = full.max(axis=1)
    del full
    tracemalloc.start()
    got = nearest_other(vecs, block=256)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.allclose(got, expected, atol=1e-6)
    assert peak < 3000 * 3000 * 4 / 4  # the full matrix is 36 MB; a block of 256 rows is 3 MB


def test_complexity_on_a_paid_judge_says_its_cost_and_needs_yes(tmp_path, server):
    """The ratings are paid calls: their number and dollars are said first, and above $0.10 compare stops in one
    line unless --yes (or --no-complexity)."""
    assert evolve(tmp_path, server, "--rounds", "1", "--limit", "6", out="a").exit_code == 0
    assert evolve(tmp_path, server, "--rounds", "1", "--limit", "6", "--seed-rng", "7", out="b").exit_code == 0
    cfg = write_config(tmp_path / "paid.yaml", server, prices={"test-model": {"input": 500.0, "output": 500.0}})
    before = len(server.calls)
    result = compare(tmp_path / "a", tmp_path / "b", "--out", tmp_path / "cmp", "--config", cfg)
    assert result.exit_code == 2 and len(server.calls) == before  # nothing rated, nothing spent
    kept = sum(len(rows(tmp_path / r / "round_1.jsonl")) for r in ("a", "b"))
    usd = kept * (200 + 4) * 500.0 / 1e6
    assert f"complexity: at most {kept} ratings by test-model (prices: table): about ${usd:.2f}" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: complexity would spend about ${usd:.2f} on {kept} ratings by test-model: pass --yes to spend it, "
        "or --no-complexity")
    assert compare(tmp_path / "a", tmp_path / "b", "--out", tmp_path / "cmp", "--config", cfg, "--yes").exit_code == 0
    assert len(server.calls) == before + kept
