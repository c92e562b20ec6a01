"""The tester role: tests for a task, written in the language of its answer, in the form that language's executor
runs (filters/executors.py). What the tester is told to write per language (FORMS), what it is shown of the
answer (a Python answer's signatures; another language's code), and what of its reply is a test (`tests_of`).
"""

from __future__ import annotations

import ast
import re

from wizevol.filters.code_check import code_blocks
from wizevol.filters.executors import block_end, language_of

FORMS = {
    "python": "one ```python block of plain assert statements (no test framework, no imports of the solution)",
    "javascript": "one ```javascript block that starts with `const assert = require('assert');` and checks the "
                  "solution's functions with assert.strictEqual / assert.deepStrictEqual (no test framework)",
    "bash": "one ```bash block of checks that each end the script with `exit 1` when the solution's output is "
            "wrong, e.g. [ \"$(name 3)\" = \"9\" ] || exit 1",
    "c": "one ```c block with `#include <assert.h>` and an `int main(void)` that checks the solution's functions "
         "with assert (do not repeat the solution)",
    "cpp": "one ```cpp block with `#include <cassert>` and an `int main()` that checks the solution's functions "
           "with assert (do not repeat the solution)",
    "rust": "one ```rust block with a `fn main()` that checks the solution's functions with assert_eq! / assert! "
            "(do not repeat the solution)",
    "java": "one ```java block with a class `Main` whose `public static void main(String[] args)` checks the "
            "solution with Java's `assert` statement (do not repeat the solution)",
    "sql": "one ```sql block: CREATE TABLE and INSERT statements for the tables the query reads, then a line "
           "`-- expected:` followed by the rows the query must return, one per line, as `-- a|b` (columns "
           "separated by |, as sqlite3 prints them)",
}


def language(text: str) -> str | None:
    """The language of a response: its first fenced block's (an untagged block that looks like Python is
    Python), as executors names it; None when it holds no code."""
    blocks = code_blocks(text)
    return language_of(blocks[0][0]) if blocks else None


def code_in(text: str | None, lang: str) -> str:
    """The blocks of `text` in `lang`, joined (an answer in another language has none)."""
    return "\n\n".join(code for tag, code in code_blocks(text or "") if language_of(tag) == lang)


def signatures(code: str) -> str:
    """The `def` and `class` lines of Python code: what the tests may call."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return ""
    lines = code.splitlines()
    return "\n".join(lines[n.lineno - 1].strip() for n in ast.walk(tree)
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))


def shown(code: str, lang: str) -> str:
    """What the tester sees of an answer: a Python answer's signatures (so the tests do not copy its logic), another
    language's code (its names and types; cut at 4,000 characters)."""
    return (signatures(code) or code) if lang == "python" else code[:4000]


def tests_of(reply: str | None, lang: str) -> str | None:
    """The tests in the tester's reply: its blocks in `lang` (or, in completion mode, which stops at the fence,
    the reply itself); None when there is nothing a test could be: no code, Python that does not parse or asserts
    nothing, SQL without its expected rows."""
    if not reply:
        return None
    code = code_in(reply, lang)
    if not code and "```" not in reply:
        code = reply
    if not code.strip():
        return None
    if lang == "python":
        try:
            ast.parse(code)
        except SyntaxError:
            return None
        return code if "assert" in code else None
    if lang == "sql":
        return code if "-- expected:" in code else None
    return code


_C_DEF = r"^[^\n;{{}}()=]*\b{name}\s*\([^;{{}}]*\)\s*\{{"  # a definition's head: no `(` or `=` before the name
_DEFINED = re.compile(r"\b([A-Za-z_]\w*)\s*\([^;{}]*\)\s*\{")
_KEYWORDS = {"if", "for", "while", "switch", "catch", "main", "function", "return", "sizeof"}


def without_answer(tests: str, answer: str, lang: str) -> str:
    """The tests without their own definitions of what the answer defines. A small tester often writes the
    solution again before its asserts: in Python and JavaScript the later definition wins, and the tests would
    check their own copy, passing a wrong answer; in C and C++ the answer no longer compiles."""
    if lang == "python":
        return _without_python(tests, answer)
    if lang not in ("c", "cpp", "javascript"):
        return tests
    for name in {n for n in _DEFINED.findall(answer) if n not in _KEYWORDS}:
        head = re.search(_C_DEF.format(name=re.escape(name)), tests, re.M)
        if head:
            end = block_end(tests, head.end() - 1)
            tests = tests[:head.start()] + ("" if end is None else tests[end:])
    return tests


def _without_python(tests: str, answer: str) -> str:
    try:
        names = {n.name for n in ast.parse(answer).body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                         ast.ClassDef))}
        tree = ast.parse(tests)
    except SyntaxError:
        return tests
    lines = tests.splitlines(keepends=True)
    for node in reversed(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in names:
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            del lines[start - 1:node.end_lineno]
    return "".join(lines)

