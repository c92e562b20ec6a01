"""Where completions come from: a fine-tune output folder (full weights or a LoRA adapter over its base) run
with transformers, batched, on CPU or GPU; or a served model (the embedded `local:gemma3-270m`, or any
OpenAI-compatible URL) through the same client, retries and cache as `evolve`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from wizevol.errors import InputError, WizevolError

Job = tuple[str, int, str]  # task_id, sample index, prompt
OnDone = Callable[[str, int, str], None]  # task_id, sample index, raw completion
Settled = Callable[[str, str], bool]  # task_id, text so far -> nothing after it can change the score


@dataclass(frozen=True)
class Sampling:
    """How to sample: greedy at temperature 0."""

    temperature: float = 0.0
    max_new_tokens: int = 512
    stop: tuple[str, ...] = ()
    top_p: float = 0.95


def is_finetune_folder(model: str) -> bool:
    """A folder written by `wizevol finetune` (or any transformers model / peft adapter folder)."""
    p = Path(model)
    return p.is_dir() and ((p / "config.json").is_file() or (p / "adapter_config.json").is_file())


def hf_dtype() -> str:
    """bf16 on a GPU, and on a CPU that computes it natively (AVX512-BF16 / AMX: about 3x faster than fp32 for
    Qwen2.5-Coder 0.5B on the 2-core EPYC here, bench/eval_precision.py); fp32 elsewhere, where bf16 would be
    emulated and slow."""
    import torch

    if torch.cuda.is_available():
        return "bf16"
    try:
        return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"
    except (AttributeError, RuntimeError):
        return "fp32"


def settled_stop(tokenizer, task_ids: list[str], prompt_len: int, settled: Settled):
    """A stopping criterion that ends each row of a batch once `settled(task_id, text so far)`: a chat-tuned
    model's closing prose (often half of its tokens) is not generated when it can no longer change the score."""
    import torch
    from transformers import StoppingCriteria

    class SettledStop(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            done = [settled(t, tokenizer.decode(row[prompt_len:], skip_special_tokens=True))
                    for t, row in zip(task_ids, input_ids, strict=True)]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return SettledStop()


def generate_hf(model: str, jobs: list[Job], sampling: Sampling, on_done: OnDone, batch_size: int = 8,
                cache_dir: str = ".cache/wizevol", settled: Settled | None = None, dtype: str = "fp32") -> None:
    """Generate with transformers from a model folder; a LoRA adapter is loaded over its base model. A row
    stops at the end of sequence, at `max_new_tokens`, or once `settled` says the rest cannot matter."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, StoppingCriteriaList

    folder = Path(model)
    adapter = folder / "adapter_config.json"
    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[dtype]
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        if adapter.is_file():
            from peft import PeftModel

            from wizevol.train.finetune import resolve_model

            base_name = json.loads(adapter.read_text())["base_model_name_or_path"]
            base = AutoModelForCausalLM.from_pretrained(resolve_model(base_name, cache_dir), dtype=dtype)
            net = PeftModel.from_pretrained(base, folder).merge_and_unload()
        else:
            net = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
    except (OSError, ValueError, KeyError) as e:
        raise WizevolError(f"cannot load {model}: {' '.join(str(e).split())[:200]}") from None
    if torch.cuda.is_available():
        net = net.cuda()
    net.eval()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    for start in range(0, len(jobs), batch_size):
        batch = jobs[start:start + batch_size]
        enc = tokenizer([p for _, _, p in batch], return_tensors="pt", padding=True).to(net.device)
        kwargs = {"do_sample": True, "temperature": sampling.temperature, "top_p": sampling.top_p} \
            if sampling.temperature > 0 else {"do_sample": False}
        if settled is not None:
            kwargs["stopping_criteria"] = StoppingCriteriaList(
                [settled_stop(tokenizer, [t for t, _, _ in batch], enc["input_ids"].shape[1], settled)])
        with torch.no_grad():
            out = net.generate(**enc, max_new_tokens=sampling.max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                               **kwargs)
        for (task_id, i, _), row in zip(batch, out, strict=True):
            text = tokenizer.decode(row[enc["input_ids"].shape[1]:], skip_special_tokens=True)
            for s in sampling.stop:  # what a server's stop sequences would have cut
                cut = text.find(s)
                if cut >= 0:
                    text = text[:cut]
            on_done(task_id, i, text)


def generate_served(cfg, folder, jobs: list[Job], sampling: Sampling, mode: str, on_done: OnDone,
                    notify: Callable[[str], None] | None = None, on_failed: OnDone | None = None) -> None:
    """Generate through the evolver role of `cfg` (local model or an endpoint), with the run's cache: every
    (task, sample) is its own cached call, so a rerun or a resumed eval pays nothing twice. A call that fails for
    good (after its retries) goes to `on_failed(task_id, i, error)` and the others go on; an endpoint that is
    down still stops the eval."""
    from wizevol.llm.client import CallFailed
    from wizevol.llm.session import open_session
    from wizevol.prompts import Request

    with open_session(cfg, folder, ("evolver",), notify) as session:
        role = session.cfg.role("evolver", session.local_urls).model_copy(update={
            "temperature": sampling.temperature, "top_p": sampling.top_p, "max_tokens": sampling.max_new_tokens,
            "mode": mode})
        session.llm.client_for(role)  # a missing key fails now

        async def all_jobs() -> None:
            bound = asyncio.Semaphore(session.cfg.concurrency)

            async def one(task_id: str, i: int, prompt: str) -> None:
                request = (Request("chat", messages=[{"role": "user", "content": prompt}], stop=sampling.stop)
                           if mode == "chat" else Request("completion", prompt=prompt, stop=sampling.stop))
                async with bound:
                    try:
                        answer = await session.llm.complete(role, request, 0, at=f"{task_id}#{i}")
                    except CallFailed as e:
                        if on_failed is None:
                            raise WizevolError(f"{task_id}: generation failed: {e}") from None
                        on_failed(task_id, i, str(e))
                        return
                on_done(task_id, i, answer.text)

            try:
                await asyncio.gather(*(one(*job) for job in jobs))
            finally:
                await session.llm.aclose()

        asyncio.run(all_jobs())


def pending(jobs: list[Job], done: set[tuple[str, int]]) -> Iterator[Job]:
    """The jobs not done yet."""
    return (j for j in jobs if (j[0], j[1]) not in done)


def check_model(model: str, base_url: str | None) -> None:
    """A model name the eval can use, or one clear line."""
    if base_url is None and not model.startswith("local:") and not is_finetune_folder(model):
        raise InputError(f"{model}: not a model folder (config.json or adapter_config.json); use a "
                         "`wizevol finetune` output, local:NAME (local:qwen2.5-coder-1.5b, local:gemma3-270m, or "
                         "local:PATH.gguf), or a served model with --base-url")
