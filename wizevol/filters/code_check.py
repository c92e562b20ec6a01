"""code_check: pull the fenced code out of each response. Python must parse (`ast`); JavaScript, Bash, C and
C++ must pass their own syntax check (`node --check`, `bash -n`, `gcc`/`g++ -fsyntax-only`, run in the
sandbox's OS layers) where that tool is installed, and are counted as skipped where it is not (a block tagged
javascript that holds an HTML page has its inline scripts checked); other languages are counted as unchecked. With `execute: true` (code_exec), the Python also runs in the sandbox
and pass/fail/timeout is recorded; a failing or hanging program rejects the record."""

from __future__ import annotations

import ast
import re
import shutil
from collections import Counter
from typing import Any

from wizevol.filters.base import Filter
from wizevol.filters.sandbox import Limits, run_program, run_python
from wizevol.record import Record, Verdict, drop

# language -> (tool, its arguments, the file it checks); the tool only parses, it runs nothing
CHECKERS = {
    "javascript": ("node", ["--check", "main.js"], "main.js"),
    "bash": ("bash", ["-n", "main.sh"], "main.sh"),
    "c": ("gcc", ["-fsyntax-only", "-x", "c", "main.c"], "main.c"),
    "cpp": ("g++", ["-fsyntax-only", "-x", "c++", "main.cpp"], "main.cpp"),
}
ALIASES = {"js": "javascript", "node": "javascript", "sh": "bash", "shell": "bash", "c++": "cpp", "cc": "cpp",
           "cxx": "cpp", "h": "c"}
TOOL_LIMITS = Limits(cpu_s=10, wall_s=20.0, memory_mb=4096)  # V8 reserves much address space

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


def python_of(text: str) -> str:
    """The Python blocks of a response, joined."""
    return "\n\n".join(code for lang, code in code_blocks(text) if lang == "python")


_HTML = re.compile(r"\s*<(!doctype|html|head|body|div|button|form|input|p|span|script|style|canvas|ul|table|h[1-6])\b",
                   re.I)
_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.I | re.S)


def html_scripts(code: str) -> list[str] | None:
    """The inline scripts of an HTML page (a block tagged javascript that holds a page, as corpora often tag one),
    or None where the block does not start with an HTML element."""
    if not _HTML.match(code):
        return None
    return [body for attrs, body in _SCRIPT.findall(code) if "src=" not in attrs.replace(" ", "") and body.strip()]


class CodeCheck(Filter):
    """Rejects a response whose fenced Python does not parse (or, with execute, fails or hangs)."""

    name = "code_check"

    def __init__(self, execute: bool = False, limits: Limits = Limits(), languages: bool = True):
        self.execute, self.limits, self.languages = execute, limits, languages
        self.tools = {lang: shutil.which(tool) for lang, (tool, _, _) in CHECKERS.items()} if languages else {}
        self.blocks: Counter[str] = Counter()

    def settings(self) -> dict[str, Any]:
        from wizevol.filters.sandbox import layers

        return {"execute": self.execute, "limits": self.limits.__dict__, "checkers": self.tools,
                **({"sandbox_layers": list(layers())} if self.execute else {})}

    def start(self) -> None:
        self.blocks.clear()

    def report(self) -> dict[str, Any]:
        """Code blocks by language and what happened to them: checked, skipped (no tool) or unchecked."""
        return {"blocks": dict(sorted(self.blocks.items()))}

    def _other_languages(self, blocks: list[tuple[str, str]]) -> Verdict:
        for i, (lang, code) in enumerate(blocks, start=1):
            lang = ALIASES.get(lang, lang)
            if lang == "python":
                continue
            if lang not in CHECKERS or not self.languages:
                self.blocks[f"{lang}: unchecked"] += 1
                continue
            tool = self.tools.get(lang)
            if tool is None:
                self.blocks[f"{lang}: skipped, {CHECKERS[lang][0]} not installed"] += 1
                continue
            scripts = html_scripts(code) if lang == "javascript" else None  # a page: its scripts are the JavaScript
            self.blocks["javascript: an HTML page, its scripts checked" if scripts is not None else f"{lang}: checked"] += 1
            for n, script in enumerate([code] if scripts is None else scripts, start=1):
                failed = self._syntax_error(lang, tool, script)
                if failed:
                    where = f"{lang} block {i}" if scripts is None else f"script {n} of {lang} block {i} (HTML)"
                    return drop(f"syntax: {where} does not parse: {failed}", block=i, language=lang)
        return True

    @staticmethod
    def _syntax_error(lang: str, tool: str, code: str) -> str | None:
        """The tool's first error line for code that does not parse, or None."""
        _, args, name = CHECKERS[lang]
        result = run_program([tool, *args], {name: code}, TOOL_LIMITS)
        if result.status == "pass":
            return None
        lines = [ln.strip() for ln in result.stderr.splitlines() if ln.strip()]
        first = next((ln for ln in lines if "error" in ln.lower()), lines[0] if lines else result.detail)
        return re.sub(r"/\S*/wizevol-sandbox-[^/\s]*/", "", first)[:200]

    def check(self, record: Record) -> Verdict:
        blocks = code_blocks(record.output)
        python = [code for lang, code in blocks if lang == "python"]
        self.blocks["python: checked"] += len(python)
        for i, code in enumerate(python, start=1):
            try:
                ast.parse(code)
            except SyntaxError as e:
                return drop(f"syntax: python block {i} does not parse: {e.msg} (line {e.lineno})", block=i,
                            line=e.lineno)
        other = self._other_languages(blocks)
        if other is not True:
            return other
        if self.execute and python:
            result = run_python("\n\n".join(python), self.limits)
            if result.status != "pass":
                return drop(f"exec_{result.status}: {result.detail}", status=result.status,
                            returncode=result.returncode)
        return True
