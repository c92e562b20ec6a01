"""Executors: an answer and a set of tests, written in the answer's language, run together in the sandbox.

    language    what runs (in one temp dir; a compile is its own sandboxed step before the run)
    python      main.py: the answer, then the tests (run_to_the_end)
    javascript  node main.js: the answer, then the tests
    bash        bash main.sh: the answer, then the tests (a test exits non-zero on a failure)
    c, cpp      gcc/g++ main.c(pp) -o prog, then ./prog: the tests' main() is renamed, wizevol's calls it
    rust        rustc main.rs -o prog, then ./prog: the same for the tests' fn main()
    java        javac *.java, then java -ea: the answer's public class in its own file, the tests' class Main,
                run through wizevol's class that calls Main.main
    sql         sqlite3 -safe on an in-memory database: the tests' setup, then the answer; its rows are compared
                (as a multiset) with the rows the tests list after a line `-- expected:`

A run passes when it ends with status 0 after the tests' last line: each program prints a mark made for the run
once the tests have returned, so an answer that exits early (`exit(0)`, `process.exit(0)`, `System.exit(0)`) has
not passed. Compiled languages fail their tests by an assert (abort, panic, AssertionError with `-ea`); the
renamed main's return value is not read. A language whose tool is not installed is `unverified` (status
"skipped", with the tool named), never a failure. Compilers and runtimes run under the same OS layers as Python
(limits, temp dir, no network, reads limited to the system, the tool's own installation and the temp dir); the
compiled program runs as `nobody` where the sandbox has that layer.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from wizevol.filters.sandbox import ExecResult, Limits, run_program, run_python, run_to_the_end

LANGUAGES = ("python", "javascript", "bash", "c", "cpp", "rust", "java", "sql")
ALIASES = {"py": "python", "python3": "python", "js": "javascript", "node": "javascript", "sh": "bash",
           "shell": "bash", "c++": "cpp", "cc": "cpp", "cxx": "cpp", "rs": "rust", "sqlite": "sql"}
TOOLS = {"python": "python3", "javascript": "node", "bash": "bash", "c": "gcc", "cpp": "g++", "rust": "rustc",
         "java": "javac", "sql": "sqlite3"}  # what each language needs installed
COMPILE = Limits(cpu_s=30, wall_s=60.0, memory_mb=4096, max_procs=64)  # compilers and JVMs reserve much memory
JVM = ["-Xmx256m", "-Xss1m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:CompressedClassSpaceSize=64m",
       "-XX:ReservedCodeCacheSize=32m", "-XX:MaxMetaspaceSize=128m"]


def language_of(tag: str) -> str:
    """A code block's tag as one of LANGUAGES (or as written, lower-cased)."""
    tag = tag.lower().strip()
    return ALIASES.get(tag, tag)


@functools.cache
def tool(language: str) -> str | None:
    """The program a language needs, where it is installed (rustc: the toolchain's own, not rustup's proxy)."""
    found = shutil.which(TOOLS[language]) if language in TOOLS else None
    if language == "java" and not shutil.which("java"):
        return None
    if language == "rust" and found:
        sysroot = subprocess.run([found, "--print", "sysroot"], capture_output=True, text=True).stdout.strip()
        real = os.path.join(sysroot, "bin", "rustc")
        return real if sysroot and os.path.exists(real) else found
    return found


def missing(language: str) -> str | None:
    """Why a language cannot run here (its tool is not installed, or there is no executor), or None."""
    if language not in LANGUAGES:
        return f"no executor for {language}"
    if tool(language) is None:
        return f"{language}: {'javac and java' if language == 'java' else TOOLS[language]} not installed"
    return None


@dataclass(frozen=True)
class Outcome:
    """How one answer fared against one set of tests: passed, failed, timeout, or skipped (unverified)."""

    status: str  # pass | fail | timeout | skipped
    detail: str  # a fixed-form line (never the program's own words)


def run_tests(language: str, answer: str, tests: str, limits: Limits = Limits()) -> Outcome:
    """Run an answer against a set of tests in its language, in the sandbox."""
    language = language_of(language)
    why = missing(language)
    if why:
        return Outcome("skipped", why)
    if language == "python":
        program = f"{answer}\n\n{tests}"
        result = run_to_the_end(program, limits, EARLY)
        return Outcome(result.status, "" if result.status == "pass" else _failing_line(result, program))
    if language == "sql":
        return _sql(answer, tests, limits)
    mark = f"wizevol-tests-ended-{secrets.token_hex(12)}"
    with tempfile.TemporaryDirectory(prefix="wizevol-sandbox-") as tmp:
        tmp = os.path.realpath(tmp)
        files, compile_argv, run_argv = _PROGRAMS[language](answer, tests, mark)
        if compile_argv is not None:
            built = run_program(compile_argv, files, COMPILE, workdir=tmp, readable=_tool_home(language))
            if built.status != "pass":
                return Outcome("fail", f"does not compile ({built.status})" if built.status == "timeout" else
                               "does not compile")
            files = {}
        ran = run_program(run_argv, files, _run_limits(language, limits), workdir=tmp,
                          drop_user=_as_nobody(run_argv), readable=_tool_home(language) if language == "java" else ())
    return _ended(ran, mark)


EARLY = "the program ended before its tests finished (exit status 0)"


def run_python_pairs(programs: list[str], limits: Limits = Limits()) -> list[Outcome]:
    """Python programs (an answer and its tests each) in one sandboxed process, a forked child each
    (solves_runner.run_pairs): what run_tests("python", ...) says of each, without an interpreter started per program. A
    program whose result did not come back runs again on its own."""
    import json

    from wizevol.filters import solves_runner as runner

    job = {"programs": programs, "cpu_s": limits.cpu_s, "wall_s": limits.wall_s}
    seconds = 10 + len(programs) * limits.wall_s
    ran = run_python("", Limits(cpu_s=int(seconds) + 1, wall_s=seconds, memory_mb=limits.memory_mb,
                                max_procs=limits.max_procs), files={"pairs.json": json.dumps(job)},
                     trusted=runner.program("run_pairs(sandbox_hook)"), tail=1 << 20)
    got: dict[int, Outcome] = {}
    for line in ran.stdout.splitlines():
        if line.startswith(runner.PAIRS_MARK):
            mark = json.loads(line[len(runner.PAIRS_MARK):])
            n = mark["n"]
            if n not in got and 0 <= n < len(programs):
                got[n] = _reported(mark, programs[n])
    return [got[n] if n in got else run_tests("python", programs[n], "", limits) for n in range(len(programs))]


def _reported(mark: dict, program: str) -> Outcome:
    end = mark.get("end")
    if end == "ran":
        return Outcome("pass", "")
    if end == "timeout":
        return Outcome("timeout", "timeout")
    if end == "raised":
        kind = re.sub(r"[^A-Za-z0-9_.]", "", str(mark.get("type") or "")) or "an exception"  # a name, not words
        return Outcome("fail", _at(kind, program, mark.get("line")))
    return Outcome("fail", EARLY if end == "early" else "the program ended without finishing its tests")


def _failing_line(result: ExecResult, program: str) -> str:
    """A Python failure's fixed-form line and, where the traceback points into the program, the program's line
    that failed (e.g. `AssertionError at: assert sub(3, 1) == 2`): wizevol's text, not what the program printed."""
    frames = re.findall(r'File "main.py", line (\d+)', result.stderr)
    return _at(result.detail, program, int(frames[-1]) if frames else None)


def _at(kind: str, program: str, line: int | None) -> str:
    """`kind at: <the program's line>` where the line is one of the program's, else `kind`."""
    lines = program.splitlines()
    return f"{kind} at: {lines[line - 1].strip()}" if isinstance(line, int) and 0 < line <= len(lines) else kind


def _ended(ran: ExecResult, mark: str) -> Outcome:
    if ran.status == "timeout":
        return Outcome("timeout", "timeout")
    if ran.status != "pass":
        return Outcome("fail", f"the tests failed ({ran.detail})")
    if mark not in ran.stdout.splitlines():
        return Outcome("fail", "the program ended before its tests did (exit status 0)")
    return Outcome("pass", "")


@functools.cache
def _tool_home(language: str) -> tuple[str, ...]:
    """Where a tool keeps itself outside the system's directories: rustc's toolchain, the JVM's configuration
    (its conf/ links into /etc/java-N-openjdk)."""
    found = tool(language)
    if language == "rust" and found:
        return (os.path.dirname(os.path.dirname(found)),)
    if language == "java" and found:
        from pathlib import Path

        conf = Path(os.path.realpath(found)).parent.parent / "conf"
        outside = [os.path.realpath(p) for p in conf.rglob("*") if p.is_symlink()]
        outside = [t for t in outside if not t.startswith("/usr/")]
        return (os.path.commonpath(outside),) if outside else ()
    return ()


def _as_nobody(argv: list[str]) -> bool | None:
    """A program compiled into the temp dir runs as `nobody` where the sandbox has that layer (the temp dir is
    handed to it); a system tool, by the usual rule."""
    from wizevol.filters.sandbox import layers

    return ("nobody" in layers()) if argv[0].startswith("./") else None


def _run_limits(language: str, limits: Limits) -> Limits:
    if language in ("javascript", "java"):  # V8 and the JVM reserve address space far beyond what they use
        return Limits(cpu_s=limits.cpu_s, wall_s=limits.wall_s, memory_mb=max(limits.memory_mb, 4096),
                      file_mb=limits.file_mb, max_files=limits.max_files, max_procs=limits.max_procs)
    return limits


Program = tuple[dict[str, str], list[str] | None, list[str]]


def _javascript(answer: str, tests: str, mark: str) -> Program:
    return {"main.js": f"{answer}\n\n{tests}\n\nconsole.log({mark!r});\n"}, None, \
        ["node", "--max-old-space-size=256", "main.js"]


def _bash(answer: str, tests: str, mark: str) -> Program:
    return {"main.sh": f"{answer}\n\n{tests}\n\necho '{mark}'\n"}, None, ["bash", "main.sh"]


_MAIN = re.compile(r"\bint\s+main\s*\(")
_SKIP = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|//[^\n]*|/\*.*?\*/', re.S)  # literals, comments


def block_end(text: str, i: int) -> int | None:
    """Where the first brace block from i on ends (just after its closing `}`), string literals and comments
    skipped; None when it never closes."""
    depth, opened = 0, False
    while i < len(text):
        skip = _SKIP.match(text, i)
        if skip:
            i = skip.end()
            continue
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        opened = opened or depth > 0
        i += 1
        if opened and depth == 0:
            return i
    return None


def _renamed_main(tests: str) -> str:
    """The tests with `int main(` renamed, and `return 0;` before its closing brace: only main may flow off its
    end (for any other function C++ calls that undefined, and g++ -O1 acts on it)."""
    found = _MAIN.search(tests)
    end = block_end(tests, found.end()) if found else None
    if end is None:  # no main, or no closing brace: it does not compile either way
        return tests
    return f"{tests[:found.start()]}int wizevol_tests_main({tests[found.end():end - 1]} return 0; {tests[end - 1:]}"


def _c_like(suffix: str, compiler: str, extra: list[str]) -> Callable[[str, str, str], Program]:
    def make(answer: str, tests: str, mark: str) -> Program:
        tests = _renamed_main(tests)
        if suffix == "c":
            caller = f'int wizevol_tests_main();\n#include <stdio.h>\nint main(void) {{ wizevol_tests_main(); ' \
                     f'printf("%s\\n", "{mark}"); return 0; }}\n'
        else:  # the tests' main may take (argc, argv) or nothing
            caller = ('#include <cstdio>\n#include <type_traits>\ntemplate <typename F> void wizevol_call(F f) { '
                      'if constexpr (std::is_invocable_v<F>) f(); else { char a[] = "main"; char* v[] = {a, nullptr};'
                      ' f(1, v); } }\n'
                      f'int main() {{ wizevol_call(wizevol_tests_main); std::printf("%s\\n", "{mark}"); return 0; }}\n')
        source = f"main.{suffix}"
        return {source: f"{answer}\n\n{tests}\n\n{caller}"}, [compiler, *extra, "-o", "prog", source, "-lm"], ["./prog"]
    return make


def _rust(answer: str, tests: str, mark: str) -> Program:
    tests = re.sub(r"\bfn\s+main\s*\(", "fn wizevol_tests_main(", tests, count=1)
    caller = f'fn main() {{ let _ = wizevol_tests_main(); println!("{mark}"); }}\n'
    return ({"main.rs": f"#![allow(dead_code, unused)]\n{answer}\n\n{tests}\n\n{caller}"},
            [tool("rust") or "rustc", "--edition", "2021", "-C", "debug-assertions=on", "-o", "prog", "main.rs"],
            ["./prog"])


def _java(answer: str, tests: str, mark: str) -> Program:
    public = re.search(r"\bpublic\s+(?:final\s+|abstract\s+)*class\s+(\w+)", answer)
    answer_file = f"{public.group(1)}.java" if public else "Answer.java"
    runner = (f"public class WizevolRunner {{ public static void main(String[] a) throws Throwable {{ Main.main(a); "
              f'System.out.println("{mark}"); }} }}\n')
    files = {answer_file: answer, "Main.java": tests, "WizevolRunner.java": runner}
    if answer_file == "Main.java":  # the answer is the tests' class too: one file
        files = {"Main.java": f"{answer}\n\n{tests}", "WizevolRunner.java": runner}
    javac = [tool("java") or "javac", *(f"-J{o}" for o in JVM), "-nowarn", "-d", ".", *files]
    return files, javac, [shutil.which("java") or "java", *JVM, "-ea", "-cp", ".", "WizevolRunner"]


_PROGRAMS: dict[str, Callable[[str, str, str], Program]] = {
    "javascript": _javascript, "bash": _bash, "rust": _rust, "java": _java,
    "c": _c_like("c", "gcc", ["-std=gnu17", "-O1", "-w"]), "cpp": _c_like("cpp", "g++", ["-std=c++17", "-O1", "-w"]),
}


def _sql(answer: str, tests: str, limits: Limits) -> Outcome:
    """SQL: the tests' setup (everything before `-- expected:`), then the answer, in sqlite3 -safe; the rows it
    prints (`|` between columns) must be the expected ones, in any order."""
    setup, sep, expected = tests.partition("-- expected:")
    if not sep:
        return Outcome("skipped", "the tests list no `-- expected:` rows")
    want = sorted(line.strip().removeprefix("--").strip() for line in expected.splitlines() if line.strip())
    script = f"{setup}\n{answer.strip().rstrip(';')};\n"  # an argument: -safe refuses .read (and .shell, ATTACH)
    ran = run_program([tool("sql") or "sqlite3", "-safe", "-batch", "-bail", ":memory:", script], {}, limits)
    if ran.status == "timeout":
        return Outcome("timeout", "timeout")
    if ran.status != "pass":
        return Outcome("fail", f"the query failed (exit code {ran.returncode})")
    got = sorted(line.strip() for line in ran.stdout.splitlines() if line.strip())
    return Outcome("pass", "") if got == want else Outcome("fail", f"{len(got)} rows, not the {len(want)} expected")
