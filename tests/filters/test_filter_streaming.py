"""`wizevol filter` streams the run: records are read from the round files in blocks, rejects are written as they
come, near_dup's kept signatures live in an on-disk LSH index (minhash_index.py), and contamination's shortlist
reads the run in blocks. The memory proof at 100k and 1M records is bench/filter_scale.py's; these tests hold the
pieces to it: the index finds what datasketch's MinHashLSH finds, the shortlist in blocks chooses what it chooses
in one, and the Python memory of a filter over a run does not grow with the run."""

from __future__ import annotations

import json
import random
import tracemalloc

import pytest
from conftest import rows
from datasketch import MinHashLSH
from test_filters import cli, make_run

from wizevol.filters import base
from wizevol.filters.code_check import CodeCheck
from wizevol.filters.minhash_index import MinHashIndex
from wizevol.filters.near_dup import NearDup
from wizevol.run_folder import RunFolder


def texts(n: int, rng: random.Random) -> list[str]:
    """Texts with many near copies: each one in three is an earlier text with a word added (and, in one of two, a
    word changed)."""
    vocab = [f"w{i}" for i in range(400)]
    out: list[str] = []
    for i in range(n):
        if out and i % 3 == 0:
            words = rng.choice(out).split() + [rng.choice(vocab)]
            if i % 2:
                words[rng.randrange(len(words))] = rng.choice(vocab)
        else:
            words = rng.choices(vocab, k=rng.randint(20, 60))
        out.append(" ".join(words))
    return out


def test_the_index_finds_the_candidates_that_datasketch_finds():
    rng = random.Random(7)
    flt = NearDup(threshold=0.8)
    lsh, index = MinHashLSH(threshold=0.8, num_perm=128), MinHashIndex(0.8, 128)
    found = 0
    for i, text in enumerate(texts(600, rng)):
        sig = flt.signature(text)
        theirs = set(lsh.query(sig))
        ours = {rid for rid, *_ in index.query(sig.hashvalues)}
        assert ours == theirs, i
        found += bool(ours)
        lsh.insert(f"t{i}", sig)
        index.insert(f"t{i}", f"root{i}", sig.hashvalues, frozenset({"python"}), False)
    assert found > 100  # most of the 200 near copies meet an earlier text in a band


def test_the_index_gives_back_what_it_keeps():
    flt = NearDup()
    index = MinHashIndex(0.8, 128)
    sig = flt.signature("write a function that adds two numbers and returns their sum as an integer")
    index.insert("a", "seed-a", sig.hashvalues, frozenset({"c", "c++"}), True)
    index.insert("b", "seed-b", sig.hashvalues, None, False)
    got = {rid: rest for rid, *rest in index.query(sig.hashvalues)}
    assert set(got) == {"a", "b"}
    root, values, languages, has_input = got["a"]
    assert (root, languages, has_input) == ("seed-a", frozenset({"c", "c++"}), True)
    assert (values == sig.hashvalues).all()
    assert got["b"][2] is None and got["b"][3] is False


def test_near_dup_over_blocks_rejects_what_it_rejects_in_one(tmp_path, monkeypatch):
    rng = random.Random(3)
    records = [{"id": f"r{i}", "instruction": t} for i, t in enumerate(texts(300, rng))]
    run = make_run(tmp_path, [records[:150], records[150:]])
    result = cli("filter", run, "--only", "near_dup")
    assert result.exit_code == 0, result.output
    whole = [rows(run / "filters" / "near_dup" / f"rejected_{k}.jsonl") for k in (0, 1)]
    assert sum(map(len, whole)) > 30
    (run / "filters" / "near_dup" / "stats.json").unlink()
    monkeypatch.setattr(base, "BLOCK", 7)
    result = cli("filter", run, "--only", "near_dup")
    assert result.exit_code == 0, result.output
    assert [rows(run / "filters" / "near_dup" / f"rejected_{k}.jsonl") for k in (0, 1)] == whole
    stats = json.loads((run / "filters" / "near_dup" / "stats.json").read_text())
    assert stats["rounds"]["1"]["records"] == 150 and stats["rounds"]["1"]["rejected"] == len(whole[1])


def _traced_peak(tmp_path, n: int) -> int:
    """The traced peak of near_dup and code_check over a run of n records in two rounds (blocks of 200)."""
    rng = random.Random(n)
    recs = [{"id": f"r{i}", "instruction": t, "output": f"```python\ndef f{i}(x):\n    return x + {i}\n```"}
            for i, t in enumerate(texts(n, rng))]
    folder = RunFolder(make_run(tmp_path / str(n), [recs[:n // 2], recs[n // 2:]]))
    tracemalloc.start()
    try:
        for flt in (NearDup(), CodeCheck()):
            base.run_filter(folder, flt)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_a_filter_holds_a_block_not_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(base, "BLOCK", 200)
    (tmp_path / "2000").mkdir()
    (tmp_path / "12000").mkdir()
    small, large = _traced_peak(tmp_path, 2000), _traced_peak(tmp_path, 12000)
    # the run held in memory, as before: 10,000 more records of ~1.3 KB each, and their signatures and bands
    assert large - small < 1_500_000, (small, large)


def test_the_shortlist_in_blocks_chooses_what_it_chooses_in_one():
    from test_decontam_shortlist import PRIME_COPIES, PROBLEMS, WORDS_COPY, fillers

    from wizevol.filters import encoder
    from wizevol.filters.shortlist import shortlist, shortlisted

    records = [r["instruction"] for r in fillers(120)] + PRIME_COPIES + [WORDS_COPY]
    groups = [[0], [1], [2]]
    whole = shortlist(encoder.model(), records, PROBLEMS, groups, 5, block=10_000)
    assert shortlist(encoder.model(), records, PROBLEMS, groups, 5, block=7) == whole
    assert 5 <= len(whole) <= 15 and len(records) - 1 in whole  # the reworded copy is its problem's nearest
    picked = shortlisted(encoder.model(), Reread(records), str, PROBLEMS, groups, 5)
    assert picked == [records[j] for j in whole]


class Reread:
    """What RunRecords is to shortlisted: no list, walked anew each time."""

    def __init__(self, items):
        self.items = items

    def __iter__(self):
        return iter(self.items)
