"""The plainest correct client, the baseline of `bench/evolve_throughput.py --vs-plain`: AsyncOpenAI and a
semaphore making the same evolve -> judge -> respond chains as `wizevol evolve --rounds 1` (the same prompts;
the evolved text cleaned of its heading; respond unless the judge says Equal). No cache, no retries, no files but
one JSONL of answers.

    python bench/plain_chains.py SEED.jsonl BASE_URL OUT.jsonl [--concurrency 64]
"""

import argparse
import asyncio
import json
import sys
from pathlib import Path

import openai

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from wizevol.config import EvolveConfig  # noqa: E402
from wizevol.evolve.chain import clean_evolved  # noqa: E402
from wizevol.evolve.rules import parse_judgement  # noqa: E402
from wizevol.heuristics import choose_method  # noqa: E402
from wizevol.prompts import PromptSet  # noqa: E402


async def main(seed: str, base_url: str, out: str, concurrency: int) -> None:
    cfg, p = EvolveConfig(), PromptSet.load()
    client = openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0)
    gate = asyncio.Semaphore(concurrency)

    async def ask(messages, max_tokens, temperature):
        async with gate:
            r = await client.chat.completions.create(model="m", messages=messages, max_tokens=max_tokens,
                                                     temperature=temperature, top_p=0.95)
        return r.choices[0].message.content

    async def chain(rec):
        method = p.methods[choose_method(cfg.weights, cfg.seed_rng, rec["id"], 1)]
        raw = await ask(p.evolve.request("chat", method=method, question=rec["instruction"]).messages, 2048, 1.0)
        child = clean_evolved(raw, p.headings)[0]
        verdict = await ask(p.judge.request("chat", first=rec["instruction"], second=child).messages, 16, 0.0)
        if parse_judgement(verdict) == "equal":
            return {"id": rec["id"], "instruction": child, "output": None}
        answer = await ask(p.respond.request("chat", instruction=child).messages, 2048, 1.0)
        return {"id": rec["id"], "instruction": child, "output": answer}

    seeds = [json.loads(line) for line in open(seed)]
    for i, rec in enumerate(seeds, start=1):
        rec.setdefault("id", f"seed-{i:05d}")
    rows = await asyncio.gather(*(chain(r) for r in seeds))
    Path(out).write_text("".join(json.dumps(r) + "\n" for r in rows))
    await client.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("seed")
    ap.add_argument("base_url")
    ap.add_argument("out")
    ap.add_argument("--concurrency", type=int, default=64)
    a = ap.parse_args()
    asyncio.run(main(a.seed, a.base_url, a.out, a.concurrency))
