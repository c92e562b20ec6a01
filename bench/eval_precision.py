"""The eval's transformers generation in bf16 next to fp32 on this CPU, side by side in one run.

`wizevol eval` of a model folder generates in bf16 where the CPU computes it natively (AVX512-BF16, AMX) and in
fp32 elsewhere (`wizevol.eval.generate.hf_dtype`). This times both on the same batch of HumanEval prompts with
the student of `make reproduce` (Qwen2.5-Coder-0.5B-Instruct, dequantized from its packaged GGUF), a fixed number
of new tokens each, and says how many of the greedy completions agree token for token.

    .venv/bin/python bench/eval_precision.py [--problems 10] [--tokens 64]
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=10)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--model", default="local:qwen2.5-coder-0.5b")
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from wizevol.eval.benchmark import load_benchmark
    from wizevol.eval.extract import build_prompt
    from wizevol.eval.generate import hf_dtype
    from wizevol.train.finetune import resolve_model

    path = resolve_model(args.model, ".cache/wizevol")
    tok = AutoTokenizer.from_pretrained(path)
    tok.padding_side = "left"
    _, problems = load_benchmark("humaneval", args.problems)
    enc = tok([build_prompt(p, "wizardcoder") for p in problems], return_tensors="pt", padding=True)
    print(f"{args.model}: {len(problems)} HumanEval prompts in one batch, {args.tokens} new tokens each, greedy, "
          f"{torch.get_num_threads()} threads; torch {torch.__version__}, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}; hf_dtype() here: {hf_dtype()}")
    outs, walls = {}, {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        net = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).eval()
        with torch.no_grad():
            net.generate(**enc, max_new_tokens=2, do_sample=False)  # warm
            t0 = time.perf_counter()
            out = net.generate(**enc, max_new_tokens=args.tokens, min_new_tokens=args.tokens, do_sample=False,
                               pad_token_id=tok.pad_token_id)
            walls[name] = time.perf_counter() - t0
        outs[name] = out[:, enc["input_ids"].shape[1]:].tolist()
        print(f"  {name}: {walls[name]:6.1f} s  ({len(problems) * args.tokens / walls[name]:.1f} tokens/s)")
        del net
    same = sum(a == b for a, b in zip(outs["fp32"], outs["bf16"], strict=True))
    print(f"ratio fp32/bf16: {walls['fp32'] / walls['bf16']:.2f}x; completions identical token for token: "
          f"{same}/{len(problems)}")


if __name__ == "__main__":
    main()
