"""`wizevol filter`: build the enabled quality filters from the config and run them over a run folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wizevol.config import EvolveConfig, Quality, load_config
from wizevol.errors import InputError
from wizevol.quality_filter import QualityFilter, finished_rounds, run_filter, write_clean
from wizevol.run_folder import RunFolder

NAMES = ("near_dup", "contaminated", "code_check")


def build(name: str, q: Quality) -> QualityFilter:
    if name == "near_dup":
        from wizevol.near_dup import NearDup

        return NearDup(q.near_dup.num_perm, q.near_dup.threshold, q.near_dup.ngram)
    if name == "contaminated":
        from wizevol.decontamination import Decontaminator

        c = q.contaminated
        return Decontaminator(c.ngram, c.coverage, c.benchmarks, c.humaneval)
    from wizevol.code_check import CodeCheck
    from wizevol.sandbox import Limits

    c = q.code_check
    return CodeCheck(c.execute, Limits(cpu_s=c.cpu_s, wall_s=c.wall_s, memory_mb=c.memory_mb))


def _quality_config(folder: RunFolder, config: str | Path | None) -> Quality:
    if config is not None:
        return load_config(config).quality
    manifest = folder.path("manifest.json")
    if manifest.exists():  # the config the run was made with
        return EvolveConfig.model_validate(json.loads(manifest.read_text())["config"]).quality
    return Quality()


def run_quality(run: str | Path, only: str | None, config: str | Path | None) -> tuple[dict[str, Any], dict]:
    folder = RunFolder(run)
    if not folder.root.is_dir() or not finished_rounds(folder):
        raise InputError(f"{run}: no finished rounds (is this a wizevol run folder?)")
    if only is not None and only not in NAMES:
        raise InputError(f"--only {only!r}: choose one of {', '.join(NAMES)}")
    q = _quality_config(folder, config)
    enabled = [n for n in NAMES if getattr(q, n).enabled]
    names = [only] if only else enabled
    results = {name: run_filter(folder, build(name, q)) for name in names}
    clean = write_clean(folder, enabled) if not only else {}
    return results, clean
