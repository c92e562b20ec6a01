"""What in a response is code to run: its Python (fenced, or a completion that parses as Python), and its answer
functions, the top-level functions and class methods that nothing else in it calls, with how many arguments each
takes. The execution layer of contamination runs these (solves_benchmark.py)."""

from __future__ import annotations

import ast


def arity(fn: ast.FunctionDef) -> tuple[int, float]:
    """How many positional arguments a function takes: (fewest, most)."""
    a = fn.args
    positional = len(a.posonlyargs) + len(a.args)
    required = positional - len(a.defaults)
    return required, float("inf") if a.vararg else positional


def _methods(cls: ast.ClassDef) -> list[tuple[str, int, float]]:
    """A class's public methods that no other method of it calls (`self.x(...)`), as `Class.method`, their
    arity without `self` (LeetCode's `class Solution: def isPrime(self, n)` is an answer too)."""
    defs = [n for n in cls.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]
    called = {sub.func.attr for n in cls.body if isinstance(n, ast.FunctionDef) for sub in ast.walk(n)
              if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr != n.name}
    out = []
    for fn in defs:
        decorators = {d.id for d in fn.decorator_list if isinstance(d, ast.Name)}
        if fn.name in called or decorators - {"staticmethod"}:
            continue
        lo, hi = arity(fn)
        bound = 0 if "staticmethod" in decorators else 1
        if lo >= bound:
            out.append((f"{cls.name}.{fn.name}", lo - bound, hi - bound))
    return out


def answer_functions(code: str) -> list[tuple[str, int, float]]:
    """The response's top-level functions and class methods that no other function or method of it calls:
    (name, fewest, most positional arguments)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    top = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    called: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id != node.name:
                    called.add(sub.func.id)
    out = [(name, *arity(fn)) for name, fn in top.items() if name not in called]
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            out += _methods(node)
    return out


def response_python(text: str) -> str:
    """The Python a response holds: its Python blocks, or (a completion with no fence) the whole text when it
    parses and looks like Python."""
    from wizevol.filters.code_check import _LOOKS_PYTHON, python_of

    code = python_of(text or "")
    if code or "```" in (text or ""):
        return code
    try:
        ast.parse(text or "")
    except SyntaxError:
        return ""
    return text if _LOOKS_PYTHON.search(text or "") else ""
