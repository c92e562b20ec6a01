"""A session's many calls when one of them stops the run (a refused key, an endpoint found down): the others are
cancelled and awaited before the one-line error, so none goes on running (or being paid for) after the run
stopped, and none is left for the closing loop to destroy ("Task exception was never retrieved", "Event loop
is closed" after `Error: ...`)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys

import pytest
from conftest import evolve, write_config

from wizevol.config_file import load_config
from wizevol.errors import FatalAPIError
from wizevol.llm.session import blocking, complete_all, open_session
from wizevol.prompts import PromptSet
from wizevol.run_folder import RunFolder


def test_a_call_that_stops_the_run_ends_the_calls_in_flight(tmp_path, server):
    server.fault("401", match="task number 3", times=1)
    held = server.fault("hang", arg=30, times=None)  # every other call is still waiting for its answer
    cfg = load_config(write_config(tmp_path / "cfg.yaml", server, concurrency=8))
    prompts = PromptSet.load(cfg.prompts_dir)
    requests = [(f"r{i}", prompts.complexity_measure.request("chat", instruction=f"Sort a list: task number {i}."), 1)
                for i in range(8)]
    (tmp_path / "run").mkdir()
    with open_session(cfg, RunFolder(tmp_path / "run"), ("judge",)) as session, contextlib.ExitStack() as stack:
        role = session.cfg.role("judge", session.local_urls)
        run = blocking(session, stack)
        with pytest.raises(FatalAPIError, match="refused the judge call"):
            run(complete_all(session, role, requests))
        loop = run.__self__
        assert asyncio.all_tasks(loop) == set()  # the seven held calls were cancelled, not left running
        assert len(server.calls) == 8  # all eight were on the wire when the refusal came
    held.released = True


def test_compare_against_an_endpoint_that_refuses_mid_run_prints_one_line(tmp_path, server):
    for out, seed in (("a", "1"), ("b", "7")):
        assert evolve(tmp_path, server, "--rounds", "1", "--limit", "8", "--seed-rng", seed, out=out,
                      config={"concurrency": 8}).exit_code == 0
    server.fault("401", match="Rate how difficult", times=1, skip=2)
    held = server.fault("hang", match="Rate how difficult", arg=30, times=None)
    done = subprocess.run([sys.executable, "-m", "wizevol", "compare", tmp_path / "a", tmp_path / "b", "--out",
                           tmp_path / "cmp"], capture_output=True, text=True, timeout=120)
    held.released = True
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("Error: ") and "refused the judge call" in lines[-1]
    assert not any(w in done.stderr for w in ("Traceback", "never retrieved", "Event loop is closed", "destroyed")), \
        done.stderr
