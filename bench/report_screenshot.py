"""The README's pictures of `wizevol report`: the page of a run opened in headless Chromium (Debian's chromium,
driven by Playwright), once at the top (rounds, plots) and once at the lineage view.

    python bench/report_screenshot.py runs/demo docs/report.png     # also writes docs/report-lineage.png

Writes RUN/report.html first (`wizevol report RUN`) when it is not there.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    run, out = Path(sys.argv[1]), Path(sys.argv[2])
    page_path = run / "report.html"
    if not page_path.exists():
        subprocess.run([sys.executable, "-m", "wizevol", "report", str(run)], check=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1050})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_path.resolve().as_uri())
        page.wait_for_selector("body[data-ready='1']", timeout=60_000)
        if errors:
            raise SystemExit(f"the page raised: {errors}")
        page.screenshot(path=str(out))
        page.evaluate("document.querySelector('#lineages').scrollIntoView()")
        lineage = out.with_name(out.stem + "-lineage" + out.suffix)
        page.screenshot(path=str(lineage))
        print(f"wrote {out} and {lineage} ({browser.version})")
        browser.close()


if __name__ == "__main__":
    main()
