"""Contamination by execution for code in another language: a response that solves a benchmark problem in C,
JavaScript or C++ teaches that problem as surely as Python does, but layer 4 runs only Python. The judge role
translates such code into Python (prompts/translate_to_python.yaml), and layer 4 runs the translation against the
benchmark's tests like any Python response.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from wizevol.filters.code_check import code_blocks
from wizevol.record import Record

# fence tags of programming languages worth translating (the name the translator is told), by tag
LANGUAGES = {
    "c": "C", "h": "C", "cpp": "C++", "c++": "C++", "cc": "C++", "cxx": "C++", "hpp": "C++",
    "javascript": "JavaScript", "js": "JavaScript", "jsx": "JavaScript", "mjs": "JavaScript", "node": "JavaScript",
    "typescript": "TypeScript", "ts": "TypeScript", "java": "Java", "go": "Go", "golang": "Go", "rust": "Rust",
    "rs": "Rust", "csharp": "C#", "cs": "C#", "c#": "C#", "kotlin": "Kotlin", "kt": "Kotlin", "swift": "Swift",
    "ruby": "Ruby", "rb": "Ruby", "php": "PHP", "scala": "Scala", "lua": "Lua", "perl": "Perl", "r": "R",
    "julia": "Julia", "haskell": "Haskell", "hs": "Haskell", "dart": "Dart", "matlab": "MATLAB",
}


def other_language_code(text: str) -> tuple[str, str] | None:
    """(language, code) of a response whose code is not Python: the blocks of its first fenced language that
    translates, joined. None when it holds Python (layer 4 runs that) or no such block."""
    blocks = code_blocks(text)
    if any(lang == "python" for lang, _ in blocks):
        return None
    first = next((lang for lang, _ in blocks if lang in LANGUAGES), None)
    if first is None:
        return None
    code = "\n\n".join(body.strip() for lang, body in blocks if LANGUAGES.get(lang) == LANGUAGES[first])
    return (LANGUAGES[first], code) if code.strip() else None


def translated_python(answer: str | None) -> str:
    """The Python of the translator's answer: its Python blocks, or the whole answer when it has no fence."""
    from wizevol.filters.solves_benchmark import response_python

    return response_python(answer or "")


# common English words, function words and the words of programming tasks: an English instruction has at least
# one in five of its words here (each of data/decontam/'s English items and seeds does, but one of code names;
# its Spanish, French and German paraphrases have at most one in six)
ENGLISH_WORDS = frozenset("""
a an the of and or to in on for with by from as at is are be was were it its this that these those each every all
any no not if then else when while than which who whose what how into out up down over under between return returns
returned give gives given take takes list lists string strings number numbers integer integers write function find
check count sum value values array element elements first last only one two new should must can you your we our
their them they he she his her has have had do does did make makes whether using use where so such same other more
most less least compute calculate implement create print convert determine generate display show read program
code class method script query table file input output loop""".split())


# what looks_english ignores: fenced and inline code, then identifiers and signatures (a word with an underscore,
# a dot, digits or an inner capital; a name directly before "(", with its arguments)
_CODE = (re.compile(r"```.*?(?:```|\Z)", re.S), re.compile(r"`[^`\n]*`"),
         re.compile(r"\b\w+\s*\([^()\n]*\)"),  # a call or a signature, its arguments with it
         re.compile(r"\b(?=\w*(?:_|\d|[a-z][A-Z]))\w+(?:\.\w+)*|\b\w+(?:\.\w+)+"))
# letters of scripts whose words are not split by spaces (CJK): each counts as a word of its own
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def prose(text: str) -> str:
    """The natural-language part of an instruction: without fenced or inline code, signatures and identifiers."""
    for pattern in _CODE:
        text = pattern.sub(" ", text)
    return text


def looks_english(text: str) -> bool:
    """Whether an instruction reads as English: at least one word in five of its prose is a common English word.
    Code, signatures and identifiers are left out first (`has_close_elements(numbers: list, ...)` in a Chinese
    sentence is no English), and each CJK character counts as a word. Text with no prose (code, numbers) counts
    as English: there is nothing to translate."""
    text = prose(text).lower()
    unspaced = len(_UNSPACED.findall(text))
    words = re.findall(r"[^\W\d_]+", _UNSPACED.sub(" ", text))
    total = len(words) + unspaced
    return not total or sum(w in ENGLISH_WORDS for w in words) >= 0.2 * total


def translated_responses(translate: Callable[..., list[str | None]], records: list[Record],
                         emit: Callable[..., None]) -> list[tuple[str, str, str | None]]:
    """(record id, language, its Python or None where the call failed) for each response whose code is in another
    language, translated by `translate` ([(language, code)] -> their Python)."""
    foreign = [(r.id, found) for r in records if (found := other_language_code(r.output))]
    if not foreign:
        return []
    emit("phase", name="contamination: responses in other languages, translated into Python", total=len(foreign))
    pythons = translate([found for _, found in foreign], lambda: emit("step"))
    return [(rid, language, python) for (rid, (language, _)), python in zip(foreign, pythons, strict=True)]


def english_instructions(to_english: Callable[..., list[str | None]], records: list[Record],
                         emit: Callable[..., None]) -> dict[str, str | None]:
    """{record id: its instruction in English, or None where the call failed} for the instructions in another
    natural language (few common English words): MiniLM is an English model, and matched none of them to its
    problem (bench/decontam_eval.py)."""
    foreign = [r for r in records if not looks_english(r.prompt_text())]
    if not foreign:
        return {}
    emit("phase", name="contamination: instructions in other languages, translated into English", total=len(foreign))
    english = to_english([r.prompt_text() for r in foreign], lambda: emit("step"))
    return {r.id: t for r, t in zip(foreign, english, strict=True)}
