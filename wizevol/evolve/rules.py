"""Elimination rules (WizardLM §3.2): each is one small class whose `check` returns True to keep the evolved
record, or (False, reason, details) to drop it. `RuleSet` runs one stage's rules; the first drop wins.

Stages, in the order a record's chain runs them:
  evolve   - on the evolved instruction: empty, truncated, no_gain (identical to its parent), prompt_leak,
             answered (a solution, not a task), then a small evolver's failures (small_evolver.py): commentary,
             dangling_reference, method_not_applied, easier (cheap, before any further call)
  judge    - no_gain: the LLM judge says the evolved instruction equals its parent
  response - on the responder's answer: empty, truncated, refusal, stopwords_only, language_lost
"""

from __future__ import annotations

import re
from functools import lru_cache

from stop_words import get_stop_words

from wizevol.evolve import small_evolver as s
from wizevol.evolve.candidate import Candidate, Rule
from wizevol.record import Verdict, drop
from wizevol.text import ngrams, normalize, words


class Empty(Rule):
    """Nothing came back from the evolver or the responder."""

    name = "empty"

    def __init__(self, stage: str):
        self.stage = stage

    def check(self, c: Candidate) -> Verdict:
        if self.stage == "evolve" and not c.child.instruction.strip():
            return drop("evolver returned no text")
        if self.stage == "response" and c.response is not None and not c.response.text.strip():
            return drop("responder returned no text")
        return True


class Truncated(Rule):
    """The evolver or the responder stopped at max_tokens."""

    name = "truncated"

    def __init__(self, stage: str):
        self.stage = stage

    def check(self, c: Candidate) -> Verdict:
        completion = c.evolve if self.stage == "evolve" else c.response
        if completion is not None and completion.finish_reason == "length":
            who = "evolved instruction" if self.stage == "evolve" else "response"
            return drop(f"{who} was cut off at max_tokens (finish_reason=length)")
        return True


def shingles(text: str, n: int) -> set[tuple[str, ...]]:
    """The set of word n-grams of a text."""
    return set(ngrams(words(text), n))


class IdenticalToParent(Rule):
    """no_gain without a judge call: the evolved instruction equals its parent after normalizing case and
    whitespace, or is the parent with nothing but the evolving prompt's markers around it."""

    name = "no_gain"
    stage = "evolve"

    def __init__(self, markers: tuple[str, ...] = ()):
        deco = r"[\s:*#_>-]*"  # the colons, bold and heading signs around a marker go with it
        self.markers = [re.compile(deco + re.escape(m) + deco, re.IGNORECASE) for m in markers if m.strip()]

    def check(self, c: Candidate) -> Verdict:
        if normalize(self._unmarked(c.child.instruction)) == normalize(self._unmarked(c.parent.prompt_text())):
            return drop("identical to parent")
        return True

    def _unmarked(self, text: str) -> str:
        for marker in self.markers:
            text = marker.sub(" ", text)
        return text


class PromptLeak(Rule):
    """The evolved instruction copies the evolving prompt's own words: one of its markers or marker phrases, or
    a run of `n` words from the template that was actually sent (the mode's template and the chosen method's
    text). A phrase or a run that the parent itself contains never counts."""

    name = "prompt_leak"
    stage = "evolve"

    def __init__(self, phrases: tuple[str, ...], template_texts: tuple[str, ...] = (),
                 method_texts: dict[str, str] | None = None, n: int = 6):
        self.phrases = tuple(dict.fromkeys(normalize(p) for p in phrases if p.strip()))
        self.n = n
        self.template_shingles = set().union(*(shingles(t, n) for t in template_texts))
        self.method_shingles = {m: shingles(t, n) for m, t in (method_texts or {}).items()}

    def check(self, c: Candidate) -> Verdict:
        text, parent = normalize(c.child.instruction), normalize(c.parent.prompt_text())
        for phrase in self.phrases:
            if phrase in text and phrase not in parent:
                return drop(f"instruction copies the evolving prompt's words: {phrase!r}")
        sent = self.template_shingles | self.method_shingles.get(c.child.method or "", set())
        if sent:
            copied = (shingles(c.child.instruction, self.n) & sent) - shingles(c.parent.prompt_text(), self.n)
            copied = {g for g in copied if not (g not in self.template_shingles
                                                and introduces_code(c.child.instruction, g))}
            if copied:
                return drop(f"instruction copies the evolving prompt's words: {' '.join(min(copied))!r}")
        return True


def introduces_code(text: str, gram: tuple[str, ...]) -> bool:
    """The words `gram` open the code the instruction then shows, in the same sentence ("Here is a piece of
    erroneous code as a reference:" and the code): the heuristic's own request, used as it asks, not a leak."""
    found = re.search(r"\W+".join(re.escape(w) for w in gram), text, re.IGNORECASE)
    if found is None:
        return False
    rest = text[found.end():]
    start = re.search(r"```|`|\n", rest)
    return start is not None and not re.search(r"[.!?]\s", rest[:start.start()]) and s.shows_code(rest)


_FENCE = re.compile(r"```.*?(?:```|\Z)", re.S)
# how an answer opens, never a task: a reply's preamble ("Sure!", "Here is the solution", "To solve this ...")
_ANSWER_OPENING = re.compile(
    r"^\W*(?:sure\b|certainly\b|of course\b|absolutely\b|great question\b"
    r"|to (?:solve|achieve|accomplish|address|tackle) this\b"
    r"|(?:here(?:'s| is| are)|below is)\b[^.\n]{0,60}?\b(?:solution|answer|implementation)s?\b)", re.I)
# an opening that offers code: an answer's, unless the erroneous-code heuristic asked for code to be shown
_CODE_OPENING = re.compile(
    r"^\W*(?:here(?:'s| is| are)|below is)\b[^.\n]{0,60}?\b(?:code|function|script|program)s?\b", re.I)
# how an answer explains the code it just gave
_EXPLANATION = re.compile(
    r"^\W*explanation\b|(?:^|[.!]\s+|\n)\s*(?:this|the above) (?:code|function|script|solution|implementation|"
    r"program) (?:defines|uses|first|takes|checks|iterates|works|will|creates|handles|ensures|implements|"
    r"accomplishes|achieves|solves|meets|satisfies)\b", re.I | re.M)


class Answered(Rule):
    """The evolver answered the question instead of rewriting it: the evolved "instruction" is a solution, not a
    task. It opens as a reply does ("Sure", "Here is the implementation", "To solve this ...", or "Here is the
    code" where no erroneous code was asked for), or gives code and then explains it ("This function uses ...",
    an "Explanation" heading) outside any code block. An opening or explanation the parent already has never
    counts, and a code block that the erroneous-code heuristic asked for is a task's."""

    name = "answered"
    stage = "evolve"

    def check(self, c: Candidate) -> Verdict:
        text, parent = c.child.instruction, c.parent.prompt_text()
        opening = _ANSWER_OPENING.match(text) or (
            _CODE_OPENING.match(text) if c.child.method != "erroneous_code" else None)
        if opening and normalize(opening.group(0)) not in normalize(parent):
            return drop(f"instruction opens as an answer, not a task: {opening.group(0).strip()!r}")
        if c.child.method != "erroneous_code" and _FENCE.search(text):
            prose = _FENCE.sub(" ", text)
            explains = _EXPLANATION.search(prose)
            if explains and normalize(explains.group(0)) not in normalize(_FENCE.sub(" ", parent)):
                return drop(f"instruction gives code and explains it, an answer, not a task: "
                            f"{explains.group(0).strip()!r}")
        return True


# A verdict phrase and what it means; the first one in the answer wins ("Equal; nothing is different" is Equal).
_VERDICTS = (
    (r"not\s+different|no\s+different", "equal"),
    (r"not\s*equal|unequal|not\s+the\s+same|not\s+identical|different", "not_equal"),
    (r"equal|the\s+same|same|identical", "equal"),
)
_VERDICT = re.compile(r"\b(?:" + "|".join(f"(?P<v{i}>{p})" for i, (p, _) in enumerate(_VERDICTS)) + r")\b")


def parse_judgement(text: str) -> str:
    """'equal', 'not_equal' or 'unparsed' from a judge's free-text answer: the first verdict phrase decides;
    with none, a leading Yes (equal) or No (not equal) answers the judge's question; else unparsed."""
    t = " ".join(re.sub(r"[^a-z\s]", " ", text.lower()).split())
    m = _VERDICT.search(t)
    if m:
        return _VERDICTS[int(m.lastgroup[1:])][1]
    first = t.split(" ", 1)[0]
    return {"yes": "equal", "no": "not_equal"}.get(first, "unparsed")


class NoGain(Rule):
    """The LLM judge says the evolved instruction equals its parent: no information gain (WizardLM's check)."""

    name = "no_gain"
    stage = "judge"

    def check(self, c: Candidate) -> Verdict:
        if c.judge is not None and parse_judgement(c.judge.text) == "equal":
            return drop("judge answered Equal: the evolved instruction adds nothing to its parent")
        return True


class Refusal(Rule):
    """The response says "sorry" and is short: the evolved instruction was too hard to answer."""

    name = "refusal"
    stage = "response"

    def __init__(self, max_words: int = 80):
        self.max_words = max_words

    def check(self, c: Candidate) -> Verdict:
        text = c.response.text if c.response is not None else ""
        words = len(text.split())
        if "sorry" in text.lower() and words < self.max_words:
            return drop(f"response contains 'sorry' and has {words} words (< {self.max_words})")
        return True


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """The English stop-word list of the `stop-words` package, lower-cased."""
    return frozenset(w.lower() for w in get_stop_words("english"))


_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


class StopwordsOnly(Rule):
    """The response is nothing but punctuation and stop words."""

    name = "stopwords_only"
    stage = "response"

    def check(self, c: Candidate) -> Verdict:
        text = c.response.text if c.response is not None else ""
        if not text.strip():
            return True  # `empty` owns that case
        if all(w.lower() in stop_words() for w in _WORD.findall(text)):
            return drop("response has only punctuation and stop words")
        return True


class RuleSet:
    """Runs the rules of one stage in order; the first drop wins."""

    def __init__(self, rules: list[Rule]):
        self.rules = rules

    def first_drop(self, stage: str, c: Candidate) -> tuple[str, str, dict] | None:
        """(rule name, reason, details) of the first rule of `stage` that drops the candidate, or None."""
        for rule in self.rules:
            if rule.stage != stage:
                continue
            verdict = rule.check(c)
            if verdict is not True:
                _, reason, details = verdict
                return rule.name, reason, details
        return None


def build_rules(filters, markers: tuple[str, ...] = (), template_texts: tuple[str, ...] = (),
                method_texts: dict[str, str] | None = None) -> RuleSet:
    """The enabled rules in chain order. `markers`: the evolving prompt's markers and leak phrases;
    `template_texts`: the evolving template of the mode actually sent; `method_texts`: heuristic -> its text."""
    rules: list[Rule] = [Empty("evolve"), Truncated("evolve")]
    if filters.no_gain:
        rules.append(IdenticalToParent(markers))
    if filters.prompt_leak:
        rules.append(PromptLeak(markers, template_texts, method_texts))
    if filters.answered:
        rules.append(Answered())
    rules += small_evolver_rules(filters, "evolve")
    if filters.no_gain:
        rules.append(NoGain())
    rules += [Empty("response"), Truncated("response")]
    if filters.refusal:
        rules.append(Refusal(filters.refusal_max_words))
    if filters.stopwords_only:
        rules.append(StopwordsOnly())
    rules += small_evolver_rules(filters, "response")
    return RuleSet(rules)


def small_evolver_rules(filters, stage: str) -> list[Rule]:
    """The rules for what a small evolver gets wrong (small_evolver.py) that are on, of one stage."""
    on = [s.Commentary() if filters.commentary else None,
          s.DanglingReference() if filters.dangling_reference else None,
          s.MethodNotApplied() if filters.method_not_applied else None,
          s.Easier(filters.easier_min_ratio) if filters.easier else None,
          s.LanguageLost() if filters.language_lost else None]
    return [r for r in on if r is not None and r.stage == stage]
