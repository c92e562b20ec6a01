"""Shards on Ray (`wizevol evolve --ray --shards N`): the N shards of a run (`--shard I/N`) as Ray tasks on the
cluster `ray.init()` connects to (RAY_ADDRESS, or a local one), each writing its own run folder
`OUT/shard-I-of-N/` (on storage every node sees). Ray schedules the tasks; a task whose worker dies is retried by
Ray and resumes from its folder (its cache holds every answer it got). `wizevol merge OUT/shard-*` joins them.

API keys are read from each worker's own environment, never shipped with the task.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from wizevol.config import EvolveConfig
from wizevol.errors import InputError, WizevolError


def shard_folder(out: str | Path, i: int, n: int) -> Path:
    """The run folder of shard i of n."""
    return Path(out) / f"shard-{i}-of-{n}"


def _evolve_shard(run: Callable[..., dict[str, Any]], seed: str, out: str, cfg: dict[str, Any]) -> dict[str, Any]:
    manifest = run(seed, out, EvolveConfig.model_validate(cfg))
    return {"out": out, "rounds": manifest["rounds"], "calls_made": manifest["calls_made"]}


def run_on_ray(seed: str, out: str | Path, cfg: EvolveConfig, shards: int, max_retries: int = 3,
               notify: Callable[[str], None] | None = None,
               run: Callable[..., dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Run the `shards` shards of this run as Ray tasks (each `run(seed, out, cfg)`: run_evolve unless the caller
    chooses, as the CLI does for Evol Stop); their results in shard order."""
    if run is None:
        from wizevol.evolve.run import run_evolve as run
    notify = notify or (lambda text: None)
    if shards < 1:
        raise InputError("--shards must be at least 1")
    if cfg.shard is not None:
        raise InputError("--ray runs every shard itself: drop --shard")
    try:
        import ray
    except ImportError:
        raise InputError("--ray needs Ray: pip install 'wizevol[ray]'") from None
    seed_path = str(Path(seed).resolve()) if Path(seed).exists() else seed
    ray.init(ignore_reinit_error=True, log_to_driver=False, include_dashboard=False)
    task = ray.remote(max_retries=max_retries)(_evolve_shard)
    refs = []
    for i in range(shards):
        folder = shard_folder(out, i, shards).resolve()
        shard_cfg = cfg.model_copy(update={"shard": f"{i}/{shards}"}).model_dump(mode="json")
        refs.append(task.remote(run, seed_path, str(folder), shard_cfg))
    notify(f"ray: {shards} shard task(s) submitted to {ray.get_runtime_context().gcs_address}")
    results: list[dict[str, Any] | None] = [None] * shards
    pending = {ref: i for i, ref in enumerate(refs)}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        i = pending.pop(done[0])
        try:
            results[i] = ray.get(done[0])
        except ray.exceptions.RayError as e:
            for ref in pending:  # the others stop now, not after hours of calls: a rerun resumes every shard
                ray.cancel(ref, force=True)
            if isinstance(e, ray.exceptions.RayTaskError):
                cause = e.cause if isinstance(getattr(e, "cause", None), Exception) else e
                raise WizevolError(f"shard {i}/{shards} failed: {' '.join(str(cause).split())[:300]} (the other "
                                   f"shards were stopped; rerun to resume them from {out})") from None
            raise WizevolError(f"shard {i}/{shards} failed on Ray after {max_retries} retries: "
                               f"{type(e).__name__} (the other shards were stopped; rerun to resume)") from None
        notify(f"ray: shard {i}/{shards} done -> {results[i]['out']}")
    return results  # type: ignore[return-value]
