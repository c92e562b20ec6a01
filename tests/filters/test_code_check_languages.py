"""code_check beyond Python: JavaScript, Bash, C and C++ blocks pass their own syntax check where the tool is
installed (each reject names the language and the tool's first error), and are counted as skipped where it
is not; languages without a checker are counted as unchecked, never silently passed as checked."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import rows
from test_filters import cli, make_run

import wizevol.filters.code_check as code_check

TOOLS = ("node", "bash", "gcc", "g++")
pytestmark = pytest.mark.skipif(not all(shutil.which(t) for t in TOOLS), reason=f"needs {', '.join(TOOLS)}")

CASES = {
    "js-ok": "```javascript\nconst add = (a, b) => a + b;\nconsole.log(add(1, 2));\n```",
    "js-bad": "```js\nfunction f( {\n  return 1;\n}\n```",
    "sh-ok": "```bash\nfor f in *.txt; do\n  echo \"$f\"\ndone\n```",
    "sh-bad": "```sh\nif [ -f x ]; then\n  echo x\n```",
    "c-ok": "```c\n#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 1 + 2); return 0; }\n```",
    "c-bad": "```c\nint main(void) { return 0 }\n```",
    "cpp-bad": "```cpp\n#include <vector>\nint main() { std::vector<int> v = {1, 2; return v.size(); }\n```",
    "sql": "```sql\nSELECT name FROM customers WHERE id = 1;\n```",
    "rust": "```rust\nfn main() { println!(\"hi\") }\n```",
}


def run_with(tmp_path):
    run = make_run(tmp_path, [[{"id": k, "instruction": "task", "output": v} for k, v in CASES.items()]])
    result = cli("filter", run, "--only", "code_check")
    assert result.exit_code == 0, result.output
    rejected = {r["id"]: r["reason"] for r in rows(run / "filters" / "code_check" / "rejected_0.jsonl")}
    return rejected, json.loads((run / "filters" / "code_check" / "stats.json").read_text())


def test_each_language_is_checked_by_its_own_tool(tmp_path):
    rejected, stats = run_with(tmp_path)
    assert set(rejected) == {"js-bad", "sh-bad", "c-bad", "cpp-bad"}
    assert rejected["js-bad"].startswith("syntax: javascript block 1 does not parse: SyntaxError")
    assert rejected["sh-bad"].startswith("syntax: bash block 1 does not parse: ") and "syntax error" in \
        rejected["sh-bad"]
    assert rejected["c-bad"].startswith("syntax: c block 1 does not parse: main.c:1:") and "error" in \
        rejected["c-bad"]
    assert rejected["cpp-bad"].startswith("syntax: cpp block 1 does not parse: main.cpp:")
    assert "wizevol-sandbox" not in " ".join(rejected.values())  # the temp dir is not in the reason
    assert stats["blocks"] == {"bash: checked": 2, "c: checked": 2, "cpp: checked": 1, "javascript: checked": 2,
                               "python: checked": 0, "rust: unchecked": 1, "sql: unchecked": 1}


def test_a_missing_tool_skips_its_language_with_a_count(tmp_path, monkeypatch):
    real = shutil.which
    monkeypatch.setattr(code_check.shutil, "which", lambda name: None if name == "node" else real(name))
    rejected, stats = run_with(tmp_path)
    assert "js-bad" not in rejected and {"sh-bad", "c-bad", "cpp-bad"} <= set(rejected)
    assert stats["blocks"]["javascript: skipped, node not installed"] == 2
    assert stats["settings"]["checkers"]["javascript"] is None


def test_an_html_page_tagged_javascript_has_its_scripts_checked_and_prose_so_tagged_is_rejected(tmp_path):
    """Corpora tag an HTML page `javascript` (the real-seed audit's u105): node reads its first `<` as an error,
    and a right answer was dropped. Its inline scripts are the JavaScript, and they are what is checked; prose
    tagged javascript is still a malformed answer."""
    page = ("```javascript\n<button id=\"btn\">Click me</button>\n<script>\n  document.getElementById('btn')"
            ".addEventListener('click', () => alert('Clicked!'));\n</script>\n```")
    cases = {"page": page, "page-bad": page.replace("() =>", "() =>>"),
             "page-no-script": "```javascript\n<!DOCTYPE html>\n<html><body><p>hi</p></body></html>\n```",
             "prose": "```javascript\nA closure is a function together with the variables of its scope.\n```"}
    run = make_run(tmp_path, [[{"id": k, "instruction": "task", "output": v} for k, v in cases.items()]])
    result = cli("filter", run, "--only", "code_check")
    assert result.exit_code == 0, result.output
    rejected = {r["id"]: r["reason"] for r in rows(run / "filters" / "code_check" / "rejected_0.jsonl")}
    assert set(rejected) == {"page-bad", "prose"}
    assert rejected["page-bad"].startswith("syntax: script 1 of javascript block 1 (HTML) does not parse: SyntaxError")
    assert rejected["prose"].startswith("syntax: javascript block 1 does not parse: SyntaxError")
    stats = json.loads((run / "filters" / "code_check" / "stats.json").read_text())
    assert stats["blocks"]["javascript: an HTML page, its scripts checked"] == 3
    assert stats["blocks"]["javascript: checked"] == 1  # the prose
