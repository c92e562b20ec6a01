"""`wizevol finetune`: TRL SFT on merged data with the WizardCoder recipe.

Recipe defaults: Alpaca prompt with the loss on the response only (TRL's completion-only loss on
prompt/completion data), lr 2e-5, cosine schedule, 30 warmup steps, 3 epochs, max length 2048, effective
batch 512 through gradient accumulation, gradient checkpointing, bf16/fp16 where the hardware has them.
LoRA (peft) and packing are optional. The command stays thin: the recipe and the config's `sft:` block go
straight into TRL's SFTConfig (wizevol adds only the loss mask, the batch arithmetic and the precision), then
it calls the trainer and writes the model plus `train_summary.json`. Multi-GPU / multi-node: `accelerate launch` with the
DeepSpeed ZeRO-3 or FSDP profiles in configs/finetune/.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import warnings
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wizevol.config_file import format_validation, read_yaml
from wizevol.errors import InputError, WizevolError, WizevolWarning
from wizevol.old_names import DeprecatedName
from wizevol.record import fold_input
from wizevol.train.formats import ALPACA_PROMPT

# The WizardCoder recipe: what `sft:` starts from. Any key of TRL's SFTConfig may be set in `sft:`; these are
# the ones the recipe fixes. gradient_accumulation_steps is not among them: it follows from effective_batch_size.
RECIPE: dict[str, Any] = {
    "learning_rate": 2e-5,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 30,
    "num_train_epochs": 3.0,
    "max_length": 2048,
    "per_device_train_batch_size": 8,
    "gradient_checkpointing": True,
    "packing": False,
    "logging_steps": 1,
    "seed": 42,
}
# keys of the 0.1 config that now live in `sft:` (accepted for one release, with a warning)
OLD_SFT_KEYS = {"learning_rate": "learning_rate", "lr_scheduler_type": "lr_scheduler_type",
                "warmup_steps": "warmup_steps", "num_train_epochs": "num_train_epochs", "max_steps": "max_steps",
                "max_length": "max_length", "per_device_batch_size": "per_device_train_batch_size",
                "gradient_checkpointing": "gradient_checkpointing", "packing": "packing",
                "padding_free": "padding_free", "use_liger_kernel": "use_liger_kernel", "seed": "seed",
                "logging_steps": "logging_steps"}
# set by wizevol itself: the loss mask, the batch arithmetic, where and whether things are written
OWNED = ("output_dir", "gradient_accumulation_steps", "completion_only_loss", "assistant_only_loss", "bf16",
         "fp16", "use_cpu", "include_num_input_tokens_seen")
# the CPU config a warning points to
CPU_CONFIG = "configs/finetune/demo-cpu.yaml"


class FinetuneWarning(WizevolWarning):
    """A fine-tune that will run but not as the user likely hopes (no GPU, too little data)."""


class FinetuneConfig(BaseModel):
    """What is wizevol's own; everything TRL knows goes in `sft:` and passes straight into `SFTConfig`."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field("local:gemma3-270m", description="HF id, local folder, or local:gemma3-270m")
    effective_batch_size: int = Field(512, ge=1, description="per optimizer step, all GPUs: sets grad accumulation")
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    attn_implementation: str | None = "sdpa"
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: str | list[str] = "all-linear"
    holdout: int = Field(0, ge=0, description="records held back from training and answered before/after")
    sample_max_new_tokens: int = 96
    cache_dir: str = ".cache/wizevol"
    sft: dict[str, Any] = Field(default_factory=dict, description="TRL SFTConfig keys over the recipe")

    def sft_args(self) -> dict[str, Any]:
        """The recipe with the `sft:` block over it."""
        return {**RECIPE, **self.sft}

    @property
    def per_device_batch_size(self) -> int:
        """The micro-batch per device, from the `sft:` block over the recipe."""
        return int(self.sft_args()["per_device_train_batch_size"])


def load_finetune_config(path: str | Path | None, overrides: dict[str, Any]) -> FinetuneConfig:
    """YAML (if given), then CLI overrides (dotted `sft.x` keys go into the `sft:` block); errors name the key."""
    data: dict[str, Any] = read_yaml(path) if path is not None else {}
    old = [k for k in data if k in OLD_SFT_KEYS]
    if old:
        warnings.warn(f"finetune config: {', '.join(old)} now go{'es' if len(old) == 1 else ''} under 'sft:' "
                      "(the old place works until the next release)", DeprecatedName, stacklevel=2)
        sft = dict(data.get("sft") or {})
        for k in old:
            sft.setdefault(OLD_SFT_KEYS[k], data.pop(k))
        data["sft"] = sft
    for key, value in overrides.items():
        if value is None:
            continue
        if key.startswith("sft."):
            data["sft"] = {**(data.get("sft") or {}), key[4:]: value}
        elif key == "sft" and isinstance(value, dict):
            raise InputError("finetune overrides: give sft keys one by one (sft.learning_rate), not a whole block")
        else:
            data[key] = value
    source = str(path) if path is not None else "finetune config"
    try:
        cfg = FinetuneConfig.model_validate(data)
    except ValidationError as e:
        raise InputError(format_validation(e, source)) from None
    owned = sorted(set(cfg.sft) & set(OWNED))
    if owned:
        raise InputError(f"{source}: sft.{owned[0]}: set by wizevol (effective_batch_size, precision and the "
                         "data format decide it)")
    _check_sft_keys(cfg, source)
    return cfg


def _check_sft_keys(cfg: FinetuneConfig, source: str) -> None:
    """SFTConfig refuses unknown keys itself; say which one, in one line, before any model is loaded."""
    try:
        from trl import SFTConfig
    except ImportError:
        return  # the train extra is missing: run_finetune says so
    import dataclasses

    known = {f.name for f in dataclasses.fields(SFTConfig)}
    unknown = sorted(set(cfg.sft) - known)
    if unknown:
        raise InputError(f"{source}: sft.{unknown[0]}: not a key of TRL's SFTConfig")


def world_size() -> int:
    """Processes in this training run (accelerate / torchrun set WORLD_SIZE)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def grad_accum_steps(cfg: FinetuneConfig) -> int:
    """Micro-batches per optimizer step, so that one step sees `effective_batch_size` records on all GPUs."""
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

    from wizevol.llm.local_server import model_path

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
            return {"prompt": ALPACA_PROMPT.format(instruction=fold_input(r["instruction"], r.get("input"))),
                    "completion": r["output"]}

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
    """TRL's SFTConfig: the recipe and the `sft:` block as they are, plus what wizevol sets itself."""
    from trl import SFTConfig

    args = cfg.sft_args()
    if args.get("gradient_checkpointing") and "gradient_checkpointing_kwargs" not in args:
        args["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
    args.setdefault("save_strategy", "no")
    args.setdefault("report_to", "none")
    args.setdefault("dataloader_num_workers", 0)
    return SFTConfig(
        output_dir=str(out),
        gradient_accumulation_steps=grad_accum_steps(cfg),
        completion_only_loss=None if messages else True,  # loss on the response only
        assistant_only_loss=messages,
        use_cpu=not _has_cuda(),
        include_num_input_tokens_seen="non_padding",
        **_precision(cfg),
        **args,
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


def _warn_if_unsuited(cfg: FinetuneConfig, records: int) -> None:
    if records < cfg.effective_batch_size:
        warnings.warn(f"{records} training records are fewer than one effective batch ({cfg.effective_batch_size}):"
                      f" an epoch is one optimizer step, mostly warmup; for small data see {CPU_CONFIG}",
                      FinetuneWarning, stacklevel=3)
    if not _has_cuda() and cfg.effective_batch_size > 64:
        warnings.warn(f"no GPU: an effective batch of {cfg.effective_batch_size} takes minutes per step on a CPU; "
                      f"the CPU config is {CPU_CONFIG}", FinetuneWarning, stacklevel=3)
    sft = cfg.sft_args()
    per_device = cfg.per_device_batch_size
    padding_free = sft.get("padding_free") or (sft.get("packing") and sft.get("packing_strategy", "bfd") != "wrapped")
    if padding_free and per_device > 1 and not str(cfg.attn_implementation or "").startswith("flash"):
        warnings.warn(f"padding-free batches of {per_device} rows become one row that {cfg.attn_implementation} "
                      f"attends over whole, masked; install flash-attn, or set sft.per_device_train_batch_size: 1 "
                      f"(bench/finetune_throughput.py on an H100 with sdpa: 14.2k against 11.6k tokens/s)",
                      FinetuneWarning, stacklevel=3)


def build_trainer(data: str | Path, out: str | Path, cfg: FinetuneConfig):
    """TRL SFTTrainer for `data`, plus the held-back records and the loss collector."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTTrainer

    ds = load_training_data(data)
    _warn_if_unsuited(cfg, len(ds) - cfg.holdout)
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
    if len(trainer.train_dataset) == 0:
        raise InputError(f"{data}: none of the {len(ds)} training records keeps a response token within "
                         f"max_length {trainer.args.max_length} (raise sft.max_length)")
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
    """Fine-tune on merged data and write the model and train_summary.json."""
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
