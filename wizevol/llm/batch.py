"""The provider Batch API (`evolve --batch`): each stage of a round goes out as batch jobs through the `openai` SDK's
files and batches APIs, at the provider's batch price, and their answers land in the run's response cache. A stage
is split into jobs under the provider's limits (`batch.max_requests`, `batch.max_mb`).

How a round runs in batch mode (`prefetch_round`): the round's chains run against the cache alone; a chain stops at
its first call that is not cached (`Deferred`), so one pass collects one stage (evolve, then judge, then respond) of
every record. Those requests go out as one job per endpoint and mode; when the job ends its answers are cached and
the next pass collects the next stage. When a pass collects nothing, the round runs as usual with every answer a
cache hit, so the round's files are the ones an online run with the same answers writes.

Nothing is paid twice: `batches.jsonl` in the run folder logs each job when it is created (before any wait) and when
it ends. A restarted run polls the jobs still open instead of submitting their requests again. Each job is tagged
with the run's fingerprint and a digest of its requests (metadata): a job whose `batches.create` went through but
whose answer was lost is found among the provider's jobs and adopted, not created again. Uploads and creates are
retried on transient errors (5xx, connection); an uploaded input file is deleted once its job's output is collected.
Requests a job did not answer (request errors, expiry) go into a new job on the next pass, up to
`endpoint.max_attempts` jobs each, and then become failed records with the error. Jobs that fail whole
(`status: failed`, e.g. an enqueued-token limit) `max_attempts` times in a row stop the run instead, as an endpoint
that is down stops an online run: nothing is marked done, and a rerun continues.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from wizevol.config import BatchConfig
from wizevol.errors import WizevolError
from wizevol.llm.wire import PATHS, BadResponse, Deferred, Pending, completion_from_json, is_endpoint_failure
from wizevol.run_folder import AppendLog, RunFolder

FINAL = ("completed", "expired", "failed", "cancelled")


def parse_body(body: dict[str, Any], mode: str) -> dict[str, Any]:
    """A batch output line's response body as a cache entry (the shape of an online answer), marked batch."""
    return {**completion_from_json(body, mode).entry(), "batch": True}


class BatchRunner:
    """Submits, resumes and polls the batch jobs of a run; see the module docstring."""

    def __init__(self, llm, folder: RunFolder, cfg: BatchConfig, max_attempts: int,
                 notify: Callable[[str], None] | None = None, backoff: tuple[float, float] = (1.0, 60.0)):
        self.llm, self.folder, self.cfg, self.max_attempts = llm, folder, cfg, max_attempts
        self.backoff_initial, self.backoff_max = backoff
        self.notify = notify or (lambda text: None)
        self.log = AppendLog(folder.batches())
        stamp = folder.root / "fingerprint"
        self.run_tag = stamp.read_text().strip() if stamp.exists() else ""
        self.failed_in_a_row = 0  # jobs that failed whole, one after another, in this process
        # each endpoint's jobs tagged with this run, by digest (each endpoint has its own list)
        self._provider_jobs: dict[str, dict[str, Any]] = {}

    def _events(self) -> list[dict[str, Any]]:
        return self.log.rows()

    def _append(self, event: dict[str, Any]) -> None:
        self.log.append(event)

    def failures(self) -> dict[str, tuple[int, str]]:
        """Per cache key: how many ended jobs did not answer it, and the last error."""
        out: dict[str, tuple[int, str]] = {}
        for e in self._events():
            if e["event"] == "ended" and not e.get("job_failed"):  # a job that failed whole stops the run instead
                for key, err in e["failed"].items():
                    out[key] = (out.get(key, (0, ""))[0] + 1, err)
        return out

    async def run(self, pending: dict[str, Pending]) -> None:
        """Get answers for the pending requests: poll the open jobs, submit the rest, wait for every job to end."""
        failed = self.failures()
        for key in list(pending):
            tries, err = failed.get(key, (0, ""))
            if tries >= self.max_attempts:
                self.llm.batch_failed[key] = f"{err} (after {tries} batch jobs)"
                del pending[key]
        events = self._events()
        ended = {e["id"] for e in events if e["event"] == "ended"}
        open_jobs = {e["id"]: e for e in events if e["event"] == "created" and e["id"] not in ended}
        covered = {k for e in open_jobs.values() for k in e["keys"]}
        groups: dict[tuple[str, str, str], list[Pending]] = {}
        for key, p in pending.items():
            if key not in covered:
                groups.setdefault((p.role.base_url, p.role.api_key_env, p.request.mode), []).append(p)
        if open_jobs:
            self.notify(f"batch: resuming {len(open_jobs)} job(s) in flight: {', '.join(open_jobs)}")
        for (url, key_env, mode), items in groups.items():
            for part in self.split(items):
                job = await self._submit(url, key_env, mode, part)
                open_jobs[job["id"]] = job
        await self._wait(open_jobs, pending)

    def split(self, items: list[Pending]) -> list[list[Pending]]:
        """Jobs under the provider's limits: at most `max_requests` lines and `max_mb` of input file each."""
        limit = int(self.cfg.max_mb * 1_000_000)
        parts: list[list[Pending]] = [[]]
        size = 0
        for p in items:
            n = len(json.dumps(p.line(), ensure_ascii=False).encode("utf-8")) + 1
            if parts[-1] and (len(parts[-1]) >= self.cfg.max_requests or size + n > limit):
                parts.append([])
                size = 0
            parts[-1].append(p)
            size += n
        return [part for part in parts if part]

    async def _submit(self, url: str, key_env: str, mode: str, items: list[Pending]) -> dict[str, Any]:
        """Upload one job's requests and create it (each retried on transient errors), or adopt the provider's job
        with this run's tag and these requests (its create went through, but its answer was lost)."""
        client = self.llm.client_at(url, key_env)
        digest = hashlib.sha256("\n".join(p.key for p in items).encode()).hexdigest()[:32]
        tag = {"tool": "wizevol", "run": self.run_tag, "round": str(items[0].round_k),
               "stage": ",".join(sorted({p.role.name for p in items})), "requests": digest}
        job, file_id = await self._tagged(client, url, digest), None
        if job is None:
            data = "".join(json.dumps(p.line(), ensure_ascii=False) + "\n" for p in items).encode("utf-8")
            f = await self._transient(url, "upload a batch file", lambda: client.files.create(
                file=("wizevol-batch.jsonl", data), purpose="batch"))
            file_id = f.id

            tries = []

            async def create():
                found = await self._tagged(client, url, digest, fresh=True) if tries else None  # went through?
                tries.append(1)
                if found is not None:
                    self.notify(f"batch: adopted {found.id}, created earlier for these requests (its answer was lost)")
                    return found
                return await client.batches.create(input_file_id=f.id, endpoint=PATHS[mode],
                                                   completion_window=self.cfg.completion_window, metadata=tag)

            job = await self._transient(url, "create a batch job", create)
        else:
            self.notify(f"batch: adopted {job.id}, created earlier for these requests (its answer was lost)")
        event = {"event": "created", "id": job.id, "url": url, "key_env": key_env, "mode": mode,
                 "round": items[0].round_k, "input_file_id": file_id or getattr(job, "input_file_id", None),
                 "roles": {p.key: p.role.name for p in items}, "keys": [p.key for p in items]}
        self._append(event)  # saved before any wait: a restart polls this job instead of paying again
        self.notify(f"batch: submitted {job.id} ({len(items)} {mode} requests, round {items[0].round_k})")
        return event

    async def _tagged(self, client, url: str, digest: str, fresh: bool = False):
        """The job at endpoint `url` tagged with this run and these requests, not in the log yet, or None. Each
        endpoint's list is read once a process (again with `fresh`), newest first, up to 10 pages."""
        if url not in self._provider_jobs or fresh:
            jobs = self._provider_jobs[url] = {}
            logged = {e["id"] for e in self._events()}
            with contextlib.suppress(Exception):  # a provider without a list: nothing to adopt
                page = await client.batches.list(limit=100)
                for _ in range(10):
                    for job in page.data:
                        meta = getattr(job, "metadata", None) or {}
                        if meta.get("tool") == "wizevol" and meta.get("run") == self.run_tag and job.id not in logged \
                                and job.status not in ("failed", "cancelled", "cancelling"):
                            jobs.setdefault(meta.get("requests", ""), job)
                    if not page.has_next_page():
                        break
                    page = await page.get_next_page()
        return self._provider_jobs[url].pop(digest, None)

    async def _transient(self, url: str, what: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """One files/batches call, tried again on transient errors (5xx, connection, timeout) with the endpoint's
        backoff, `max_attempts` tries in all; a refusal (4xx) or the last failure is one error line."""
        tries = 0

        async def counted() -> Any:
            nonlocal tries
            tries += 1
            return await call()

        try:
            return await _retried(counted, self.max_attempts, wait_exponential(multiplier=self.backoff_initial,
                                                                                max=self.backoff_max),
                                  is_endpoint_failure)
        except Exception as e:
            raise WizevolError(f"{url} refused to {what}: {type(e).__name__}: {' '.join(str(e).split())[:300]}"
                               + (f" (after {tries} tries)" if tries > 1 else "")) from None

    async def _wait(self, jobs: dict[str, dict[str, Any]], pending: dict[str, Pending]) -> None:
        delay = self.cfg.poll_initial
        left = dict(jobs)
        while left:
            for jid, event in list(left.items()):
                client = self.llm.client_at(event["url"], event["key_env"])
                job = await _retrieve(client, jid)
                if job.status in FINAL:
                    await self._collect(client, job, event)
                    del left[jid]
                    await self._delete_input(client, event)
                    self._count_failed_job(job, event)
            if left:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.cfg.poll_max)

    async def _delete_input(self, client, event: dict[str, Any]) -> None:
        """The job's uploaded input file, deleted once its output is collected (a failure is a note: the file is
        the provider's storage, not a charge for answers)."""
        fid = event.get("input_file_id")
        if fid:
            try:
                await client.files.delete(fid)
            except Exception as e:
                self.notify(f"batch: could not delete input file {fid}: {type(e).__name__}")

    def _count_failed_job(self, job, event: dict[str, Any]) -> None:
        """A job that failed whole, `max_attempts` times in a row in this process, stops the run (one line)."""
        if job.status != "failed":
            self.failed_in_a_row = 0
            return
        self.failed_in_a_row += 1
        if self.failed_in_a_row >= self.max_attempts:
            errors = getattr(getattr(job, "errors", None), "data", None) or []
            last = "; ".join(f"{e.code}: {e.message}" for e in errors)[:200] or "no reason given"
            raise WizevolError(f"batch: {self.failed_in_a_row} jobs in a row failed at {event['url']} (last: {job.id}: "
                               f"{last}); no round was marked done: rerun to continue")

    async def _collect(self, client, job, event: dict[str, Any]) -> None:
        """Cache the answers of an ended job and log which of its requests it did not answer, and why."""
        answered: set[str] = set()
        failed: dict[str, str] = {}
        keys = set(event["keys"])
        if job.output_file_id:
            for row in _rows(await client.files.content(job.output_file_id)):
                key = row.get("custom_id")
                resp = row.get("response") or {}
                if key not in keys:
                    continue
                if resp.get("status_code") == 200:
                    try:
                        self.llm.cache.put(key, parse_body(resp.get("body") or {}, event["mode"]))
                        answered.add(key)
                        continue
                    except BadResponse as e:
                        failed[key] = f"BadResponse: {e}"
                else:
                    failed[key] = _line_error(row)
        if job.error_file_id:
            for row in _rows(await client.files.content(job.error_file_id)):
                if row.get("custom_id") in keys and row["custom_id"] not in answered:
                    failed[row["custom_id"]] = _line_error(row)
        reason = f"batch job {job.id} {job.status}"
        errors = getattr(getattr(job, "errors", None), "data", None) or []
        if job.status == "failed" and errors:
            reason += ": " + "; ".join(f"{e.code}: {e.message}" for e in errors)[:200]
        for key in event["keys"]:
            if key not in answered and key not in failed:
                failed[key] = reason
        self._append({"event": "ended", "id": job.id, "status": job.status, "answered": len(answered),
                      "failed": failed, **({"job_failed": True} if job.status == "failed" else {})})
        self.notify(f"batch: {job.id} {job.status}: {len(answered)} answered, {len(failed)} not")


async def _retried(call: Callable[[], Awaitable[Any]], attempts: int, wait: Any,
                   retry_on: Callable[[BaseException], bool] = lambda e: True) -> Any:
    """`call()`, tried up to `attempts` times while what it raises passes `retry_on` (tenacity, as the calls)."""
    async for attempt in AsyncRetrying(stop=stop_after_attempt(attempts), wait=wait,
                                       retry=retry_if_exception(retry_on), reraise=True):
        with attempt:
            return await call()
    raise AssertionError("unreachable")


async def _retrieve(client, jid: str):
    """A job's state; a poll that fails is tried again (5 tries, 1-8 s apart): the job goes on without us."""
    return await _retried(lambda: client.batches.retrieve(jid), 5, wait_exponential(multiplier=1, max=8))


def _rows(content) -> list[dict[str, Any]]:
    text = content.text if hasattr(content, "text") else bytes(content).decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _line_error(row: dict[str, Any]) -> str:
    if row.get("error"):
        e = row["error"]
        return f"{e.get('code', 'error')}: {e.get('message', '')}"[:300]
    resp = row.get("response") or {}
    msg = ((resp.get("body") or {}).get("error") or {}).get("message", "")
    return f"HTTP {resp.get('status_code')}: {msg}"[:300]


async def prefetch_round(pool: Callable[[], Iterable[Any]], k: int, ctx, evolve_one: Callable[..., Awaitable[Any]],
                         runner: BatchRunner) -> int:
    """Run round k's stages as batch jobs until every call of the round is cached (or failed for good); the
    number of passes that sent something. `pool()` streams the round's input, once per pass."""
    from wizevol.llm.wire import Usage

    llm = ctx.llm
    passes = 0
    while True:
        real, llm.usage = llm.usage, Usage()  # a collecting pass counts nothing: the real pass does
        llm.collect = {}
        try:
            for record in pool():
                try:
                    await evolve_one(record, k, ctx)
                except Deferred:
                    pass
        finally:
            pending, llm.collect, llm.usage = llm.collect, None, real
        if not pending:
            return passes
        passes += 1
        await runner.run(pending)
