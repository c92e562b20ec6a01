"""code_check: pull the fenced code out of each response. Python must parse (`ast`); other languages are
skipped. With `execute: true` (code_exec), the Python also runs in the sandbox and pass/fail/timeout is
recorded; a failing or hanging program rejects the record."""

from __future__ import annotations

import ast
import re
from typing import Any

from wizevol.filters.base import Filter
from wizevol.filters.sandbox import Limits, run_python
from wizevol.record import Record, Verdict, drop

FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
PYTHON_TAGS = {"python", "py", "python3", "py3"}
_LOOKS_PYTHON = re.compile(r"^\s*(def |class |import |from \S+ import |print\()", re.M)


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) for each fenced block; untagged blocks that look like Python count as Python."""
    out = []
    for tag, body in FENCE.findall(text or ""):
        lang = tag.lower()
        if not lang and _LOOKS_PYTHON.search(body):
            lang = "python"
        out.append(("python" if lang in PYTHON_TAGS else (lang or "unknown"), body))
    return out


class CodeCheck(Filter):
    """Rejects a response whose fenced Python does not parse (or, with execute, fails or hangs)."""

    name = "code_check"

    def __init__(self, execute: bool = False, limits: Limits = Limits()):
        self.execute, self.limits = execute, limits

    def settings(self) -> dict[str, Any]:
        from wizevol.filters.sandbox import layers

        return {"execute": self.execute, "limits": self.limits.__dict__,
                **({"sandbox_layers": list(layers())} if self.execute else {})}

    def check(self, record: Record) -> Verdict:
        python = [code for lang, code in code_blocks(record.output) if lang == "python"]
        for i, code in enumerate(python, start=1):
            try:
                ast.parse(code)
            except SyntaxError as e:
                return drop(f"syntax: python block {i} does not parse: {e.msg} (line {e.lineno})", block=i,
                            line=e.lineno)
        if self.execute and python:
            result = run_python("\n\n".join(python), self.limits)
            if result.status != "pass":
                return drop(f"exec_{result.status}: {result.detail}", status=result.status,
                            returncode=result.returncode)
        return True
