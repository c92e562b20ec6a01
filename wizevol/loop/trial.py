"""A trial: one fine-tune on one dataset, then one eval of the tuned model. Evol Stop and the round ablation are
made of trials, so a trial is cached by what decides its result (the data's digest, the fine-tune config and
the eval settings): the same cell asked twice, by a rerun, by Evol Stop and then the ablation, is paid once.

runs/NAME/trials/<key>/
  data.jsonl     the training rows (prompt-completion)
  model/         the `wizevol finetune` output (skipped when its train_summary.json is there)
  eval/          the `wizevol eval` folder (resumes by itself)
  trial.json     the result; its presence is the done-marker
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from wizevol.config_filters import TrialConfig
from wizevol.eval import EvalSettings, run_eval
from wizevol.eval.benchmark import load_benchmark
from wizevol.run_folder import RunFolder, dumps_line, hold, write_atomic
from wizevol.train.finetune import FinetuneConfig, load_finetune_config, resolve_model, run_finetune

Event = Callable[..., None]


def finetune_cfg(trial: TrialConfig) -> FinetuneConfig:
    """The trial's fine-tune config file with its `finetune:` keys over it (an `sft:` block key by key)."""
    keys = {k: v for k, v in trial.finetune.items() if k != "sft"}
    keys.update({f"sft.{k}": v for k, v in (trial.finetune.get("sft") or {}).items()})
    return load_finetune_config(trial.finetune_config, keys)


def eval_settings(trial: TrialConfig) -> EvalSettings:
    """What the eval of each trial uses."""
    return EvalSettings(trial.benchmark, trial.limit, trial.n_samples, trial.temperature, trial.max_new_tokens,
                        trial.prompt)


def digest(rows: list[dict[str, Any]]) -> str:
    """The training data's identity: its rows, in order."""
    h = hashlib.sha256()
    for r in rows:
        h.update(dumps_line(r).encode("utf-8"))
    return h.hexdigest()[:16]


def trial_key(data_digest: str | None, ft: FinetuneConfig, settings: EvalSettings) -> str:
    """(data, fine-tune config, eval settings and the problems themselves) -> the trial's folder name, so an
    edited benchmark file is a new trial. No data: the base model itself."""
    _, problems = load_benchmark(settings.benchmark, settings.limit)
    bench = hashlib.sha256(json.dumps([asdict(p) for p in problems], sort_keys=True).encode()).hexdigest()[:16]
    blob = json.dumps({"data": data_digest, "finetune": ft.model_dump(mode="json", exclude={"cache_dir"}),
                       "eval": asdict(settings), "problems": bench}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def count_tokens(rows: list[dict[str, Any]], ft: FinetuneConfig) -> list[int]:
    """Tokens of each row (prompt + completion) under the tokenizer of the model being fine-tuned."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(resolve_model(ft.model, ft.cache_dir))
    return [len(tok(r["prompt"] + r["completion"])["input_ids"]) for r in rows]


def run_trial(root: str | Path, rows: list[dict[str, Any]] | None, ft: FinetuneConfig, settings: EvalSettings,
              label: str, on_event: Event | None = None, tokens: int | None = None,
              batch_size: int = 8, allow_weak_sandbox: bool = False) -> dict[str, Any]:
    """Fine-tune on `rows` (None: evaluate the base model as it is), evaluate, and return trial.json's content.
    A finished trial is read back, not run again; `cached` says which happened."""
    emit = on_event or (lambda event, **data: None)
    data_digest = digest(rows) if rows is not None else None
    key = trial_key(data_digest, ft, settings)
    folder = RunFolder(root).trial(key)
    with hold(folder, "trial"):  # another process on the same trial would write the same model and eval folders
        return _trial(folder, key, data_digest, rows, ft, settings, label, emit, tokens, batch_size,
                      allow_weak_sandbox, on_event)


def _trial(folder: Path, key: str, data_digest: str | None, rows: list[dict[str, Any]] | None, ft: FinetuneConfig,
           settings: EvalSettings, label: str, emit: Event, tokens: int | None, batch_size: int,
           allow_weak_sandbox: bool, on_event: Event | None) -> dict[str, Any]:
    """run_trial with the trial's folder held by this process."""
    done = folder / "trial.json"
    if done.is_file():
        result = json.loads(done.read_text(encoding="utf-8"))
        emit("trial", label=label, key=key, cached=True, result=result)
        return {**result, "cached": True}
    emit("trial", label=label, key=key, cached=False, result=None)
    folder.mkdir(parents=True, exist_ok=True)
    train: dict[str, Any] | None = None
    if rows is not None:
        data = folder / "data.jsonl"
        write_atomic(data, "".join(dumps_line(r) for r in rows))
        summary_path = folder / "model" / "train_summary.json"
        if summary_path.is_file():
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        else:
            emit("note", text=f"{label}: fine-tuning on {len(rows)} records")
            summary = run_finetune(data, folder / "model", ft)
        train = {k: summary.get(k) for k in ("train_records", "steps", "first_loss", "final_loss", "tokens_seen",
                                             "wall_s")}
        model = str(folder / "model")
    else:
        model = resolve_model(ft.model, ft.cache_dir)
    emit("note", text=f"{label}: evaluating on {settings.benchmark}")
    report = run_eval(model, folder / "eval", settings, batch_size=batch_size, on_event=on_event,
                      allow_weak_sandbox=allow_weak_sandbox)
    result = {
        "label": label,
        "key": key,
        "data_digest": data_digest,
        "samples": len(rows) if rows is not None else 0,
        "tokens": tokens,
        "train": train,
        "benchmark": report["benchmark"],
        "problems": report["problems"],
        "pass@1": report["pass@1"],
        "counts": report["counts"],
    }
    write_atomic(done, json.dumps(result, indent=2) + "\n")
    return {**result, "cached": False}
