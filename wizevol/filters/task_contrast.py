"""What makes two similar instructions different tasks whatever a judge says: near_dup never calls them duplicates.

On real seeds (bench/filter_audit.py on data/audit/user_seeds.jsonl, docs/filters.md) the 1.5B judge called the same
task in another programming language the same task ("a JavaScript function that counts the vowels" and "a function
that counts the vowels", answered in Python), and a task on a given input the same as the general one ("Modify the
given loop so that it sums 1..n" and "a function that sums 1..n"); word 5-grams lose "C++" against "C". Two signals
settle these without a model:

- the programming language: the languages an instruction names, else its answer's (its code blocks' tags, else
  Python where the answer is Python code). Two records whose languages are known and share none are different tasks.
- the input: a record with an `input` (the code to fix, the list to sort) asks about that input; one without asks
  for the general task.
"""

from __future__ import annotations

import re

from wizevol.filters.other_language import LANGUAGES

# names of programming languages as instructions write them -> one name; "C", "Go" and "R" only as a language
# ("in C", "a C function", "using Go"), since the words are also English
_NAMED = [
    ("python", r"\bpython(?:3)?\b|\bpandas\b|\bnumpy\b|\bdjango\b|\bflask\b"),
    ("javascript", r"\bjavascript\b|\bnode(?:\.js|js)?\b|\bjs\b|\breact\b"),
    ("typescript", r"\btypescript\b|\bts\b"),
    ("java", r"\bjava\b(?!\s*script)"),
    ("c++", r"\bc\+\+|\bcpp\b"),
    ("c#", r"\bc#|\bcsharp\b|\.net\b"),
    ("rust", r"\brust\b"), ("ruby", r"\bruby\b"), ("php", r"\bphp\b"), ("kotlin", r"\bkotlin\b"),
    ("swift", r"\bswift\b"), ("scala", r"\bscala\b"), ("perl", r"\bperl\b"), ("haskell", r"\bhaskell\b"),
    ("lua", r"\blua\b"), ("dart", r"\bdart\b"), ("matlab", r"\bmatlab\b"), ("julia", r"\bjulia\b"),
    ("sql", r"\bsql\b|\bmysql\b|\bpostgres(?:ql)?\b|\bsqlite\b"),
    ("bash", r"\bbash\b|\bshell\b|\bzsh\b|\bpowershell\b"),
    ("html", r"\bhtml\b"), ("css", r"\bcss\b"),
]
_NAMED_RE = [(name, re.compile(p, re.I)) for name, p in _NAMED]
_AS_LANGUAGE = r"(?:\b(?:in|using|with|into|to)\s+{0}\b(?![+#])|\b{0}(?![+#])\s+(?:program|function|code|method|script|snippet|macro|struct|language|implementation|routine|version|library|compiler)s?\b)"
_AMBIGUOUS = [(name, re.compile(_AS_LANGUAGE.format(word))) for name, word in (("c", "C"), ("go", "Go"), ("r", "R"))]
# fence tags -> one name: other_language's table of languages to translate, and the ones it does not translate
_TAGS = {tag: name.lower() for tag, name in LANGUAGES.items()} | {
    "py": "python", "python3": "python", "tsx": "typescript", "sh": "bash", "shell": "bash", "zsh": "bash",
    "console": "bash", "mysql": "sql", "postgresql": "sql", "sqlite": "sql", "plsql": "sql"}
_KNOWN = {name for name, _ in _NAMED} | {"c", "go", "r"}
# each name as people write it, for a reason a user reads
_SHOWN = {name.lower(): name for name in LANGUAGES.values()} | {
    "python": "Python", "sql": "SQL", "bash": "Bash", "html": "HTML", "css": "CSS"}


def shown(names: frozenset[str] | set[str]) -> list[str]:
    """The names, sorted, as people write them ("sql" -> "SQL")."""
    return sorted(_SHOWN.get(n, n) for n in names)


def named_languages(text: str) -> frozenset[str]:
    """The programming languages a text names."""
    found = {name for name, rx in _NAMED_RE if rx.search(text)}
    found |= {name for name, rx in _AMBIGUOUS if rx.search(text)}
    return frozenset(found)


def answer_languages(output: str) -> frozenset[str]:
    """The languages of an answer: its code blocks' tags, else Python where the whole answer parses as Python
    code that defines, loops or prints (prose that happens to parse is not code)."""
    from wizevol.filters.code_check import code_blocks

    tags = {_TAGS.get(lang, lang) for lang, _ in code_blocks(output) if lang}
    tags &= _KNOWN
    if tags:
        return frozenset(tags)
    if re.search(r"^\s*(?:def |class |import |from \S+ import |for |while |print\()", output, re.M):
        import ast

        try:
            ast.parse(output)
        except (SyntaxError, ValueError):
            return frozenset()
        return frozenset({"python"})
    return frozenset()


class Contrast:
    """One record's side of the comparison: its languages (named, else its answer's) and whether it has input."""

    __slots__ = ("languages", "has_input")

    def __init__(self, instruction: str, input: str | None, output: str | None):
        self.languages = named_languages(f"{instruction}\n{input or ''}") or answer_languages(output or "")
        self.has_input = bool(input and input.strip())

    @classmethod
    def of(cls, languages: frozenset[str], has_input: bool) -> Contrast:
        """A contrast read back from where it was stored (near_dup's index)."""
        c = cls.__new__(cls)
        c.languages, c.has_input = languages, has_input
        return c

    def differs(self, other: Contrast) -> str | None:
        """Why the two are different tasks whatever their words ("language", "input"), or None."""
        if self.languages and other.languages and not self.languages & other.languages:
            return "language"
        if self.has_input != other.has_input:
            return "input"
        return None
