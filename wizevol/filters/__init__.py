"""`wizevol filter`: the registry of filters over a finished run, built from the config's `filters:` section.

Each filter module holds one concept: `near_dup` (near-duplicates across lineages), `contamination` (benchmark
leaks), `code_check` (fenced code parses; optionally runs in the `sandbox`), `verified` (opt-in: Python
responses pass unit tests written for them). `base` runs a filter over a run
folder and writes its rejects, stats and the clean files that `merge --clean` reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wizevol.config import EvolveConfig, FiltersConfig
from wizevol.config_file import load_config
from wizevol.errors import InputError
from wizevol.filters.base import Filter, run_filter, write_clean
from wizevol.old_names import DeprecatedName
from wizevol.run_folder import RunFolder, read_jsonl


def _near_dup(c: FiltersConfig, judge: JudgeRole | None) -> Filter:
    from wizevol.filters.near_dup import NearDup

    k = c.near_dup
    on = judge is not None and k.llm_judge is True  # `auto` is resolved by run_filters
    return NearDup(k.num_perm, k.threshold, k.ngram, embedding_threshold=k.embedding_threshold,
                   short_words=k.short_words, judge=judge.same_task if on else None,
                   judge_ahead=judge.same_task_ahead if on else None, judge_threshold=k.judge_threshold,
                   judge_top_k=k.judge_top_k, judge_model=judge.model if on else None)


def _contamination(c: FiltersConfig, judge: JudgeRole | None) -> Filter:
    from wizevol.filters.contamination import Contamination

    k = c.contamination
    execution = None
    if execution_on(c):
        from wizevol.filters.sandbox import require_isolation
        from wizevol.filters.solves_benchmark import SolvesBenchmark, tested_problems

        require_isolation(k.allow_weak_sandbox, "set filters.contamination.allow_weak_sandbox: true")
        execution = SolvesBenchmark(tested_problems(k.humaneval), check_s=k.check_s, min_agreement=k.min_agreement)
    on = judge is not None and k.llm_judge
    return Contamination(k.ngram, k.coverage, k.benchmarks, k.humaneval, k.embedding, k.embedding_threshold,
                         judge.same_problem if on else None, k.top_k, execution, k.shortlist,
                         judge.same_problem_ahead if on else None, judge.model if on else None)


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
        from wizevol.filters.contamination import embedding_device

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


class JudgeRole:
    """The judge role's yes/no questions to the filters, one call each, through the run's cache (a rerun asks
    nothing again). `ask(template, **values)` returns the answer's text, or None when the call failed."""

    def __init__(self, ask: Callable[..., str | None], prompts: Any,
                 ask_many: Callable[..., list[str | None]] | None = None, model: str = ""):
        self.ask, self.prompts, self.ask_many, self.model = ask, prompts, ask_many, model

    def same_problem(self, benchmark: str, candidate: str) -> bool | None:
        """contamination: does the candidate pose the benchmark problem? None when the call failed."""
        answer = self.ask(self.prompts.contamination_judge, benchmark=benchmark, candidate=candidate)
        return None if answer is None else answer.strip().lower().lstrip("*\"' ").startswith("yes")

    def same_problem_ahead(self, pairs: list[tuple[str, str]], on_done: Callable[[], None] | None = None) -> None:
        """Ask about many (benchmark, candidate) pairs at once, so that `same_problem` finds them answered."""
        if self.ask_many is not None:
            self.ask_many(self.prompts.contamination_judge, [{"benchmark": b, "candidate": c} for b, c in pairs],
                          on_done)

    def same_task(self, first: str, second: str) -> str:
        """near_dup: do the two instructions ask for the same task (near_dup_judge.yaml)? Asked as (first, second)
        and, unless that says Same, as (second, first): Same in either order is "same" (one order alone misses
        reworded pairs that the other finds: bench/near_dup_eval.py). Else "failed" when a call failed for good,
        "unparsed" when an answer says neither, and "different"."""
        from wizevol.filters.near_dup import parse_same_task

        verdicts = []
        for a, b in ((first, second), (second, first)):
            answer = self.ask(self.prompts.near_dup_judge, first=a, second=b)
            verdicts.append("failed" if answer is None else parse_same_task(answer))
            if verdicts[-1] == "same":
                return "same"
        return next((v for v in ("failed", "unparsed") if v in verdicts), "different")

    def same_task_ahead(self, pairs: list[tuple[str, str]], on_done: Callable[[], None] | None = None) -> None:
        """Ask about many pairs at once, up to the config's concurrency, so that `same_task` finds them answered:
        every pair in its first order, then the other order of those not answered Same."""
        if self.ask_many is None:
            return
        from wizevol.filters.near_dup import parse_same_task

        template = self.prompts.near_dup_judge
        answers = self.ask_many(template, [{"first": a, "second": b} for a, b in pairs], on_done)
        self.ask_many(template, [{"first": b, "second": a} for (a, b), answer in zip(pairs, answers, strict=True)
                                 if parse_same_task(answer or "") != "same"])


def llm_judge(folder: RunFolder, cfg: EvolveConfig, stack: contextlib.ExitStack,
              notify: Callable[[str], None] | None = None) -> JudgeRole:
    """The judge role over the run's endpoint (or the local model if it is local), through the run's cache."""
    from wizevol.llm.client import CallFailed
    from wizevol.llm.session import open_session
    from wizevol.prompts import PromptSet

    session = stack.enter_context(open_session(cfg, folder, ("judge",), notify))
    role = cfg.role("judge", session.local_urls).model_copy(update={"max_tokens": 8, "temperature": 0.0})
    session.llm.client_for(role)  # a missing key fails now, not as every call failed
    loop = asyncio.new_event_loop()

    def close() -> None:
        loop.run_until_complete(session.llm.aclose())
        loop.close()

    stack.callback(close)

    def ask(template: Any, **values: str) -> str | None:
        try:
            return loop.run_until_complete(session.llm.complete(role, template.request(role.mode, **values), 0)).text
        except CallFailed:
            return None

    def ask_many(template: Any, values: list[dict[str, str]], on_done: Callable[[], None] | None = None
                 ) -> list[str | None]:
        """Each answer's text (None: failed; asked again, one at a time, when it is needed), in order; the
        answers also land in the run's cache."""
        bound = asyncio.Semaphore(session.cfg.concurrency)

        async def one(v: dict[str, str]) -> str | None:
            answer = None
            async with bound:
                with contextlib.suppress(CallFailed):
                    answer = (await session.llm.complete(role, template.request(role.mode, **v), 0)).text
            if on_done is not None:
                on_done()
            return answer

        async def every() -> list[str | None]:
            return list(await asyncio.gather(*(one(v) for v in values)))

        return loop.run_until_complete(every())

    return JudgeRole(ask, PromptSet.load(cfg.prompts_dir), ask_many, role.model)


def verified_filter(folder: RunFolder, cfg: EvolveConfig, stack: contextlib.ExitStack,
                    notify: Callable[[str], None] | None = None) -> Filter:
    """The verified filter over the responder's endpoint (or the local model), through the run's cache."""
    from wizevol.filters.sandbox import Limits, require_isolation
    from wizevol.filters.verified import Verified
    from wizevol.llm.session import ask_all, open_session
    from wizevol.prompts import PromptSet

    k = cfg.filters.verified
    require_isolation(k.allow_weak_sandbox, "set filters.verified.allow_weak_sandbox: true")
    session = stack.enter_context(open_session(cfg, folder, ("responder",), notify))
    role = cfg.role("responder", session.local_urls)
    session.llm.client_for(role)  # a missing key fails now
    loop = asyncio.new_event_loop()

    def close() -> None:
        loop.run_until_complete(session.llm.aclose())
        loop.close()

    stack.callback(close)

    def ask(requests):
        return loop.run_until_complete(ask_all(session, role, [(at, r, 0) for at, r in requests]))

    return Verified(ask, PromptSet.load(cfg.prompts_dir), role.mode, k.samples,
                    Limits(cpu_s=k.cpu_s, wall_s=k.wall_s, memory_mb=k.memory_mb), role.model)


def resolve_judges(cfg: EvolveConfig, notify: Callable[[str], None] | None = None) -> EvolveConfig:
    """near_dup's `llm_judge: auto` (unset): on where the judge can be trusted with a yes/no question, an
    instruct model asked in chat (a local Qwen2.5-Coder, an API model); off, said once, for a base model continuing
    a few-shot prompt (gemma3-270m: measured unable to judge)."""
    k = cfg.filters.near_dup
    if k.llm_judge is not None:
        return cfg
    try:
        role = cfg.role("judge")
    except InputError:  # no model set: nothing to ask
        role = None
    on = role is not None and role.mode == "chat"
    if not on and role is not None and notify is not None:
        notify(f"near_dup: the judge is off: {role.model} is asked in completion mode (a base model); set "
               "filters.near_dup.llm_judge: true to use it anyway")
    filters = cfg.filters.model_copy(update={"near_dup": k.model_copy(update={"llm_judge": on})})
    return cfg.model_copy(update={"filters": filters})


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
    cfg = resolve_judges(cfg, (lambda text: emit("note", text=text)) if "near_dup" in names else None)
    with contextlib.ExitStack() as stack:
        judge = None
        c = cfg.filters.contamination
        if ("contamination" in names and c.embedding and c.llm_judge) or \
                ("near_dup" in names and cfg.filters.near_dup.llm_judge):
            judge = llm_judge(folder, cfg, stack, lambda text: emit("note", text=text))
        total = sum(len(read_jsonl(folder.kept(k))) for k in folder.finished_rounds())
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
