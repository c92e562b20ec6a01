"""One way to open the LLM stack for a run folder, for `evolve` and for the filters' judge: the embedded local
model (started only when a role it serves is needed, always stopped), the run's response cache and the client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from wizevol.config import EvolveConfig
from wizevol.llm.cache import ResponseCache
from wizevol.llm.client import LLM, CallFailed, Usage
from wizevol.llm.wire import Completion
from wizevol.prompts import Request
from wizevol.run_folder import RunFolder

Notify = Callable[[str], None]
T = TypeVar("T")


@dataclass
class Session:
    """An open LLM stack: the config as run, the client, its usage counts, the local servers' URLs."""

    cfg: EvolveConfig  # with the local model's concurrency clamp applied
    llm: LLM
    usage: Usage
    local_urls: dict[str, str]  # local model -> URL of its running server (empty when none runs)


async def complete_all(session: Session, role, requests: list[tuple[str | None, Request, int]],
                       on_done: Callable[[], None] | None = None) -> list[Completion | None]:
    """Many calls of one role, at most `concurrency` in flight, each through the cache (at its own place, where
    one is given): (place, request, round) -> each answer in order, or None where the call failed for good.
    `on_done` is called as each one ends."""
    bound = asyncio.Semaphore(session.cfg.concurrency)

    async def one(at: str | None, request: Request, round_k: int) -> Completion | None:
        async with bound:
            try:
                answer: Completion | None = await session.llm.complete(role, request, round_k, at=at)
            except CallFailed:
                answer = None
        if on_done is not None:
            on_done()
        return answer

    return await all_or_none([one(*r) for r in requests])


async def all_or_none(coros: list[Awaitable[T]]) -> list[T]:
    """`asyncio.gather`, except that when one fails (an endpoint found down, a refused key) the others are
    cancelled and awaited before the error goes on: no call is left running, or paid for, after the run stopped,
    and none is left for a closing loop to destroy (its "Task exception was never retrieved" and "Event loop is
    closed" after the one-line error)."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def ask_all(session: Session, role, requests: list[tuple[str | None, Request, int]],
                  on_done: Callable[[], None] | None = None) -> list[str | None]:
    """As `complete_all`, each answer's text."""
    return [None if a is None else a.text for a in await complete_all(session, role, requests, on_done)]


def blocking(session: Session, stack: contextlib.ExitStack) -> Callable[[Awaitable[T]], T]:
    """Run a session's calls from code that is not async (the filters): one event loop for the session's life,
    whose clients are closed in it when `stack` closes."""
    loop = asyncio.new_event_loop()

    def close() -> None:
        pending = asyncio.all_tasks(loop)  # what a failed run left (all_or_none leaves none): ended, not destroyed
        for t in pending:
            t.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending))
        loop.run_until_complete(session.llm.aclose())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    stack.callback(close)
    return loop.run_until_complete


@contextlib.contextmanager
def open_session(cfg: EvolveConfig, folder: RunFolder, roles: tuple[str, ...],
                 notify: Notify | None = None) -> Iterator[Session]:
    """Open the stack for these roles; the local model runs only if one of them is served locally."""
    with contextlib.ExitStack() as stack:
        local_urls: dict[str, str] = {}
        models = cfg.local_models(roles)
        if models:
            from wizevol.llm.local_server import LocalServer, sigterm_as_interrupt

            # a local server answers one request at a time: more calls in flight only queue there. Two servers
            # busy at once on the same cores crawl (two llama.cpp servers of 2 threads each on 2 cores: ~1
            # token/s), so with several models one call is in flight at a time, each on every core.
            clamp = cfg.local.concurrency if len(models) == 1 else 1
            cfg = cfg.model_copy(update={"concurrency": min(cfg.concurrency, clamp)})
            stack.enter_context(sigterm_as_interrupt())
            for i, model in enumerate(models):
                log = folder.local_server_log()
                if i:  # each server its own log
                    log = log.with_name(f"{log.stem}_{i}{log.suffix}")
                server = LocalServer.from_config(cfg.local, log_path=log, model=model)
                if notify is not None:
                    notify(f"starting the local model {model} ({server.n_threads} thread"
                           f"{'' if server.n_threads == 1 else 's'}) ...")
                local_urls[model] = stack.enter_context(server).url
        cache = ResponseCache(folder.cache())
        stack.callback(cache.close)
        usage = Usage()
        yield Session(cfg=cfg, llm=LLM(cfg.endpoint, cache, usage, cfg.concurrency), usage=usage,
                      local_urls=local_urls)
