"""One way to open the LLM stack for a run folder, for `evolve` and for the filters' judge: the embedded local
model (started only when a role it serves is needed, always stopped), the run's response cache and the client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from wizevol.config import EvolveConfig
from wizevol.llm.cache import ResponseCache
from wizevol.llm.client import LLM, CallFailed, Usage
from wizevol.prompts import Request
from wizevol.run_folder import RunFolder

Notify = Callable[[str], None]


@dataclass
class Session:
    """An open LLM stack: the config as run, the client, its usage counts, the local URL."""

    cfg: EvolveConfig  # with the local model's concurrency clamp applied
    llm: LLM
    usage: Usage
    local_url: str | None  # the embedded model's URL when it runs


async def ask_all(session: Session, role, requests: list[tuple[str, Request, int]]) -> dict[str, str | None]:
    """Many calls of one role, at most `concurrency` in flight, each through the cache at its own place:
    (place, request, round) -> place -> the answer's text, or None where the call failed for good."""
    bound = asyncio.Semaphore(session.cfg.concurrency)

    async def one(at: str, request: Request, round_k: int) -> tuple[str, str | None]:
        async with bound:
            try:
                return at, (await session.llm.complete(role, request, round_k, at=at)).text
            except CallFailed:
                return at, None

    return dict(await asyncio.gather(*(one(*r) for r in requests)))


@contextlib.contextmanager
def open_session(cfg: EvolveConfig, folder: RunFolder, roles: tuple[str, ...],
                 notify: Notify | None = None) -> Iterator[Session]:
    """Open the stack for these roles; the local model runs only if one of them is served locally."""
    with contextlib.ExitStack() as stack:
        local_url = None
        if any(cfg.served_locally(name) for name in roles):
            from wizevol.llm.local_server import LocalServer, sigterm_as_interrupt

            server = LocalServer.from_config(cfg.local, log_path=folder.local_server_log())
            # the local server answers one request at a time: more calls in flight only queue there
            cfg = cfg.model_copy(update={"concurrency": min(cfg.concurrency, cfg.local.concurrency)})
            stack.enter_context(sigterm_as_interrupt())
            if notify is not None:
                notify(f"starting the local model {cfg.local.model} ({server.n_threads} threads) ...")
            local_url = stack.enter_context(server).url
        cache = ResponseCache(folder.cache())
        stack.callback(cache.close)
        usage = Usage()
        yield Session(cfg=cfg, llm=LLM(cfg.endpoint, cache, usage, cfg.concurrency), usage=usage, local_url=local_url)
