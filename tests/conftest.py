from __future__ import annotations

import json
import signal
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


if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # a suite started in the background (`make test &`)
    # inherits Ctrl-C ignored, and so would every wizevol it starts: the Ctrl-C tests need it delivered
    signal.signal(signal.SIGINT, signal.default_int_handler)


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


TASKS = [("Add two numbers.", "def add(a, b):\n    return a + b"),
         ("Reverse a string.", "def rev(s):\n    return s[::-1]"),
         ("Square a number.", "def sq(x):\n    return x * x"),
         ("Return the maximum of a list.", "def mx(xs):\n    return max(xs)"),
         ("Check if a number is even.", "def even(n):\n    return n % 2 == 0"),
         ("Count the items in a list.", "def count(xs):\n    return len(xs)"),
         ("Join words with spaces.", "def join(ws):\n    return ' '.join(ws)"),
         ("Return the first element.", "def first(xs):\n    return xs[0]")]


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """A 2-layer Llama with random weights and a tokenizer trained here: nothing downloaded."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from wizevol.train.formats import ALPACA_PROMPT

    root = tmp_path_factory.mktemp("tiny")
    corpus = [ALPACA_PROMPT.format(instruction=i) + " " + o for i, o in TASKS]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>", "<pad>", "</s>"],
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    from tokenizers import decoders

    tok.decoder = decoders.ByteLevel()
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", eos_token="</s>")
    config = LlamaConfig(vocab_size=len(hf_tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
                         pad_token_id=hf_tok.pad_token_id, eos_token_id=hf_tok.eos_token_id)
    LlamaForCausalLM(config).save_pretrained(root / "model")
    hf_tok.save_pretrained(root / "model")
    data = root / "merged.jsonl"
    data.write_text("".join(json.dumps({"prompt": ALPACA_PROMPT.format(instruction=i), "completion": o,
                                        "metadata": {"id": f"x{n}"}}) + "\n" for n, (i, o) in enumerate(TASKS)))
    return root


def trial_yaml(path: Path, tiny: Path, **extra) -> Path:
    """A trial config (ablate, Evol Stop) that fine-tunes the tiny model for one step and evaluates 2 dev problems
    with 4 new tokens each."""
    cfg = {"finetune_config": None,
           "finetune": {"model": str(tiny / "model"), "effective_batch_size": 2, "precision": "fp32",
                        "sft": {"max_steps": 1, "warmup_steps": 0, "max_length": 256, "per_device_train_batch_size": 2,
                                "gradient_checkpointing": False}},
           "benchmark": "wizevol-dev", "limit": 2, "max_new_tokens": 4, **extra}
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture
def trial_config(tiny, tmp_path):
    return lambda **extra: trial_yaml(tmp_path / "trial.yaml", tiny, **extra)


@pytest.fixture
def scripted_student(monkeypatch):
    """The generation of a trial's model, scripted: `install(solves)` makes a model trained on rows R answer the
    first `solves(R)` dev problems with their canonical solution and the rest with `return None` (the base model
    has R = []). The fine-tune and the eval (completions run in the sandbox) stay real, and each trial's score
    is a known function of its own data, so a row that showed another row's score would be seen."""
    import wizevol.eval as ev
    from wizevol.eval.benchmark import DEV_SET, load_benchmark

    problems = {p.task_id: p for p in load_benchmark(DEV_SET)[1]}

    def install(solves):
        def generate(model, jobs, sampling, on_done, batch_size=8, **kw):
            data = Path(model).parent / "data.jsonl"
            n = solves(rows(data) if data.is_file() else [])
            for task_id, i, _ in jobs:
                p = problems[task_id]
                body = p.canonical_solution if int(task_id.split("/")[1]) < n else "    return None\n"
                on_done(task_id, i, f"```python\n{p.prompt}{body}```")

        monkeypatch.setattr(ev, "generate_hf", generate)

    return install


def pytest_terminal_summary(terminalreporter):
    """`make test-fast` names the wizevol modules no test of the session imported (in this process: a module
    only a subprocess runs is named too), so a fast suite that stopped touching part of the package says so."""
    import os

    if not os.environ.get("WIZEVOL_UNTOUCHED"):
        return
    package = ROOT / "wizevol"
    names = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
             for p in package.rglob("*.py")}
    untouched = sorted(n for n in names if n not in sys.modules and not n.endswith("__main__"))
    terminalreporter.write_line(f"wizevol modules no test imported: {', '.join(untouched) or 'none'} "
                                f"(of {len(names)})")
