"""`wizevol filter`: the registry of filters over a finished run, built from the config's `filters:` section.

Each filter module holds one concept: `near_dup` (near-duplicates across lineages), `contamination` (benchmark
leaks), `code_check` (fenced code parses; optionally runs in the `sandbox`), `verified` (opt-in: Python
responses pass unit tests written for them). `base` runs a filter over a run
folder and writes its rejects, stats and the clean files that `merge --clean` reads.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wizevol.config import EvolveConfig
from wizevol.config_file import load_config
from wizevol.config_filters import FiltersConfig
from wizevol.errors import InputError
from wizevol.filters.base import Filter, run_filter, write_clean
from wizevol.filters.judge import JudgeRole, SameRule, llm_judge, resolve_judges
from wizevol.old_names import DeprecatedName
from wizevol.run_folder import RunFolder, count_rows, hold


def _near_dup(c: FiltersConfig, judge: JudgeRole | None) -> Filter:
    from wizevol.filters.near_dup import NearDup

    k = c.near_dup
    on = judge is not None and k.llm_judge is True  # `auto` is resolved by run_filters
    return NearDup(k.num_perm, k.threshold, k.ngram, embedding_threshold=k.embedding_threshold,
                   short_words=k.short_words, judge=judge.same_task if on else None,
                   judge_ahead=judge.same_task_ahead if on else None, judge_threshold=k.judge_threshold,
                   judge_top_k=k.judge_top_k, judge_model=judge.model if on else None,
                   judge_rule=judge.near_dup_rule.describe() if on else None, contrasts=k.contrasts)


def _contamination(c: FiltersConfig, judge: JudgeRole | None) -> Filter:
    from wizevol.filters.contamination import Contamination

    k = c.contamination
    execution = None
    if execution_on(c):
        from wizevol.filters.sandbox import require_isolation
        from wizevol.filters.solves_benchmark import SolvesBenchmark, tested_problems

        require_isolation(k.allow_weak_sandbox, "set filters.contamination.allow_weak_sandbox: true")
        execution = SolvesBenchmark(tested_problems(k.humaneval), check_s=k.check_s, min_agreement=k.min_agreement)
    on = judge is not None and k.llm_judge is True  # `auto` is resolved by run_filters
    translating = judge is not None and k.translate is True
    confirming = on and execution is not None and k.execution_min_same is not None
    confirm = SameRule("either", k.execution_min_same) if confirming else None
    return Contamination(k.ngram, k.coverage, k.benchmarks, k.humaneval, k.embedding,
                         k.judge_threshold if on else k.embedding_threshold,
                         judge.same_problem if on else None, k.top_k, execution, k.shortlist,
                         judge.same_problem_ahead if on else None, judge.model if on or translating else None,
                         judge.to_python if translating and execution is not None else None,
                         judge.to_english if translating and k.embedding else None,
                         confirm=(lambda a, b: judge.same_task(a, b, judge.prompts.contamination_judge, confirm))
                         if confirm else None,
                         confirm_ahead=(lambda pairs, on_done=None: judge.same_task_ahead(
                             pairs, on_done, judge.prompts.contamination_judge, confirm)) if confirm else None,
                         # with the judge off, layer 4 stands alone: the cosine alone loses a tenth of the leaks
                         confirm_cosine=k.execution_min_cosine if k.embedding and on else None,
                         judge_rule=judge.contamination_rule.describe() if on else None,
                         confirm_rule=confirm.describe() if confirm else None, contradict_below=k.contradict_below)


def execution_on(c: FiltersConfig) -> bool:
    """Layer 4 of contamination: `auto` runs it where the sandbox isolates the code (OS layers beyond rlimits and
    the audit hook), or where the user allowed a weak sandbox."""
    k = c.contamination
    if k.execution != "auto":
        return bool(k.execution)
    from wizevol.filters.sandbox import isolated

    return k.allow_weak_sandbox or isolated()


def _code_check(c: FiltersConfig, judge: JudgeRole | None) -> Filter:
    from wizevol.filters.code_check import CodeCheck
    from wizevol.filters.sandbox import Limits

    k = c.code_check
    if k.execute:
        from wizevol.filters.sandbox import require_isolation

        require_isolation(k.allow_weak_sandbox, "set filters.code_check.allow_weak_sandbox: true")
    return CodeCheck(k.execute, Limits(cpu_s=k.cpu_s, wall_s=k.wall_s, memory_mb=k.memory_mb), k.languages)


def _verified(c: FiltersConfig, judge: JudgeRole | None) -> Filter:
    raise InputError("the verified filter needs the run's endpoint: run it through `wizevol filter`")


REGISTRY: dict[str, Callable[[FiltersConfig, JudgeRole | None], Filter]] = {
    "near_dup": _near_dup, "contamination": _contamination, "code_check": _code_check, "verified": _verified}
OLD_NAMES = {"contaminated": "contamination"}


def build(name: str, cfg: FiltersConfig, judge: JudgeRole | None = None) -> Filter:
    """The filter registered under `name`, from its config section; an unknown name is an error."""
    if name not in REGISTRY:
        raise InputError(f"unknown filter {name!r}; choose one of {', '.join(REGISTRY)}")
    if name in ("near_dup", "contamination"):
        from wizevol.filters.encoder import embedding_device

        embedding_device(cfg.embedding_device)
    return REGISTRY[name](cfg, judge)


def run_config(folder: RunFolder, config: str | Path | None) -> EvolveConfig:
    """The config given, else the one the run was made with (its manifest), else the defaults."""
    if config is not None:
        return load_config(config)
    manifest = folder.manifest()
    if manifest.exists():  # the config the run was made with; an older run's names are migrated quietly
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecatedName)
            return EvolveConfig.model_validate(json.loads(manifest.read_text())["config"])
    return EvolveConfig()


def verified_filter(folder: RunFolder, cfg: EvolveConfig, stack: contextlib.ExitStack,
                    notify: Callable[[str], None] | None = None) -> Filter:
    """The verified filter over the responder's and the tester's endpoints (or the local models), through the
    run's cache."""
    from wizevol.filters.sandbox import Limits, require_isolation
    from wizevol.filters.verified import Verified
    from wizevol.llm.session import ask_all, blocking, open_session
    from wizevol.prompts import PromptSet

    k = cfg.filters.verified
    require_isolation(k.allow_weak_sandbox, "set filters.verified.allow_weak_sandbox: true")
    session = stack.enter_context(open_session(cfg, folder, ("responder", "tester"), notify))
    roles = {name: cfg.role(name, session.local_urls) for name in ("responder", "tester")}
    for role in roles.values():
        session.llm.client_for(role)  # a missing key fails now
    run = blocking(session, stack)

    def ask(requests):  # role by role (each with the run's concurrency): never more calls in flight than that
        out = {}
        for name, role in roles.items():
            part = [(at, r, 0) for who, at, r in requests if who == name]
            out.update(zip([at for at, _, _ in part], run(ask_all(session, role, part)), strict=True))
        return out

    return Verified(ask, PromptSet.load(cfg.prompts_dir), {n: r.mode for n, r in roles.items()}, k.samples, k.tests,
                    Limits(cpu_s=k.cpu_s, wall_s=k.wall_s, memory_mb=k.memory_mb),
                    {n: r.model for n, r in roles.items()}, k.min_agreement, k.weak)


def run_filters(run: str | Path, only: str | None, config: str | Path | None,
                on_event: Callable[..., None] | None = None) -> tuple[dict[str, Any], dict[int, int]]:
    """Run the enabled filters (or `only` one) over a run folder: (stats per filter, clean records per round).

    `on_event(event, **data)`: "phase" (name, total: a filter starts), "step" (one more record checked),
    "note" (text)."""
    emit = on_event or (lambda event, **data: None)
    folder = RunFolder(run)
    if not folder.root.is_dir() or not folder.finished_rounds():
        raise InputError(f"{run}: no finished rounds (is this a wizevol run folder?)")
    if only in OLD_NAMES:
        warnings.warn(f"--only {only} is now --only {OLD_NAMES[only]}", DeprecatedName, stacklevel=2)
        only = OLD_NAMES[only]
    if only is not None and only not in REGISTRY:
        raise InputError(f"--only {only!r}: choose one of {', '.join(REGISTRY)}")
    cfg = run_config(folder, config)
    from wizevol.filters.sandbox import use_backend

    use_backend(cfg.sandbox.backend, cfg.sandbox.image)
    enabled = [n for n in REGISTRY if getattr(cfg.filters, n).enabled]
    names = [only] if only else enabled
    cfg = resolve_judges(cfg, lambda text: emit("note", text=text), tuple(names))
    if not only and not cfg.filters.verified.enabled:
        from wizevol.filters.verified import OFF

        emit("note", text=OFF)
    with contextlib.ExitStack() as stack:
        stack.enter_context(hold(folder.root / "filters", "filter"))  # two filter processes would mix their files
        judge = None
        c = cfg.filters.contamination
        if ("contamination" in names and (c.translate or (c.embedding and c.llm_judge))) \
                or ("near_dup" in names and cfg.filters.near_dup.llm_judge):
            judge = llm_judge(folder, cfg, stack, lambda text: emit("note", text=text))
        total = sum(count_rows(folder.kept(k)) for k in folder.finished_rounds())
        results = {}
        for name in names:
            flt = verified_filter(folder, cfg, stack, lambda t: emit("note", text=t)) if name == "verified" else \
                build(name, cfg.filters, judge)
            if name == "code_check" and cfg.filters.code_check.execute:
                from wizevol.filters.sandbox import layers

                emit("note", text=f"sandbox layers: {', '.join(layers())}")
            if name == "contamination" and c.execution == "auto" and not execution_on(cfg.filters):
                emit("note", text="contamination: execution layer skipped: the sandbox here does not isolate code "
                                  "(set filters.contamination.execution: true and allow_weak_sandbox: true to run it)")
            elif name == "contamination" and execution_on(cfg.filters):
                from wizevol.filters.sandbox import layers

                emit("note", text=f"contamination: responses run against HumanEval's tests; sandbox layers: "
                                  f"{', '.join(layers())}")
            flt.events = emit
            emit("phase", name=name, total=total)
            results[name] = run_filter(folder, flt, lambda: emit("step"))
        clean = write_clean(folder, enabled) if not only else {}
    return results, clean
