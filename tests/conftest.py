from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from scripted_server import ScriptedServer  # noqa: E402

from wizevol.cli import app  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "data" / "seed_20.jsonl"


@pytest.fixture
def server():
    s = ScriptedServer().start()
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def _no_real_keys(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def write_config(path: Path, server: ScriptedServer, **extra) -> Path:
    cfg = {
        "endpoint": {"base_url": server.url, "timeout": 2.0, "max_attempts": 3,
                     "backoff_initial": 0.01, "backoff_max": 0.05},
        "evolver": {"model": "test-model"},
        "concurrency": 8,
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    path.write_text(yaml.safe_dump(cfg))
    return path


def evolve(tmp_path: Path, server: ScriptedServer, *args: str, out: str = "run", seed: Path = SEED,
           config: dict | None = None):
    cfg = write_config(tmp_path / "cfg.yaml", server, **(config or {}))
    result = CliRunner().invoke(app, ["evolve", "--seed", str(seed), "--out", str(tmp_path / out),
                                      "--config", str(cfg), *args])
    return result


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def seed_instruction(n: int) -> str:
    return rows(SEED)[n - 1]["instruction"]
