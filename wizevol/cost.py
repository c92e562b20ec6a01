"""Cost: the price of a run's calls per (round, role), and the estimate `wizevol evolve --dry-run` makes before
any call.

A role's price comes, in order, from the config's `prices:` table (USD per million input and output tokens, by
model name: self-hosted models, negotiated rates), from `genai-prices` (its bundled price data, looked up by model
and endpoint URL), or is 0: a loopback endpoint (the embedded model, a local vLLM) is free, and a model neither
knows is counted as 0 and named "unpriced". genai-prices prices one request (its tiers depend on the request's
size), so a round's cost is its answered calls times the price of its average call.

The estimate (`estimate`) renders the real evolving prompts of round 1 from the seed, counts tokens as characters
/ 4, and assumes every call is answered and kept (an upper bound on calls): each round's instruction grows by
`GROWTH_TOKENS`, a judge answer is `JUDGE_TOKENS` and a response `RESPONSE_TOKENS` long, unless the run folder
has finished rounds, whose measured tokens per call replace those guesses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from wizevol.config import EvolveConfig, ResolvedRole

GROWTH_TOKENS = 30  # an evolution adds about 10 words of constraints, or a reasoning step or a code snippet
JUDGE_TOKENS = 4  # "Not Equal" and a little
RESPONSE_TOKENS = 500  # a code answer with a short explanation
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Price:
    """How much one call costs, and where that price came from."""

    source: str  # "prices: table" | "genai-prices (provider)" | "local endpoint (free)" | "unpriced"
    per_call: Callable[[float, float], float]  # (prompt tokens, completion tokens) of one call -> USD

    def cost(self, calls: int, prompt_tokens: int, completion_tokens: int) -> float:
        """USD for `calls` answered calls with these token totals (priced at their average call)."""
        if calls <= 0:
            return 0.0
        return calls * self.per_call(prompt_tokens / calls, completion_tokens / calls)


def _linear(input_per_mtok: float, output_per_mtok: float) -> Callable[[float, float], float]:
    return lambda p, c: (p * input_per_mtok + c * output_per_mtok) / 1e6


def price_of(role: ResolvedRole, cfg: EvolveConfig) -> Price:
    """The price of one call of this role (see the module docstring for the order)."""
    from wizevol.llm.client import is_loopback

    if role.model in cfg.prices:
        p = cfg.prices[role.model]
        return Price("prices: table", _linear(p.input, p.output))
    if is_loopback(role.base_url):
        return Price("local endpoint (free)", _linear(0, 0))
    try:
        from genai_prices import Usage, calc_price

        found = calc_price(Usage(input_tokens=1000, output_tokens=1000), role.model,
                           provider_api_url=role.base_url)
    except (ImportError, LookupError, ValueError):
        return Price("unpriced", _linear(0, 0))

    def per_call(p: float, c: float) -> float:  # priced per token, at the tier of a call of this size
        tier = calc_price(Usage(input_tokens=max(1, round(p)), output_tokens=max(1, round(c))), role.model,
                          provider_api_url=role.base_url)
        return float(tier.input_price) * p / max(1, round(p)) + float(tier.output_price) * c / max(1, round(c))

    return Price(f"genai-prices ({found.provider.id})", per_call)


def answered(t: dict[str, int]) -> int:
    """Requests that got an answer, from one role's usage counts (fresh calls and cache hits), each once. A
    round finished before `answered` was counted: calls less their retries and failures, plus cache hits (which
    undercounts a batch round with failed requests: those failed with no call)."""
    if "answered" in t:
        return t["answered"]
    return max(0, t.get("calls", 0) - t.get("retries", 0) - t.get("failed", 0) + t.get("cached", 0))


def round_cost(tokens: dict[str, dict[str, int]], prices: dict[str, Price], batch_discount: float = 0.5
               ) -> dict[str, Any]:
    """A round's cost per role from its usage counts: {"usd": total, "by_role": {role: {"usd", "price"}}}. Each
    answer is priced once, at its own rate: those from batch jobs, with their own tokens, at (1 - batch_discount)
    of the online price; failed requests cost nothing."""
    by_role = {}
    for role, t in tokens.items():
        price = prices.get(role)
        if price is None:
            continue
        n, p, c = answered(t), t.get("prompt_tokens", 0), t.get("completion_tokens", 0)
        nb = min(t.get("batched", 0), n)
        if "batched_prompt_tokens" in t:
            bp, bc = t["batched_prompt_tokens"], t["batched_completion_tokens"]
            usd = price.cost(n - nb, p - bp, c - bc) + (1 - batch_discount) * price.cost(nb, bp, bc)
        else:  # a round counted before batched tokens were: the batch share by count
            usd = price.cost(n, p, c) * (1 - batch_discount * nb / n if n else 1)
        by_role[role] = {"usd": round(usd, 6), "price": price.source + (" (batch)" if nb else "")}
    return {"usd": round(sum(r["usd"] for r in by_role.values()), 6), "by_role": by_role}


def _tokens(text: str) -> int:
    return max(1, round(len(text) / CHARS_PER_TOKEN))


def estimate(pool: Callable[[], Iterable], rounds: list[int], cfg: EvolveConfig, prompts,
             roles: dict[str, ResolvedRole], measured: dict[str, tuple[float, float]] | None = None) -> dict[str, Any]:
    """Calls, tokens and cost per round and role for evolving the pool (`pool()` streams its records) through
    `rounds`, without a call.

    `measured`: {role: (prompt tokens per call, completion tokens per call)} from finished rounds, used instead of
    the guesses where present."""
    from wizevol.heuristics import choose_method

    measured = measured or {}
    prices = {name: price_of(role, cfg) for name, role in roles.items()}
    out: dict[str, Any] = {"rounds": {}, "how": _how(measured)}

    def add(per_role: dict[str, dict[str, float]], role: str, prompt: float, completion: float) -> None:
        if role in measured:
            prompt, completion = measured[role]
        slot = per_role.setdefault(role, {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0})
        slot["calls"] += 1
        slot["prompt_tokens"] += prompt
        slot["completion_tokens"] += completion

    candidates = cfg.tree.children if cfg.strategy == "tree" else 1  # evolutions a parent gets
    for i, k in enumerate(rounds):
        per_role: dict[str, dict[str, float]] = {}
        growth = GROWTH_TOKENS * i  # later rounds evolve longer instructions
        if cfg.strategy == "auto" and k > 1:  # the optimizer reads a sample of the round before, rated by the judge
            for _ in range(cfg.auto.sample):
                cr = prompts.complexity_judge.request(roles["scorer"].mode, instruction="")
                add(per_role, "scorer", _tokens(_request_text(cr)) + GROWTH_TOKENS * (i + 2), 2)
            opt = prompts.optimizer.request(roles["optimizer"].mode, methods=json.dumps(prompts.methods, indent=1),
                                            report="")
            report = 2 * cfg.auto.sample * (40 + GROWTH_TOKENS * (i + 2))  # a line and an instruction each
            add(per_role, "optimizer", _tokens(_request_text(opt)) + report, _tokens(json.dumps(prompts.methods)))
        for rec in pool():
            text = rec.prompt_text()
            method = choose_method(cfg.weights, cfg.seed_rng, rec.id, k)
            ev = prompts.evolve.request(roles["evolver"].mode, method=prompts.methods[method], question=text)
            parent = _tokens(text) + growth
            child = parent + GROWTH_TOKENS
            for _ in range(candidates):
                add(per_role, "evolver", _tokens(_request_text(ev)) + growth, child)
            if cfg.strategy == "tree":  # each candidate's complexity, by the scorer
                cr = prompts.complexity_judge.request(roles["scorer"].mode, instruction=text)
                for _ in range(candidates):
                    add(per_role, "scorer", _tokens(_request_text(cr)) + child - _tokens(text), 2)
            if cfg.rules.no_gain:
                jr = prompts.judge.request(roles["judge"].mode, first=text, second=text)
                add(per_role, "judge", _tokens(_request_text(jr)) + parent + child - 2 * _tokens(text), JUDGE_TOKENS)
            rr = prompts.respond.request(roles["responder"].mode, instruction=text)
            add(per_role, "responder", _tokens(_request_text(rr)) + child - _tokens(text),
                min(RESPONSE_TOKENS, roles["responder"].max_tokens))
        by_role = {}
        for role, t in per_role.items():
            t = {key: int(round(v)) for key, v in t.items()}
            usd = prices[role].cost(t["calls"], t["prompt_tokens"], t["completion_tokens"])
            if cfg.batch.enabled:
                usd *= 1 - cfg.batch.discount
            by_role[role] = {**t, "usd": round(usd, 6), "price": prices[role].source}
        out["rounds"][str(k)] = {"calls": sum(r["calls"] for r in by_role.values()),
                                 "tokens": sum(r["prompt_tokens"] + r["completion_tokens"] for r in by_role.values()),
                                 "usd": round(sum(r["usd"] for r in by_role.values()), 6), "by_role": by_role}
    rs = out["rounds"].values()
    out.update(calls=sum(r["calls"] for r in rs), tokens=sum(r["tokens"] for r in rs),
               usd=round(sum(r["usd"] for r in rs), 6))
    return out


def _request_text(req) -> str:
    if req.mode == "chat":
        return "\n".join(m["content"] for m in req.messages)
    return req.prompt or ""


def _how(measured: dict[str, tuple[float, float]]) -> str:
    base = (f"the first round's prompts rendered from the seed, tokens = characters / {CHARS_PER_TOKEN}; every call answered "
            f"and every evolution kept (an upper bound on calls); ")
    guesses = (f"each round adds {GROWTH_TOKENS} tokens to an instruction, a judge answer is {JUDGE_TOKENS} tokens, "
               f"a response {RESPONSE_TOKENS} (capped at max_tokens)")
    if measured:
        return base + f"tokens per call of {', '.join(sorted(measured))} measured on this run's finished rounds; " \
                      f"otherwise {guesses}"
    return base + guesses


def measured_per_call(done: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """Tokens per answered call of each role over finished rounds (their done-markers)."""
    sums: dict[str, list[float]] = {}
    for d in done:
        for role, t in (d.get("tokens") or {}).items():
            s = sums.setdefault(role, [0, 0, 0])
            s[0] += answered(t)
            s[1] += t.get("prompt_tokens", 0)
            s[2] += t.get("completion_tokens", 0)
    return {role: (p / n, c / n) for role, (n, p, c) in sums.items() if n > 0}


def run_totals(rounds: list[dict[str, Any]], processes: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole run's bill (every round's answered calls), tokens, and the time and new calls of every process that
    worked on it (an evolve that resumes adds one; a rerun with nothing left adds one of no calls)."""
    ran = [r for r in rounds if r["round"] > 0]
    return {"bill_usd": round(sum(r.get("cost", {}).get("usd") or 0.0 for r in ran), 6),
            "answered_calls": sum(answered(t) for r in ran for t in r.get("tokens", {}).values()),
            "tokens": sum(t["prompt_tokens"] + t["completion_tokens"] for r in ran for t in r.get("tokens", {}).values()),
            "wall_s": round(sum(p.get("wall_s", 0.0) for p in processes), 3),
            "calls_made": sum(p.get("calls_made", 0) for p in processes), "processes": len(processes)}
