"""Prompts for a code model and the function taken back out of its answer.

Three prompt styles: `wizardcoder`, WizardCoder's evaluation prompt (the Alpaca template with "Create a Python
script for this problem:"), for models tuned by wizevol; `raw`, the HumanEval prompt itself, which a base model
continues (completion mode only: its stop sequences would cut a chat answer after its first line);
`instruct`, EvalPlus's instruction for chat models ("Please provide a self-contained Python script ..."), the
prompt behind the instruct models' published HumanEval scores. Post-processing follows the WizardCoder and EvalPlus harnesses: the code of a fenced block (the one
that defines the entry point, else the first), cut before a `__main__` block or example usage; a raw
continuation is cut at the first line that starts a new top-level statement.
"""

from __future__ import annotations

import re

from wizevol.eval.benchmark import Problem
from wizevol.train.formats import ALPACA_PROMPT

STYLES = ("wizardcoder", "raw", "instruct")
INSTRUCT_PREFIX = ("Please provide a self-contained Python script that solves the following problem in a markdown "
                   "code block:")
# the Codex paper's stop sequences for a continuation of a HumanEval prompt
RAW_STOPS = ("\nclass ", "\ndef ", "\n#", "\nif __name__", "\nprint(", "\nassert ")
LANGUAGE_LINE = re.compile(r"\A[ \t]*(?:python3?|py)[ \t]*\n", re.I)
TAIL = re.compile(r"^(?:if __name__ == [\"']__main__[\"']|# Example usage|# Test)", re.M)
FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.S | re.I)
CLOSED_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)```", re.S | re.I)


def build_prompt(problem: Problem, style: str) -> str:
    """The text the model sees for a problem."""
    if style == "raw":
        return problem.prompt
    if style == "instruct":
        return f"{INSTRUCT_PREFIX}\n```\n{problem.prompt.strip()}\n```\n"
    return ALPACA_PROMPT.format(instruction=f"Create a Python script for this problem:\n{problem.prompt}")


def settled(completion: str, problem: Problem) -> bool:
    """Whether more text can no longer change what `extract` returns: the answer holds a closed fenced block
    that defines the entry point, and `extract` takes the first such block. A generator may stop here (the
    prose a chat model writes after its code costs tokens and changes nothing)."""
    head = re.compile(rf"^\s*def\s+{re.escape(problem.entry_point)}\s*\(", re.M)
    return any(head.search(b) for b in CLOSED_FENCE.findall(completion.replace("\r", "")))


def extract(completion: str, problem: Problem, style: str) -> str:
    """The code to run after the problem's prompt (a later `def` of the entry point replaces the prompt's)."""
    text = completion.replace("\r", "")
    # a bare fence with the language on the next line ("```\npython\n...", as Qwen2.5-Coder 0.5B writes after a
    # bare fence in the prompt) is a python block: the lone name would otherwise run as a NameError
    blocks = [LANGUAGE_LINE.sub("", b, count=1) for b in FENCE.findall(text)]
    if blocks:
        defining = [b for b in blocks if re.search(rf"^\s*def\s+{re.escape(problem.entry_point)}\s*\(", b, re.M)]
        code = (defining or blocks)[0]
    elif style == "raw":
        code = text
        cut = min((i for i in (code.find(s) for s in RAW_STOPS) if i >= 0), default=len(code))
        return code[:cut].rstrip() + "\n"
    else:
        code = text
    tail = TAIL.search(code)  # at the top level only: an indented "# Test ..." comment is the function's own
    if tail and tail.start() > 0:
        code = code[:tail.start()]
    return "\n" + code.strip("\n") + "\n"
