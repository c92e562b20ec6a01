"""The program layer 4 runs in the sandbox is a module of its own: its pieces are tested here in-process, and
the program is its source with one call appended."""

from __future__ import annotations

import json
import subprocess
import sys

from wizevol.filters import solves_runner as runner


def test_mutants_are_near_the_input_and_of_its_type():
    assert runner._mutants(True) == []  # a flag has no neighbour worth asking
    assert runner._mutants(4) == [5, 11, 3]
    assert runner._mutants("ab") == ["ba", "abab", "b", "AB", "aababa", "abbb"]
    assert runner._mutants([2, 1]) == [[1, 2], [1], [2, 1, 2], [2, 2, 1], [2, 1]]
    assert runner._mutants(None) == []


def test_same_compares_values_as_the_canonical_solution_answers():
    assert runner._same(0.1 + 0.2, 0.3) and not runner._same(1, 1.5)
    assert runner._same([1, (2, 3)], [1, (2, 3)]) and not runner._same([1, 2], (1, 2))
    assert not runner._same(True, 1) and not runner._same([1], [1, 2])


def test_a_guarded_call_stops_at_its_time_and_swallows_what_it_raises():
    import signal

    old = signal.signal(signal.SIGALRM, runner._alarm)
    try:
        assert runner._guarded(0.1, lambda: None) is True and runner._timed_out is False
        assert runner._guarded(0.1, lambda: 1 / 0) is False and runner._timed_out is False

        def spin():
            while True:
                pass

        assert runner._guarded(0.1, spin) is False and runner._timed_out is True
    finally:
        signal.signal(signal.SIGALRM, old)


def test_the_program_is_the_module_with_one_call_and_runs_on_its_own():
    problems = [{"task": "t/0", "entry": "f", "source": "def f(x):\n    return x\n\ndef check(c):\n    assert c(2) == 2\n"},
                {"task": "t/1", "entry": "g", "source": "def check(c):\n    raise ValueError\n"}]
    code = runner.program(f"timing(json.loads({json.dumps(problems)!r}))")
    assert code.startswith(open(runner.__file__, encoding="utf-8").read())
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True).stdout
    took = json.loads(out.strip().splitlines()[-1][len(runner.MARK):])
    assert took[0] >= 0 and took[1] is None  # a check that fails has no time
