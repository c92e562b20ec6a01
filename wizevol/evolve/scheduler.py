"""The scheduler: rounds first..last with continuous scheduling and no barrier between rounds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from wizevol.evolve.chain import Outcome, RoundContext, evolve_one
from wizevol.record import Record


async def run_rounds(pool: list[Record], first: int, last: int, ctx: RoundContext,
                     finish_round: Callable[[int, list[Outcome]], None],
                     on_record: Callable[[int, dict[str, int]], None] | None = None) -> None:
    """Evolve rounds first..last with continuous scheduling and no barrier between rounds.

    `concurrency` workers each take the next job, lowest round first. A job is one record's chain in one round;
    when it ends, the same lineage's next round is queued at once, so nobody waits for a round's slowest call.
    When a round's last outcome arrives, `finish_round(k, outcomes)` gets them in pool order, whatever the
    finishing order. Lineages are independent, so round k always completes before round k+1.
    """
    n = len(pool)
    if n == 0:
        for k in range(first, last + 1):
            finish_round(k, [])
        return
    results: dict[int, list[Outcome | None]] = {k: [None] * n for k in range(first, last + 1)}
    remaining = dict.fromkeys(results, n)
    counts = {k: {"kept": 0, "eliminated": 0, "failed": 0} for k in results}
    queue: asyncio.PriorityQueue = asyncio.PriorityQueue()
    for i, record in enumerate(pool):
        queue.put_nowait((first, i, record))
    workers = min(ctx.cfg.concurrency, n)
    finished_lineages = 0

    async def worker() -> None:
        nonlocal finished_lineages
        while True:
            k, i, record = await queue.get()
            if record is None:
                return
            out = await evolve_one(record, k, ctx)
            results[k][i] = out
            remaining[k] -= 1
            counts[k][out.kind] += 1
            if on_record is not None:
                on_record(k, counts[k])
            if remaining[k] == 0:
                done = results.pop(k)
                missing = [pool[j].id for j, r in enumerate(done) if r is None]
                if missing:
                    raise RuntimeError(f"round {k}: records without an outcome: {missing[:5]}")
                finish_round(k, done)  # type: ignore[arg-type]
            if k < last:
                queue.put_nowait((k + 1, i, out.next_pool))
            else:
                finished_lineages += 1
                if finished_lineages == n:
                    for j in range(workers):
                        queue.put_nowait((last + 1, j, None))

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for t in done:
            if t.exception() is not None:
                raise t.exception()
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if results:
        raise RuntimeError(f"rounds {sorted(results)} did not complete")
