"""The embedded llama.cpp server is started through the sandbox's launcher (`die_with`), not with `preexec_fn` (Python run in a
child forked after MiniLM's torch threads exist can deadlock): the kernel still stops it when wizevol dies, even
by SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from wizevol.llm import local_server
from wizevol.llm.local_server import LocalServer, dying_with_us


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_a_child_started_through_the_launcher_dies_with_its_parent():
    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys, time\n"
         "from wizevol.llm.local_server import dying_with_us\n"
         "child = subprocess.Popen(dying_with_us(['/bin/sleep', '60']), start_new_session=True)\n"
         "time.sleep(0.5)\nprint(child.pid, flush=True)\ntime.sleep(60)\n"], stdout=subprocess.PIPE, text=True)
    pid = int(parent.stdout.readline())
    assert _alive(pid) and Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"/bin/sleep\x0060")  # exec'd
    parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    deadline = time.time() + 10
    while _alive(pid) and time.time() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)


def test_the_server_starts_with_no_python_between_fork_and_exec(tmp_path, monkeypatch):
    seen = {}

    class Started(Exception):
        pass

    def popen(argv, **kwargs):
        seen.update(argv=argv, kwargs=kwargs)
        raise Started

    monkeypatch.setattr(local_server, "model_path", lambda model, cache: tmp_path / "model.gguf")
    monkeypatch.setattr(local_server.subprocess, "Popen", popen)
    server = LocalServer("qwen2.5-coder-0.5b", cache_dir=tmp_path, log_path=tmp_path / "log")
    try:
        server.start()
    except Started:
        pass
    assert "preexec_fn" not in seen["kwargs"]
    assert seen["argv"] == dying_with_us(server.command(tmp_path / "model.gguf"))
    assert json.loads(seen["argv"][4])["die_with"] == os.getpid()  # the parent it watches: this process
