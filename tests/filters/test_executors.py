"""Executors: an answer and its tests, in each language the machine can run, judged in the sandbox. A right answer
passes and a wrong one fails in every language; an answer that ends the program before its tests did fails; a
language whose tool is missing is unverified, never failed; hostile code in each language is contained: no
network, no file written or read outside its temp dir, a fork bomb ends and leaves nothing behind, runaway
memory is stopped."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest
from conftest import ROOT

from wizevol.filters import executors
from wizevol.filters.executors import LANGUAGES, missing, run_tests
from wizevol.filters.sandbox_reap import NOBODY, RUN_UIDS

ADD = {
    "python": ("def add(a, b):\n    return a + b", "assert add(2, 3) == 5\nassert add(-1, 1) == 0"),
    "javascript": ("function add(a, b) { return a + b; }",
                   "const assert = require('assert');\nassert.strictEqual(add(2, 3), 5);\nassert.strictEqual(add(-1, 1), 0);"),
    "bash": ("add() { echo $(( $1 + $2 )); }", '[ "$(add 2 3)" = "5" ] || exit 1\n[ "$(add -1 1)" = "0" ] || exit 1'),
    "c": ("int add(int a, int b) { return a + b; }",
          "#include <assert.h>\nint main(void) { assert(add(2, 3) == 5); assert(add(-1, 1) == 0); return 0; }"),
    "cpp": ("int add(int a, int b) { return a + b; }",
            "#include <cassert>\nint main(int argc, char** argv) { assert(add(2, 3) == 5); assert(add(-1, 1) == 0); }"),
    "rust": ("fn add(a: i32, b: i32) -> i32 { a + b }", "fn main() { assert_eq!(add(2, 3), 5); assert_eq!(add(-1, 1), 0); }"),
    "java": ("public class Solution { public static int add(int a, int b) { return a + b; } }",
             "public class Main { public static void main(String[] args) { assert Solution.add(2, 3) == 5; "
             "assert Solution.add(-1, 1) == 0; } }"),
}
WRONG = {"python": "a - b", "javascript": "a - b", "bash": "$1 - $2", "c": "a - b", "cpp": "a - b", "rust": "a - b",
         "java": "a - b"}
SQL_TESTS = ("CREATE TABLE customers(name TEXT, orders INT);\n"
             "INSERT INTO customers VALUES ('ann', 5), ('bob', 1), ('cy', 4);\n-- expected:\n-- ann\n-- cy")

needs = {lang: pytest.mark.skipif(missing(lang) is not None, reason=str(missing(lang))) for lang in LANGUAGES}


@pytest.mark.parametrize("lang", list(ADD), ids=list(ADD))
def test_a_right_answer_passes_and_a_wrong_one_fails(lang):
    if missing(lang):
        pytest.skip(missing(lang))
    answer, tests = ADD[lang]
    assert run_tests(lang, answer, tests).status == "pass"
    wrong = answer.replace("a + b", WRONG[lang]).replace("$1 + $2", WRONG[lang])
    assert wrong != answer
    failed = run_tests(lang, wrong, tests)
    assert failed.status == "fail" and failed.detail.startswith("the tests failed") or lang == "python", failed
    broken = "\nif then" if lang == "bash" else "\n}{ not code"  # bash runs past a command it cannot find
    assert run_tests(lang, answer + broken, tests).status == "fail"


@needs["sql"]
def test_a_sql_answer_is_judged_by_its_rows_in_any_order():
    assert run_tests("sql", "SELECT name FROM customers WHERE orders > 3", SQL_TESTS).status == "pass"
    assert run_tests("sql", "select name from customers where orders > 3 order by name desc;", SQL_TESTS).status == "pass"
    wrong = run_tests("sql", "SELECT name FROM customers WHERE orders > 0", SQL_TESTS)
    assert (wrong.status, wrong.detail) == ("fail", "3 rows, not the 2 expected")
    assert run_tests("sql", "SELECT nme FROM customers", SQL_TESTS).status == "fail"
    assert run_tests("sql", "SELECT 1", "CREATE TABLE t(a);").status == "skipped"  # no expected rows: no verdict


EARLY_EXIT = {
    "python": "import os\ndef add(a, b):\n    os._exit(0)",
    "javascript": "function add(a, b) { process.exit(0); }",
    "bash": "add() { exit 0; }",
    "c": "#include <stdlib.h>\nint add(int a, int b) { exit(0); }",
    "cpp": "#include <cstdlib>\nint add(int a, int b) { std::exit(0); }",
    "rust": "fn add(a: i32, b: i32) -> i32 { std::process::exit(0) }",
    "java": "public class Solution { public static int add(int a, int b) { System.exit(0); return 0; } }",
}


@pytest.mark.parametrize("lang", list(EARLY_EXIT), ids=list(EARLY_EXIT))
def test_an_answer_that_ends_the_program_before_its_tests_did_fails(lang):
    if missing(lang):
        pytest.skip(missing(lang))
    if lang == "bash":  # a function's `exit` in $(...) ends only the subshell: call it directly
        tests = "add 2 3 >/dev/null\n[ 1 = 2 ] || exit 1"
    else:
        tests = ADD[lang][1]
    ended = run_tests(lang, EARLY_EXIT[lang], tests)
    assert ended.status == "fail", ended


def test_a_language_without_its_tool_is_unverified_not_failed(monkeypatch):
    executors.tool.cache_clear()
    monkeypatch.setattr(executors.shutil, "which", lambda name, *a, **k: None)
    try:
        for lang in ("javascript", "c", "rust", "java", "sql", "bash"):
            out = run_tests(lang, "anything", "anything")
            assert out.status == "skipped" and "not installed" in out.detail, (lang, out)
        assert run_tests("haskell", "x", "y") == executors.Outcome("skipped", "no executor for haskell")
    finally:
        monkeypatch.undo()
        executors.tool.cache_clear()


# ---- hostile code: each program tries, and the tests pass only if it got through ----

def _listener() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    s.setblocking(False)
    return s


def _accepted(s: socket.socket) -> int:
    n = 0
    while True:
        try:
            s.accept()[0].close()
            n += 1
        except BlockingIOError:
            return n


NETWORK = {
    "python": "import socket\nsocket.create_connection(('127.0.0.1', {port}), 2).close()",
    "javascript": "require('net').connect({port}, '127.0.0.1').on('error', () => process.exit(3));",
    "bash": "exec 3<>/dev/tcp/127.0.0.1/{port} || exit 3",
    "c": ("#include <arpa/inet.h>\n#include <sys/socket.h>\n#include <assert.h>\nint main(void) {{ int s = socket(AF_INET, "
          "SOCK_STREAM, 0); struct sockaddr_in a = {{0}}; a.sin_family = AF_INET; a.sin_port = htons({port}); "
          "a.sin_addr.s_addr = htonl(0x7f000001); assert(connect(s, (struct sockaddr*)&a, sizeof a) == 0); }}"),
    "rust": "fn main() {{ std::net::TcpStream::connect(\"127.0.0.1:{port}\").unwrap(); }}",
    "java": ("public class Main {{ public static void main(String[] a) throws Exception {{ "
             "new java.net.Socket(\"127.0.0.1\", {port}).close(); }} }}"),
}


@pytest.mark.parametrize("lang", list(NETWORK), ids=list(NETWORK))
def test_hostile_code_reaches_no_network(lang):
    if missing(lang):
        pytest.skip(missing(lang))
    listener = _listener()
    port = listener.getsockname()[1]
    try:
        out = run_tests(lang, "", NETWORK[lang].format(port=port))
        time.sleep(0.2)
        assert _accepted(listener) == 0
        assert out.status != "pass", out
    finally:
        listener.close()


WRITE = {
    "python": "open({path!r}, 'w').write('x')",
    "javascript": "require('fs').writeFileSync({path!r}, 'x');",
    "bash": "echo x > {path} || exit 1",
    "c": "#include <stdio.h>\n#include <assert.h>\nint main(void) {{ FILE* f = fopen(\"{path}\", \"w\"); assert(f); fputs(\"x\", f); fclose(f); }}",
    "cpp": "#include <fstream>\n#include <cassert>\nint main() {{ std::ofstream f(\"{path}\"); assert(f.good()); f << \"x\"; }}",
    "rust": "fn main() {{ std::fs::write(\"{path}\", \"x\").unwrap(); }}",
    "java": ("public class Main {{ public static void main(String[] a) throws Exception {{ "
             "java.nio.file.Files.writeString(java.nio.file.Path.of(\"{path}\"), \"x\"); }} }}"),
}


@pytest.mark.parametrize("lang", list(WRITE), ids=list(WRITE))
def test_hostile_code_writes_no_file_outside_its_temp_dir(lang, tmp_path):
    if missing(lang):
        pytest.skip(missing(lang))
    os.chmod(tmp_path, 0o777)  # only the sandbox's own layers stand in the way, not this folder's mode
    path = tmp_path / "escaped.txt"
    out = run_tests(lang, "", WRITE[lang].format(path=path))
    assert not path.exists() and out.status != "pass", out


READ = {  # passes only if the checkout's pyproject.toml (world-readable, outside the sandbox) could be read
    "python": "assert '[project]' in open({path!r}).read()",
    "javascript": "if (!require('fs').readFileSync({path!r}, 'utf8').includes('[project]')) process.exit(1);",
    "bash": "grep -q '\\[project\\]' {path} || exit 1",
    "c": ("#include <stdio.h>\n#include <assert.h>\nint main(void) {{ FILE* f = fopen(\"{path}\", \"r\"); "
          "assert(f); char b[64]; assert(fgets(b, 64, f)); }}"),
    "rust": "fn main() {{ assert!(std::fs::read_to_string(\"{path}\").unwrap().contains(\"[project]\")); }}",
    "java": ("public class Main {{ public static void main(String[] a) throws Exception {{ if (!java.nio.file.Files."
             "readString(java.nio.file.Path.of(\"{path}\")).contains(\"[project]\")) System.exit(1); }} }}"),
}


@pytest.mark.parametrize("lang", list(READ), ids=list(READ))
def test_hostile_code_reads_nothing_outside_the_system_and_its_temp_dir(lang):
    from wizevol.filters.sandbox import layers

    if missing(lang):
        pytest.skip(missing(lang))
    if "landlock" not in layers():
        pytest.skip("no Landlock here: reads are not limited (the sandbox says so once)")
    out = run_tests(lang, "", READ[lang].format(path=ROOT / "pyproject.toml"))
    assert out.status != "pass", out


@needs["sql"]
def test_sqlite_runs_safe_no_shell_no_attach_no_read(tmp_path):
    os.chmod(tmp_path, 0o777)
    path = tmp_path / "attached.db"
    for answer in (f"ATTACH '{path}' AS x; CREATE TABLE x.t(a); SELECT 1", ".shell touch " + str(tmp_path / "sh"),
                   f".read {ROOT / 'pyproject.toml'}"):
        out = run_tests("sql", answer, "CREATE TABLE t(a);\n-- expected:\n-- 1")
        assert out.status == "fail", (answer, out)
    assert not path.exists() and not (tmp_path / "sh").exists()


FORK_BOMB = {
    "bash": "f() { f | f & }; f; sleep 2",
    "c": "#include <unistd.h>\nint main(void) { for (;;) { fork(); setsid(); } }",
    "python": "import os\nwhile True:\n    os.fork()",
    "javascript": "const cp = require('child_process'); for (;;) cp.spawn('/bin/sh', ['-c', 'sleep 30']);",
}


def _nobody_processes() -> set[str]:
    """Processes of `nobody` or of a run's own uid (sandbox_reap.RUN_UIDS)."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,uid=,stat=,comm="], capture_output=True, text=True).stdout
    return {line for line in out.splitlines() if line.split() and (int(line.split()[1]) == NOBODY or
            RUN_UIDS[0] <= int(line.split()[1]) < RUN_UIDS[1]) and not line.split()[2].startswith("Z")}


@pytest.mark.slow
@pytest.mark.parametrize("lang", list(FORK_BOMB), ids=list(FORK_BOMB))
def test_a_fork_bomb_ends_and_leaves_nothing_behind(lang):
    if missing(lang):
        pytest.skip(missing(lang))
    from wizevol.filters.sandbox import Limits

    before = _nobody_processes()
    t0 = time.monotonic()
    out = run_tests(lang, "", FORK_BOMB[lang], Limits(cpu_s=2, wall_s=4.0))
    assert out.status in ("fail", "timeout") and time.monotonic() - t0 < 30, out
    deadline = time.monotonic() + 10
    while _nobody_processes() - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _nobody_processes() - before == set()


MEMORY = {
    "c": ("#include <stdlib.h>\n#include <string.h>\n#include <assert.h>\nint main(void) { for (;;) { char* p = "
          "malloc(1 << 20); assert(p); memset(p, 1, 1 << 20); } }"),
    "rust": "fn main() { let mut v = Vec::new(); loop { v.push(vec![1u8; 1 << 20]); } }",
    "javascript": "const a = []; for (;;) a.push(new Array(1e6).fill(1));",
    "java": ("public class Main { public static void main(String[] a) { java.util.List<long[]> l = new "
             "java.util.ArrayList<>(); for (;;) l.add(new long[1 << 17]); } }"),
    "python": "blocks = []\nwhile True:\n    blocks.append(bytearray(1 << 20))",
}


@pytest.mark.parametrize("lang", list(MEMORY), ids=list(MEMORY))
def test_runaway_memory_is_stopped(lang):
    if missing(lang):
        pytest.skip(missing(lang))
    out = run_tests(lang, "", MEMORY[lang])
    assert out.status in ("fail", "timeout"), out


def test_python_pairs_in_one_prepared_process_judge_as_one_run_each_and_contain_hostile_code(tmp_path):
    """run_python_pairs (verified's Python: a forked child per answer-and-tests in one sandboxed process) says of
    each program what run_tests says running it alone: a pass, a failed assert with its line, an early exit, a
    timeout, and hostile programs (network, a write and a read outside the temp dir, runaway memory, a fork bomb)
    contained; the fork bomb's processes end with the run."""
    from wizevol.filters.executors import run_python_pairs
    from wizevol.filters.sandbox import Limits

    listener = _listener()
    target = tmp_path / "outside.txt"
    answer, tests = ADD["python"]
    programs = [f"{answer}\n\n{tests}", f"{answer.replace('a + b', 'a - b')}\n\n{tests}",
                f"{answer}\n\nimport sys\nsys.exit(0)\n{tests}", f"{answer}\n\nimport os\nos._exit(0)\n{tests}",
                "while True:\n    pass", NETWORK["python"].format(port=listener.getsockname()[1]),
                WRITE["python"].format(path=str(target)), READ["python"].format(path=str(ROOT / "pyproject.toml")),
                MEMORY["python"], FORK_BOMB["python"], f"{answer}\n\n{tests}"]
    limits = Limits(cpu_s=2, wall_s=4.0)
    before = _nobody_processes()
    try:
        together = run_python_pairs(programs, limits)
        alone = [run_tests("python", p, "", limits) for p in programs]
        assert _accepted(listener) == 0
    finally:
        listener.close()
    assert [o.status for o in together] == [o.status for o in alone] == [
        "pass", "fail", "fail", "fail", "timeout", "fail", "fail", "fail", "fail", together[9].status, "pass"]
    assert together[9].status in ("fail", "timeout")
    assert together[1].detail == alone[1].detail == "AssertionError at: assert add(2, 3) == 5"
    assert together[2].detail == together[3].detail == executors.EARLY
    assert not target.exists()
    deadline = time.monotonic() + 10
    while _nobody_processes() - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _nobody_processes() - before == set()
