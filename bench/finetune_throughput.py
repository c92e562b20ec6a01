"""Fine-tune throughput: wizevol's configuration vs TRL's plain defaults, same model and data, one run.

The model is a ~1.1B Llama-architecture model built from a config with random weights (a GPU host cannot
download weights, and throughput does not depend on their values). Data: synthetic pre-tokenized
prompt/completion samples with realistic, varied lengths up to 2048 tokens. Prints tokens/s (non-padding
tokens), MFU and the ratio; the aims are >= 1.3x TRL's defaults and >= 45% MFU at sequence length 2048.

    python bench/finetune_throughput.py                 # on a GPU (H100/H200: peak 989 TFLOPS bf16 dense)
    python bench/finetune_throughput.py --tiny --steps 4   # a CPU smoke check of the script itself
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12}


def build_config(tiny: bool):
    from transformers import LlamaConfig

    if tiny:
        cfg = LlamaConfig(vocab_size=1024, hidden_size=64, intermediate_size=172, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048)
    else:  # TinyLlama-1.1B's shape
        cfg = LlamaConfig(vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
                          num_attention_heads=32, num_key_value_heads=4, max_position_embeddings=2048)
    return cfg


def build_model(cfg):
    from transformers import LlamaForCausalLM

    return LlamaForCausalLM(cfg)


def build_tokenizer(vocab: int):
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    vocab_map = {f"t{i}": i for i in range(vocab)}
    tok = Tokenizer(models.WordLevel(vocab=vocab_map, unk_token="t0"))
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="t0", pad_token="t1", eos_token="t2")


def build_data(n: int, vocab: int, max_len: int, seed: int = 0):
    import datasets

    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        p = rng.randint(40, 300)
        c = min(max_len - p, int(rng.lognormvariate(6.0, 0.7)))  # median ~400 tokens, long tail
        ids = [rng.randrange(3, vocab) for _ in range(p + max(c, 16))]
        rows.append({"input_ids": ids, "completion_mask": [0] * p + [1] * (len(ids) - p)})
    return datasets.Dataset.from_list(rows)


def flop_inputs(cfg, lengths: list[int]) -> dict:
    """Training FLOPs per token from the model's real shapes and the samples' real lengths.

    Dense: 6 x the weights of every matmul (q and o: h x heads*head_dim; k and v: h x kv_heads*head_dim under
    grouped-query attention; gate, up, down; the LM head). Attention: each sample attends only within itself
    (a packed row's samples keep their own positions; padding is not useful work), causally: L(L+1)/2
    query-key pairs, each 4*heads*head_dim FLOPs forward (QK^T and AV), x3 with the backward pass."""
    h, heads, layers = cfg.hidden_size, cfg.num_attention_heads, cfg.num_hidden_layers
    kv = getattr(cfg, "num_key_value_heads", None) or heads
    head_dim = getattr(cfg, "head_dim", None) or h // heads
    attn_proj = 2 * h * heads * head_dim + 2 * h * kv * head_dim
    mlp = 3 * h * cfg.intermediate_size
    matmul_params = layers * (attn_proj + mlp) + cfg.vocab_size * h
    tokens = sum(lengths)
    pairs = sum(n * (n + 1) // 2 for n in lengths)
    dense = 6 * matmul_params
    attention = 12 * layers * heads * head_dim * pairs / tokens
    return {"layers": layers, "hidden": h, "heads": heads, "kv_heads": kv, "head_dim": head_dim,
            "intermediate": cfg.intermediate_size, "vocab": cfg.vocab_size, "matmul_params": matmul_params,
            "samples": len(lengths), "mean_len": tokens / len(lengths), "pairs_per_token": pairs / tokens,
            "dense_flops_per_token": dense, "attention_flops_per_token": attention,
            "flops_per_token": dense + attention}


def segment_lengths(batch) -> list[int]:
    """The samples in one collated batch, as the model attends over them: a padding-free (packed) row restarts
    its `position_ids` at 0 for each sample; a padded row's sample is its attention mask's ones."""
    if "position_ids" in batch:
        lengths = []
        for row in batch["position_ids"].tolist():
            starts = [i for i, p in enumerate(row) if p == 0] + [len(row)]
            lengths += [b - a for a, b in zip(starts, starts[1:], strict=False) if b > a]
        return lengths
    if "attention_mask" in batch:
        return [int(n) for n in batch["attention_mask"].sum(dim=1).tolist()]
    return [batch["input_ids"].shape[1]] * batch["input_ids"].shape[0]


def settings(args, attn_impl: str) -> dict:
    """What sets a configuration's speed, printed next to its tokens/s."""
    return {"gradient_checkpointing": bool(args.gradient_checkpointing), "packing": bool(getattr(args, "packing", False)),
            "padding_free": bool(getattr(args, "padding_free", False)), "bf16": bool(args.bf16),
            "batch": args.per_device_train_batch_size, "grad_accum": args.gradient_accumulation_steps,
            "attn": attn_impl, "liger": bool(getattr(args, "use_liger_kernel", False))}


def run(name: str, args, model, tokenizer, data, profile: str | None = None) -> dict:
    import torch
    from transformers import TrainerCallback
    from trl import SFTTrainer

    marks = []
    prof = None
    if profile:  # steps 3-4 (after two warm-up steps), kernels by their total time, written to PROFILE.<config>.txt
        from torch.profiler import ProfilerActivity, schedule

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
        prof = torch.profiler.profile(activities=activities, schedule=schedule(wait=1, warmup=1, active=2))
        prof.start()

    class Clock(TrainerCallback):
        def on_step_end(self, a, state, control, **kw):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            marks.append((time.perf_counter(), state.num_input_tokens_seen))
            if prof is not None and len(marks) <= 4:
                prof.step()
                if len(marks) == 4:
                    prof.stop()
                    key = "cuda_time_total" if torch.cuda.is_available() else "cpu_time_total"
                    Path(f"{profile}.{name.replace(':', '_').replace('=', '-')}.txt").write_text(
                        prof.key_averages().table(sort_by=key, row_limit=25, max_name_column_width=70))

    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer, callbacks=[Clock()])
    lengths: list[int] = []  # every sample of every batch trained, as attended (see segment_lengths)
    collate = trainer.data_collator

    def recording_collator(features):
        batch = collate(features)
        lengths.extend(segment_lengths(batch))
        return batch

    trainer.data_collator = recording_collator
    trainer.train()
    warm = min(2, len(marks) - 2)
    (t0, n0), (t1, n1) = marks[warm], marks[-1]
    tps = (n1 - n0) / (t1 - t0)
    out = {"config": name, "steps": len(marks), "tokens_per_s": tps, "s_per_step": (t1 - t0) / (len(marks) - 1 - warm),
           "peak_mem_gb": torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None,
           "lengths": lengths}
    del trainer
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--tiny", action="store_true", help="tiny model on CPU: checks the script, not the numbers")
    ap.add_argument("--peak-tflops", type=float, default=None, help="bf16 dense peak of this card")
    ap.add_argument("--also", action="append", default=[], metavar="KEY=VALUE[,KEY=VALUE]",
                    help="also run wizevol's configuration with these keys over it, e.g. "
                         "sft.per_device_train_batch_size=1 or attn_implementation=flex_attention")
    ap.add_argument("--skip", action="append", default=[], choices=["trl-defaults", "wizevol"])
    ap.add_argument("--profile", metavar="PREFIX", help="write each configuration's top kernels (steps 3-4) to "
                                                         "PREFIX.<config>.txt")
    ap.add_argument("--only", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.only is None:  # each configuration in its own process: accelerate's state is process-global
        import subprocess

        passthrough = [a for a in sys.argv[1:]]
        results = []
        names = [n for n in ("trl-defaults", "wizevol") if n not in args.skip] + [f"wizevol:{a}" for a in args.also]
        for name in names:
            proc = subprocess.run([sys.executable, __file__, *passthrough, "--only", name], capture_output=True,
                                  text=True)
            if proc.returncode != 0:
                if name.startswith("wizevol:"):  # an extra configuration that does not run here: say so, keep the rest
                    why = [ln for ln in proc.stderr.splitlines() if "Error" in ln][-1:] or proc.stderr.splitlines()[-1:]
                    print(f"{name} failed: {why}", flush=True)
                    continue
                sys.exit(f"{name} failed:\n{proc.stderr[-3000:]}")
            header, line = proc.stdout.strip().splitlines()[-2:]
            results.append(json.loads(line))
            print(f"{name}: {results[-1]['tokens_per_s']:.0f} tokens/s", flush=True)
            print(json.dumps(results[-1]), flush=True)  # kept if a later configuration runs out of time
        report(header, results)
        return

    import importlib.util

    import torch
    from trl import SFTConfig

    from wizevol.train.finetune import load_finetune_config, sft_config

    gpu = torch.cuda.is_available()
    seq = 256 if args.tiny else 2048
    cfg = build_config(args.tiny)
    tokenizer = build_tokenizer(cfg.vocab_size)
    data = build_data(64 if args.tiny else 4096, cfg.vocab_size, seq)
    flash = importlib.util.find_spec("flash_attn") is not None
    attn = "flash_attention_2" if (gpu and flash) else "sdpa"
    extra = {}
    if args.only.startswith("wizevol:"):
        for kv in args.only.split(":", 1)[1].split(","):
            key, value = kv.split("=", 1)
            extra[key] = int(value) if value.isdigit() else value
        attn = extra.get("attn_implementation", attn)
    ours = load_finetune_config(ROOT / "configs" / "finetune" / "h100.yaml",
                                {"sft.max_steps": args.steps, "sft.max_length": seq, "attn_implementation": attn,
                                 "effective_batch_size": 8 if gpu else 2,
                                 "sft.per_device_train_batch_size": 8 if gpu else 2,
                                 "precision": "bf16" if gpu else "fp32", "sft.warmup_steps": 0,
                                 "sft.use_liger_kernel": gpu and importlib.util.find_spec("liger_kernel") is not None,
                                 **extra})
    dtype = torch.bfloat16 if gpu else torch.float32
    with tempfile.TemporaryDirectory() as tmp:
        # TRL's plain defaults, only the length, the step count and the batch matched
        trl_args = SFTConfig(output_dir=f"{tmp}/trl", max_length=seq, max_steps=args.steps, report_to="none",
                             save_strategy="no", logging_steps=1, per_device_train_batch_size=8 if gpu else 2,
                             include_num_input_tokens_seen="non_padding", use_cpu=not gpu)
        targs, attn_impl = ((trl_args, "sdpa") if args.only == "trl-defaults"
                            else (sft_config(ours, f"{tmp}/ours"), attn))
        torch.manual_seed(0)
        with torch.device("cuda" if gpu else "cpu"):  # a GPU initialises 1.1B weights in a second
            model = build_model(cfg).to(dtype)
        model.config._attn_implementation = attn_impl
        if gpu:
            model = model.cuda()
        result = run(args.only, targs, model, tokenizer, data, args.profile)
        result["settings"] = settings(targs, attn_impl)
    device = torch.cuda.get_device_name() if gpu else "cpu"
    peak = (args.peak_tflops * 1e12 if args.peak_tflops else
            next((v for k, v in PEAK_BF16.items() if k in device), None)) if gpu else None
    result["flops"] = flop_inputs(cfg, result.pop("lengths"))
    result["mfu"] = result["tokens_per_s"] * result["flops"]["flops_per_token"] / peak if peak else None
    result["peak_flops"] = peak
    params = sum(p.numel() for p in model.parameters()) / 1e9
    print(f"device: {device}; model params: {params:.2f}B; seq {seq}; attention for wizevol: {attn}")
    print(json.dumps(result))


def report(header: str, results: list[dict]) -> None:
    print(header)
    f = results[0]["flops"]
    print(f"MFU = tokens/s x FLOPs/token / peak. FLOPs/token = 6 x {f['matmul_params']:,} matmul weights "
          f"({f['layers']} layers, hidden {f['hidden']}, {f['heads']} heads / {f['kv_heads']} kv heads of "
          f"{f['head_dim']}, intermediate {f['intermediate']}, vocab {f['vocab']}) = {f['dense_flops_per_token']:.3e}"
          f", + causal attention within each sample = 12 x layers x heads x head_dim x query-key pairs per token, "
          f"from the samples of the batches each config trained on:")
    for r in results:
        g = r["flops"]
        print(f"  {r['config']}: {g['samples']} samples, mean {g['mean_len']:.0f} tokens, "
              f"{g['pairs_per_token']:.1f} pairs/token -> attention {g['attention_flops_per_token']:.3e}, "
              f"total {g['flops_per_token']:.3e} FLOPs/token")
    print(f"{'config':>14} {'tokens/s':>10} {'s/step':>7} {'MFU':>6} {'peak GB':>8}  settings")
    for r in results:
        mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "n/a"
        mem = f"{r['peak_mem_gb']:.1f}" if r["peak_mem_gb"] is not None else "n/a"
        st = " ".join(f"{k}={v}" for k, v in r["settings"].items())
        print(f"{r['config']:>14} {r['tokens_per_s']:>10.0f} {r['s_per_step']:>7.2f} {mfu:>6} {mem:>8}  {st}")
    if results[0]["config"] == "trl-defaults":  # not with --skip trl-defaults
        for r in results[1:]:
            print(f"ratio {r['config']} / trl-defaults: {r['tokens_per_s'] / results[0]['tokens_per_s']:.2f}x")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
