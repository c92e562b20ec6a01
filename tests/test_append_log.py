"""The one append-only JSONL log (eval's completions and samples, the batch jobs, layer 4's results), against a
process SIGKILLed in the middle of writing a row."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

from wizevol.run_folder import AppendLog

WRITER = r'''
import os, sys
sys.path.insert(0, sys.argv[2])
from wizevol.run_folder import AppendLog
log = AppendLog(sys.argv[1])
for i in range(3):
    log.append({"i": i, "text": "x" * 100})
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
os.write(fd, b'{"i": 3, "text": "xxxx')  # the fourth row, half written, when the kill comes
print("torn", flush=True)
sys.stdin.read()
'''


def test_a_row_torn_by_a_kill_is_cut_and_the_log_goes_on(tmp_path):
    path = tmp_path / "log.jsonl"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), root], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "torn\n"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not path.read_bytes().endswith(b"\n")  # what the kill left
    log = AppendLog(path)
    assert [r["i"] for r in log.rows()] == [0, 1, 2]  # the torn row is dropped (and redone by its writer)
    assert path.read_bytes().endswith(b"}\n")  # and cut off, so that the next row starts a line of its own
    log.append({"i": 3})
    assert [r["i"] for r in log.rows()] == [0, 1, 2, 3]
    assert all(json.loads(line) for line in path.read_text().splitlines())


def test_a_missing_log_is_empty_and_threads_append_whole_lines(tmp_path):
    log = AppendLog(tmp_path / "new.jsonl")
    assert log.rows() == []
    threads = [threading.Thread(target=lambda n=n: [log.append({"t": n, "k": k, "pad": "y" * 5000})
                                                    for k in range(50)]) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = log.rows()
    assert len(rows) == 200 and sorted((r["t"], r["k"]) for r in rows) == [(n, k) for n in range(4) for k in range(50)]
