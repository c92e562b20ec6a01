"""`wizevol finetune`: a tiny model built from a config trains for real on the CPU; the prompt is masked
out of the loss (checked on the labels); the loss falls. The real Gemma path runs a handful of steps."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, TASKS, rows
from typer.testing import CliRunner

from wizevol.cli import app
from wizevol.old_names import DeprecatedName
from wizevol.train.finetune import (
    FinetuneConfig,
    build_trainer,
    grad_accum_steps,
    load_finetune_config,
    sft_config,
)
from wizevol.train.formats import ALPACA_PROMPT

pytest.importorskip("trl")

def tiny_cfg(tiny, sft: dict | None = None, **kw) -> FinetuneConfig:
    base = dict(model=str(tiny / "model"), effective_batch_size=8, precision="fp32", attn_implementation="sdpa",
                sft={"learning_rate": 3e-3, "warmup_steps": 2, "max_steps": 30, "max_length": 128,
                     "per_device_train_batch_size": 4, "gradient_checkpointing": False, **(sft or {})})
    return FinetuneConfig(**{**base, **kw})


def test_recipe_defaults():
    cfg = load_finetune_config(ROOT / "configs" / "finetune" / "wizardcoder.yaml", {})
    assert cfg.sft_args() == FinetuneConfig().sft_args()
    args = cfg.sft_args()
    assert (args["learning_rate"], args["lr_scheduler_type"], args["warmup_steps"], args["max_length"],
            args["num_train_epochs"]) == (2e-5, "cosine", 30, 2048, 3)
    assert grad_accum_steps(cfg) == 64 and cfg.per_device_batch_size * grad_accum_steps(cfg) == 512


def test_sft_block_passes_straight_into_sftconfig(tmp_path):
    cfg = tmp_path / "ft.yaml"
    cfg.write_text("sft: {weight_decay: 0.1, neftune_noise_alpha: 5, max_length: 1024}\n")
    ft = load_finetune_config(cfg, {"sft.max_steps": 7})
    args = sft_config(ft, tmp_path / "out")
    assert (args.weight_decay, args.neftune_noise_alpha, args.max_length, args.max_steps) == (0.1, 5, 1024, 7)
    assert args.learning_rate == 2e-5 and args.completion_only_loss is True  # the recipe and the loss mask stay
    cfg.write_text("sft: {learning_rat: 0.1}\n")
    result = CliRunner().invoke(app, ["finetune", str(tmp_path / "d.jsonl"), "--config", str(cfg)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: {cfg}: sft.learning_rat: not a key of TRL's SFTConfig"
    cfg.write_text("sft: {gradient_accumulation_steps: 4}\n")
    result = CliRunner().invoke(app, ["finetune", str(tmp_path / "d.jsonl"), "--config", str(cfg)])
    assert result.exit_code == 2 and "sft.gradient_accumulation_steps: set by wizevol" in result.stderr
    cfg.write_text("lora_rank: 8\n")
    result = CliRunner().invoke(app, ["finetune", str(tmp_path / "d.jsonl"), "--config", str(cfg)])
    assert result.stderr.strip() == f"Error: {cfg}: lora_rank: unknown key"


def test_old_flat_keys_still_work_with_one_warning(tmp_path):
    cfg = tmp_path / "ft.yaml"
    cfg.write_text("learning_rate: 1.0e-4\nper_device_batch_size: 2\n")
    with pytest.warns(DeprecatedName, match="learning_rate, per_device_batch_size now go under 'sft:'"):
        ft = load_finetune_config(cfg, {})
    assert ft.sft == {"learning_rate": 1e-4, "per_device_train_batch_size": 2}


def test_small_data_and_no_gpu_say_so_in_one_line(tiny, tmp_path):
    """The default recipe on 8 records and a CPU: the run goes on, and the user is pointed to the CPU config."""
    cfg = tmp_path / "ft.yaml"
    cfg.write_text(f"model: {tiny / 'model'}\nprecision: fp32\nsft: {{max_steps: 1, max_length: 128}}\n")
    result = CliRunner().invoke(app, ["finetune", str(tiny / "merged.jsonl"), "--out", str(tmp_path / "o"),
                                      "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warned == [
        "warning: 8 training records are fewer than one effective batch (512): an epoch is one optimizer step, "
        "mostly warmup; for small data see configs/finetune/demo-cpu.yaml",
        "warning: no GPU: an effective batch of 512 takes minutes per step on a CPU; the CPU config is "
        "configs/finetune/demo-cpu.yaml"]


def test_padding_free_batches_without_flash_attention_say_so(recwarn):
    """A padding-free batch of 8 is one row of up to 8 x 2048 tokens; sdpa attends over all of it, masked."""
    from wizevol.train.finetune import FinetuneWarning, _warn_if_unsuited

    h100 = ROOT / "configs" / "finetune" / "h100.yaml"

    def warned(overrides):
        recwarn.clear()
        _warn_if_unsuited(load_finetune_config(h100, overrides), 10_000)
        return [str(w.message) for w in recwarn if w.category is FinetuneWarning and "padding-free" in str(w.message)]

    assert warned({"attn_implementation": "sdpa"}) == [
        "padding-free batches of 8 rows become one row that sdpa attends over whole, masked; install flash-attn, or "
        "set sft.per_device_train_batch_size: 1 (bench/finetune_throughput.py on an H100 with sdpa: 14.2k against "
        "11.6k tokens/s)"]
    assert warned({"attn_implementation": "sdpa", "sft.per_device_train_batch_size": 1}) == []
    assert warned({"attn_implementation": "flash_attention_2"}) == []
    assert warned({"attn_implementation": "sdpa", "sft.packing": False, "sft.padding_free": False}) == []
    assert len(warned({"attn_implementation": "eager", "sft.padding_free": False})) == 1  # packing's BFD is padding-free


def test_prompt_tokens_are_masked_in_the_labels(tiny, tmp_path):
    trainer, _, _ = build_trainer(tiny / "merged.jsonl", tmp_path / "out", tiny_cfg(tiny))
    assert trainer.args.completion_only_loss is True and trainer.args.lr_scheduler_type == "cosine"
    tokenizer = trainer.processing_class
    batch = next(iter(trainer.get_train_dataloader()))
    checked = 0
    for ids, labels, mask in zip(batch["input_ids"], batch["labels"], batch["attention_mask"], strict=True):
        ids, labels = ids[mask.bool()].tolist(), labels[mask.bool()].tolist()
        text = tokenizer.decode(ids)
        prompt = next(ALPACA_PROMPT.format(instruction=i) for i, _ in TASKS if f"\n{i}\n" in text)
        n_prompt = len(tokenizer(prompt)["input_ids"])
        assert ids[:n_prompt] == tokenizer(prompt)["input_ids"]
        assert labels[:n_prompt] == [-100] * n_prompt  # the prompt carries no loss
        assert labels[n_prompt:] == ids[n_prompt:] and len(ids) > n_prompt  # the response does
        checked += 1
    assert checked == 4


def test_loss_falls_through_the_cli(tiny, tmp_path):
    cfg = tmp_path / "ft.yaml"
    cfg.write_text(tiny_cfg(tiny).model_dump_json())
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["finetune", str(tiny / "merged.jsonl"), "--out", str(out), "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "train_summary.json").read_text())
    losses = [p["loss"] for p in summary["loss_curve"]]
    assert summary["steps"] == 30 and len(losses) == 30
    assert summary["effective_batch_size"] == 8 and summary["gradient_accumulation_steps"] == 2
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5, losses
    assert summary["tokens_seen"] > 0 and summary["tokens_per_s"] > 0
    assert (out / "model.safetensors").exists()


def test_lora_trains_only_adapters_and_answers_holdout(tiny, tmp_path):
    cfg = tmp_path / "ft.yaml"
    cfg.write_text(tiny_cfg(tiny, sft={"learning_rate": 1e-2}, lora=True, lora_r=8, holdout=1,
                            sample_max_new_tokens=8).model_dump_json())
    out = tmp_path / "lora"
    result = CliRunner().invoke(app, ["finetune", str(tiny / "merged.jsonl"), "--out", str(out), "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["train_records"] == 7 and summary["lora"] is True
    (sample,) = summary["samples"]
    assert sample["prompt"].endswith("### Response:") and "before" in sample and "after" in sample
    assert "--- before ---" in result.output and "--- after ---" in result.output
    assert (out / "adapter_model.safetensors").exists() and not (out / "model.safetensors").exists()
    losses = [p["loss"] for p in summary["loss_curve"]]
    assert losses[-1] < losses[0]


def test_bad_data_is_one_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "no prompt here"}\n')
    result = CliRunner().invoke(app, ["finetune", str(bad), "--out", str(tmp_path / "o"), "--model", "x"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"Error: {bad}: expected columns prompt/completion, messages, or "
                                     "instruction/output; found ['text']")


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("WIZEVOL_SKIP_LOCAL") == "1", reason="WIZEVOL_SKIP_LOCAL=1")
def test_real_gemma_path_for_a_few_steps(tmp_path):
    """local:gemma3-270m: the packaged GGUF converted once to safetensors, then LoRA for 3 steps."""
    data = tmp_path / "merged.jsonl"
    data.write_text("".join(json.dumps({"instruction": i, "input": "", "output": o}) + "\n" for i, o in TASKS))
    out = tmp_path / "gemma"
    proc = subprocess.run([sys.executable, "-m", "wizevol", "finetune", str(data), "--out", str(out),
                           "--model", "local:gemma3-270m", "--lora", "--max-steps", "3", "--effective-batch-size", "2",
                           "--per-device-batch-size", "2", "--learning-rate", "2e-4"],
                          cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["steps"] == 3 and len(summary["loss_curve"]) == 3
    assert all(p["loss"] > 0 for p in summary["loss_curve"])
    assert (ROOT / ".cache" / "wizevol" / "hf" / "gemma3-270m" / "config.json").exists()
    assert (out / "adapter_model.safetensors").exists()
    assert rows(data)  # the input is untouched


def _bench():
    import importlib.util

    spec = importlib.util.spec_from_file_location("finetune_throughput", ROOT / "bench" / "finetune_throughput.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_flops_come_from_the_models_real_shapes_and_sample_lengths():
    """Grouped-query attention has smaller k/v projections than 4h^2 suggests, and a packed row's samples
    attend only within themselves: the FLOPs count both, from the model built, not from a formula's guess."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    bench = _bench()
    cfg = LlamaConfig(vocab_size=300, hidden_size=64, intermediate_size=160, num_hidden_layers=3,
                      num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=512)
    model = LlamaForCausalLM(cfg)
    linear = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    lengths = [100, 300, 50]
    f = bench.flop_inputs(cfg, lengths)
    assert f["matmul_params"] == linear
    assert f["dense_flops_per_token"] == 6 * linear
    assert f["matmul_params"] < 3 * (4 * 64**2 + 3 * 64 * 160) + 300 * 64  # what counting 4h^2 would say
    pairs = sum(n * (n + 1) / 2 for n in lengths)
    assert f["attention_flops_per_token"] == 12 * 3 * 8 * 8 * pairs / 450
    # the same tokens packed into one 450-token row cost far less attention than one 450-token sample
    assert f["attention_flops_per_token"] < bench.flop_inputs(cfg, [450])["attention_flops_per_token"] / 1.5


def test_bench_reads_sample_lengths_from_the_batches_trained():
    import torch

    bench = _bench()
    packed = {"input_ids": torch.zeros(2, 5), "position_ids": torch.tensor([[0, 1, 2, 0, 1], [0, 1, 2, 3, 0]])}
    assert bench.segment_lengths(packed) == [3, 2, 4, 1]
    padded = {"input_ids": torch.zeros(2, 4), "attention_mask": torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])}
    assert bench.segment_lengths(padded) == [3, 2]
