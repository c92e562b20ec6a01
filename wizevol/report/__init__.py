"""`wizevol report RUN`: one self-contained HTML page of a run (inline CSS and JS, the plots embedded, no network):
the per-round table, the plots of `wizevol stats`, a lineage view, the rejects searchable by rule and filter, the
filters' results and the manifest. Samples of records are packed within a byte budget and their size stated; the
page can load any other lineage from the run's files when it is opened beside them."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wizevol import __version__
from wizevol.errors import InputError
from wizevol.report import data
from wizevol.run_folder import RunFolder, write_atomic

PLOTS = (("eliminations", "eliminated by rule, and failed"), ("complexity", "the judge's complexity by round"),
         ("lengths", "instruction and response length"), ("humaneval_similarity", "similarity to HumanEval"))


def build_report(run: str | Path, out: str | Path | None = None, lineages: int = 2000,
                 lineage_budget: int = 3_000_000, reject_budget: int = 1_000_000,
                 notify: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Write the page (default RUN/report.html); what it holds, and its size."""
    folder = RunFolder(run)
    if not folder.finished_rounds():
        raise InputError(f"{run}: no finished rounds (is this a wizevol run folder?)")
    if not all(folder.plot(name).exists() for name in ("eliminations", "lengths", "humaneval_similarity")):
        from wizevol.stats import run_stats

        if notify:
            notify(f"no plots in {run} yet: running `wizevol stats {run} --similarity ngram` for them")
        run_stats(str(run), plots=True, similarity="ngram")
    plots = [{"name": name, "title": title,
              "png": base64.b64encode(folder.plot(name).read_bytes()).decode("ascii")}
             for name, title in PLOTS if folder.plot(name).exists()]
    page = {
        "run": str(folder.root), "wizevol_version": __version__,
        "rounds": data.rounds_table(folder),
        "plots": plots,
        "lineages": data.lineages(folder, lineages, lineage_budget),
        "rejects": data.rejects(folder, 2000, reject_budget),
        "filters": data.filters(folder, 300),
        "manifest": data.manifest(folder),
    }
    path = Path(out) if out else folder.report()
    template = (Path(__file__).parent / "page.html").read_text(encoding="utf-8")
    blob = json.dumps(page, ensure_ascii=False).replace("<", "\\u003c")  # no "</script>" or "<!--" in a text can
    # end or bend the script that holds the data
    html = template.replace("/*WIZEVOL_DATA*/null", blob)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, html)
    return {"path": str(path), "bytes": path.stat().st_size, "lineages": page["lineages"]["how"],
            "rejects": f"{page['rejects']['shown']:,} of {page['rejects']['total']:,} rejects shown",
            "plots": [p["name"] for p in plots]}
