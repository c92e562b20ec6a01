"""Reproducibility, the response cache, resume after SIGKILL, and the run-folder guard."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, SEED, evolve, rows, write_config

DATA_FILES = ("round_{k}.jsonl", "eliminated_{k}.jsonl", "failed_{k}.jsonl", "pool_{k}.jsonl")


def data_files(run: Path, rounds: int) -> dict[str, bytes]:
    out = {"round_0.jsonl": (run / "round_0.jsonl").read_bytes()}
    for k in range(1, rounds + 1):
        for pattern in DATA_FILES:
            name = pattern.format(k=k)
            out[name] = (run / name).read_bytes()
    return out


def mixed_faults(server, failures: bool = True):
    """Deterministic eliminations (and failures) so the files have something in every category."""
    server.fault("equal", role="judge", match="SQL query", times=None)
    server.fault("refusal", role="respond", match="Bash one-liner", times=None)
    if failures:
        server.fault("500", role="evolve", match="regular expression", times=None)


def test_same_seed_gives_identical_files_and_another_seed_differs(tmp_path, server):
    mixed_faults(server)
    assert evolve(tmp_path, server, "--rounds", "3", out="a", config={"concurrency": 16}).exit_code == 0
    assert evolve(tmp_path, server, "--rounds", "3", out="b", config={"concurrency": 3}).exit_code == 0
    a, b = data_files(tmp_path / "a", 3), data_files(tmp_path / "b", 3)
    assert a == b
    assert evolve(tmp_path, server, "--rounds", "1", "--seed-rng", "7", out="c").exit_code == 0
    methods = lambda run: [r["method"] for r in rows(run / "pool_1.jsonl")]  # noqa: E731
    assert methods(tmp_path / "a") != methods(tmp_path / "c")


def test_rerun_makes_zero_calls_and_extending_rounds_reuses_the_rest(tmp_path, server):
    assert evolve(tmp_path, server, "--rounds", "2").exit_code == 0
    first = server.count()
    before = data_files(tmp_path / "run", 2)
    result = evolve(tmp_path, server, "--rounds", "2")
    assert result.exit_code == 0
    assert server.count() == first
    assert "new calls: 0" in result.output
    assert data_files(tmp_path / "run", 2) == before
    # delete the done-markers: the rounds run again, entirely from the cache
    for k in (1, 2):
        (tmp_path / "run" / f"round_{k}.done").unlink()
    assert evolve(tmp_path, server, "--rounds", "2").exit_code == 0
    assert server.count() == first
    assert data_files(tmp_path / "run", 2) == before
    assert evolve(tmp_path, server, "--rounds", "3").exit_code == 0
    assert server.count() == first + 60  # only round 3 is new


def test_changed_config_is_refused_in_an_existing_run_folder(tmp_path, server):
    assert evolve(tmp_path, server, "--rounds", "1").exit_code == 0
    result = evolve(tmp_path, server, "--rounds", "1", "--seed-rng", "5")
    assert result.exit_code == 1
    assert "holds a run made with a different config or seed" in result.stderr


def _cache_rows(run: Path) -> int:
    db = run / "cache.sqlite"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as con:
            return con.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


@pytest.mark.slow
def test_sigkill_mid_round_then_resume_gives_identical_files(tmp_path, server):
    """The server answers the killed run's first 70 calls (of 120) and holds every later one unanswered,
    so the run stands still mid-run; once its cache holds all 70 answers, it is killed. The moment is
    the test's choice, not a race with a polling loop."""
    mixed_faults(server, failures=False)  # failed calls are not cached, which would blur the call count
    cfg = write_config(tmp_path / "cfg.yaml", server, concurrency=4, endpoint={"timeout": 300})
    cmd = [sys.executable, "-m", "wizevol", "evolve", "--seed", str(SEED), "--rounds", "2", "--config", str(cfg)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    subprocess.run([*cmd, "--out", str(tmp_path / "ref")], check=True, env=env, capture_output=True)
    reference_calls = server.count()
    server.calls.clear()

    run = tmp_path / "killed"
    hold = server.fault("hang", skip=70, times=None, arg=600)
    server.faults.insert(0, server.faults.pop())  # before the scripted eliminations, so it counts every call
    proc = subprocess.Popen([*cmd, "--out", str(run)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (server.count() > 70 and _cache_rows(run) == 70):
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _cache_rows(run) == 70 and not (run / "round_2.done").exists()
    held = [c for c in server.calls if c.action == "hang"]
    assert 1 <= len(held) <= 4 and server.count() == 70 + len(held)  # at most `concurrency` calls in flight

    hold.released = True
    server.calls.clear()
    subprocess.run([*cmd, "--out", str(run)], check=True, env=env, capture_output=True)
    assert data_files(run, 2) == data_files(tmp_path / "ref", 2)
    assert server.count() == reference_calls - 70  # only what was not cached is paid again, and nothing twice


def test_a_run_stamped_before_retries_left_the_fingerprint_resumes_and_is_restamped(tmp_path, server):
    """Earlier versions hashed the retry settings into the fingerprint; a folder they stamped is the same run."""
    from wizevol.config_file import load_config
    from wizevol.evolve.run import _prepare

    assert evolve(tmp_path, server, "--rounds", "1").exit_code == 0
    run = tmp_path / "run"
    cfg = load_config(write_config(tmp_path / "cfg.yaml", server), {"rounds": 2})
    _, _, new, old = _prepare(str(SEED), cfg)
    assert old != new and (run / "fingerprint").read_text().strip() == new
    (run / "fingerprint").write_text(old + "\n")
    result = evolve(tmp_path, server, "--rounds", "2")
    assert result.exit_code == 0, result.output
    assert (run / "fingerprint").read_text().strip() == new and (run / "round_2.done").exists()
    (run / "fingerprint").write_text("0123456789abcdef\n")  # another run's stamp is still refused
    result = evolve(tmp_path, server, "--rounds", "3")
    assert result.exit_code != 0 and "holds a run made with a different config or seed" in result.output


def test_a_second_process_in_the_same_run_folder_is_refused_in_one_line(tmp_path, server):
    """Two processes in one folder would corrupt each other's spool: the folder is locked (fcntl) for the run's
    life. Here the lock is held as another process would hold it; the run is refused before any call."""
    from wizevol.run_folder import RunFolder

    assert evolve(tmp_path, server, "--rounds", "1").exit_code == 0
    calls = len(server.calls)
    with RunFolder(tmp_path / "run").lock("evolve"):
        result = evolve(tmp_path, server, "--rounds", "2")
        assert result.exit_code == 1
        assert result.stderr.strip() == (f"Error: {tmp_path / 'run'} is in use by wizevol evolve (pid {os.getpid()}); "
                                         "wait for it to end, or stop it")
    assert len(server.calls) == calls and not (tmp_path / "run" / "round_2.done").exists()
    assert evolve(tmp_path, server, "--rounds", "2").exit_code == 0  # released: the rerun goes on
