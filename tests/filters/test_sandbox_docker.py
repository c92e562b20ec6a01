"""The docker backend of the sandbox (config `sandbox: {backend: docker, image: ...}`, `wizevol eval
--sandbox-image`): each program runs in a container with no network, a read-only root, `nobody`, the same limits,
and only its temp dir writable. Needs a docker daemon; skipped (and said so) where there is none. The image is
built here from this machine's own Python (no registry is reachable), as `docker import` of a small root."""

from __future__ import annotations

import glob
import io
import os
import shutil
import subprocess
import tarfile

import pytest
from conftest import rows
from test_filters import cli, make_run
from test_sandbox_hostile import attack, target  # noqa: F401 (a fixture)

from wizevol.filters import sandbox
from wizevol.filters.sandbox import Limits, run_python

IMAGE = "wizevol-test-python:1"


def _daemon() -> bool:
    docker = shutil.which("docker")
    return docker is not None and subprocess.run([docker, "info"], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not _daemon(), reason="no docker daemon here")


def _host_python_image() -> str:
    """An image holding /usr/bin/python3 of this machine, its standard library and the libraries they load."""
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode == 0:
        return IMAGE
    python = os.path.realpath("/usr/bin/python3")
    stdlib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
                            capture_output=True, text=True, check=True).stdout.strip()
    files = {python}
    for binary in [python, *glob.glob(f"{stdlib}/lib-dynload/*.so")]:
        for word in subprocess.run(["ldd", binary], capture_output=True, text=True).stdout.split():
            if word.startswith("/") and os.path.exists(word):
                files.add(word)
    for root, dirs, names in os.walk(stdlib):
        dirs[:] = [d for d in dirs if d not in ("site-packages", "dist-packages", "__pycache__", "test")]
        files.update(os.path.join(root, n) for n in names)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", dereference=True) as tar:
        made = set()
        for path in sorted(files):
            parts = path.strip("/").split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in made:
                    made.add(d)
                    info = tarfile.TarInfo(d)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
            tar.add(path, arcname=path.strip("/"))
        link = tarfile.TarInfo("usr/bin/python3")
        link.type, link.linkname = tarfile.SYMTYPE, os.path.basename(python)
        tar.addfile(link)
        for d in ("tmp", "work"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777
            tar.addfile(info)
    subprocess.run(["docker", "import", "-c", "ENV PATH=/usr/bin:/bin", "-", IMAGE], input=buf.getvalue(),
                   capture_output=True, check=True)
    return IMAGE


@pytest.fixture(scope="module")
def docker_backend():
    image = _host_python_image()
    sandbox.use_backend("docker", image)
    yield image
    sandbox.use_backend("local")


def test_code_runs_in_a_container_with_the_limits(docker_backend):
    assert sandbox.layers() == ("docker", "audit_hook") and sandbox.isolated()
    ok = run_python("import os\nprint(os.getuid(), os.getcwd())\nopen('out.txt', 'w').write('x')\n")
    assert (ok.status, ok.stdout.split()) == ("pass", ["65534", "/work"])
    assert run_python("while True:\n    pass\n", Limits(cpu_s=1, wall_s=20)).status == "timeout"  # the CPU limit
    assert run_python("import time\ntime.sleep(60)\n", Limits(wall_s=2)).status == "timeout"  # the wall limit
    big = run_python("x = bytearray(400 * 2**20)\n", Limits(memory_mb=128))
    assert big.status in ("fail", "timeout")  # MemoryError, or killed by the cgroup


def test_the_hostile_snippet_reaches_no_network_and_writes_nothing_outside(docker_backend, target):  # noqa: F811
    """The hook is defeated (the gc walk); then the container alone stops the connect and the write (the folder
    is world-writable, and the listener is on this machine's loopback)."""
    folder, listener = target
    res = attack(folder, listener)
    assert res["defeated"] == ["deny list", "write check"] and res["socket"] == "created"  # the hook is gone
    assert res["connect"] != "connected" and not listener.reached
    assert res["write"] != "written" and not (folder / "pwned.txt").exists()


def test_filter_runs_the_execution_layer_in_docker(docker_backend, tmp_path):
    es_primo = ("```python\ndef es_primo(n):\n    if n < 2:\n        return False\n"
                "    return all(n % d for d in range(2, int(n ** 0.5) + 1))\n```")
    clean = "```python\ndef add_one(x):\n    return x + 1\n```"
    # two responses: one sandboxed process runs both, a forked child each, inside the container
    run = make_run(tmp_path, [[{"id": "leak", "instruction": "¿Es primo?", "output": es_primo},
                               {"id": "clean", "instruction": "Add one.", "output": clean}]])
    (tmp_path / "docker.yaml").write_text(f"sandbox: {{backend: docker, image: '{docker_backend}'}}\n"
                                          "filters: {contamination: {embedding: false}}\n")
    result = cli("filter", run, "--only", "contamination", "--config", tmp_path / "docker.yaml")
    assert result.exit_code == 0, result.output
    assert "sandbox layers: docker, audit_hook" in result.output
    (rej,) = rows(run / "filters" / "contamination" / "rejected_0.jsonl")
    assert rej["reason"] == "execution: the response's es_primo() passes the tests of HumanEval/31"
    import json

    stats = json.loads((run / "filters" / "contamination" / "stats.json").read_text())["execution"]
    assert (stats["responses_run"], stats["responses_rerun_alone"]) == (2, 0)  # both came back from the batch
    (tmp_path / "missing.yaml").write_text("sandbox: {backend: docker, image: 'wizevol-no-such-image:0'}\n")
    result = cli("filter", run, "--only", "contamination", "--config", tmp_path / "missing.yaml")
    assert result.exit_code == 2
    assert result.output.startswith("Error: sandbox.image 'wizevol-no-such-image:0' is not usable: ")


def test_eval_runs_completions_in_docker(docker_backend, tmp_path, server):
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "eval"))
    from test_eval import PROBLEMS, fenced, served_eval

    good, bad = PROBLEMS[:2], PROBLEMS[2]
    for p in good:
        server.fault("text", match=p.prompt[-120:], arg=fenced(p), times=None)
    server.fault("text", match=bad.prompt[-120:], arg=f"```python\n{bad.prompt}    return 'wrong'\n```", times=None)
    result = served_eval(tmp_path, server, "--limit", "3", "--sandbox-image", docker_backend)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert report["pass@1"]["score"] == 2 / 3
    assert report["sandbox_layers"] == ["docker", "audit_hook"]
    missing = served_eval(tmp_path / "other", server, "--limit", "1", "--sandbox-image", "wizevol-no-such-image:0")
    assert missing.exit_code == 2 and "sandbox.image 'wizevol-no-such-image:0' is not usable" in missing.output
