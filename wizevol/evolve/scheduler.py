"""The scheduler: rounds first..last with continuous scheduling and no barrier between rounds, in memory that does
not grow with the pool.

The pool is streamed from the previous round's pool file; each outcome is appended to the round's spool file
(`spool_K.jsonl`) as it comes, and its byte offset to `spool_K.offsets` (8 bytes a record, on disk). When a round's
last outcome arrives, `finish_round(k, outcomes)` gets them in pool order, read back from the spool, whatever the finishing order,
in a thread of its own (writing a round of 10M records must not stall the calls in flight).
A lineage's next round reads its record back from the spool when a worker takes it; at most 4 x concurrency such
jobs wait before the source is read further. So the process holds the calls in flight and the waiting jobs, nothing
per record: the same memory at 10k or 10M records.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path

from wizevol.evolve.chain import Outcome, RoundContext, evolve_one
from wizevol.record import Record

_OFFSET = struct.Struct("=q")  # native order: the file lives and dies in this process, read back by array("q")


class Spool:
    """One round's outcomes in arrival order on disk, found again by pool index: the outcome's line goes to
    `spool_K.jsonl` and its byte offset (+1; 0 is "no outcome yet") to `spool_K.offsets`, 8 bytes at 8 x index.
    Neither is held in memory: at 1M records and 4 rounds, offsets kept in arrays were 32 MB of the process."""

    OFFSETS_CHUNK = 4096  # offsets read at a time by `ordered` (32 KB)

    def __init__(self, path: Path, n: int):
        self.path, self.n = path, n
        self.offsets_path = path.with_suffix(".offsets")
        self._w = path.open("wb")  # a killed round starts again: its spool is rewritten
        self._r = path.open("rb")
        self._offsets = os.open(self.offsets_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        os.ftruncate(self._offsets, 8 * n)  # sparse: zeros until written

    def write(self, i: int, out: Outcome) -> int:
        line = json.dumps({"i": i, "kind": out.kind, "record": out.record.to_json(),
                           "next": out.next_pool.to_json() if out.next_pool is not out.record else None,
                           "unparsed": out.judge_unparsed,
                           **({"siblings": [s.to_json() for s in out.siblings]} if out.siblings else {})},
                          ensure_ascii=False).encode("utf-8") + b"\n"
        offset = self._w.tell()
        self._w.write(line)
        os.pwrite(self._offsets, _OFFSET.pack(offset + 1), 8 * i)
        return offset

    def _line(self, offset: int) -> dict:
        self._w.flush()
        self._r.seek(offset)
        return json.loads(self._r.readline())

    def next_pool(self, offset: int) -> Record:
        d = self._line(offset)
        return Record.from_json(d["next"] if d["next"] is not None else d["record"])

    def ordered(self) -> Iterator[Outcome]:
        """The round's outcomes in pool order, read through handles of their own: the next round's workers go on
        reading their records through `_r` while a thread writes this round's files."""
        self._w.flush()

        def read() -> Iterator[Outcome]:
            with self.path.open("rb") as r, self.offsets_path.open("rb") as offsets_file:
                i = 0
                while chunk := offsets_file.read(8 * self.OFFSETS_CHUNK):
                    for stored in memoryview(chunk).cast("q"):
                        if stored <= 0:
                            raise RuntimeError(f"{self.path}: record {i} has no outcome")
                        r.seek(stored - 1)
                        d = json.loads(r.readline())
                        record = Record.from_json(d["record"])
                        nxt = Record.from_json(d["next"]) if d["next"] is not None else record
                        yield Outcome(d["kind"], record, nxt, d["unparsed"],
                                      tuple(Record.from_json(s) for s in d.get("siblings", ())))
                        i += 1
            if i != self.n:
                raise RuntimeError(f"{self.offsets_path}: {i} offsets for {self.n} records")

        return read()

    def close(self, remove: bool = True) -> None:
        self._w.close()
        self._r.close()
        os.close(self._offsets)
        if remove:
            self.path.unlink(missing_ok=True)
            self.offsets_path.unlink(missing_ok=True)


class _Jobs:
    """Where the next job comes from: round `first`'s records from the source (read lazily, in pool order), and
    each later round's (index, offset) jobs, queued as the lineage's previous round ends."""

    def __init__(self, pool: Iterable[Record], first: int, last: int, spools: dict[int, Spool], lookahead: int):
        self.source = enumerate(pool)
        self.first, self.last, self.spools, self.lookahead = first, last, spools, lookahead  # lookahead: later-
        # round jobs that may wait before the source is read further
        self.ready: dict[int, deque[tuple[int, int]]] = {k: deque() for k in range(first + 1, last + 1)}
        self.source_left = True

    def _from_source(self) -> tuple[int, int, Record] | None:
        if self.source_left:
            item = next(self.source, None)
            if item is not None:
                return self.first, item[0], item[1]
            self.source_left = False
        return None

    def take(self) -> tuple[int, int, Record] | None:
        """The next job: round `first`'s next record from the source while few later-round jobs wait, else the
        waiting job of the lowest round. (Reading the whole source first left about n jobs waiting: 128 bytes a
        record, 1.3 GB at 10M.)"""
        if sum(len(q) for q in self.ready.values()) < self.lookahead and (job := self._from_source()) is not None:
            return job
        for k in range(self.first + 1, self.last + 1):
            if self.ready[k]:
                i, offset = self.ready[k].popleft()
                return k, i, self.spools[k - 1].next_pool(offset)
        return self._from_source()


async def run_rounds(pool: Iterable[Record], n: int, first: int, last: int, ctx: RoundContext,
                     finish_round: Callable[[int, Iterator[Outcome]], None], spool_dir: Path,
                     on_record: Callable[[int, dict[str, int]], None] | None = None,
                     chain: Callable[[Record, int, RoundContext], Awaitable[Outcome]] | None = None) -> None:
    """Evolve rounds first..last of an `n`-record pool (an iterable read once, in pool order).

    `concurrency` workers each take the next job, lowest round first. A job is one record's chain in one round;
    when it ends, the same lineage's next round is ready at once, so nobody waits for a round's slowest call.
    Lineages are independent, so round k always completes before round k+1. `chain`: one record's round
    (default: chain.evolve_one).
    """
    if n == 0:
        for k in range(first, last + 1):
            finish_round(k, iter(()))
        return
    spools = {k: Spool(spool_dir / f"spool_{k}.jsonl", n) for k in range(first, last + 1)}
    jobs = _Jobs(pool, first, last, spools, 4 * ctx.cfg.concurrency)
    ready = jobs.ready
    remaining = dict.fromkeys(spools, n)
    counts = {k: {"kept": 0, "eliminated": 0, "failed": 0} for k in spools}
    wake = asyncio.Condition()
    writing = asyncio.Lock()  # one round's files at a time, in round order
    state = {"done": False}

    async def worker() -> None:
        while True:
            async with wake:
                await wake.wait_for(lambda: state["done"] or jobs.source_left or any(ready.values()))
                if state["done"]:
                    return
                job = jobs.take()
            if job is None:
                continue
            k, i, record = job
            out = await (chain or evolve_one)(record, k, ctx)
            offset = spools[k].write(i, out)
            remaining[k] -= 1
            counts[k][out.kind] += 1
            if on_record is not None:
                on_record(k, counts[k])
            if remaining[k] == 0:
                async with writing:  # off the event loop: the calls in flight go on while the round is written
                    await asyncio.to_thread(finish_round, k, spools[k].ordered())
                if k - 1 in spools:
                    spools.pop(k - 1).close()  # round k read its inputs from it
            async with wake:
                if k < last:
                    ready[k + 1].append((i, offset))
                elif remaining[last] == 0:
                    state["done"] = True
                wake.notify_all()

    workers = [asyncio.create_task(worker()) for _ in range(min(ctx.cfg.concurrency, n))]
    try:
        done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
        for t in done:
            if t.exception() is not None:
                raise t.exception()
    finally:
        for t in workers:
            t.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        for spool in spools.values():
            spool.close(remove=state["done"])
    if not state["done"]:
        raise RuntimeError(f"rounds {first}-{last} did not complete")
