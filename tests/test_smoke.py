"""Smoke run, as a user types it: the installed `wizevol` console script, 4 rounds on data/seed_20.jsonl,
against the scripted server over real HTTP. Checks the run folder's structure and accounting."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import SEED, rows, write_config


def wizevol_exe() -> str:
    exe = Path(sys.executable).parent / "wizevol"
    return str(exe) if exe.exists() else shutil.which("wizevol")


def test_smoke_evolve_4_rounds_subprocess(tmp_path, server):
    server.fault("equal", role="judge", match="TypeScript", times=None)
    server.fault("refusal", role="respond", match="HTML form", times=2)
    cfg = write_config(tmp_path / "cfg.yaml", server)
    out = tmp_path / "smoke"
    proc = subprocess.run([wizevol_exe(), "evolve", "--seed", str(SEED), "--rounds", "4", "--out", str(out),
                           "--config", str(cfg)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "round" in proc.stdout.splitlines()[0] and "no_gain" in proc.stdout.splitlines()[0]  # summary table
    names = {p.name for p in out.iterdir()}
    for k in range(1, 5):
        assert {f"round_{k}.jsonl", f"eliminated_{k}.jsonl", f"failed_{k}.jsonl", f"pool_{k}.jsonl",
                f"round_{k}.done"} <= names
    assert {"round_0.jsonl", "manifest.json", "cache.sqlite"} <= names
    manifest = json.loads((out / "manifest.json").read_text())
    pool = 20
    for k in range(1, 5):
        s = manifest["rounds"][k]
        assert s["kept"] + s["eliminated"] + s["failed"] == s["pool"] == pool
        assert len(rows(out / f"round_{k}.jsonl")) == s["kept"]
    assert manifest["rounds"][1]["eliminated_by_rule"] == {"no_gain": 1, "refusal": 1}
    assert manifest["rounds"][2]["eliminated_by_rule"] == {"no_gain": 1, "refusal": 1}
    assert manifest["rounds"][3]["eliminated_by_rule"] == {"no_gain": 1}
    record = rows(out / "round_4.jsonl")[0]
    assert set(record) >= {"id", "instruction", "input", "output", "round", "method", "parent_id", "root_id",
                           "evolver", "responder", "judge"}


def test_error_is_one_line_without_traceback_subprocess(tmp_path):
    bad = tmp_path / "seed.jsonl"
    bad.write_text('{"instruction": "ok"}\nnot json\n')
    proc = subprocess.run([wizevol_exe(), "evolve", "--seed", str(bad), "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"Error: {bad}:2: invalid JSON: Expecting value (column 1) (use --skip-bad to quarantine bad lines)"]
