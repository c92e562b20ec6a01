"""Typed run configuration: YAML file, then CLI overrides. Holds no secrets, only env-var names."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from wizevol.config_base import Strict as _Strict
from wizevol.config_filters import EvolStopConfig, FiltersConfig, SandboxConfig
from wizevol.errors import InputError
from wizevol.heuristics import METHODS
from wizevol.old_names import migrate_old_names


class EndpointConfig(_Strict):
    """Where calls go and how they are retried. The API key is read from the env var named here, never stored."""

    base_url: str = "https://api.openai.com/v1"
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = Field(120.0, gt=0, description="seconds per call attempt")
    max_attempts: int = Field(6, ge=1)
    backoff_initial: float = Field(1.0, ge=0)
    backoff_max: float = Field(60.0, ge=0)
    retry_after_max: float = Field(120.0, ge=0, description="cap on a server's Retry-After")
    base_urls: list[str] = Field(default_factory=list, description="replicas of base_url's server (vLLM, SGLang): "
                                                                    "each call goes to the least busy one")
    out_after: int = Field(3, ge=1, description="tries in a row an endpoint fails (connection, timeout, 5xx) before "
                                                "it is taken out for a while and its calls go to the others")
    out_for: float = Field(10.0, ge=0, description="seconds an endpoint stays out before it is tried again")
    adaptive: bool = Field(False, description="find the concurrency by itself: start at adaptive_start calls in flight "
                                              "and raise it while calls succeed; halve it on 429s, timeouts and 503s "
                                              "(AIMD); never above `concurrency`")
    adaptive_start: int = Field(4, ge=1)
    dead_after: int = Field(8, ge=1, description="calls in a row that fail for good on connection errors or timeouts "
                                                 "(no success between) before the run stops: the endpoint is down")


class RoleConfig(_Strict):
    """One LLM role (evolver, responder or judge). Unset fields inherit from the evolver / endpoint."""

    model: str | None = None
    mode: Literal["chat", "completion"] | None = None
    base_url: str | None = None
    base_urls: list[str] | None = Field(None, description="replicas serving this role's model: each call goes to "
                                                           "the one with the fewest calls in flight")
    api_key_env: str | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)


class LocalConfig(_Strict):
    """The embedded llama.cpp server (backend: local)."""

    model: str = Field("gemma3-270m", description="packaged model name, or a path to a .gguf file")
    n_ctx: int = Field(4096, ge=512)
    n_threads: int | None = Field(None, ge=1, description="null: all cores")
    cache_dir: str = Field(".cache/wizevol", description="where the GGUF is assembled once")
    max_tokens_cap: int | None = Field(256, ge=1, description="caps every locally served role's max_tokens (CPU)")
    concurrency: int = Field(2, ge=1, description="calls in flight to the local server (it serves one at a time)")
    startup_timeout: float = Field(300.0, gt=0)


class RulesConfig(_Strict):
    """Elimination rules of `evolve` (config `rules:`). Each can be switched off."""

    no_gain: bool = True
    refusal: bool = True
    refusal_max_words: int = Field(80, ge=1)
    stopwords_only: bool = True
    prompt_leak: bool = True
    answered: bool = True  # the evolved "instruction" is the evolver's answer (a solution), not a task
    # what a small evolver gets wrong (evolve/small_evolver.py; docs/evolve.md measures each)
    dangling_reference: bool = True  # "modify the given code" with no code, no literal, no input
    # erroneous_code with no code in the child: right about the method, but 5 of its 7 eliminations on two real
    # runs were sound tasks (docs/evolve.md), so off unless asked for
    method_not_applied: bool = False
    language_lost: bool = True  # the parent's language gone, the child in another one (SQL became pandas)
    commentary: bool = True  # "The difficulty has been increased by ..." left in the instruction
    easier: bool = False  # the child keeps less than easier_min_ratio of its parent's words (no real run showed one)
    easier_min_ratio: float = Field(0.6, gt=0, le=1)


class AutoConfig(_Strict):
    """strategy: auto (Auto Evol-Instruct). Before each round after the first, the optimizer role (config
    `optimizer:`, its unset fields from the evolver) reads a sample of the round before (eliminations with their
    reasons, kept children with the scorer's complexity score) and rewrites the heuristics' texts, or adds one."""

    sample: int = Field(12, ge=1, description="eliminations, and kept children, the optimizer reads (each)")


class TreeConfig(_Strict):
    """strategy: tree (Tree-of-Evolution). Each parent gets `children` candidates, each scored for complexity (the
    scorer role, 1-10) and diversity (1 - MiniLM cosine to the nearest of the previous round's kept instructions); the
    best one goes on, the others are eliminated as `outscored`. A record's scores go into its next round's prompt."""

    children: int = Field(3, ge=2)
    diversity_weight: float = Field(1.0, ge=0, description="score = complexity / 10 + diversity_weight x diversity")
    reference: int = Field(20_000, ge=1, description="the previous round's kept instructions diversity is measured "
                                                     "against, at most (a fixed sample beyond)")


class SeedConfig(_Strict):
    """How seed rows map to instruction / input / output, and what a bad row does."""

    instruction_field: str = "instruction"
    input_field: str = "input"
    output_field: str = "output"
    split: str = "train"
    skip_bad: bool = False


class BatchConfig(_Strict):
    """`evolve --batch`: each stage of a round goes out as provider batch jobs (OpenAI's Batch API), split under
    the provider's limits."""

    enabled: bool = False
    completion_window: str = "24h"
    poll_initial: float = Field(5.0, gt=0, description="seconds before the first poll of a job; doubles each poll")
    poll_max: float = Field(60.0, gt=0, description="the longest wait between two polls")
    discount: float = Field(0.5, ge=0, le=1, description="share of the online price the batch price saves")
    max_requests: int = Field(50_000, ge=1, description="requests in one job at most (OpenAI's limit)")
    max_mb: float = Field(200.0, gt=0, description="MB of one job's input file at most (OpenAI's limit)")


class ModelPrice(_Strict):
    """A model's price in USD per million tokens (a self-hosted model, or a rate of your own)."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class EvolveConfig(_Strict):
    """The whole run configuration of `wizevol evolve` (and of the filters run after it)."""

    backend: Literal["local", "api"] = "local"
    rounds: int = Field(4, ge=0)
    seed_rng: int = 42
    concurrency: int = Field(16, ge=1)
    limit: int | None = Field(None, ge=1)
    endpoint: EndpointConfig = EndpointConfig()
    local: LocalConfig = LocalConfig()
    evolver: RoleConfig = RoleConfig(temperature=1.0, top_p=0.95, max_tokens=2048)
    responder: RoleConfig = RoleConfig()
    judge: RoleConfig = RoleConfig(temperature=0.0, max_tokens=16)
    strategy: Literal["paper", "auto", "tree"] = Field(
        "paper", description="paper: the five fixed heuristics (WizardCoder); auto: an optimizer rewrites them "
                             "after each round; tree: several scored candidates per parent, the best goes on")
    auto: AutoConfig = AutoConfig()
    tree: TreeConfig = TreeConfig()
    optimizer: RoleConfig = RoleConfig(temperature=0.7, max_tokens=1024)
    scorer: RoleConfig = RoleConfig()  # strategies auto and tree: the 1-10 complexity; unset fields: the judge's
    tester: RoleConfig = RoleConfig()  # the verified filter's tests; unset fields: the responder's
    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "add_constraints": 1.0,
            "rare_requirement": 1.0,
            "reasoning_steps": 1.0,
            "erroneous_code": 1.0,
            "complexity": 0.5,
        }
    )
    rules: RulesConfig = RulesConfig()
    seed: SeedConfig = SeedConfig()
    filters: FiltersConfig = FiltersConfig()
    sandbox: SandboxConfig = SandboxConfig()
    evol_stop: EvolStopConfig | None = None
    shard: str | None = Field(None, pattern=r"^\d+/\d+$", description="I/N: evolve only the I-th of N contiguous "
                                                                        "slices of the seed (0-based)")
    batch: BatchConfig = BatchConfig()
    prices: dict[str, ModelPrice] = Field(default_factory=dict, description="model -> USD per 1M tokens; else "
                                                                             "genai-prices; a local endpoint is free")
    prompts_dir: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        """Accept the names of wizevol 0.1 for one release, each with a one-line deprecation warning."""
        return migrate_old_names(data, frozenset(RulesConfig.model_fields)) if isinstance(data, dict) else data

    @field_validator("shard")
    @classmethod
    def _shard_in_range(cls, v: str | None) -> str | None:
        if v is not None:
            i, n = (int(x) for x in v.split("/"))
            if n < 1 or i >= n:
                raise ValueError(f"shard {v}: want I/N with 0 <= I < N")
        return v

    def shard_of(self) -> tuple[int, int] | None:
        """(I, N) of `shard`, or None."""
        return tuple(int(x) for x in self.shard.split("/")) if self.shard else None  # type: ignore[return-value]

    @field_validator("batch", mode="before")
    @classmethod
    def _batch_flag(cls, v: Any) -> Any:
        return {"enabled": v} if isinstance(v, bool) else v

    @field_validator("weights")
    @classmethod
    def _known_methods(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(METHODS))
        if unknown:
            raise ValueError(f"unknown heuristic {unknown[0]!r}; known: {', '.join(METHODS)}")
        if any(w < 0 for w in v.values()) or not any(w > 0 for w in v.values()):
            raise ValueError("weights must be >= 0 and at least one > 0")
        return v

    @model_validator(mode="after")
    def _api_when_url_given(self) -> EvolveConfig:
        """A config that names an endpoint URL but no backend means that endpoint, not the local model."""
        if "backend" not in self.model_fields_set and "base_url" in self.endpoint.model_fields_set:
            object.__setattr__(self, "backend", "api")
        return self

    def _own(self, name: str) -> RoleConfig:
        """A role's own settings; the scorer's unset ones are the judge's, the tester's the responder's (then, like
        every role, the evolver's)."""
        own: RoleConfig = getattr(self, name)
        base = {"scorer": self.judge, "tester": self.responder}.get(name)
        if base is None:
            return own
        return RoleConfig(**{k: getattr(own, k) if getattr(own, k) is not None else getattr(base, k)
                             for k in RoleConfig.model_fields})

    def served_locally(self, name: str) -> bool:
        """Is this role served by the embedded local model? (A role with its own base_url never is.)"""
        own = self._own(name)
        return self.backend == "local" and own.base_url is None and self.evolver.base_url is None

    def local_model(self, name: str) -> str:
        """The local model serving a locally served role: its own `model` (or the evolver's) when that names a
        local model (packaged name or .gguf path), else `local.model`. Another name is a config mistake."""
        from wizevol.llm.local_server import alias_of, is_local_model

        own = self._own(name)
        named = own.model if own.model is not None else self.evolver.model
        if named is None or named == alias_of(self.local.model):
            return self.local.model
        if is_local_model(named):
            return named
        raise InputError(f"the {name} model is {named!r} but the backend is local (serving "
                         f"{alias_of(self.local.model)!r}); pass --base-url or --backend api for an API endpoint, or "
                         "set local.model (or the role's model to a local model)")

    def local_models(self, roles: tuple[str, ...]) -> list[str]:
        """The local models these roles need, in order of first use (one server each)."""
        return list(dict.fromkeys(self.local_model(n) for n in roles if self.served_locally(n)))

    def role(self, name: str, local_url: str | dict[str, str] | None = None) -> ResolvedRole:
        """Fill a role's unset fields from the evolver and the endpoint (or the running local servers:
        `local_url` is local.model's URL, or a map of local model -> URL)."""
        base = self.evolver
        own = self._own(name)
        merged = {k: (getattr(own, k) if getattr(own, k) is not None else getattr(base, k)) for k in RoleConfig.model_fields}
        local = self.served_locally(name)
        if local:
            from wizevol.llm.local_server import alias_of, is_chat_model

            model = self.local_model(name)
            url = local_url.get(model) if isinstance(local_url, dict) else (
                local_url if model == self.local.model else None)
            merged["base_url"] = url or "http://127.0.0.1:0/v1"  # the port is known once the server runs
            merged["model"] = alias_of(model)
            # a base model continues few-shot prompts; an instruct model (its GGUF's chat template) is asked in chat
            merged["mode"] = merged["mode"] or ("chat" if is_chat_model(model) else "completion")
        if not local:  # the URLs are inherited as a unit: the role's own, else the evolver's, else the endpoint's
            src = next((c for c in (own, base) if c.base_url or c.base_urls), None)
            urls = [src.base_url, *(src.base_urls or [])] if src else [self.endpoint.base_url, *self.endpoint.base_urls]
            urls = [u for u in urls if u]
            merged["base_url"] = urls[0]
        else:
            urls = [merged["base_url"]]
        merged["base_urls"] = tuple(dict.fromkeys(urls))
        merged["api_key_env"] = merged["api_key_env"] or self.endpoint.api_key_env
        merged["temperature"] = 1.0 if merged["temperature"] is None else merged["temperature"]
        merged["top_p"] = 0.95 if merged["top_p"] is None else merged["top_p"]
        merged["max_tokens"] = merged["max_tokens"] or 2048
        if local and self.local.max_tokens_cap and name != "optimizer":  # one call a round, the method texts whole
            merged["max_tokens"] = min(merged["max_tokens"], self.local.max_tokens_cap)
        merged["mode"] = merged["mode"] or "chat"
        if not merged["model"]:
            raise InputError(f"no model set for the {name} (set evolver.model or pass --model)")
        return ResolvedRole(name=name, **merged)

    def fingerprint(self, legacy: bool = False) -> str:
        """Hash of everything that changes the data (a strategy's settings only where it is the strategy); `rounds`,
        `concurrency`, the filters, Evol Stop, the prices and how calls travel (timeouts, retries, endpoints) may
        change between resumes: a run that stopped on a timeout goes on with a longer one. `legacy`: the hash as earlier versions made it, when the retry settings were
        part of it (a run folder stamped with it is still resumed)."""
        d = self.model_dump(mode="json", exclude={"rounds", "concurrency", "filters", "evol_stop", "prices", "batch", "shard",
                                                  "sandbox", "tester"})
        for key in ("startup_timeout", "concurrency", "n_threads", "cache_dir"):  # speed and places, not data
            d["local"].pop(key)
        for key in ENDPOINT_RUNTIME + (() if legacy else ENDPOINT_RETRIES):  # how calls travel, not what they ask
            d["endpoint"].pop(key)
        unused = {"paper": ("strategy", "auto", "tree", "optimizer", "scorer"), "auto": ("tree",),
                  "tree": ("auto", "optimizer")}
        for key in unused[self.strategy]:  # a paper run's fingerprint is what it was before strategies existed
            d.pop(key)
        for role in ("evolver", "responder", "judge", "optimizer", "scorer"):
            if role in d:
                d[role].pop("base_urls")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


ENDPOINT_RUNTIME = ("dead_after", "base_urls", "out_after", "out_for", "adaptive", "adaptive_start")
ENDPOINT_RETRIES = ("timeout", "max_attempts", "backoff_initial", "backoff_max", "retry_after_max")


class ResolvedRole(_Strict):
    """A role with every field filled in: what one call needs."""

    name: str
    model: str
    mode: str
    base_url: str
    base_urls: tuple[str, ...] = ()  # every endpoint serving this role, base_url first
    api_key_env: str
    temperature: float
    top_p: float
    max_tokens: int
    top_logprobs: int = 0  # > 0: each answer carries its first token's N likeliest alternatives (the complexity
    #                        instrument of stats and compare); 0 asks for none and leaves the params as they were

    def params(self) -> dict[str, Any]:
        """The generation parameters sent with each call."""
        out: dict[str, Any] = {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens}
        if self.top_logprobs:  # the chat API takes a flag and a count; the text completion API a count
            out.update({"logprobs": True, "top_logprobs": self.top_logprobs} if self.mode == "chat"
                       else {"logprobs": self.top_logprobs})
        return out
