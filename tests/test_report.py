"""`wizevol report RUN`: one self-contained page, checked in a real headless Chromium (Debian's chromium, driven by
Playwright) as a person would look at it: the table, the plots, a lineage, a search in the rejects, a lineage read
from the run's files (over HTTP, and from a chosen folder), and a screenshot. Its size stays within budget at scale."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from pathlib import Path

import pytest
from conftest import evolve, rows, seed_instruction
from typer.testing import CliRunner

from wizevol.cli import app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def browser_ready() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return "no chromium (Debian's package: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "no playwright (pip install -e '.[dev]')"
    return None


needs_browser = pytest.mark.skipif(browser_ready() is not None, reason=str(browser_ready()))


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A 3-round run of the 20 seeds with an elimination of each kind, a failure, every filter (a contamination hit
    among them) and stats with the judge's complexity."""
    from scripted_server import ScriptedServer

    tmp = tmp_path_factory.mktemp("report")
    server = ScriptedServer().start()
    try:
        server.fault("refusal", role="respond", match=seed_instruction(2)[:40], times=1)
        server.fault("leak", role="evolve", match=seed_instruction(5)[:40], times=1)
        server.fault("equal", role="judge", match=seed_instruction(7)[:40], times=None)
        server.fault("500", role="respond", match=seed_instruction(9)[:40], times=None)
        server.fault("text", role="complexity", arg="6", times=None)
        assert evolve(tmp, server, "--rounds", "3", "--no-progress",
                      config={"filters": {"verified": {"enabled": True}}}).exit_code == 0
        run, cfg = tmp / "run", tmp / "cfg.yaml"
        assert CliRunner().invoke(app, ["filter", str(run), "--config", str(cfg)]).exit_code == 0
        assert CliRunner().invoke(app, ["stats", str(run), "--complexity", "--config", str(cfg)]).exit_code == 0
    finally:
        server.stop()
    return run


def report(*args) -> object:
    return CliRunner().invoke(app, ["report", *map(str, args)])


def lineage_of(run: Path, root: str) -> list[dict]:
    """Every record of one lineage in the run's files."""
    names = sorted(p for p in run.glob("*.jsonl") if p.name.split("_")[0] in ("round", "eliminated", "failed"))
    return [r for p in names for r in rows(p) if (r.get("root_id") or r["id"]) == root]


def test_the_page_is_one_file_that_needs_no_network(small_run, tmp_path):
    result = report(small_run, "--out", tmp_path / "page.html")
    assert result.exit_code == 0, result.output
    html = (tmp_path / "page.html").read_text()
    assert "20 of 20 lineages" in result.output and "plots: eliminations, complexity, lengths, humaneval_similarity" in \
        result.output
    for outside in ("<script src", "<link", 'src="http', "src='http", "url(", "@import"):
        assert outside not in html, outside  # no CDN, font, stylesheet or image from elsewhere
    assert html.count('"png": "iVBORw0KGgo') == 4  # four PNGs inline, drawn as data: URLs
    assert report(tmp_path / "nowhere").exit_code == 2


def test_the_eliminations_plot_leaves_room_and_its_legend_covers_no_bar():
    from wizevol.stats import eliminations_figure

    stats = {"rounds": {"0": {"eliminated_by_rule": {}, "failed": 0},
                        "1": {"eliminated_by_rule": {"no_gain": 9, "refusal": 3}, "failed": 2},
                        "2": {"eliminated_by_rule": {"no_gain": 1}, "failed": 0}}}
    fig = eliminations_figure(stats)
    ax = fig.axes[0]
    assert ax.get_ylim()[1] > 14  # the tallest bar (9 + 3 + 2) ends below the frame
    fig.canvas.draw()
    legend, frame = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend.x0 >= frame.x1  # beside the axes: over no round's bar
    assert legend.x1 <= fig.bbox.x1  # and inside the picture


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no line per request in the test's output
        pass


def _open(page, url: str) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    return errors


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@needs_browser
def test_the_page_renders_in_chromium_table_plots_lineage_and_a_search(small_run, tmp_path, browser):
    assert report(small_run).exit_code == 0
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    assert _open(page, (small_run / "report.html").as_uri()) == []
    # the table: a row per round, each kept count as its file has it
    cells = page.eval_on_selector_all("#rounds-table tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.textContent))")
    assert [c[0] for c in cells] == ["0", "1", "2", "3"]
    assert [int(c[2]) for c in cells] == [len(rows(small_run / f"round_{k}.jsonl")) for k in range(4)]
    # the plots: four images, each decoded
    widths = page.eval_on_selector_all("#plot-list img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) == 4 and all(w > 300 for w in widths)
    # a lineage: seed 5's evolution leaked the prompt in round 1, and its parent went on
    page.select_option("#lineage-select", "seed-00005")
    page.wait_for_function("document.querySelector('#lineage-status').textContent.includes('seed-00005')")
    records = lineage_of(small_run, "seed-00005")
    cards = page.locator("#lineage-cards .card")
    assert cards.count() == len(records) == 4
    leaked = page.locator("#lineage-cards .card.eliminated")
    assert leaked.count() == 1 and "prompt_leak" in leaked.locator(".why").text_content()
    kept = next(r for r in records if r["round"] == 3 and "rule" not in r)
    last = page.locator(f"#lineage-cards .card[data-id='{kept['id']}']")
    added = " ".join(last.locator(".instruction mark").all_text_contents())
    parent = next(r for r in records if r["id"] == kept["parent_id"])
    assert added and all(w not in parent["instruction"].split() for w in added.split()[:3])
    assert all(w in kept["instruction"] for w in added.split())
    assert last.locator("details").get_attribute("open") is None  # the response is folded
    last.locator("details summary").click()
    assert last.locator("details pre").text_content() == kept["output"]
    # a search in the rejects: the judge's Equal verdicts, then the contamination filter's hits
    equal = [r for k in (1, 2, 3) for r in rows(small_run / f"eliminated_{k}.jsonl") if "judge answered Equal" in r["reason"]]
    page.fill("#reject-search", "judge answered equal")
    assert page.locator("#reject-rows tr").count() == len(equal) == 3
    assert page.text_content("#reject-count").startswith("3 matching")
    page.fill("#reject-search", "")
    page.select_option("#reject-group", "filter:contamination")
    hits = [r for k in range(4) for r in rows(small_run / "filters" / "contamination" / f"rejected_{k}.jsonl")]
    assert page.locator("#reject-rows tr").count() == len(hits) >= 1
    assert page.locator("#filter-body .contamination").count() == len(hits)
    assert "HumanEval/" in page.locator("#filter-body .contamination .head").first.text_content()
    # each filter's drops by rule and round, with its share of the round
    drops = [(k, f, rule, f"{100 * n / r['records']:.1f}%") for f in ("near_dup", "contamination", "code_check",
                                                                     "verified")
             if (small_run / "filters" / f / "stats.json").exists()
             for k, r in json.loads((small_run / "filters" / f / "stats.json").read_text())["rounds"].items()
             for rule, n in r["rejected_by_reason"].items()]
    got = page.eval_on_selector_all("#filter-rules tbody tr", "rs => rs.map(r => [0, 1, 2, 4].map(i => "
                                                              "r.cells[i].textContent))")
    assert sorted(map(tuple, got)) == sorted(drops) and drops
    # verified's pass rates by round, and the manifest's fingerprint and bill
    results = {k: rows(small_run / "filters" / "verified" / f"results_{k}.jsonl") for k in range(4)}
    got = page.eval_on_selector_all("#verified-table tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.textContent))")
    assert [(int(r[0]), int(r[1]), int(r[2])) for r in got] == [
        (k, len(v), sum(x["pass_rate"] is not None for x in v)) for k, v in results.items() if v]
    manifest = json.loads((small_run / "manifest.json").read_text())
    facts = dict(page.eval_on_selector_all("#manifest-table tr", "rs => rs.map(r => [r.cells[0].textContent, "
                                                                  "r.cells[1].textContent])"))
    assert facts["fingerprint"] == manifest["fingerprint"]
    assert facts["calls: estimate / answered (the last process)"] == (f"{manifest['cost']['estimate_calls']:,} / "
                                                                      f"{manifest['cost']['answered_calls']:,}")
    t = manifest["totals"]  # the whole run's, over every process that worked on it
    assert float(facts["USD billed (the whole run)"]) == t["bill_usd"]
    assert facts["calls answered / tokens (the whole run)"] == f"{t['answered_calls']:,} / {t['tokens']:,}"
    page.locator("#rounds").scroll_into_view_if_needed()
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000


@needs_browser
def test_a_lineage_outside_the_sample_is_read_from_the_run_files(small_run, browser):
    """With one lineage in the page, another is read from the run's files: over HTTP when the page is served from
    the run folder, or from the folder a person picks when the page is opened from disk."""
    assert report(small_run, "--lineages", "1").exit_code == 0
    inside = json.loads((small_run / "report.html").read_text().split("const D = ", 1)[1].split(";\n", 1)[0]
                        )["lineages"]["order"]
    root = next(f"seed-{i:05d}" for i in range(1, 21) if f"seed-{i:05d}" not in inside)
    records = lineage_of(small_run, root)
    handler = functools.partial(Quiet, directory=str(small_run))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        page = browser.new_page()
        assert _open(page, f"http://127.0.0.1:{httpd.server_port}/report.html") == []
        page.fill("#lineage-id", f"{root}-r2")
        page.click("#lineage-load")
        page.wait_for_function(f"document.querySelector('#lineage-status').textContent.includes('{root} (from the run')")
        assert page.locator("#lineage-cards .card").count() == len(records) == 4
    finally:
        httpd.shutdown()
    page = browser.new_page()
    assert _open(page, (small_run / "report.html").as_uri()) == []
    page.fill("#lineage-id", root)
    page.click("#lineage-load")
    page.wait_for_selector("#lineage-pick:not([hidden])")
    page.set_input_files("#lineage-files", str(small_run))  # the run folder, as a person picks it
    page.wait_for_function(f"document.querySelector('#lineage-status').textContent.includes('{root} (from the chosen')")
    assert page.locator("#lineage-cards .card").count() == len(records)


@pytest.mark.slow
def test_the_page_stays_within_budget_on_a_large_run(tmp_path):
    """A run folder of 30,000 lineages over 4 rounds with a code answer's length of text (bench/report_size.py writes
    it as evolve does): the page holds the lineages that fit its budget, says how many of how many, and stays under
    5 MB; every reject is counted, the first 2,000 of each rule and filter listed (fewer of each, as many of every
    one, under a tighter budget)."""
    import sys

    from conftest import ROOT

    from wizevol.report import build_report

    sys.path.insert(0, str(ROOT / "bench"))
    from report_size import write_synthetic_run

    run = tmp_path / "big"
    write_synthetic_run(run, 30_000)
    made = build_report(run, lineage_budget=3_000_000, reject_budget=1_000_000)
    assert made["bytes"] < 5_000_000
    shown = int(made["lineages"].split(" of ")[0].replace(",", ""))
    assert 100 < shown < 2000 and made["lineages"].startswith(f"{shown:,} of 30,000 lineages")
    page = (run / "report.html").read_text()
    assert f'"shown": {shown}' in page and '"total": 30000' in page
    # 3,000 no_gain eliminations a round for 4 rounds; near_dup rejects 1 kept record in 50 of rounds 0-4
    near_dup = sum(1 for k in range(5) for _ in (run / "filters" / "near_dup" / f"rejected_{k}.jsonl").open())
    assert made["rejects"] == f"4,000 of {12_000 + near_dup:,} rejects shown"
    # a tighter budget lists fewer of each rule and filter, the same number of each: no group is left out
    tight = build_report(run, out=tmp_path / "tight.html", reject_budget=100_000)
    shown_each = int(tight["rejects"].split(" of ")[0].replace(",", "")) // 2
    assert 10 < shown_each < 2000 and tight["rejects"] == f"{2 * shown_each:,} of {12_000 + near_dup:,} rejects shown"
    assert f'"each": {shown_each}' in (tmp_path / "tight.html").read_text()


@needs_browser
def test_a_text_that_looks_like_html_is_shown_as_text(tmp_path, browser):
    """An instruction holding a closing script tag, a comment opener and a script of its own neither ends the page's
    data nor runs: the lineage shows it as written."""
    import sys

    from conftest import ROOT

    sys.path.insert(0, str(ROOT / "bench"))
    from report_size import write_synthetic_run

    run = tmp_path / "run"
    write_synthetic_run(run, 3, rounds=1)
    hostile = 'Parse </script><!--<script>window.HIT=1</script> and <img src=x onerror="window.HIT=2"> safely.'
    recs = rows(run / "round_1.jsonl")
    recs[0]["instruction"] = hostile
    (run / "round_1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    assert report(run).exit_code == 0
    page = browser.new_page()
    assert _open(page, (run / "report.html").as_uri()) == []
    page.fill("#lineage-id", recs[0]["id"])
    page.click("#lineage-load")
    card = page.locator(f"#lineage-cards .card[data-id='{recs[0]['id']}'] .instruction")
    assert hostile in card.text_content().replace("\n", "")
    assert page.evaluate("window.HIT === undefined") and page.locator("#lineage-cards img").count() == 0


@needs_browser
def test_near_dup_pairs_are_shown_side_by_side(tmp_path, browser):
    import sys

    from conftest import ROOT

    sys.path.insert(0, str(ROOT / "bench"))
    from report_size import write_synthetic_run

    run = tmp_path / "run"
    write_synthetic_run(run, 120, rounds=1)  # near_dup rejects 1 kept record in 50, naming the one it repeats
    assert report(run).exit_code == 0
    page = browser.new_page()
    assert _open(page, (run / "report.html").as_uri()) == []
    rejected = [r for k in (0, 1) for r in rows(run / "filters" / "near_dup" / f"rejected_{k}.jsonl")]
    seeds = {r["id"]: r["instruction"] for r in rows(run / "round_0.jsonl")}
    pairs = page.locator("#filter-body .near-dup")
    assert pairs.count() == len(rejected) == 6
    for i, r in enumerate(rejected):
        sides = pairs.nth(i).locator(".pair > div").all_text_contents()
        assert r["instruction"] in sides[0] and seeds[r["details"]["duplicate_of"]] in sides[1]
