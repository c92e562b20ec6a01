"""Layer 3 in a large run: MiniLM encodes only each benchmark problem's `shortlist` nearest records by a static
embedding of the same model, and takes the top_k and the threshold on its own cosines. A small benchmark (three
problems, from a user file) makes a run of 200 records large: 3 x 5 = 15 records to encode."""

from __future__ import annotations

import json

from conftest import SEED, rows
from test_filters import cli, make_run

PROBLEMS = ["Decide whether an integer is a prime number: return True for primes and False for everything else.",
            "Reverse the order of the words in a sentence and return the new sentence.",
            "Count how many vowels a string contains."]
PRIME = "Return true if a number is prime and false otherwise."  # reworded: cosine 0.83-0.93 to PROBLEMS[0]
PRIME_COPIES = [PRIME, "Task: " + PRIME, "Please: " + PRIME, PRIME + " Use Python.", "Check: " + PRIME,
                "Write a function. " + PRIME, "Given an integer, " + PRIME.lower()]
WORDS_COPY = "Given a sentence, reverse the order of its words and return the resulting sentence."


def fillers(n: int) -> list[dict]:
    seed = [r["instruction"] for r in rows(SEED)]
    extras = ["Use only the standard library.", "Add type hints.", "Explain the complexity.", "Write tests too.",
              "Handle empty input.", "Keep it under 20 lines.", "Document every parameter.", "Log each step.",
              "Raise ValueError on bad input.", "Return a dict."]
    return [{"id": f"f{i}", "instruction": f"{seed[i % len(seed)]} {extras[i // len(seed) % len(extras)]}"}
            for i in range(n)]


def filter_run(tmp_path, run, name: str, shortlist: int) -> tuple[dict, dict]:
    (tmp_path / "bench.jsonl").write_text("".join(json.dumps({"task_id": i, "text": t}) + "\n"
                                                  for i, t in enumerate(PROBLEMS)))
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(f"filters: {{contamination: {{humaneval: false, execution: false, shortlist: {shortlist}, "
                   f"embedding_threshold: 0.8, benchmarks: [{{name: mine, path: {tmp_path / 'bench.jsonl'}, "
                   f"fields: [text]}}]}}}}\n")
    result = cli("filter", run, "--only", "contamination", "--config", cfg)
    assert result.exit_code == 0, result.output
    folder = run / "filters" / "contamination"
    stats = json.loads((folder / "stats.json").read_text())
    return {r["id"]: r for r in rows(folder / "rejected_0.jsonl")}, stats


def test_a_large_run_encodes_only_the_shortlists_and_rejects_what_the_full_encode_rejects(tmp_path):
    records = fillers(190) + [{"id": f"p{i}", "instruction": t} for i, t in enumerate(PRIME_COPIES)]
    records.insert(50, {"id": "w0", "instruction": WORDS_COPY})
    run = make_run(tmp_path, [records])
    assert len(records) == 198 > 3 * 5

    full, full_stats = filter_run(tmp_path, run, "full", shortlist=0)
    assert full_stats["embedding"] == {"records": 198, "encoded": 198}
    # the paper's top 5 of the prime problem (two farther copies are above the threshold too) and the reworded one
    assert {(i, r["details"]["task"], r["details"]["layer"]) for i, r in full.items()} == {
        *((f"p{i}", "mine/0", "embedding") for i in range(7) if f"p{i}" in full), ("w0", "mine/1", "embedding")}
    assert sum(i.startswith("p") for i in full) == 5

    short, short_stats = filter_run(tmp_path, run, "short", shortlist=5)
    assert short_stats["settings"]["shortlist"] == 5
    assert short_stats["embedding"]["records"] == 198 and short_stats["embedding"]["encoded"] <= 15
    assert set(short) == set(full)
    assert all(short[i]["details"]["cosine"] == full[i]["details"]["cosine"] for i in full)  # MiniLM's own cosine

    # a shortlist shorter than top_k caps what a problem can take: the static pass decides, not MiniLM
    tiny, tiny_stats = filter_run(tmp_path, run, "tiny", shortlist=1)
    assert tiny_stats["embedding"]["encoded"] <= 3
    assert set(tiny) < set(full) and len(tiny) <= 3


def test_a_run_at_or_below_shortlist_x_problems_is_encoded_whole(tmp_path):
    records = fillers(8) + [{"id": f"p{i}", "instruction": t} for i, t in enumerate(PRIME_COPIES)]
    run = make_run(tmp_path, [records])
    assert len(records) == 15 == 3 * 5
    rejected, stats = filter_run(tmp_path, run, "whole", shortlist=5)
    assert stats["embedding"] == {"records": 15, "encoded": 15}
    assert sum(i.startswith("p") for i in rejected) == 5
