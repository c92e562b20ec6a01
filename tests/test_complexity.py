"""The complexity judge's instrument (wizevol/complexity.py) and bench/complexity_instrument.py: each evolved
instruction against its own seed, by the number the judge wrote and by the expectation over its first token."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import evolve, rows, write_config

from wizevol.llm.wire import BadResponse, Completion, completion_from_json

ROOT = Path(__file__).resolve().parent.parent
HARD = "must run in O(n log n) time"  # the scripted evolver's suffix for the complexity heuristic


def test_the_bench_sees_evolution_where_the_written_number_ties(tmp_path, server):
    """A judge that writes 8 for everything but is surer of 9 for the complexity heuristic's rewrites: by the
    written number every evolved instruction ties its seed; by the expectation exactly the rewrites that carry the
    complexity suffix rate above their seeds, by 8.5 - 7.2."""
    assert evolve(tmp_path, server, "--rounds", "1", "--limit", "10").exit_code == 0
    server.fault("logprobs", match=HARD, arg={"8": 0.5, "9": 0.5}, times=None)
    server.fault("logprobs", match="Rate how difficult", arg={"8": 0.6, "6": 0.4}, times=None)
    sys.path.insert(0, str(ROOT / "bench"))
    import complexity_instrument

    res = complexity_instrument.one_run(str(tmp_path / "run"), str(write_config(tmp_path / "cfg.yaml", server)))
    kept = rows(tmp_path / "run" / "round_1.jsonl")
    hard = sum(HARD in r["instruction"] for r in kept)
    assert 0 < hard < len(kept)  # both kinds are there
    written, expected = res["rounds"]["1"]["written"], res["rounds"]["1"]["expected"]
    assert (written["n"], written["equal"], written["above"]) == (len(kept), 1.0, 0.0)
    assert expected["n"] == len(kept) and expected["above"] == round(hard / len(kept), 3)
    assert expected["below"] == 0.0 and expected["rise"]["mean"] == round(hard * (8.5 - 7.2) / len(kept), 3)
    assert res["seeds"]["written"]["distinct"] == 1 and res["seeds"]["expected"]["min"] == 7.2


def test_logprobs_parse_in_both_shapes_and_the_cache_entry_round_trips():
    chat = {"choices": [{"message": {"content": "7"}, "finish_reason": "stop",
                         "logprobs": {"content": [{"token": "7", "logprob": -0.5, "top_logprobs": [
                             {"token": "6", "logprob": -1.5}, {"token": "7", "logprob": -0.5}]}]}}]}
    text = {"choices": [{"text": " 7", "finish_reason": "stop",
                         "logprobs": {"tokens": [" 7"], "top_logprobs": [{" 6": -1.5, " 7": -0.5}]}}]}
    for body, mode in ((chat, "chat"), (text, "completion")):
        c = completion_from_json(body, mode)
        assert [t.strip() for t, _ in c.top_logprobs] == ["7", "6"] and c.top_logprobs[0][1] == -0.5
        assert Completion.from_entry(json.loads(json.dumps(c.entry()))) == c
    plain = completion_from_json({"choices": [{"message": {"content": "7"}, "finish_reason": "stop"}]}, "chat")
    assert plain.top_logprobs is None and "top_logprobs" not in plain.entry()  # a row as the cache always held it
    assert Completion.from_entry(plain.entry()) == plain
    with pytest.raises(BadResponse, match="logprobs"):
        completion_from_json({"choices": [{"message": {"content": "7"}, "finish_reason": "stop",
                                           "logprobs": {"content": [{"top_logprobs": [{"logprob": -1}]}]}}]}, "chat")


def test_a_role_asks_for_logprobs_only_when_told_in_its_apis_own_words():
    from wizevol.config import ResolvedRole

    base = dict(name="judge", model="m", base_url="http://x", api_key_env="K", temperature=0.0, top_p=1.0,
                max_tokens=4)
    assert ResolvedRole(mode="chat", **base).params() == {"temperature": 0.0, "top_p": 1.0, "max_tokens": 4}
    assert ResolvedRole(mode="chat", top_logprobs=20, **base).params()["logprobs"] is True
    assert ResolvedRole(mode="chat", top_logprobs=20, **base).params()["top_logprobs"] == 20
    assert ResolvedRole(mode="completion", top_logprobs=5, **base).params() == {
        "temperature": 0.0, "top_p": 1.0, "max_tokens": 4, "logprobs": 5}
