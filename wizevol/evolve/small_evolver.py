"""Elimination rules for what a small evolver gets wrong, beside the paper's (rules.py). WizardLM's rules were
written for a ChatGPT evolver; a 1.5B one also leaves references to code it never gives, skips the method it
was asked to apply, drops the programming language the task was in, makes the task easier, and leaves its own
commentary in the rewrite. Each rule keeps the record or drops it with its reason; a drop puts the parent back.
"""

from __future__ import annotations

import re

from wizevol.evolve.candidate import Candidate, Rule
from wizevol.filters.task_contrast import answer_languages, named_languages, shown
from wizevol.record import Verdict, drop
from wizevol.text import normalize, words

_FENCE = re.compile(r"```")
# a line that reads as code, not prose: a statement's opening keyword, an assignment, a brace or a semicolon end
_CODE_LINE = re.compile(
    r"^\s*(?:def |class |for |while |if |elif |else\s*:|try\s*:|except\b|return\b|import |from \S+ import |#include|"
    r"public |private |static |function\b|const |let |var |int |void |fn |func |package |using |SELECT\b|INSERT\b|"
    r"UPDATE\b|DELETE\b|CREATE\b|print\(|console\.log|System\.out|echo |[}{]|[\w.\[\]]+\s*[+\-*/]?=\s*\S|.*;\s*$)")
_LITERAL = re.compile(r"`[^`\n]{6,}`|\[[^\]\n]*,[^\]\n]*\]|\{[^}\n]*[:,][^}\n]*\}|\"[^\"\n]{3,}\"|'[^'\n]{3,}'")


def code_lines(text: str) -> int:
    """How many lines of the text read as code (fenced or not)."""
    return sum(bool(_CODE_LINE.match(line)) for line in text.splitlines() if line.strip())


_INLINE_CODE = re.compile(r"`[^`\n]*[(){}\[\]=;:][^`\n]*`")


def shows_code(text: str) -> bool:
    """The text shows code: a fenced block, a line that reads as code, or inline code (`def f(x): ...`)."""
    return bool(_FENCE.search(text) or _INLINE_CODE.search(text)) or code_lines(text) > 0


# what an instruction can only mean if it is shown: "the following input", "the code below", "the given program"
_SHOWN = (r"code|program|snippet|script|query|loop|implementation|function|method|class|statements?|algorithm|"
          r"input|data|dataset|text|sentences?|paragraph|table|json|xml|html|csv|examples?|output|strings?|list|"
          r"array|matrix|dictionary|sequence|numbers|file contents")
_CODE = r"code|program|snippet|script|query|piece of code|function|method|class|implementation"
_REFERENCE = re.compile(
    rf"\b(?:the|this|these)\s+(?:following|provided|above|attached|aforementioned|sample)\s+"
    rf"(?:[\w+#-]+\s+){{0,2}}?(?:{_SHOWN})\b"
    rf"|\b(?:the|this)\s+(?:existing|original|erroneous|faulty|buggy|broken)\s+(?:[\w+#-]+\s+){{0,2}}?(?:{_CODE})\b"
    rf"|\b(?:the|this)\s+(?:given\s+)?(?:[\w+#-]+\s+){{0,2}}?(?:code|program|snippet|script|query|code snippet|"
    rf"piece of code)\s+(?:below|above)\b"
    # "this program" alone is often the answer asked for ("This program should read stdin"): only after a verb
    # that works on something shown
    rf"|\b(?:the\s+given|(?:fix|debug|modify|explain|rewrite|refactor|optimi[sz]e|improve|correct|translate|"
    rf"convert|complete|review|analy[sz]e)\s+(?:what\s+)?this)\s+(?:[\w+#-]+\s+){{0,2}}?(?:code|program|snippet|script|query|"
    rf"piece of code)\b"
    rf"|\b(?:the|this)\s+(?:[\w+#-]+\s+){{0,2}}?(?:code|program|snippet|script|query)\s+(?:given|provided|shown)\b",
    re.IGNORECASE)


class DanglingReference(Rule):
    """The instruction points at something it does not give: "modify the given code", "the following input",
    with no code, no literal and no `input`. A reference the record answers (its input, a fenced block, code
    lines, a literal after a colon) is not dangling."""

    name = "dangling_reference"
    stage = "evolve"

    def check(self, c: Candidate) -> Verdict:
        child = c.child
        found = _REFERENCE.search(child.instruction)
        if not found or (child.input or "").strip() or shows_code(child.instruction):
            return True
        after = child.instruction[found.end():]
        if _LITERAL.search(child.instruction) or re.match(r"\s*:\s*\S{3,}", after):
            return True
        what = re.sub(r"^.*?\b(?=(?:the|this|these)\b)", "", found.group(0), count=1, flags=re.IGNORECASE).strip()
        return drop(f"instruction refers to {what!r} and gives none", reference=what)


class MethodNotApplied(Rule):
    """The chosen heuristic left no trace its method can be seen by: erroneous_code with no code in the child, fenced,
    inline or in lines that read as code (a small evolver often writes "... avoid common errors" instead)."""

    name = "method_not_applied"
    stage = "evolve"

    def check(self, c: Candidate) -> Verdict:
        if c.child.method == "erroneous_code" and not shows_code(c.child.prompt_text()):
            return drop("erroneous_code evolution holds no code to misdirect with")
        return True


class LanguageLost(Rule):
    """The parent's task is in a language the child no longer names, and the child went to another one: it names
    another language, or its answer is code in another (SQL became pandas). A child that only stops naming the
    language, answered in it, keeps the task. Languages are read as near_dup's contrasts read them (task_contrast).
    The parent's language is what its instruction and input name, or
    the language of code its input holds; where it names none and neither does the child, the language its own
    answer was in (a lineage that stopped saying "SQL" in one round, still answered in SQL, drifts to pandas in
    the next)."""

    name = "language_lost"
    stage = "response"

    def check(self, c: Candidate) -> Verdict:
        asked = named_languages(c.parent.prompt_text()) or answer_languages(c.parent.input or "")
        child_names = named_languages(c.child.prompt_text()) | answer_languages(c.child.prompt_text())
        answered = frozenset() if asked or child_names else answer_languages(c.parent.output or "")
        parent = asked or answered
        if not parent or parent & child_names:
            return True
        answer = answer_languages(c.response.text if c.response is not None else "")
        went = (child_names - parent) or (answer - parent if answer and not answer & parent else frozenset())
        if not went:
            return True
        how = "asks for" if asked else "was answered in"
        return drop(f"the parent {how} {', '.join(shown(parent))}; the child "
                    f"{'names' if child_names - parent else 'is answered in'} {', '.join(shown(went))}",
                    parent_languages=shown(parent), child_languages=shown(went))


class Easier(Rule):
    """The child is much shorter than its parent: evolution should add, and a rewrite that keeps less than
    `min_ratio` of the parent's words (instruction and input) dropped what made it a task ("modify the given code
    so that it prints y" became "return the elements of y")."""

    name = "easier"
    stage = "evolve"

    def __init__(self, min_ratio: float = 0.6):
        self.min_ratio = min_ratio

    def check(self, c: Candidate) -> Verdict:
        parent, child = len(words(c.parent.prompt_text())), len(words(c.child.prompt_text()))
        if parent >= 8 and child < self.min_ratio * parent:
            return drop(f"the child has {child} words where its parent has {parent} (< {self.min_ratio:.0%}): a "
                        "rewrite that drops what the task asked", words=child, parent_words=parent)
        return True


# the evolver talking about its rewrite: "The difficulty has been increased by ...", "I added a constraint ..."
_COMMENTARY = re.compile(
    r"\b(?:the\s+)?difficulty\s+(?:has\s+been|is|was)\s+(?:increased|raised)"
    r"|\b(?:to|i|we|this)\s+(?:have\s+)?(?:increased?|raised?|raise|increase)\s+the\s+difficulty"
    r"|\bi\s+(?:have\s+)?(?:added|introduced|rewritten|modified|changed|replaced|made)\b"
    r"|\b(?:this|the)\s+(?:rewritten|revised|new|modified|updated|evolved)\s+(?:version|prompt|question|test|"
    r"instruction|problem)\s+(?:adds?|requires?|introduces?|now|is|makes?|increases?)\b"
    r"|\b(?:by|after)\s+adding\s+(?:these|this|the)\s+new\s+(?:constraints?|requirements?)"
    r"|\bthe\s+original\s+(?:prompt|question|test|instruction|problem)\b"
    r"|\bplease\s+note\s+that\s+this\s+(?:problem|question|task|prompt|test)\b"
    r"|\b(?:this|the)\s+(?:problem|question|task|prompt)\s+requires\s+additional\s+context\b"
    r"|\bmaking\s+(?:it|the\s+(?:task|problem|question))\s+(?:more|slightly|significantly)\s+"
    r"(?:challenging|difficult|complex|harder)", re.IGNORECASE)


class Commentary(Rule):
    """The evolver's words about its own rewrite left in the instruction ("The difficulty has been increased by
    adding these new constraints: ..."). A phrase the parent already has never counts."""

    name = "commentary"
    stage = "evolve"

    def check(self, c: Candidate) -> Verdict:
        found = _COMMENTARY.search(c.child.instruction)
        if found and normalize(found.group(0)) not in normalize(c.parent.prompt_text()):
            return drop(f"instruction holds the evolver's commentary on its rewrite: {found.group(0).strip()!r}")
        return True
