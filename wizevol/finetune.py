"""`wizevol finetune`: TRL SFT on merged data with the WizardCoder recipe.

Recipe defaults: Alpaca prompt with the loss on the response only (TRL's completion-only loss on
prompt/completion data), lr 2e-5, cosine schedule, 30 warmup steps, 3 epochs, max length 2048, effective
batch 512 through gradient accumulation, gradient checkpointing, bf16/fp16 where the hardware has them.
LoRA (peft) and packing are optional. The command stays thin: it builds TRL's config objects, calls the
trainer and writes the model plus `train_summary.json`. Multi-GPU / multi-node: `accelerate launch` with the
DeepSpeed ZeRO-3 or FSDP profiles in configs/finetune/.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wizevol.config import read_yaml
from wizevol.errors import InputError, WizevolError
from wizevol.merge import ALPACA_PROMPT
from wizevol.record import record_text


class FinetuneConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field("local:gemma3-270m", description="HF id, local folder, or local:gemma3-270m")
    learning_rate: float = Field(2e-5, gt=0)
    lr_scheduler_type: str = "cosine"
    warmup_steps: int = Field(30, ge=0)
    num_train_epochs: float = Field(3.0, gt=0)
    max_steps: int = -1
    max_length: int = Field(2048, ge=16)
    effective_batch_size: int = Field(512, ge=1)
    per_device_batch_size: int = Field(8, ge=1)
    gradient_checkpointing: bool = True
    packing: bool = False
    padding_free: bool = False
    use_liger_kernel: bool = False
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    attn_implementation: str | None = "sdpa"
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: str | list[str] = "all-linear"
    seed: int = 42
    logging_steps: int = 1
    holdout: int = Field(0, ge=0, description="records held back from training and answered before/after")
    sample_max_new_tokens: int = 96
    cache_dir: str = ".cache/wizevol"


def load_finetune_config(path: str | Path | None, overrides: dict[str, Any]) -> FinetuneConfig:
    data: dict[str, Any] = read_yaml(path) if path is not None else {}
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return FinetuneConfig.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise InputError(f"{path or 'finetune config'}: {where}: {msg}") from None


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def grad_accum_steps(cfg: FinetuneConfig) -> int:
    return max(1, math.ceil(cfg.effective_batch_size / (cfg.per_device_batch_size * world_size())))


def resolve_model(name: str, cache_dir: str | Path) -> str:
    """`local:gemma3-270m` -> a safetensors folder converted once from the packaged GGUF; else as given."""
    if not name.startswith("local:"):
        return name
    local = name.split(":", 1)[1]
    target = Path(cache_dir) / "hf" / local
    if (target / "config.json").is_file():
        return str(target)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from wizevol.local_server import model_path

    gguf = model_path(local, cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # transformers marks a GGUF-loaded model as quantized and Trainer refuses it; the weights are already fp32
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    os.replace(tmp, target)
    return str(target)


def load_training_data(path: str | Path):
    """JSONL/JSON/parquet file or a `datasets` folder, in any of merge's formats -> prompt/completion or messages."""
    import datasets

    datasets.disable_progress_bars()
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: training data not found")
    try:
        if p.is_dir():
            ds = datasets.load_from_disk(str(p))
        else:
            builder = "parquet" if p.suffix == ".parquet" else "json"
            ds = datasets.load_dataset(builder, data_files=str(p), split="train")
    except Exception as e:  # datasets raises many types; all mean "could not read this file"
        raise InputError(f"{p}: cannot read training data: {' '.join(str(e).split())[:200]}") from None
    cols = set(ds.column_names)
    if {"prompt", "completion"} <= cols:
        keep = ["prompt", "completion"]
    elif "messages" in cols:
        keep = ["messages"]
    elif {"instruction", "output"} <= cols:
        def to_pc(r):
            return {"prompt": ALPACA_PROMPT.format(instruction=record_text(r)), "completion": r["output"]}

        ds = ds.map(to_pc)
        keep = ["prompt", "completion"]
    else:
        raise InputError(f"{p}: expected columns prompt/completion, messages, or instruction/output; "
                         f"found {sorted(cols)}")
    ds = ds.remove_columns([c for c in ds.column_names if c not in keep])
    if len(ds) == 0:
        raise InputError(f"{p}: no training records")
    return ds


def _precision(cfg: FinetuneConfig) -> dict[str, bool]:
    import torch

    if cfg.precision == "fp32" or (cfg.precision == "auto" and not torch.cuda.is_available()):
        return {"bf16": False, "fp16": False}
    if cfg.precision == "bf16" or (cfg.precision == "auto" and torch.cuda.is_bf16_supported()):
        return {"bf16": True, "fp16": False}
    return {"bf16": False, "fp16": True}


def sft_config(cfg: FinetuneConfig, out: str | Path, messages: bool = False):
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(out),
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler_type,
        warmup_steps=cfg.warmup_steps,
        num_train_epochs=cfg.num_train_epochs,
        max_steps=cfg.max_steps,
        max_length=cfg.max_length,
        per_device_train_batch_size=cfg.per_device_batch_size,
        gradient_accumulation_steps=grad_accum_steps(cfg),
        gradient_checkpointing=cfg.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if cfg.gradient_checkpointing else None,
        packing=cfg.packing,
        padding_free=cfg.padding_free,
        use_liger_kernel=cfg.use_liger_kernel,
        completion_only_loss=None if messages else True,  # loss on the response only
        assistant_only_loss=messages,
        logging_steps=cfg.logging_steps,
        save_strategy="no",
        report_to="none",
        seed=cfg.seed,
        use_cpu=not _has_cuda(),
        dataloader_num_workers=0,
        include_num_input_tokens_seen="non_padding",
        **_precision(cfg),
    )


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


class _Progress:
    """Loss curve and tokens seen, collected from the trainer's logs."""

    def __init__(self) -> None:
        from transformers import TrainerCallback

        outer = self

        class CB(TrainerCallback):
            def on_log(self, args, state, control, logs=None, **kw):
                if logs and "loss" in logs:
                    outer.curve.append({"step": state.global_step, "loss": float(logs["loss"])})

        self.callback = CB()
        self.curve: list[dict[str, float]] = []


def build_trainer(data: str | Path, out: str | Path, cfg: FinetuneConfig):
    """TRL SFTTrainer for `data`, plus the held-back records and the loss collector."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTTrainer

    ds = load_training_data(data)
    holdout = None
    if cfg.holdout:
        if cfg.holdout >= len(ds):
            raise InputError(f"holdout {cfg.holdout} leaves no training records ({len(ds)} in {data})")
        holdout = ds.select(range(len(ds) - cfg.holdout, len(ds)))
        ds = ds.select(range(len(ds) - cfg.holdout))
    model_id = resolve_model(cfg.model, cfg.cache_dir)
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_id)
        prec = _precision(cfg)
        dtype = torch.bfloat16 if prec["bf16"] else torch.float16 if prec["fp16"] else torch.float32
        kwargs = {"dtype": dtype}
        if cfg.attn_implementation:
            kwargs["attn_implementation"] = cfg.attn_implementation
        model = AutoModelForCausalLM.from_pretrained(model_id, **kwargs)
    except OSError as e:
        raise WizevolError(f"cannot load model {cfg.model!r}: {' '.join(str(e).split())[:200]}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    messages = "messages" in ds.column_names
    if messages and not tokenizer.chat_template:
        raise InputError(f"{data}: messages data needs a tokenizer with a chat template; {cfg.model} has none "
                         "(merge with --format prompt-completion)")
    peft_config = None
    if cfg.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                                 target_modules=cfg.lora_target_modules, task_type="CAUSAL_LM")
    progress = _Progress()
    trainer = SFTTrainer(model=model, args=sft_config(cfg, out, messages), train_dataset=ds,
                         processing_class=tokenizer, peft_config=peft_config, callbacks=[progress.callback])
    return trainer, holdout, progress


def _answer(model, tokenizer, prompt: str, max_new_tokens: int) -> str:
    import torch

    model.eval()
    ids = tokenizer(prompt, return_tensors="pt").to(model.device)
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0][ids["input_ids"].shape[1]:], skip_special_tokens=True).strip()


def run_finetune(data: str | Path, out: str | Path, cfg: FinetuneConfig) -> dict[str, Any]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    trainer, holdout, progress = build_trainer(data, out, cfg)
    tokenizer = trainer.processing_class
    samples = []
    if holdout is not None:
        for r in holdout:
            samples.append({"prompt": r["prompt"], "reference": r["completion"],
                            "before": _answer(trainer.model, tokenizer, r["prompt"], cfg.sample_max_new_tokens)})
    t0 = time.time()
    result = trainer.train()
    wall = time.time() - t0
    for s, r in zip(samples, holdout or [], strict=False):
        s["after"] = _answer(trainer.model, tokenizer, r["prompt"], cfg.sample_max_new_tokens)
    trainer.save_model(str(out))
    tokenizer.save_pretrained(str(out))
    steps = trainer.state.global_step
    args = trainer.args
    tokens_seen = int(trainer.state.num_input_tokens_seen or 0)  # non-padding tokens, all processes
    summary = {
        "model": cfg.model,
        "data": str(data),
        "train_records": len(trainer.train_dataset),
        "steps": steps,
        "loss_curve": progress.curve,
        "first_loss": progress.curve[0]["loss"] if progress.curve else None,
        "final_loss": progress.curve[-1]["loss"] if progress.curve else None,
        "train_loss": result.training_loss,
        "wall_s": round(wall, 2),
        "tokens_seen": tokens_seen,
        "tokens_per_s": round(tokens_seen / wall, 1) if wall > 0 else None,
        "effective_batch_size": args.per_device_train_batch_size * args.gradient_accumulation_steps * world_size(),
        "gradient_accumulation_steps": args.gradient_accumulation_steps,
        "lora": cfg.lora,
        "config": cfg.model_dump(mode="json"),
        "samples": samples,
    }
    (out / "train_summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    return summary
