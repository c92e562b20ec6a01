"""A scripted OpenAI-compatible HTTP server on 127.0.0.1 that stands in for a remote API in tests.

wizevol still talks real HTTP to it through the `openai` SDK. Answers are deterministic functions of the
request, so runs are reproducible. Faults are injected with `Fault` rules: 429 with Retry-After, 500, a
hang, bad JSON, empty content, a refusal, finish_reason=length, stop-words only, a prompt leak, a judge
that answers Equal, 401. Run standalone (`python tests/scripted_server.py --latency lognormal:0.5:1.0`)
for the throughput benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import re
import sys
import threading
import time
from dataclasses import dataclass, field

from aiohttp import web

EVOLVE_MARK = "#Rewritten Question#"
EVOLVE_MARK_COMPLETION = "### Harder question:"
JUDGE_MARKS = ("Your judgement", "Judgement:")

METHOD_SUFFIX = {
    "approximately 10 additional words": "The function must also reject invalid input with a clear error message.",
    "less common and more specific": "Instead of the usual approach, use only constant extra memory and no library helpers.",
    "more reasoning steps": "First validate the input, then explain each intermediate step, then return the result.",
    "erroneous code": "For reference, this attempt is wrong: `def f(x): return x[::-2]`. Explain its mistake.",
    "complexity requirements": "The solution must run in O(n log n) time and O(1) extra space.",
}


def role_of(text: str) -> str:
    if "Rate how difficult" in text:
        return "complexity"
    if "You improve the methods" in text:
        return "optimizer"
    if "ask for the same task" in text:
        return "near_dup_judge"
    if "Same problem" in text:
        return "contamination_judge"
    if "code into Python" in text or "translated into Python" in text:
        return "translate"
    if "programming task into English" in text or "translated into English" in text:
        return "translate_english"
    if EVOLVE_MARK in text or EVOLVE_MARK_COMPLETION in text:
        return "evolve"
    if any(m in text for m in JUDGE_MARKS):
        return "judge"
    return "respond"


def prompt_text(path: str, body: dict) -> str:
    """What a completion request asks: its messages' contents (chat), or its prompt."""
    if path.endswith("/chat/completions"):
        return "\n".join(m.get("content", "") for m in body.get("messages", []))
    return body.get("prompt", "")


def default_answer(role: str, text: str) -> str:
    if role == "evolve":
        if EVOLVE_MARK_COMPLETION in text:  # few-shot completion prompt: the last example is ours
            last = text.rsplit("### Method:", 1)[-1]
            m = re.search(r"### Question:\s*(.*?)\s*### Harder question:", last, re.S)
            question = m.group(1).strip() if m else text[-200:]
            suffix = next((s for key, s in METHOD_SUFFIX.items() if key in last), "Handle edge cases too.")
            return f" {question} {suffix}\n\n"
        m = re.search(r"#Given Question#:\s*(.*?)\s*#Rewritten Question#", text, re.S)
        question = m.group(1).strip() if m else text[-200:]
        suffix = next((s for key, s in METHOD_SUFFIX.items() if key in text), "Handle edge cases too.")
        return f"{EVOLVE_MARK}:\n{question} {suffix}"
    if role == "judge":
        return "Not Equal"
    if role == "contamination_judge":
        return "Yes"
    if role == "near_dup_judge":
        return "Different"
    if role == "translate":  # no translator: an answer without code (a test scripts the translations it needs)
        return "I cannot translate this."
    if role == "translate_english":  # the text as it was (a test scripts the translations it needs)
        return text.split("translate only the words. Answer with only the translation.", 1)[-1].strip()
    words = " ".join(text.split()[:12])
    return ("Here is a solution.\n\n```python\ndef solve(data):\n    if not data:\n        raise ValueError('empty')\n"
            f"    return sorted(data)\n```\n\nIt addresses the task: {words}")


def first_token_logprobs(answer: str, alternatives: dict[str, float] | None, n: int, chat: bool) -> dict:
    """A `logprobs` block for the answer's first token (a digit on its own, as Qwen's tokenizer splits numbers, or a
    word): the scripted alternatives, or the answer's own first token at probability 1. The chat API's shape, or
    the text completion API's."""
    m = re.match(r"\s*(\d|\w+|\S)", answer)
    first = m.group(0) if m else ""
    top = sorted((alternatives or {first: 1.0}).items(), key=lambda kv: -kv[1])[:n]
    top = [(t, math.log(p)) for t, p in top]
    if chat:
        return {"content": [{"token": first, "logprob": dict(top).get(first, top[0][1]), "bytes": list(first.encode()),
                             "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in top]}],
                "refusal": None}
    return {"tokens": [first], "token_logprobs": [dict(top).get(first, top[0][1])], "top_logprobs": [dict(top)],
            "text_offset": [0]}


@dataclass
class Fault:
    action: str  # 429 | 500 | 401 | hang | bad_json | no_choices | empty | refusal | length | stopwords | leak | equal | text
    #              | refuse_logprobs (a request that asks for logprobs gets a 400; one that does not, its answer)
    #              | logprobs (arg: {token: probability} for the first token; the answer is the likeliest token, and
    #                a request that asks for logprobs gets these as the first token's alternatives)
    #              | expire (Batch API: the job expires at the first matching line; it and the rest go unanswered)
    #              | fail_job (Batch API: the next job created fails validation; role and match do not apply)
    #              | upload_500, create_500 (Batch API: files.create / batches.create answers 500, nothing made)
    #              | create_lost (Batch API: the job is created, but the answer is a 500: the client never hears)
    role: str | None = None  # evolve | judge | respond | None (any)
    match: str | tuple[str, ...] | None = None  # substring of the request's prompt text (a tuple: any of them)
    times: int | None = 1  # None = every matching call
    skip: int = 0  # the first `skip` matching calls pass this fault by
    released: bool = False  # hang: the calls it holds end now with a 503 (unanswered), and it holds no more
    arg: str | float | None = None  # Retry-After seconds, hang seconds, or text
    headers: dict[str, str] | None = None  # extra response headers (e.g. retry-after-ms, an HTTP-date Retry-After)

    def applies(self, role: str, text: str) -> bool:
        if (self.times is not None and self.times <= 0) or self.released:
            return False
        matches = (self.match,) if isinstance(self.match, str) else self.match
        return (self.role is None or self.role == role) and (matches is None or any(m in text for m in matches))


@dataclass
class Call:
    role: str
    model: str
    text: str
    t: float
    action: str | None
    path: str = ""
    wall: float = 0.0  # time.time() at arrival, to compare with an HTTP-date


@dataclass
class ScriptedServer:
    latency: str | float | None = None  # seconds, or "lognormal:MEDIAN:SIGMA"
    faults: list[Fault] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    port: int = 0
    slept: float = 0.0
    in_flight: int = 0  # requests being handled right now
    peak_in_flight: int = 0  # the most requests ever handled at once
    dropped: int = 0
    online: int = 0  # completions asked over HTTP (not through a batch job)
    rate_limit: float | None = None  # requests per second (a token bucket holding a tenth of a second's worth)
    limited: int = 0  # requests refused by the rate limit
    _tokens: float = 0.0
    _refilled: float = 0.0
    files: dict[str, bytes] = field(default_factory=dict)  # Batch API: uploaded and produced files
    batches: dict[str, dict] = field(default_factory=dict)  # Batch API: jobs by id
    deleted_files: list[str] = field(default_factory=list)  # Batch API: files the client deleted
    batch_steps: int = 2  # polls a job stays in_progress before it completes
    batch_polls: int = 0
    admitted: int = 0  # requests let through to be answered (drop_after counts these)
    drop_after: int | None = None  # after this many calls, every request's connection is closed unanswered
    honor_stop: bool = False  # cut each answer at the request's first stop sequence, as a real server does

    def fault(self, action: str, **kw) -> Fault:
        f = Fault(action=action, **kw)
        self.faults.append(f)
        return f

    def count(self, role: str | None = None) -> int:
        return sum(1 for c in self.calls if role is None or c.role == role)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _take_token(self) -> bool:
        now = time.monotonic()
        cap = max(1.0, self.rate_limit / 10)
        self._tokens = min(cap, self._tokens + (now - self._refilled) * self.rate_limit) if self._refilled else cap
        self._refilled = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def _latency(self) -> float:
        if self.latency is None:
            return 0.0
        if isinstance(self.latency, (int, float)):
            return float(self.latency)
        _, median, sigma = self.latency.split(":")
        return min(30.0, float(median) * math.exp(random.gauss(0.0, float(sigma))))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.online += 1
        if self.rate_limit is not None and not self._take_token():
            self.limited += 1  # a hidden rate limit: 429 without a Retry-After or rate-limit headers
            return web.json_response({"error": {"message": "rate limited", "type": "scripted"}}, status=429)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        if self.drop_after is not None and self.admitted >= self.drop_after:
            self.dropped += 1
            request.transport.close()  # the server is gone: the client sees a connection error
            return web.Response(status=500)
        self.admitted += 1  # counted before the first await: requests arriving together cannot all slip past
        body = await request.json()
        action, fault, role, text = self._fault(request.path, body)
        delay = self._latency()
        if delay:
            self.slept += delay
            await asyncio.sleep(delay)
        if action in ("429", "500", "401"):
            headers = {"Retry-After": str(fault.arg)} if action == "429" and fault.arg is not None else {}
            headers.update(fault.headers or {})
            return web.json_response({"error": {"message": f"scripted {action}", "type": "scripted"}},
                                     status=int(action), headers=headers)
        if action == "hang":  # until its time is up, the server stops (a stop does not wait for it), or the
            # fault is released: then the held call gets a 503, unanswered, and its client tries again
            end = time.monotonic() + float(fault.arg or 60)
            while time.monotonic() < end and not self._stopping().is_set():
                if fault.released:
                    return web.json_response({"error": {"message": "released", "type": "scripted"}}, status=503)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopping().wait(), min(0.05, max(0.0, end - time.monotonic())))
        if action == "refuse_logprobs":
            return web.json_response({"error": {"message": "logprobs are not supported", "type": "invalid_request"}},
                                     status=400)
        if action == "bad_json":
            return web.Response(text='{"choices": [ {"message": ', content_type="application/json")
        if action == "no_choices":
            return web.json_response({"id": "x", "object": "chat.completion", "choices": []})
        return web.json_response(self._completion(request.path, body, action, fault, role, text))

    def _fault(self, path: str, body: dict) -> tuple[str | None, Fault | None, str, str]:
        """The fault that applies to this request (counted), its role and prompt text; the call is recorded."""
        text = prompt_text(path, body)
        role = role_of(text)
        fault = None
        asks_logprobs = bool(body.get("logprobs") or body.get("top_logprobs"))
        for f in self.faults:
            if f.action == "refuse_logprobs" and not asks_logprobs:
                continue  # it refuses only what asks for logprobs; the next fault may apply
            if f.applies(role, text):
                if f.skip > 0:  # this call passes this fault by; the next fault that applies may still apply
                    f.skip -= 1
                    continue
                fault = f
                break
        if fault is not None and fault.times is not None:
            fault.times -= 1
        action = fault.action if fault else None
        self.calls.append(Call(role, body.get("model", ""), text, time.monotonic(), action, path, time.time()))
        return action, fault, role, text

    def _completion(self, path: str, body: dict, action: str | None, fault: Fault | None, role: str,
                    text: str) -> dict:
        chat = path.endswith("/chat/completions")
        answer, finish = default_answer(role, text), "stop"
        if action == "empty":
            answer = ""
        elif action == "refusal":
            answer = "I'm sorry, but I cannot help with that request."
        elif action == "length":
            answer, finish = answer[: len(answer) // 2], "length"
        elif action == "stopwords":
            answer = "It is what it is, and that is all... Is it?"
        elif action == "leak":
            answer = f"{answer}\nMake sure the rewritten prompt stays solvable."
        elif action == "equal":
            answer = "Equal"
        elif action == "text":
            answer = str(fault.arg)
        elif action == "logprobs":
            answer = max(fault.arg.items(), key=lambda kv: kv[1])[0]
        if self.honor_stop and finish == "stop":  # as a real server does: the answer ends before a stop sequence
            cuts = [i for i in (answer.find(x) for x in body.get("stop") or []) if i >= 0]
            answer = answer[:min(cuts)] if cuts else answer
        usage = {"prompt_tokens": len(text.split()), "completion_tokens": len(answer.split()),
                 "total_tokens": len(text.split()) + len(answer.split())}
        if chat:
            choice = {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": finish}
            obj = "chat.completion"
        else:
            choice = {"index": 0, "text": answer, "finish_reason": finish}
            obj = "text_completion"
        # alternatives asked for: chat sends a flag and a count, a text completion the count
        asked = (body.get("top_logprobs") if body.get("logprobs") else 0) if chat else body.get("logprobs")
        if asked:
            choice["logprobs"] = first_token_logprobs(answer, fault.arg if action == "logprobs" else None, int(asked),
                                                      chat)
        return {"id": f"cmpl-{len(self.calls)}", "object": obj, "created": 0, "model": body.get("model", ""),
                "choices": [choice], "usage": usage}

    # -- the Batch API: files in, a job that moves through its states as it is polled, files out --
    def _batch_fault(self, action: str) -> bool:
        fault = next((f for f in self.faults if f.action == action and f.applies(None, "")), None)
        if fault is not None and fault.times is not None:
            fault.times -= 1
        return fault is not None

    async def upload(self, request: web.Request) -> web.StreamResponse:
        if self._batch_fault("upload_500"):
            return web.json_response({"error": {"message": "scripted upload 500"}}, status=500)
        form = await request.post()
        data = form["file"].file.read()
        fid = f"file-{len(self.files) + len(self.deleted_files)}"
        self.files[fid] = data
        return web.json_response({"id": fid, "object": "file", "bytes": len(data), "created_at": 0,
                                  "filename": form["file"].filename, "purpose": form.get("purpose", "batch")})

    async def file_content(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=self.files[request.match_info["fid"]], content_type="application/octet-stream")

    async def delete_file(self, request: web.Request) -> web.StreamResponse:
        fid = request.match_info["fid"]
        self.files.pop(fid, None)
        self.deleted_files.append(fid)
        return web.json_response({"id": fid, "object": "file", "deleted": True})

    async def list_batches(self, request: web.Request) -> web.StreamResponse:
        jobs = [self._public(j) for j in reversed(list(self.batches.values()))]  # newest first
        return web.json_response({"object": "list", "data": jobs, "first_id": jobs[0]["id"] if jobs else None,
                                  "last_id": jobs[-1]["id"] if jobs else None, "has_more": False})

    async def create_batch(self, request: web.Request) -> web.StreamResponse:
        if self._batch_fault("create_500"):
            return web.json_response({"error": {"message": "scripted create 500"}}, status=500)
        body = await request.json()
        bid = f"batch-{len(self.batches)}"
        lines = [json.loads(x) for x in self.files[body["input_file_id"]].decode().splitlines() if x.strip()]
        fail = next((f for f in self.faults if f.action == "fail_job" and f.applies(None, "")), None)
        if fail is not None and fail.times is not None:
            fail.times -= 1
        self.batches[bid] = {"id": bid, "object": "batch", "endpoint": body["endpoint"], "errors": None,
                             "input_file_id": body["input_file_id"], "completion_window": body["completion_window"],
                             "status": "validating", "output_file_id": None, "error_file_id": None, "created_at": 0,
                             "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                             "metadata": body.get("metadata"), "_lines": lines, "_polls": 0, "_fail": fail is not None}
        if self._batch_fault("create_lost"):
            return web.json_response({"error": {"message": "scripted: created, answer lost"}}, status=500)
        return web.json_response(self._public(self.batches[bid]))

    async def get_batch(self, request: web.Request) -> web.StreamResponse:
        job = self.batches[request.match_info["bid"]]
        job["_polls"] += 1
        self.batch_polls += 1
        if job["status"] == "validating" and job["_fail"]:  # the whole job is refused at validation
            job["status"] = "failed"
            job["errors"] = {"object": "list", "data": [{"code": "invalid_request", "message": "scripted failure"}]}
        elif job["status"] == "validating":
            job["status"] = "in_progress"
        elif job["status"] == "in_progress" and job["_polls"] > self.batch_steps:
            self._finish(job)
        return web.json_response(self._public(job))

    def _finish(self, job: dict) -> None:
        """Answer the job's lines; an `expire` fault ends the job expired with the rest of its lines unanswered."""
        out, err = [], []
        expired = False
        for line in job["_lines"]:
            action, fault, role, text = self._fault(line["url"], line["body"])
            if action == "expire":
                expired = True
            if expired:
                err.append({"id": f"r-{len(err)}", "custom_id": line["custom_id"], "response": None,
                            "error": {"code": "batch_expired", "message": "This request could not be executed "
                                      "before the completion window expired."}})
                self.calls.pop()  # never answered
            elif action in ("500", "429", "bad_json", "no_choices"):
                err.append({"id": f"r-{len(err)}", "custom_id": line["custom_id"],
                            "response": {"status_code": 500 if action != "429" else 429, "request_id": "x",
                                         "body": {"error": {"message": f"scripted {action}"}}}, "error": None})
            else:
                out.append({"id": f"r-{len(out)}", "custom_id": line["custom_id"], "error": None,
                            "response": {"status_code": 200, "request_id": "x",
                                         "body": self._completion(line["url"], line["body"], action, fault, role,
                                                                  text)}})
        for name, rows in (("output_file_id", out), ("error_file_id", err)):
            if rows:
                fid = f"file-{len(self.files) + len(self.deleted_files)}"
                self.files[fid] = "".join(json.dumps(r) + "\n" for r in rows).encode()
                job[name] = fid
        job["status"] = "expired" if expired else "completed"
        job["request_counts"] = {"total": len(job["_lines"]), "completed": len(out), "failed": len(err)}

    @staticmethod
    def _public(job: dict) -> dict:
        return {k: v for k, v in job.items() if not k.startswith("_")}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.handle)
        app.router.add_post("/v1/completions", self.handle)
        app.router.add_post("/v1/files", self.upload)
        app.router.add_get("/v1/files/{fid}/content", self.file_content)
        app.router.add_post("/v1/batches", self.create_batch)
        app.router.add_get("/v1/batches", self.list_batches)
        app.router.add_delete("/v1/files/{fid}", self.delete_file)
        app.router.add_get("/v1/batches/{bid}", self.get_batch)
        return app

    # -- running in a background thread (tests) --
    def start(self) -> ScriptedServer:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def boot():
            self._runner = web.AppRunner(self.app(), access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", self.port, backlog=1024)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]
            ready.set()

        def run():
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(boot())
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("scripted server did not start")
        return self

    def _stopping(self) -> asyncio.Event:
        if getattr(self, "_stop_event", None) is None:
            self._stop_event = asyncio.Event()
        return self._stop_event

    def stop(self) -> None:
        async def shutdown():
            self._stopping().set()
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency", default=None, help="seconds, or lognormal:MEDIAN:SIGMA")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rate-limit", type=float, default=None, help="requests/s; beyond it a bare 429")
    args = ap.parse_args()
    random.seed(args.seed)
    latency = args.latency
    if latency is not None and ":" not in latency:
        latency = float(latency)
    server = ScriptedServer(latency=latency, port=args.port, rate_limit=args.rate_limit)

    async def serve_with_stdin():
        # stdin is read in a thread so the event loop keeps serving
        loop = asyncio.get_running_loop()
        runner = web.AppRunner(server.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", server.port, backlog=4096)
        await site.start()
        print(json.dumps({"port": site._server.sockets[0].getsockname()[1]}), flush=True)
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            if line.strip() == "stats":
                print(json.dumps({"calls": len(server.calls), "slept": round(server.slept, 3),
                                  "limited": server.limited}), flush=True)
            elif line.strip() == "reset":  # the same latencies again, in arrival order
                random.seed(args.seed)
                server.calls.clear()
                server.slept = 0.0
                server.limited = 0
                print(json.dumps({"ok": True}), flush=True)
        await runner.cleanup()

    asyncio.run(serve_with_stdin())


if __name__ == "__main__":
    main()
