"""Contamination by execution for code in another language: a response that solves a benchmark problem in C,
JavaScript or C++ teaches that problem as surely as Python does, but layer 4 runs only Python. The judge role
translates such code into Python (prompts/translate_to_python.yaml), and layer 4 runs the translation against the
benchmark's tests like any Python response.
"""

from __future__ import annotations

from wizevol.filters.code_check import code_blocks

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
most less least""".split())


def looks_english(text: str) -> bool:
    """Whether an instruction reads as English: at least one word in five is a common English word. Text with no
    words (code, numbers) counts as English: there is nothing to translate."""
    import re

    words = re.findall(r"[^\W\d_]+", text.lower())
    return not words or sum(w in ENGLISH_WORDS for w in words) >= 0.2 * len(words)
