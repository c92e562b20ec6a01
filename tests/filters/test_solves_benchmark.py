"""Layer 4 of the contamination filter: a response that passes a benchmark problem's tests leaks it, whatever
language or names its instruction uses. Each rule on its own, adversarial functions, and the CLI end to end."""

from __future__ import annotations

import threading

import pytest
from conftest import rows
from test_filters import cli, make_run

from wizevol.filters.solves_benchmark import SolvesBenchmark, answer_functions
from wizevol.filters.solves_benchmark import tested_problems as humaneval_with_tests

ES_PRIMO = """```python
def es_primo(numero):
    if numero < 2:
        return False
    divisor = 2
    while divisor * divisor <= numero:
        if numero % divisor == 0:
            return False
        divisor += 1
    return True
```"""
COUNT_PRIMES = """```python
def is_prime(n):
    return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))


def count_primes(limit):
    return sum(1 for n in range(limit) if is_prime(n))


print(count_primes(10))
```"""
# passes HumanEval/23's three asserts (strlen of '', 'x' and 'asdasnakj') without being strlen
FITS_THE_ASSERTS = """```python
def looks_like_strlen(s):
    return 0 if not s else 1 if len(s) == 1 else 9
```"""


@pytest.fixture(scope="module")
def problems():
    chosen = {"HumanEval/23", "HumanEval/31", "HumanEval/53"}
    return [p for p in humaneval_with_tests() if p.task in chosen]


def test_answer_functions_skip_helpers_and_keep_demo_calls():
    from wizevol.filters.code_check import python_of

    assert answer_functions(python_of(COUNT_PRIMES)) == [("count_primes", 1, 1)]  # is_prime is a helper
    assert answer_functions("def f(a, b=1, *rest):\n    return a\n\nprint(f(1))\n") == [("f", 1, float("inf"))]
    assert answer_functions("def f(:\n") == []
    # helper() is called by a method: not an answer; the method is
    assert answer_functions("class A:\n    def go(self):\n        return helper()\n\ndef helper():\n    return 1\n") == [
        ("A.go", 0, 0)]


def test_a_spanish_prime_check_solves_humaneval_31(problems):
    from wizevol.filters.code_check import python_of

    layer = SolvesBenchmark(problems)
    assert layer.solved(python_of(ES_PRIMO)) == [("es_primo", "HumanEval/31", 1.0)]
    assert layer.solved(python_of(COUNT_PRIMES)) == []  # its helper is HumanEval/31, but the answer is not


def test_a_function_that_only_fits_the_asserts_disagrees_on_mutated_inputs(problems):
    from wizevol.filters.code_check import python_of

    layer = SolvesBenchmark(problems, min_agreement=0.75)
    (hit,) = layer.solved_any(python_of(FITS_THE_ASSERTS))
    assert hit[:2] == ("looks_like_strlen", "HumanEval/23") and hit[2] < 0.5  # the tests alone would call it strlen
    assert layer.solved(python_of(FITS_THE_ASSERTS)) == []


PALINDROMIC_SUBSTRINGS = """def count_palindromic_substrings(s):
    count = 0
    for center in range(2 * len(s) - 1):
        left, right = center // 2, center // 2 + center % 2
        while left >= 0 and right < len(s) and s[left] == s[right]:
            count += 1
            left -= 1
            right += 1
    return count
"""


def test_a_repeated_letter_tells_a_palindrome_counter_from_strlen(problems):
    """HumanEval/23's tests use strings without a repeated letter, where every palindromic substring is one letter
    long: a palindromic-substring counter passes them (the evaluation set's neg-000). Of the mutated inputs, the
    one that repeats the last letter twice gives it palindromes that strlen does not count."""
    layer = SolvesBenchmark(problems)
    (hit,) = layer.solved_any(PALINDROMIC_SUBSTRINGS)
    assert hit[:2] == ("count_palindromic_substrings", "HumanEval/23") and hit[2] < 0.7
    assert layer.solved(PALINDROMIC_SUBSTRINGS) == []


def test_loops_prints_and_crashes_cost_a_bounded_time_and_lose_nothing(problems):
    layer = SolvesBenchmark(problems, check_s=0.2)
    spin = "def spin(x):\n    while True:\n        pass\n"
    assert layer.solved(spin) == []
    # each check was cut by its own 0.2 s alarm, not by the response's process limit: time bounded per check
    assert (layer.checks_out_of_time, layer.timeouts, layer.unfinished) == (2, 0, 0)  # HumanEval/23 and /31
    loud = "print('x' * 100000)\n\ndef add(a, b):\n    print('y' * 10000)\n    return a + b\n"
    assert layer.solved(loud) == [("add", "HumanEval/53", 1.0)]  # its output does not push the result out
    crash = "def add(a, b):\n    return a + b\n\nraise SystemExit(3)\n"
    assert layer.solved(crash) == [("add", "HumanEval/53", 1.0)]  # what was defined before the exit counts


def test_cli_rejects_a_leak_in_another_language_by_default(tmp_path):
    records = [{"id": "leak", "instruction": "Escribe una función que diga si un número es primo.",
                "output": ES_PRIMO},
               {"id": "helper", "instruction": "Count the primes below a limit.", "output": COUNT_PRIMES},
               {"id": "fits", "instruction": "Classify short strings.", "output": FITS_THE_ASSERTS}]
    run = make_run(tmp_path, [records])
    (tmp_path / "off.yaml").write_text("filters: {contamination: {embedding: false, execution: false}}\n")
    result = cli("filter", run, "--only", "contamination", "--config", tmp_path / "off.yaml")
    assert result.exit_code == 0, result.output
    assert rows(run / "filters" / "contamination" / "rejected_0.jsonl") == []  # no text layer sees the Spanish one

    # the default, execution: auto, runs where the sandbox isolates code; allow_weak_sandbox runs it anywhere
    (tmp_path / "on.yaml").write_text("filters: {contamination: {embedding: false, allow_weak_sandbox: true}}\n")
    result = cli("filter", run, "--only", "contamination", "--config", tmp_path / "on.yaml")
    assert result.exit_code == 0, result.output
    assert "contamination: responses run against HumanEval's tests; sandbox layers: " in result.output
    (rej,) = rows(run / "filters" / "contamination" / "rejected_0.jsonl")
    assert rej["id"] == "leak"
    assert rej["reason"] == "execution: the response's es_primo() passes the tests of HumanEval/31"
    assert (rej["details"]["layer"], rej["details"]["task"], rej["details"]["agreement"]) == (
        "execution", "HumanEval/31", 1.0)
    stats = (run / "filters" / "contamination" / "stats.json")
    assert '"responses_run": 3' in stats.read_text()


def test_a_problem_whose_own_check_is_slow_gets_more_time(problems):
    slow = [p for p in humaneval_with_tests() if p.task in ("HumanEval/75", "HumanEval/53")]
    layer = SolvesBenchmark(slow, check_s=0.01)
    limits = dict(zip((p.task for p in slow), layer.seconds(), strict=True))
    assert limits["HumanEval/53"] < 0.1  # its check takes about a millisecond
    assert limits["HumanEval/75"] > 1.0  # its canonical check takes ~0.3 s: 20x that, measured in the sandbox
    canonical = next(p for p in humaneval_with_tests() if p.task == "HumanEval/75")
    code = "def is_multiply_prime(a):" + canonical.source.split("def is_multiply_prime(a):", 1)[1].split("\ndef check")[0]
    assert ("is_multiply_prime", "HumanEval/75") in [h[:2] for h in layer.solved_any(code)]


def test_auto_skips_the_layer_with_a_note_where_the_sandbox_does_not_isolate(tmp_path, monkeypatch):
    import wizevol.filters.sandbox as sandbox

    monkeypatch.setattr(sandbox, "isolated", lambda: False)  # a machine with only rlimits and the audit hook
    run = make_run(tmp_path, [[{"id": "leak", "instruction": "Dime si un número es primo.", "output": ES_PRIMO}]])
    (tmp_path / "auto.yaml").write_text("filters: {contamination: {embedding: false}}\n")
    result = cli("filter", run, "--only", "contamination", "--config", tmp_path / "auto.yaml")
    assert result.exit_code == 0, result.output
    assert "contamination: execution layer skipped: the sandbox here does not isolate code" in result.output
    assert rows(run / "filters" / "contamination" / "rejected_0.jsonl") == []
    (tmp_path / "true.yaml").write_text("filters: {contamination: {embedding: false, execution: true}}\n")
    result = cli("filter", run, "--only", "contamination", "--config", tmp_path / "true.yaml")
    assert result.exit_code == 2 and "allow_weak_sandbox: true to run it anyway" in result.output


def test_a_leetcode_style_method_is_an_answer_too(problems):
    solution = ("class Solution:\n"
                "    def isPrime(self, n):\n"
                "        return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))\n\n"
                "    def countPrimes(self, limit):\n"
                "        return sum(self.isPrime(n) for n in range(limit))\n\n"
                "    def _debug(self, x):\n"
                "        return x\n\n\n"
                "class NeedsArgs:\n"
                "    def __init__(self, size):\n"
                "        self.size = size\n\n"
                "    def add(self, a, b):\n"
                "        return a + b\n")
    assert answer_functions(solution) == [("Solution.countPrimes", 1, 1), ("NeedsArgs.add", 2, 2)]
    layer = SolvesBenchmark(problems)
    assert layer.solved(solution) == []  # isPrime is countPrimes' helper; NeedsArgs cannot be made without args
    lone = solution.replace("    def countPrimes(self, limit):\n        return sum(self.isPrime(n) for n in range(limit))\n\n", "")
    assert layer.solved(lone) == [("Solution.isPrime", "HumanEval/31", 1.0)]


def test_a_completion_without_a_fence_is_run_too():
    from wizevol.filters.solves_benchmark import response_python

    bare = "def add(x, y):\n    return x + y\n"
    assert response_python(bare) == bare
    assert response_python("The answer is to add x and y.") == ""  # prose: nothing to run
    assert response_python("Use this:\n```python\ndef f(a):\n    return a\n```\nand not: def g(): pass") == (
        "def f(a):\n    return a\n")


def test_the_layer_shows_its_own_progress_before_the_checks(tmp_path):
    from wizevol.filters import run_filters

    records = [{"id": f"r{i}", "instruction": f"Task {i}.", "output": ES_PRIMO if i % 2 else "No code here."}
               for i in range(6)]
    run = make_run(tmp_path, [records])
    (tmp_path / "c.yaml").write_text("filters: {contamination: {embedding: false, allow_weak_sandbox: true}}\n")
    events = []
    run_filters(run, "contamination", tmp_path / "c.yaml", lambda event, **data: events.append((event, data)))
    phases = [(i, data["name"], data["total"]) for i, (event, data) in enumerate(events) if event == "phase"]
    assert [(name, total) for _, name, total in phases] == [
        ("contamination", 6), ("contamination: responses against HumanEval's tests", 3), ("contamination", 6)]
    between = [event for event, _ in events[phases[1][0] + 1:phases[2][0]]]
    assert between == ["step"] * 3  # one per response with code, as each finishes
    assert [event for event, _ in events[phases[2][0] + 1:]] == ["step"] * 6


def test_a_function_that_loops_on_other_problems_inputs_gets_less_time_after_three():
    """It still passes its own problem: the shorter limit is a fifth of each problem's, at least 0.05 s."""
    spin_add = ("def spin_add(x, y):\n    if type(x) is not int or type(y) is not int:\n        while True:\n"
                "            pass\n    return x + y\n")
    layer = SolvesBenchmark(humaneval_with_tests(), check_s=0.2)
    assert layer.solved(spin_add) == [("spin_add", "HumanEval/53", 1.0)]
    two_args = sum(p.arity == 2 for p in layer.problems)
    assert layer.checks_out_of_time >= 3
    # HumanEval's first three 2-argument problems take strings or lists: every later check is shortened
    assert layer.checks_shortened == two_args - 3


def test_a_batch_gives_each_response_what_it_gets_in_a_process_of_its_own(problems):
    """Responses run several to a sandboxed process, each in a child forked from it: the same results and counts as one
    process per response, whatever a response does to its own process (exit, abort, print, crash)."""
    from wizevol.filters.code_check import python_of

    codes = {"primo": python_of(ES_PRIMO), "helper": python_of(COUNT_PRIMES), "fits": python_of(FITS_THE_ASSERTS),
             "exit": "import os\nos._exit(3)\n\ndef add(a, b):\n    return a + b\n",
             "abort": "def add(a, b):\n    return a + b\n\nimport os\nos.abort()\n",
             "loud": "print('x' * 100000)\n\ndef add(a, b):\n    print('y' * 10000)\n    return a + b\n",
             "crash": "def add(a, b):\n    return a + b\n\nraise SystemExit(3)\n",
             "none": "x = 1\n"}
    batched, alone = SolvesBenchmark(problems, batch=16), SolvesBenchmark(problems, batch=1)
    got = batched.run(codes.items(), any_agreement=True)
    assert got == alone.run(codes.items(), any_agreement=True)
    assert {rid: [h[:2] for h in hits] for rid, hits in got.items()} == {
        "primo": [("es_primo", "HumanEval/31")], "fits": [("looks_like_strlen", "HumanEval/23")],
        "loud": [("add", "HumanEval/53")], "crash": [("add", "HumanEval/53")]}  # os.abort() ends it before the checks
    assert (batched.ran, batched.timeouts) == (alone.ran, alone.timeouts) == (7, 0)  # "none" has nothing to try
    assert batched.rerun_alone == 0  # every result came back from the batches, none from the fallback


def test_a_response_in_a_batch_cannot_change_what_the_next_one_sees(problems):
    """HumanEval/53's check draws random pairs: a response that breaks `random` for its process breaks it for no
    other response, since each is a fresh fork of the prepared process."""
    saboteur = "import random\nrandom.randint = lambda a, b: None\n\ndef same(a, b):\n    return a\n"
    solver = "def add(a, b):\n    return a + b\n"
    layer = SolvesBenchmark(problems, batch=16)
    assert layer.run([("saboteur", saboteur), ("solver", solver)]) == {"solver": [("add", "HumanEval/53", 1.0)]}
    assert layer.rerun_alone == 0  # both ran in the one batch process


def test_a_response_in_a_batch_cannot_speak_for_another(problems):
    """Its output goes nowhere: a line that imitates the runner's, claiming that an earlier response solved a
    problem, does not reach wizevol (and the first line about a response would win anyway)."""
    from wizevol.filters.solves_runner import MARK

    json_line = '{"n": 0, "hits": [["noop", "HumanEval/31", 1.0]], "counts": {}, "timeout": false}'
    forger = f"import os, sys\nfor fd in (1, 2):\n    os.write(fd, b'\\n{MARK}{json_line}\\n')\n" \
             f"sys.__stdout__.write('\\n{MARK}{json_line}\\n')\n\ndef noop(x):\n    return x\n"
    layer = SolvesBenchmark(problems, batch=16)
    assert layer.run([("clean", "def noop(x):\n    return x\n"), ("forger", forger)], any_agreement=True) == {}
    assert layer.rerun_alone == 0


def test_the_audit_hook_holds_in_each_child_of_a_batch(problems):
    """The batch's own runner starts before the audit hook; each child installs it before the response runs."""
    gated = ("import socket\ntry:\n    socket.socket().close()\n    OPEN = True\nexcept Exception:\n    OPEN = False\n\n"
             + "def es_primo(n):\n    if not OPEN:\n        return None\n"
             + "    return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))\n")
    layer = SolvesBenchmark(problems, batch=16)
    assert layer.run([("gated", gated), ("other", "def noop(x):\n    return x\n")], any_agreement=True) == {}
    assert layer.rerun_alone == 0
    outside: dict = {}
    exec(gated, outside)  # with no hook the socket opens, and the function is a prime check
    assert outside["es_primo"](7) is True and outside["es_primo"](8) is False


def responses_run(monkeypatch) -> list[str]:
    """The responses layer 4 runs from now on (each batch's codes, as they go out), recorded."""
    from wizevol.filters import solves_benchmark

    ran: list[str] = []
    real_batch = solves_benchmark.SolvesBenchmark._batch

    def counting(self, codes):
        ran.extend(codes)
        return real_batch(self, codes)

    monkeypatch.setattr(solves_benchmark.SolvesBenchmark, "_batch", counting)
    return ran


def test_an_interrupted_filter_resumes_without_running_the_finished_responses_again(tmp_path, monkeypatch):
    """Each response's result is appended to filters/contamination/execution.jsonl as it comes; a re-run (the
    done-marker missing: the filter was stopped) takes them from there and runs only the rest."""
    import json

    from wizevol.filters import solves_benchmark

    records = [{"id": "leak", "instruction": "Escribe una función que diga si un número es primo.",
                "output": ES_PRIMO},
               {"id": "fits", "instruction": "Classify short strings.", "output": FITS_THE_ASSERTS}]
    records += [{"id": f"n{i}", "instruction": f"Add {i}.", "output": f"```python\ndef add_{i}(x):\n    return x + {i}\n```"}
                for i in range(8)]
    run = make_run(tmp_path, [records])
    cfg = tmp_path / "on.yaml"
    cfg.write_text("filters: {contamination: {embedding: false, allow_weak_sandbox: true}}\n")
    import concurrent.futures

    calls = []
    real_batch = solves_benchmark.SolvesBenchmark._batch
    stop_seen = threading.Event()  # set when the filter, having seen the stop, cancels the batches not started
    real_cancel = concurrent.futures.Future.cancel

    def cancel(future):
        stop_seen.set()
        return real_cancel(future)

    def batch_then_stop(self, codes):
        calls.append(codes)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the user stops the filter during the second batch
        if len(calls) > 2:  # one batch may start before the stop is seen; it ends after, and none starts after it
            assert stop_seen.wait(60)
        return real_batch(self, codes)

    monkeypatch.setattr(concurrent.futures.Future, "cancel", cancel)
    monkeypatch.setattr(solves_benchmark.SolvesBenchmark, "_batch", batch_then_stop)
    monkeypatch.setattr(solves_benchmark.os, "cpu_count", lambda: 1)  # one worker: 4 batches of 3, 3, 3, 1
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code != 0
    folder = run / "filters" / "contamination"
    assert not (folder / "stats.json").exists()
    done = [json.loads(line) for line in (folder / "execution.jsonl").read_text().splitlines()]
    assert len(done) == 3  # the first batch finished before the stop
    assert len(calls) <= 3  # the last batch never started

    ran = responses_run(monkeypatch)
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0, result.output
    assert len(ran) == 7  # only the seven that had not finished
    stats = json.loads((folder / "stats.json").read_text())
    assert (stats["execution"]["responses_reused"], stats["execution"]["responses_run"]) == (3, 7)
    assert [r["id"] for r in rows(folder / "rejected_0.jsonl")] == ["leak"]  # the same verdicts as in one go
    assert len((folder / "execution.jsonl").read_text().splitlines()) == 10


def test_a_response_that_kills_its_batch_process_loses_no_other_result(problems):
    """It empties the hook's deny list (the audit hook is not a sandbox) and kills the runner that forked it: the
    responses of that batch whose results had not come back run again, each in a process of its own."""
    # only a parent that is a batch's runner (its folder holds batch.json; the sandbox lets it read no /proc):
    # run alone, its parent is wizevol itself (here, pytest)
    killer = ("import gc, os, signal\nfor o in gc.get_objects():\n"
              "    if isinstance(o, set) and 'os.kill' in o:\n        o.clear()\n"
              "if os.path.exists('batch.json'):\n    os.kill(os.getppid(), signal.SIGKILL)\n\n"
              "def noop(x):\n    return x\n")
    solver = "def add(a, b):\n    return a + b\n"
    layer = SolvesBenchmark(problems, batch=16)
    found = layer.run([("killer", killer), ("solver", solver), ("primo", "def es_primo(n):\n    return n > 1 and "
                                                                "all(n % d for d in range(2, int(n ** 0.5) + 1))\n")])
    assert found == {"solver": [("add", "HumanEval/53", 1.0)], "primo": [("es_primo", "HumanEval/31", 1.0)]}
    assert layer.rerun_alone == 2  # the killer and the solver shared a process (3 responses, 2 workers: 2 + 1)


@pytest.mark.slow
def test_a_response_stopped_at_its_time_limit_is_not_taken_as_clean_and_runs_again(tmp_path, monkeypatch):
    """A function that swallows the per-check alarm keeps its response's process busy until the process's own
    limit (here cut to 2 s, a busy machine's view). That result is unfinished: counted, said, not written to
    execution.jsonl, and the filter is not done, so the next run checks that response again and only it."""
    import json

    from wizevol.filters import solves_benchmark

    stubborn = ("```python\ndef stubborn(x):\n    while True:\n        try:\n            sum(range(10 ** 6))\n"
                "        except BaseException:\n            pass\n```")
    records = [{"id": "stubborn", "instruction": "Spin.", "output": stubborn},
               {"id": "leak", "instruction": "Escribe una función que diga si un número es primo.", "output": ES_PRIMO},
               {"id": "add", "instruction": "Add one.", "output": "```python\ndef add_one(x):\n    return x + 1\n```"}]
    run = make_run(tmp_path, [records])
    cfg = tmp_path / "on.yaml"
    cfg.write_text("filters: {contamination: {embedding: false, allow_weak_sandbox: true}}\n")
    real_plan = solves_benchmark.SolvesBenchmark._plan

    def busy(self, code, only=None):  # only the stubborn response's limit is cut: the others' checks are not timed here
        plan = real_plan(self, code, only)
        return plan if plan is None or "def stubborn" not in code else (plan[0], min(plan[1], 2.0))

    monkeypatch.setattr(solves_benchmark.SolvesBenchmark, "_plan", busy)
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0, result.output
    assert ("1 responses did not finish their checks within the time limits: kept for now; `wizevol filter` again "
            "runs them again") in result.output
    folder = run / "filters" / "contamination"
    stats = json.loads((folder / "stats.json").read_text())
    assert stats["execution"]["unfinished"] == 1 and "incomplete" in stats["stamp"]
    assert [r["id"] for r in rows(folder / "rejected_0.jsonl")] == ["leak"]
    logged = [json.loads(line) for line in (folder / "execution.jsonl").read_text().splitlines()]
    assert sum("hits" in r for r in logged) == 2  # the finished ones are final; the stubborn one is a try
    assert [r["unfinished"] for r in logged if "unfinished" in r] == ["stopped"]

    ran = responses_run(monkeypatch)
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0 and "did not finish" in result.output
    assert len(ran) == 1 and "def stubborn" in ran[0]  # only the unfinished one ran again


SLOW_ADD = "def slow_add(a, b):\n    import time\n    time.sleep(1)\n    return a + b\n"


def test_a_check_out_of_its_time_is_unfinished_until_its_third_run(tmp_path, problems):
    """HumanEval/53's check (0.25 s) runs out of time on a slow solver: the response is not cached as clean but
    counted unfinished and run again, up to three runs; the third takes it as it is (given_up), so a filter can
    finish (a function that loops on some input would otherwise keep it unfinished for good)."""
    import json

    counts, add = [], [p for p in problems if p.task == "HumanEval/53"]
    for _ in range(3):
        layer = SolvesBenchmark(add, check_s=0.25)
        layer.cache_path = tmp_path / "execution.jsonl"
        assert layer.run([("slow", SLOW_ADD)]) == {}
        counts.append((layer.checks_out_of_time > 0, layer.unfinished, layer.given_up, layer.reused))
    assert counts == [(True, 1, 0, 0), (True, 1, 0, 0), (True, 0, 1, 0)]
    logged = [json.loads(line) for line in (tmp_path / "execution.jsonl").read_text().splitlines()]
    assert [("unfinished" in r, r.get("unfinished")) for r in logged] == [(True, "out_of_time")] * 2 + [(False, None)]
    layer = SolvesBenchmark(add, check_s=0.25)
    layer.cache_path = tmp_path / "execution.jsonl"
    layer.run([("slow", SLOW_ADD)])
    assert (layer.reused, layer.ran) == (1, 0)  # final now: reused, not run a fourth time


def test_a_response_that_ends_its_process_before_reporting_is_rejected_not_clean(tmp_path):
    """`os._exit(0)` at the top level ends the checking process before any check reports, where `sys.exit(0)`
    is caught: its record was cached with no hits and passed as clean."""
    hide = "```python\nimport os\n\ndef add(a, b):\n    return a + b\n\nos._exit(0)\n```"
    caught = "```python\nimport sys\n\ndef add(a, b):\n    return a + b\n\nsys.exit(0)\n```"
    records = [{"id": "hide", "instruction": "Add two numbers.", "output": hide},
               {"id": "caught", "instruction": "Add two numbers.", "output": caught},
               {"id": "clean", "instruction": "Say hi.", "output": "```python\nprint('hi')\n```"}]
    run = make_run(tmp_path, [records])
    cfg = tmp_path / "on.yaml"
    cfg.write_text("filters: {contamination: {embedding: false, allow_weak_sandbox: true}}\n")
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0, result.output
    rejected = {r["id"]: r["reason"] for r in rows(run / "filters" / "contamination" / "rejected_0.jsonl")}
    assert rejected == {"hide": "execution: the response's code ended its process before its checks reported",
                        "caught": "execution: the response's add() passes the tests of HumanEval/53"}
