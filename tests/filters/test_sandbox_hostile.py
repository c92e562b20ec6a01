"""The sandbox against code that defeats its audit hook first (CPython's audit hooks are not a sandbox): it
empties the hook's deny list and widens its write check through `gc.get_objects()`, then tries the network
and a write outside its temp dir. Each OS layer is tried on its own to show what it stops, as root and as a
user who is not root."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from wizevol.filters import sandbox
from wizevol.filters.sandbox import Limits, landlock_abi, layers, run_python

HOSTILE = r'''
import gc, json, socket
defeated = []
for o in gc.get_objects():
    if isinstance(o, set) and "socket.connect" in o:
        o.clear()
        defeated.append("deny list")
    elif callable(o) and getattr(o, "__name__", "") == "_hook" and "_ROOT" in getattr(o, "__globals__", {}):
        o.__globals__["_ROOT"] = ""
        defeated.append("write check")
res = {"defeated": sorted(defeated)}
try:
    socket.socket().close()
    res["socket"] = "created"
except Exception as e:
    res["socket"] = repr(e)
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=2).sendall(b"pwned")
    res["connect"] = "connected"
except Exception as e:
    res["connect"] = repr(e)
try:
    with open(OUTSIDE, "w") as f:
        f.write("pwned")
    res["write"] = "written"
except Exception as e:
    res["write"] = repr(e)
import os
try:
    os.kill(os.getppid(), 0)  # signal 0: may it signal the process that runs it (wizevol)? Nothing is sent
    res["signal"] = "allowed"
except Exception as e:
    res["signal"] = repr(e)
print(json.dumps(res))
'''


class Listener:
    """A TCP server on 127.0.0.1 in the test's own network namespace; remembers whether anyone reached it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.reached = False
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
                self.reached = True
                conn.close()
            except OSError:
                continue

    def close(self) -> None:
        self.stop = True
        self.thread.join()
        self.sock.close()


@pytest.fixture
def target():
    """A folder anyone may write to (so `nobody` alone would not stop the write) and a listener."""
    folder = Path(tempfile.mkdtemp(prefix="wizevol-outside-"))
    folder.chmod(0o777)
    listener = Listener()
    yield folder, listener
    listener.close()
    shutil.rmtree(folder, ignore_errors=True)


def attack(folder: Path, listener: Listener, active: tuple[str, ...] | None = None) -> dict:
    code = HOSTILE.replace("PORT", str(listener.port)).replace("OUTSIDE", repr(str(folder / "pwned.txt")))
    result = run_python(code, Limits(cpu_s=5, wall_s=10), active)
    assert result.status == "pass", result.stderr
    return json.loads(result.stdout)


def test_the_layers_that_hold_here_are_reported():
    assert layers()[0] == "rlimits" and layers()[-1] == "audit_hook"
    held = set(layers())
    assert sandbox.isolated() == bool({"landlock", "docker"} & held or {"netns", "nobody"} <= held)


def test_hostile_code_defeats_the_audit_hook_and_the_os_layers_still_hold(target):
    folder, listener = target
    res = attack(folder, listener)
    assert res["defeated"] == ["deny list", "write check"] and res["socket"] == "created"  # the hook is gone
    assert res["connect"] != "connected" and not listener.reached
    assert res["write"] != "written" and not (folder / "pwned.txt").exists()
    assert res["signal"] != "allowed"  # as root the code is `nobody`; Landlock (ABI >= 6) scopes signals too


def test_with_only_the_audit_hook_the_same_code_gets_out(target):
    """Why the OS layers exist: the hook alone stops neither the network nor the write, nor a signal to wizevol."""
    folder, listener = target
    res = attack(folder, listener, ("rlimits", "audit_hook"))
    assert res["connect"] == "connected" and res["write"] == "written" and (folder / "pwned.txt").exists()
    assert res["signal"] == "allowed"


@pytest.mark.skipif("netns" not in layers(), reason="no network namespace on this machine")
def test_the_network_namespace_alone_stops_the_connection_not_the_write(target):
    folder, listener = target
    res = attack(folder, listener, ("rlimits", "netns", "audit_hook"))
    assert "unreachable" in res["connect"].lower() and not listener.reached
    assert res["write"] == "written"


@pytest.mark.skipif("landlock" not in layers(), reason="no Landlock on this kernel")
def test_landlock_alone_stops_the_write_and_with_abi_4_the_connection_and_6_the_signal(target):
    folder, listener = target
    res = attack(folder, listener, ("rlimits", "landlock", "audit_hook"))
    assert "Permission denied" in res["write"] and not (folder / "pwned.txt").exists()
    if landlock_abi() >= 4:
        assert "Permission denied" in res["connect"] and not listener.reached
    if landlock_abi() >= 6:  # the same user as wizevol here, yet it may not signal a process outside the sandbox
        assert "Operation not permitted" in res["signal"]
    inside = run_python("open('ok.txt', 'w').write('x')\nprint(open('ok.txt').read())", Limits(),
                        ("rlimits", "landlock", "audit_hook"))
    assert inside.status == "pass" and inside.stdout == "x\n"  # its own temp dir stays writable


@pytest.mark.skipif(os.geteuid() != 0, reason="`nobody` is the root-only layer")
def test_nobody_alone_stops_writes_only_where_nobody_may_not_write(target, tmp_path):
    folder, listener = target
    res = attack(folder, listener, ("rlimits", "nobody", "audit_hook"))
    assert res["write"] == "written"  # a world-writable folder: `nobody` may write there
    private = Path(tempfile.mkdtemp(prefix="wizevol-private-"))  # root's, mode 700
    try:
        res = attack(private, listener, ("rlimits", "nobody", "audit_hook"))
        assert "Permission denied" in res["write"] and not (private / "pwned.txt").exists()
    finally:
        shutil.rmtree(private)


NON_ROOT_DRIVER = r'''
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("sandbox_mod", sys.argv[1])
sb = importlib.util.module_from_spec(spec)
sys.modules["sandbox_mod"] = sb
spec.loader.exec_module(sb)
r = sb.run_python(sys.argv[2], sb.Limits(cpu_s=5, wall_s=10))
print(json.dumps({"layers": sb.layers(), "status": r.status, "stdout": r.stdout, "stderr": r.stderr}))
'''


def as_nobody(code: str) -> dict:
    """run_python as the user `nobody` (through setpriv, with the system python): layers, status, output."""
    out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                          "/usr/bin/python3", "-c", NON_ROOT_DRIVER, sandbox.__file__, code],
                         capture_output=True, text=True, timeout=60, cwd="/")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv") or not Path("/usr/bin/python3").exists(),
                    reason="needs root to become another user (setpriv) and a system python that user can run")
def test_as_a_user_who_is_not_root_the_os_layers_still_hold(target):
    """The sandbox module needs only the standard library, so a system python running as `nobody` loads it by
    path; as that user there is no `nobody` layer, only an unprivileged user+network namespace and Landlock."""
    folder, listener = target
    code = HOSTILE.replace("PORT", str(listener.port)).replace("OUTSIDE", repr(str(folder / "pwned.txt")))
    ran = as_nobody(code)
    assert ran["status"] == "pass", ran["stderr"]
    assert "nobody" not in ran["layers"] and {"netns", "landlock"} <= set(ran["layers"])
    res = json.loads(ran["stdout"])
    assert res["defeated"] == ["deny list", "write check"] and res["socket"] == "created"
    assert res["connect"] != "connected" and not listener.reached
    assert res["write"] != "written" and not (folder / "pwned.txt").exists()
    if sandbox.landlock_abi() >= 6:  # no other user to hide behind: Landlock's scope keeps wizevol out of reach
        assert "Operation not permitted" in res["signal"]


def test_execute_is_refused_without_os_isolation_unless_the_user_opts_in(tmp_path, monkeypatch):
    from conftest import rows
    from test_filters import cli, make_run

    run = make_run(tmp_path, [[{"id": "a", "instruction": "x", "output": "```python\nprint(1)\n```"}]])
    strong = tmp_path / "exec.yaml"
    strong.write_text("filters: {code_check: {execute: true}}\n")
    result = cli("filter", run, "--only", "code_check", "--config", strong)
    assert result.exit_code == 0, result.output
    assert f"sandbox layers: {', '.join(layers())}" in result.stderr
    stats = json.loads((run / "filters" / "code_check" / "stats.json").read_text())
    assert stats["settings"]["sandbox_layers"] == list(layers())

    monkeypatch.setattr(sandbox, "layers", lambda: ("rlimits", "audit_hook"))  # a machine with no OS layer
    refused = cli("filter", run, "--only", "code_check", "--config", strong)
    assert refused.exit_code == 2 and refused.stderr.strip() == (
        "Error: the sandbox here has only rlimits and audit_hook: no Landlock, no container, not both a network "
        "namespace and `nobody`, and generated code can defeat an audit hook; set "
        "filters.code_check.allow_weak_sandbox: true to run it anyway")
    weak = tmp_path / "weak.yaml"
    weak.write_text("filters: {code_check: {execute: true, allow_weak_sandbox: true}}\n")
    allowed = cli("filter", run, "--only", "code_check", "--config", weak)
    assert allowed.exit_code == 0 and "sandbox layers: rlimits, audit_hook" in allowed.stderr
    stats = json.loads((run / "filters" / "code_check" / "stats.json").read_text())
    assert stats["settings"]["sandbox_layers"] == ["rlimits", "audit_hook"]
    assert rows(run / "filters" / "code_check" / "rejected_0.jsonl") == []
    ev = cli("eval", "local:gemma3-270m", "--limit", "1", "--out", tmp_path / "ev")
    assert ev.exit_code == 2 and ev.stderr.strip().endswith("pass --allow-weak-sandbox to run it anyway")


def test_a_parent_with_many_open_files_still_gets_every_layer():
    """Seen in CI: with the open-file limit set first, Landlock could not open its folder in a child forked from
    a test process holding over 64 files. The child now sets its limits last."""
    fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(100)]
    try:
        r = run_python("print('ok')", Limits(cpu_s=2, wall_s=5, memory_mb=256))
    finally:
        for fd in fds:
            os.close(fd)
    assert (r.status, r.stdout) == ("pass", "ok\n")


READER = r'''
import gc, json, os
for o in gc.get_objects():  # the audit hook first: it never stopped reads, but nothing of it is left either
    if isinstance(o, set) and "socket.connect" in o:
        o.clear()
res = {}
for name, path in (("secret", SECRET), ("folder", FOLDER), ("checkout", CHECKOUT)):
    try:
        res[name] = os.listdir(path) if os.path.isdir(path) else open(path).read()[:200]
    except Exception as e:
        res[name] = repr(e)
print(json.dumps(res))
'''


@pytest.fixture
def planted(tmp_path_factory):
    """A secret any user may read (mode 644 in a folder of mode 755), so only Landlock can keep it from the code."""
    folder = tmp_path_factory.mktemp("home")
    for d in (folder, *folder.parents):
        if not d.stat().st_mode & 0o005:
            d.chmod(d.stat().st_mode | 0o005)  # so that `nobody` may reach it, below
    secret = folder / "api_key.txt"
    secret.write_text("sk-wizevol-planted-secret-4242\n")
    secret.chmod(0o644)
    readme = Path(sandbox.__file__).resolve().parents[2] / "README.md"
    return secret, READER.replace("SECRET", repr(str(secret))).replace("FOLDER", repr(str(folder))) \
        .replace("CHECKOUT", repr(str(readme)))


def denied(res: dict) -> bool:
    return all("PermissionError" in res[k] and "Permission denied" in res[k] for k in ("secret", "folder", "checkout"))


@pytest.mark.skipif("landlock" not in layers(), reason="no Landlock on this kernel")
def test_code_that_empties_the_audit_hook_reads_no_file_outside_the_python_install_and_its_temp_dir(planted):
    secret, code = planted
    every = run_python(code, Limits(cpu_s=5, wall_s=10))
    assert every.status == "pass", every.stderr
    assert denied(json.loads(every.stdout)) and "planted-secret" not in every.stdout + every.stderr
    alone = run_python(code, Limits(cpu_s=5, wall_s=10), ("rlimits", "landlock", "audit_hook"))  # as root, too
    assert alone.status == "pass", alone
    assert denied(json.loads(alone.stdout)), alone.stdout
    without = run_python(code, Limits(cpu_s=5, wall_s=10), ("rlimits", "audit_hook"))
    res = json.loads(without.stdout)  # what the test would see if Landlock let reads through
    assert res["secret"] == "sk-wizevol-planted-secret-4242\n" and res["folder"] == ["api_key.txt"]
    assert "# wizevol" in res["checkout"]
    inside = run_python("import numbers, json\nopen('x', 'w').write('y')\nprint(open('x').read())", Limits())
    assert (inside.status, inside.stdout) == ("pass", "y\n")  # its own folder and the standard library still are


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv") or not Path("/usr/bin/python3").exists()
                    or "landlock" not in layers(),
                    reason="needs root to become another user (setpriv), a system python that user can run, Landlock")
def test_as_a_user_who_is_not_root_the_planted_secret_stays_unread(planted):
    secret, code = planted
    ran = as_nobody(code)
    assert ran["status"] == "pass" and "nobody" not in ran["layers"], ran["stderr"]
    assert denied(json.loads(ran["stdout"])) and "planted-secret" not in json.dumps(ran)
    check = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", "/usr/bin/python3",
                            "-c", f"print(open({str(secret)!r}).read())"], capture_output=True, text=True, timeout=60)
    assert check.stdout == "sk-wizevol-planted-secret-4242\n\n"  # that user may read it: Landlock is what refused


def test_sandboxes_start_without_python_code_between_fork_and_exec(monkeypatch):
    """`preexec_fn` runs Python in a child forked from a process whose other threads may hold locks (the eval and
    layer 4 start sandboxes from thread pools): it can deadlock. Every sandbox starts with none, from 8 threads at
    once, and the layers still hold (the tests above); the namespace probe forks no interpreter either."""
    from concurrent.futures import ThreadPoolExecutor

    seen = []
    real = subprocess.Popen

    def popen(*args, **kwargs):
        seen.append(kwargs.get("preexec_fn"))
        return real(*args, **kwargs)

    def no_fork():
        raise AssertionError("os.fork called in wizevol")

    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setattr(os, "fork", no_fork)
    sandbox._local_layers.cache_clear()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: run_python(f"print({i} * 2)", Limits(cpu_s=5, wall_s=20)), range(16)))
    assert [r.stdout for r in results] == [f"{i * 2}\n" for i in range(16)]
    assert len(seen) >= 16 and seen == [None] * len(seen)
    sandbox._local_layers.cache_clear()


def test_a_programs_own_words_never_reach_a_reject_reason(tmp_path):
    """A program that reads a file and raises with its text: the reason is the exception's type, a fixed form,
    whatever the program read (where Landlock is missing it may read the checkout)."""
    from conftest import rows
    from test_filters import cli, make_run

    # the words are made when the program runs: the record's own text does not hold them
    secret = ("```python\nopen('k.txt', 'w').write('sk-' + 'plan' + 'ted-words')\n"
              "raise ValueError(open('k.txt').read())\n```")
    printed = "```python\nimport sys\nsys.stderr.write('sk-' + 'plan' + 'ted-words\\n')\nsys.exit(3)\n```"
    run = make_run(tmp_path, [[{"id": "raise", "instruction": "x", "output": secret},
                               {"id": "print", "instruction": "x", "output": printed}]])
    cfg = tmp_path / "exec.yaml"
    cfg.write_text("filters: {code_check: {execute: true, allow_weak_sandbox: true}}\n")
    result = cli("filter", run, "--only", "code_check", "--config", cfg)
    assert result.exit_code == 0, result.output
    folder = run / "filters" / "code_check"
    reasons = {r["id"]: r["reason"] for r in rows(folder / "rejected_0.jsonl")}
    assert reasons == {"raise": "exec_fail: ValueError", "print": "exec_fail: exit code 3"}
    assert not any("sk-planted" in p.read_text() for p in folder.iterdir() if p.is_file())


def test_isolation_needs_reads_limited_or_no_network_and_nobody_together(monkeypatch):
    import warnings

    from wizevol.errors import WizevolWarning

    cases = {("netns", "rlimits", "audit_hook"): False, ("nobody", "rlimits", "audit_hook"): False,
             ("netns", "nobody", "rlimits", "audit_hook"): True, ("landlock", "rlimits", "audit_hook"): True,
             ("docker",): True, ("rlimits", "audit_hook"): False}
    for held, strong in cases.items():
        monkeypatch.setattr(sandbox, "layers", lambda held=held: held)
        assert sandbox.isolated() is strong, held
    monkeypatch.setattr(sandbox, "layers", lambda: ("netns", "nobody", "rlimits", "audit_hook"))
    monkeypatch.setattr(sandbox, "_said_reads", False)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        sandbox.require_isolation(False, "x")
        sandbox.require_isolation(False, "x")
    reads = [w for w in said if issubclass(w.category, WizevolWarning)]
    assert len(reads) == 1 and "cannot limit what generated code reads" in str(reads[0].message)
