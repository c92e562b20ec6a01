"""Hostile code stays contained: infinite loop, fork bomb, huge allocation, writes outside the temp dir,
a socket. And ordinary code runs."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from wizevol.filters.sandbox import Limits, run_python

FAST = Limits(cpu_s=2, wall_s=5, memory_mb=256)


def test_ordinary_code_passes():
    r = run_python("print(sum(range(10)))", FAST)
    assert (r.status, r.stdout.strip()) == ("pass", "45")


def test_infinite_loop_times_out():
    t = time.monotonic()
    r = run_python("while True:\n    pass", FAST)
    assert r.status == "timeout"
    assert time.monotonic() - t < 8


def test_sleeping_forever_hits_the_wall_timeout():
    r = run_python("import time\ntime.sleep(60)", Limits(cpu_s=2, wall_s=1.5))
    assert r.status == "timeout"


def test_fork_bomb_is_blocked_and_nothing_survives(tmp_path):
    marker = "wizevol-forkbomb-marker"
    r = run_python(f"# {marker}\nimport os\nwhile True:\n    os.fork()", FAST)
    assert r.status == "fail" and "sandbox: os.fork is not allowed" in r.stderr
    r = run_python("import subprocess\nsubprocess.run(['sleep', '30'])", FAST)
    assert r.status == "fail" and "subprocess.Popen is not allowed" in r.stderr
    leftovers = [p for p in Path("/proc").glob("[0-9]*/cmdline") if p.exists() and b"-I\x00_sandbox.py" in p.read_bytes()]
    assert leftovers == []


def test_huge_allocation_fails_without_taking_the_machine():
    r = run_python("x = bytearray(8 * 1024**3)\nprint('allocated')", FAST)
    assert r.status == "fail" and "MemoryError" in r.stderr and "allocated" not in r.stdout


def test_writing_outside_the_temp_dir_is_blocked(tmp_path):
    target = tmp_path / "escaped.txt"
    r = run_python(f"open({str(target)!r}, 'w').write('x')", FAST)
    assert r.status == "fail" and "is not allowed" in r.stderr
    assert not target.exists()
    r = run_python("open('inside.txt', 'w').write('ok')\nprint(open('inside.txt').read())", FAST)
    assert (r.status, r.stdout.strip()) == ("pass", "ok")


def test_no_network():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(3)
    port = server.getsockname()[1]
    accepted = []
    t = threading.Thread(target=lambda: accepted.append(_accept(server)))
    t.start()
    r = run_python(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'hi')", FAST)
    t.join()
    server.close()
    assert r.status == "fail" and "sandbox: socket" in r.stderr
    assert accepted == [None]


def _accept(server):
    try:
        conn, _ = server.accept()
        conn.close()
        return "connected"
    except OSError:
        return None


def test_environment_is_stripped(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leak")
    r = run_python("import os\nprint(sorted(os.environ))", FAST)
    assert r.status == "pass" and "OPENAI_API_KEY" not in r.stdout


def test_the_launcher_applies_its_rlimits_and_refuses_a_parent_already_gone():
    """sandbox_launch.apply in a forked child (it changes the process it runs in): the plan's rlimit holds after
    it, and a `die_with` pid that is not the parent any more ends the child with FAILED before anything runs."""
    import os
    import resource

    from wizevol.filters import sandbox_launch

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            sandbox_launch.apply({"rlimits": [[resource.RLIMIT_NOFILE, 37]]})
            os.write(write, str(resource.getrlimit(resource.RLIMIT_NOFILE)).encode())
            sandbox_launch.apply({"die_with": os.getppid() + 1})
        finally:
            os._exit(3)
    os.close(write)
    said = os.read(read, 100).decode()
    os.close(read)
    _, status = os.waitpid(pid, 0)
    assert said == "(37, 37)"
    assert os.waitstatus_to_exitcode(status) == sandbox_launch.FAILED
