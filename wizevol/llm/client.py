"""The one path to any OpenAI-compatible endpoint: async `openai` SDK, tenacity retries, response cache, usage.

The SDK's own retries are off; tenacity owns the policy: retry on 429, 5xx, timeouts, connection errors and
unparseable bodies, with exponential backoff and jitter, honouring Retry-After, for a bounded number of tries.
A call that still fails raises `CallFailed` (the record becomes a `failed` record). Errors that would fail
every call (bad key, unknown model) raise `FatalAPIError` and stop the run.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import os
import time
from typing import Any
from urllib.parse import urlparse

import openai
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

from wizevol.config import EndpointConfig, ResolvedRole
from wizevol.errors import FatalAPIError, WizevolError
from wizevol.llm.cache import ResponseCache, cache_key
from wizevol.llm.routing import AdaptiveLimit, Endpoints, is_overload
from wizevol.llm.wire import (  # noqa: F401 - the call path's names, where callers import them
    BadResponse,
    CallFailed,
    Completion,
    Deferred,
    Pending,
    Usage,
    _parse_body,
    completion_from_json,
    is_endpoint_failure,
)
from wizevol.prompts import Request

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


def _raw_response_type() -> type:
    """The HTTP response class the SDK returns for `cast_to` (its README's way to call an endpoint raw)."""
    try:
        from openai._response import http_response_types  # SDKs built on httpx2

        return http_response_types()[0]
    except ImportError:
        import httpx

        return httpx.Response


_RAW = _raw_response_type()


def _seconds(value: str, scale: float = 1.0) -> float | None:
    try:
        seconds = float(value) * scale
    except ValueError:
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _retry_after(exc: BaseException) -> float | None:
    """How long the server asked us to wait: `retry-after-ms`, else `Retry-After` in seconds or as an HTTP-date.
    None when it said nothing usable (then the exponential backoff applies)."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms and (seconds := _seconds(ms, 1e-3)) is not None:
        return seconds
    value = headers.get("retry-after")
    if not value:
        return None
    if (seconds := _seconds(value)) is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - _now())


def _now() -> float:
    """The wall clock an HTTP-date is read against (tests set it)."""
    return time.time()


def is_retryable(exc: BaseException) -> bool:
    """Is this error worth another try (429, 5xx, timeouts, connection errors, bad bodies)?"""
    if isinstance(exc, (openai.APIConnectionError, BadResponse, json.JSONDecodeError,
                        openai.APIResponseValidationError)):
        return True  # APITimeoutError is an APIConnectionError
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


class _Wait:
    """Exponential backoff with jitter, unless the server said how long to wait."""

    def __init__(self, endpoint: EndpointConfig):
        self.expo = wait_exponential(multiplier=endpoint.backoff_initial, max=endpoint.backoff_max) + wait_random(
            0, endpoint.backoff_initial)
        self.cap = endpoint.retry_after_max

    def __call__(self, state) -> float:
        exc = state.outcome.exception() if state.outcome else None
        after = _retry_after(exc) if exc is not None else None
        return min(after, self.cap) if after is not None else self.expo(state)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:400]


def is_loopback(base_url: str) -> bool:
    """Does this URL point at this machine (a local server needs no API key)?"""
    return (urlparse(base_url).hostname or "") in LOCAL_HOSTS


class LLM:
    """The client of a run: calls through the cache, with retries, counting usage."""

    sleep = staticmethod(asyncio.sleep)  # how a retry waits (tests record the waits chosen instead of timing them)

    def __init__(self, endpoint: EndpointConfig, cache: ResponseCache, usage: Usage, concurrency: int = 16):
        self.endpoint = endpoint
        self.concurrency = concurrency
        self._limits: dict[str, AdaptiveLimit] = {}
        self.cache = cache
        self.usage = usage
        self._clients: dict[tuple[str, str], openai.AsyncOpenAI] = {}
        self._routes: dict[tuple[str, ...], Endpoints] = {}
        self._inflight: dict[str, asyncio.Future] = {}
        self._wait = _Wait(endpoint)
        self.new_calls = 0
        self._down_streak = 0  # calls in a row that failed for good on connection errors, no success between
        self.succeeded = 0  # calls answered by the server in this process (cache hits do not count)
        self.down: str | None = None  # set once the endpoint is judged down: every later call stops the run
        self.collect: dict | None = None  # batch mode: a pass collecting the requests missing from the cache
        self.batch_failed: dict[str, str] = {}  # batch mode: cache key -> why no batch job answered it
        self.batch_only = False  # batch mode: a request that is not cached is never sent online

    def client_for(self, role: ResolvedRole) -> openai.AsyncOpenAI:
        """The SDK client for a role's first endpoint; a missing key for any of its endpoints fails here."""
        for url in role.base_urls[1:]:
            self.client_at(url, role.api_key_env)
        return self.client_at(role.base_url, role.api_key_env)

    def client_at(self, url: str, key_env: str) -> openai.AsyncOpenAI:
        """The SDK client for one endpoint URL and key (made once); a missing key fails here."""
        ident = (url, key_env)
        if ident not in self._clients:
            key = os.environ.get(key_env)
            if not key:
                if not is_loopback(url):
                    raise WizevolError(f"environment variable {key_env} is not set (the API key for {url})")
                key = "no-key-needed-for-local-endpoint"
            self._clients[ident] = openai.AsyncOpenAI(
                base_url=url, api_key=key, max_retries=0, timeout=self.endpoint.timeout)
        return self._clients[ident]

    def route(self, role: ResolvedRole) -> Endpoints:
        """The endpoints of a role (shared by every role with the same URLs)."""
        urls = role.base_urls or (role.base_url,)
        if urls not in self._routes:
            self._routes[urls] = Endpoints(urls, self.endpoint.out_after, self.endpoint.out_for)
        return self._routes[urls]

    def _limit(self, url: str) -> AdaptiveLimit | None:
        if not self.endpoint.adaptive:
            return None
        if url not in self._limits:
            self._limits[url] = AdaptiveLimit(self.endpoint.adaptive_start, self.concurrency)
        return self._limits[url]

    def endpoint_report(self) -> dict[str, dict[str, Any]]:
        """Tries, failures and times taken out per endpoint, over every role (and the adaptive limit)."""
        out: dict[str, dict[str, Any]] = {}
        for route in self._routes.values():
            for url, counts in route.report().items():
                slot = out.setdefault(url, dict.fromkeys(counts, 0))
                for k, v in counts.items():
                    slot[k] += v
        for url, limit in self._limits.items():
            out.setdefault(url, {}).update(concurrency_now=int(limit.limit), concurrency_peak=int(limit.peak))
        return out

    async def aclose(self) -> None:
        """Close the SDK clients (inside the event loop that used them)."""
        for client in self._clients.values():
            await client.close()
        self._clients.clear()

    async def complete(self, role: ResolvedRole, request: Request, round_k: int, at: str | None = None) -> Completion:
        """One call, through the cache. `at` is the call's place in a lineage (the child's id): with it, every
        (record, round, role) is its own sample, and only a request for the same place shares an in-flight call."""
        params = role.params()
        if request.stop:
            params["stop"] = list(request.stop)
        key = cache_key(role.model, request.payload(), params, request.mode,
                        f"{at}/{role.name}" if at is not None else None)
        hit = self.cache.get(key)
        if hit is not None:
            batched = int(bool(hit.pop("batch", False)))  # answered by a batch job (billed at the batch price)
            self.usage.add(round_k, role.name, answered=1, cached=1, batched=batched,
                           prompt_tokens=hit["prompt_tokens"], completion_tokens=hit["completion_tokens"],
                           batched_prompt_tokens=batched * hit["prompt_tokens"],
                           batched_completion_tokens=batched * hit["completion_tokens"])
            return Completion.from_entry(hit)
        if key in self.batch_failed:
            self.usage.add(round_k, role.name, failed=1)
            raise CallFailed(self.batch_failed[key])
        if self.collect is not None:
            self.collect[key] = Pending(key, role, request, params, round_k)
            raise Deferred(key)
        if self.batch_only:
            self.usage.add(round_k, role.name, failed=1)
            raise CallFailed("no batch job answered this request")
        if key in self._inflight:  # same request already on the wire: share its answer
            return await asyncio.shield(self._inflight[key])
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            result = await self._call(role, request, params, round_k)
            self.cache.put(key, result.entry())
            fut.set_result(result)
            return result
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # mark retrieved: waiters re-raise it, nobody else needs to
            raise
        finally:
            del self._inflight[key]

    def _endpoint_down(self, role: ResolvedRole, exc: BaseException) -> None:
        """Count a call that failed for good; a streak of connection failures means the endpoint is down, and the
        run stops with one line instead of turning every record into a failed one."""
        if not isinstance(exc, openai.APIConnectionError):  # timeouts are connection errors too
            self._down_streak = 0  # the server answered: it is up
            return
        self._down_streak += 1
        if self.down is not None:
            return
        if self.succeeded == 0:  # not one answer yet: the endpoint was never reached
            self.down = (f"cannot reach {', '.join(role.base_urls or (role.base_url,))}: {_one_line(exc)} (after "
                         f"{self.endpoint.max_attempts} tries); nothing was marked done, rerun to continue")
        elif self._down_streak >= self.endpoint.dead_after:
            where = ", ".join(role.base_urls or (role.base_url,))
            self.down = (f"{where} {'looks' if ',' not in where else 'look'} down: {self._down_streak} calls in a row "
                         "failed on connection "
                         f"errors after {self.endpoint.max_attempts} tries each (last: {_one_line(exc)}); "
                         "nothing was marked done, rerun to continue")

    async def _call(self, role: ResolvedRole, request: Request, params: dict, round_k: int) -> Completion:
        if self.down is not None:
            raise FatalAPIError(self.down)
        route = self.route(role)
        last: list[str | None] = [None]
        attempts = 0
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.endpoint.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(is_retryable),
            reraise=True,
            sleep=self.sleep,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    self.new_calls += 1
                    url = last[0] = route.pick(avoid=last[0])
                    client = self.client_at(url, role.api_key_env)
                    limit = self._limit(url)
                    epoch = await limit.acquire() if limit else 0
                    headers = None
                    try:
                        # the SDK's own request path (its errors, headers, timeouts), without re-validating a body
                        # wizevol built itself or building typed models of the answer: a third of its CPU per call
                        if request.mode == "chat":
                            path, body = "/chat/completions", {"model": role.model, "messages": request.messages}
                        else:
                            path, body = "/completions", {"model": role.model, "prompt": request.prompt}
                        raw = await client.post(path, body={**body, **params}, cast_to=_RAW)
                        headers = raw.headers
                        completion = _parse_body(raw, request.mode)
                    except BaseException as e:
                        route.done(url, is_endpoint_failure(e))
                        if limit:
                            await limit.release(epoch, "overload" if is_overload(e) else "other")
                        raise
                    route.done(url, False)
                    if limit:
                        await limit.release(epoch, "ok", headers)
        except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as e:
            raise FatalAPIError(f"{role.base_url} refused the {role.name} call for model {role.model!r}: "
                                f"{_one_line(e)}") from None
        except Exception as e:
            self.usage.add(round_k, role.name, calls=attempts, retries=attempts - 1, failed=1)
            self._endpoint_down(role, e)
            if self.down is not None:
                raise FatalAPIError(self.down) from None
            raise CallFailed(f"{_one_line(e)} (after {attempts} attempt{'s' if attempts > 1 else ''})") from None
        self._down_streak = 0
        self.succeeded += 1
        self.usage.add(round_k, role.name, calls=attempts, retries=attempts - 1, answered=1,
                       prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens)
        return completion
