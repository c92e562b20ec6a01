"""`evolve --batch`: each stage of a round is one batch job through the SDK's files and batches APIs (a scripted
batch server: upload, create, status transitions, output and error files, expiry); the run folder equals an online
run's; a killed run resumes the jobs in flight instead of paying twice; unanswered requests go into new jobs, then
become failed records."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import SEED, evolve, rows, seed_instruction, write_config

BATCH = {"batch": {"enabled": True, "poll_initial": 0.02, "poll_max": 0.1},
         "prices": {"test-model": {"input": 3.0, "output": 15.0}}}
FILES = ("round", "eliminated", "failed", "pool")


def events(run: Path) -> list[dict]:
    return rows(run / "batches.jsonl")


def test_a_batch_run_writes_what_an_online_run_writes_at_half_the_price(tmp_path, server):
    result = evolve(tmp_path, server, "--rounds", "2", config=BATCH)
    assert result.exit_code == 0, result.output
    assert server.online == 0  # nothing went out online
    run = tmp_path / "run"
    created = [e for e in events(run) if e["event"] == "created"]
    ended = [e for e in events(run) if e["event"] == "ended"]
    assert len(created) == len(ended) == len(server.batches) == 6  # evolve, judge, respond in each of 2 rounds
    assert [e["round"] for e in created] == [1, 1, 1, 2, 2, 2]
    assert {e["status"] for e in ended} == {"completed"}
    assert all(set(e["roles"].values()) == {role} for e, role in zip(created, ["evolver", "judge", "responder"] * 2,
                                                                      strict=True))
    assert server.batch_polls >= 6 * 3  # validating -> in_progress -> ... -> completed, by polling
    batch_calls = len(server.calls)

    online = evolve(tmp_path, server, "--rounds", "2", out="online", config={"prices": BATCH["prices"]})
    assert online.exit_code == 0, online.output
    assert server.online == len(server.calls) - batch_calls  # the same calls, online this time
    for k in (1, 2):
        for name in FILES:
            assert (run / f"{name}_{k}.jsonl").read_bytes() == (tmp_path / "online" / f"{name}_{k}.jsonl").read_bytes()
        b = json.loads((run / f"round_{k}.done").read_text())
        o = json.loads((tmp_path / "online" / f"round_{k}.done").read_text())
        assert all(t["batched"] == t["cached"] > 0 and t["calls"] == 0 for t in b["tokens"].values())
        assert abs(b["cost"]["usd"] - o["cost"]["usd"] / 2) < 1e-6  # the batch price
        assert all(c["price"] == "prices: table (batch)" for c in b["cost"]["by_role"].values())


def test_a_killed_batch_run_resumes_its_jobs_in_flight_instead_of_paying_twice(tmp_path, server):
    server.batch_steps = 10**9  # the first job never ends while the first process lives
    cfg = write_config(tmp_path / "cfg.yaml", server, **BATCH)
    wizevol = Path(sys.executable).parent / "wizevol"
    proc = subprocess.Popen([str(wizevol), "evolve", "--seed", str(SEED), "--out", str(tmp_path / "run"),
                             "--config", str(cfg), "--rounds", "1", "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ})
    log = tmp_path / "run" / "batches.jsonl"
    deadline = time.time() + 60
    while not (log.exists() and log.read_text().strip()) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # polling
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (first,) = events(tmp_path / "run")
    assert first["event"] == "created" and len(server.batches) == 1 and len(first["keys"]) == 20

    server.batch_steps = 1
    result = evolve(tmp_path, server, "--rounds", "1", config=BATCH)
    assert result.exit_code == 0, result.output
    assert f"batch: resuming 1 job(s) in flight: {first['id']}" in result.output
    created = [e for e in events(tmp_path / "run") if e["event"] == "created"]
    assert len(created) == len(server.batches) == 3  # the evolve job was polled, not sent again
    assert not set(first["keys"]) & {k for e in created[1:] for k in e["keys"]}
    assert len(rows(tmp_path / "run" / "round_1.jsonl")) + len(rows(tmp_path / "run" / "eliminated_1.jsonl")) == 20


def test_an_expired_job_and_failing_requests_go_into_new_jobs_then_become_failed_records(tmp_path, server):
    server.fault("expire", role="respond", match=seed_instruction(5)[:40], times=1)
    server.fault("500", role="judge", match=seed_instruction(9)[:40], times=1)  # answered by the next job
    server.fault("500", role="respond", match=seed_instruction(12)[:40], times=None)  # never answered
    result = evolve(tmp_path, server, "--rounds", "1", config=BATCH)
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    ended = [e for e in events(run) if e["event"] == "ended"]
    assert "expired" in {e["status"] for e in ended}
    expired = next(e for e in ended if e["status"] == "expired")
    assert expired["failed"] and all(v.startswith("batch_expired") for v in expired["failed"].values())
    (failed,) = rows(run / "failed_1.jsonl")
    assert failed["parent_id"] == "seed-00012" and failed["stage"] == "respond"
    assert failed["error"] == "HTTP 500: scripted 500 (after 3 batch jobs)"  # endpoint.max_attempts is 3 here
    assert rows(run / "pool_1.jsonl")[11]["instruction"] == seed_instruction(12)  # the parent went back
    assert len(rows(run / "round_1.jsonl")) + len(rows(run / "eliminated_1.jsonl")) == 19
    assert server.online == 0


def test_a_job_that_fails_validation_is_sent_again(tmp_path, server):
    server.fault("fail_job", times=1)
    result = evolve(tmp_path, server, "--rounds", "1", config=BATCH)
    assert result.exit_code == 0, result.output
    ended = [e for e in events(tmp_path / "run") if e["event"] == "ended"]
    assert [e["status"] for e in ended] == ["failed", "completed", "completed", "completed"]
    assert set(ended[0]["failed"].values()) == {f"batch job {ended[0]['id']} failed: invalid_request: scripted failure"}
    assert len(ended[0]["failed"]) == 20  # the whole evolve stage went into the next job
    assert rows(tmp_path / "run" / "failed_1.jsonl") == [] and server.online == 0


def test_batch_is_refused_for_the_local_model(tmp_path):
    from typer.testing import CliRunner

    from wizevol.cli import app

    result = CliRunner().invoke(app, ["evolve", "--seed", str(SEED), "--out", str(tmp_path / "r"), "--batch"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: --batch needs a provider's Batch API (backend: api); the local model has none"


def test_a_batch_round_with_failed_requests_bills_each_answer_once_at_the_batch_price(tmp_path, server):
    """10 of the 20 responder requests fail in every job: the round bills the 10 answers at half price (a failure
    counted against the answers left it at $0, and with more failures below zero)."""
    for n in range(1, 11):
        server.fault("500", role="respond", match=seed_instruction(n)[:40], times=None)
    result = evolve(tmp_path, server, "--rounds", "1", config=BATCH)
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    assert len(rows(run / "failed_1.jsonl")) == 10
    done = json.loads((run / "round_1.done").read_text())
    t = done["tokens"]["responder"]
    assert (t["answered"], t["failed"], t["batched"]) == (10, 10, 10)
    usd = (3.0 * t["prompt_tokens"] + 15.0 * t["completion_tokens"]) / 1e6 / 2
    assert usd > 0 and abs(done["cost"]["by_role"]["responder"]["usd"] - usd) < 1e-9
    assert json.loads((run / "manifest.json").read_text())["cost"]["answered_calls"] == 20 + 20 + 10


def test_a_stage_is_split_into_jobs_under_the_providers_limits_and_their_input_files_are_deleted(tmp_path, server):
    cfg = {**BATCH, "batch": {**BATCH["batch"], "max_requests": 7}}
    result = evolve(tmp_path, server, "--rounds", "1", config=cfg)
    assert result.exit_code == 0, result.output
    sizes = [len(j["_lines"]) for j in server.batches.values()]
    assert sizes == [7, 7, 6] * 3  # evolve, judge, respond: 20 requests each
    inputs = [j["input_file_id"] for j in server.batches.values()]
    assert sorted(server.deleted_files) == sorted(inputs)  # each once its output was collected
    metas = [j["metadata"] for j in server.batches.values()]
    fingerprint = (tmp_path / "run" / "fingerprint").read_text().strip()
    assert {m["run"] for m in metas} == {fingerprint} and [m["stage"] for m in metas[::3]] == [
        "evolver", "judge", "responder"]
    assert len({m["requests"] for m in metas}) == 9

    (tmp_path / "small").mkdir()
    cfg = {**BATCH, "batch": {**BATCH["batch"], "max_mb": 0.004}}  # 4 KB of input file a job
    result = evolve(tmp_path / "small", server, "--rounds", "1", config=cfg)
    assert result.exit_code == 0, result.output
    new = list(server.batches.values())[9:]
    assert len(new) > 3 and all(len(server_input(server, j)) <= 4000 for j in new)
    assert rows(tmp_path / "small" / "run" / "round_1.jsonl") == rows(tmp_path / "run" / "round_1.jsonl")


def server_input(server, job) -> bytes:
    """A job's input file as uploaded (kept by the scripted server in the job's lines)."""
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in job["_lines"]).encode("utf-8")


def test_transient_errors_on_upload_and_create_are_retried_and_a_lost_create_is_adopted(tmp_path, server):
    """files.create and batches.create answer 500 once each: tried again. Then a create goes through but its
    answer is lost (a 500 after the job was made): the retry finds the job by its tag among the provider's jobs
    and adopts it, so no request is sent twice."""
    server.fault("upload_500", times=1)
    server.fault("create_500", times=1)
    server.fault("create_lost", times=1)
    result = evolve(tmp_path, server, "--rounds", "1", config=BATCH)
    assert result.exit_code == 0, result.output
    assert len(server.batches) == 3  # evolve, judge, respond: the lost one adopted, not made again
    assert "batch: adopted batch-0, created earlier for these requests (its answer was lost)" in result.output
    created = [e for e in events(tmp_path / "run") if e["event"] == "created"]
    assert [e["id"] for e in created] == ["batch-0", "batch-1", "batch-2"]
    assert len(rows(tmp_path / "run" / "round_1.jsonl")) + len(rows(tmp_path / "run" / "eliminated_1.jsonl")) == 20


def test_jobs_that_fail_whole_stop_the_run_and_a_rerun_continues(tmp_path, server):
    """An enqueued-token limit fails every job: after endpoint.max_attempts (3) jobs in a row the run stops with
    one line, as an online run stops when its endpoint is down; no record is failed, no round is marked done, and
    the rerun goes on once the provider takes jobs again."""
    server.fault("fail_job", times=None)
    result = evolve(tmp_path, server, "--rounds", "1", config=BATCH)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]  # after the notes of the jobs
    assert line.startswith(f"Error: batch: 3 jobs in a row failed at {server.url} (last: batch-2: invalid_request: "
                           "scripted failure); no round was marked done: rerun to continue")
    run = tmp_path / "run"
    assert not (run / "round_1.done").exists() and not (run / "failed_1.jsonl").exists()
    server.faults.clear()
    result = evolve(tmp_path, server, "--rounds", "1", config=BATCH)
    assert result.exit_code == 0, result.output
    assert rows(run / "failed_1.jsonl") == [] and (run / "round_1.done").exists()


def test_a_lost_create_is_adopted_from_the_endpoint_it_was_made_at(tmp_path, server):
    """Roles at two endpoints: a job whose create went through at the second one (its answer lost, the process
    gone) is found in that endpoint's list; the list of the first endpoint read, the second was never read and
    the job was made and paid for again."""
    import asyncio

    import openai
    from scripted_server import ScriptedServer

    from wizevol.config import BatchConfig
    from wizevol.llm.batch import BatchRunner
    from wizevol.run_folder import RunFolder

    other = ScriptedServer().start()
    try:
        (tmp_path / "run").mkdir()
        (tmp_path / "run" / "fingerprint").write_text("run-tag\n")
        runner = BatchRunner(None, RunFolder(tmp_path / "run"), BatchConfig(), 3)

        async def go():
            b = openai.AsyncOpenAI(base_url=other.url, api_key="x", max_retries=0)
            f = await b.files.create(file=("in.jsonl", b'{"custom_id": "k"}\n'), purpose="batch")
            made = await b.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions",
                                          completion_window="24h",
                                          metadata={"tool": "wizevol", "run": "run-tag", "requests": "d1"})
            a = openai.AsyncOpenAI(base_url=server.url, api_key="x", max_retries=0)
            first = await runner._tagged(a, server.url, "d1")  # the first endpoint's list: not there
            found = await runner._tagged(b, other.url, "d1")  # the second endpoint's own list
            return made.id, first, found

        made, first, found = asyncio.run(go())
        assert first is None and found is not None and found.id == made
    finally:
        other.stop()
