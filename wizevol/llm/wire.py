"""What travels between the call path (client.py) and the Batch API path (batch.py), below both: an answer
(`Completion`), a call's failure (`CallFailed`, `BadResponse`), the usage counts, the parsing of a completion
object, and a batch pass's collected request (`Pending`, raised as `Deferred`)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import openai

from wizevol.config import ResolvedRole
from wizevol.prompts import Request

PATHS = {"chat": "/v1/chat/completions", "completion": "/v1/completions"}  # a batch line's URL, per mode


@dataclass(frozen=True)
class Completion:
    """One answer: its text, why it stopped, its token counts and, where the call asked for them (a role's
    `top_logprobs`), its first token's most likely alternatives as (token, log probability) pairs."""

    text: str
    finish_reason: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    top_logprobs: tuple[tuple[str, float], ...] | None = None

    def entry(self) -> dict[str, Any]:
        """As the cache stores it (a row from before logprobs, without the field, still loads)."""
        out: dict[str, Any] = {"text": self.text, "finish_reason": self.finish_reason,
                               "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}
        if self.top_logprobs is not None:
            out["top_logprobs"] = [list(t) for t in self.top_logprobs]
        return out

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> Completion:
        """A cached answer (what `entry` wrote)."""
        top = entry.get("top_logprobs")
        return cls(text=entry["text"], finish_reason=entry["finish_reason"], prompt_tokens=entry["prompt_tokens"],
                   completion_tokens=entry["completion_tokens"],
                   top_logprobs=None if top is None else tuple((str(t), float(lp)) for t, lp in top))


class CallFailed(Exception):
    """A call that failed for good, after retries; the message is one line for the failed record."""


class BadResponse(Exception):
    """A 2xx answer without a usable body (unparseable JSON, no choices): retried like a 5xx."""


class Usage:
    """Token and call counts per (round, role)."""

    # answered: requests that got an answer (a fresh call or a cache hit), each once; batched: those answered by a
    # batch job (billed at the batch price), with their own tokens
    FIELDS = ("calls", "answered", "cached", "batched", "retries", "failed", "prompt_tokens", "completion_tokens",
              "batched_prompt_tokens", "batched_completion_tokens")

    def __init__(self) -> None:
        self.by: dict[tuple[int, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(self.FIELDS, 0))

    def add(self, round_k: int, role: str, **counts: int) -> None:
        """Add counts for one (round, role)."""
        slot = self.by[(round_k, role)]
        for k, v in counts.items():
            slot[k] += v

    def for_round(self, round_k: int) -> dict[str, dict[str, int]]:
        """The counts of one round, per role."""
        return {role: dict(v) for (k, role), v in sorted(dict(self.by).items()) if k == round_k}  # a copy first:
        # finish_round reads it from a thread while calls add to it


def is_endpoint_failure(exc: BaseException) -> bool:
    """Does this error say the endpoint itself is unwell (no connection, a timeout, a 5xx, a broken body)?"""
    if isinstance(exc, (openai.APIConnectionError, BadResponse, json.JSONDecodeError,
                        openai.APIResponseValidationError)):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500



class Deferred(Exception):
    """A call that is not in the cache while a batch pass collects a stage's requests."""


@dataclass(frozen=True)
class Pending:
    """One request a pass collected: it goes into a batch job under its cache key."""

    key: str
    role: ResolvedRole
    request: Request
    params: dict[str, Any]
    round_k: int

    def line(self) -> dict[str, Any]:
        body = {"model": self.role.model, **self.params}
        if self.request.mode == "chat":
            body["messages"] = self.request.messages
        else:
            body["prompt"] = self.request.prompt
        return {"custom_id": self.key, "method": "POST", "url": PATHS[self.request.mode], "body": body}


def _parse_body(raw: Any, mode: str) -> Completion:
    """A completion from the raw HTTP answer's JSON body; an unusable body is a BadResponse (retried)."""
    try:
        data = json.loads(raw.content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadResponse("response body is not JSON") from None
    return completion_from_json(data, mode)


def completion_from_json(data: Any, mode: str) -> Completion:
    """A completion from a chat or text completion object (an HTTP body, or a batch output line's body)."""
    if not isinstance(data, dict):
        raise BadResponse("response body is not a JSON object")
    choices = data.get("choices")
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise BadResponse("response has no choices")
    choice = choices[0]
    text = (choice.get("message") or {}).get("content") if mode == "chat" else choice.get("text")
    if text is not None and not isinstance(text, str):
        raise BadResponse("message content is not text")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return Completion(text=text or "", finish_reason=choice.get("finish_reason"),
                      prompt_tokens=int(usage.get("prompt_tokens") or 0),
                      completion_tokens=int(usage.get("completion_tokens") or 0),
                      top_logprobs=first_token_alternatives(choice.get("logprobs")))


def first_token_alternatives(logprobs: Any) -> tuple[tuple[str, float], ...] | None:
    """The first token's top alternatives, most likely first, from a choice's `logprobs`: the chat shape
    (`content[0].top_logprobs`, a list of {token, logprob}) or the text completion shape (`top_logprobs[0]`, a
    {token: logprob} map). None where the answer carries none (not asked for, or a server that does not give
    them); a malformed block is a BadResponse."""
    if not logprobs:
        return None
    try:
        if isinstance(logprobs.get("content"), list):  # chat
            if not logprobs["content"]:
                return None
            pairs = [(t["token"], t["logprob"]) for t in logprobs["content"][0].get("top_logprobs") or []]
        else:  # text completion
            tops = logprobs.get("top_logprobs") or []
            pairs = list((tops[0] or {}).items()) if tops else []
        out = tuple((str(t), float(lp)) for t, lp in pairs)
    except (AttributeError, KeyError, TypeError, ValueError, IndexError):
        raise BadResponse("logprobs are not in a known shape") from None
    return tuple(sorted(out, key=lambda p: -p[1])) or None
