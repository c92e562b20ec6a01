"""near_dup: MinHash LSH (datasketch) on word 5-grams of the instruction, within a round and against every
earlier round, across lineages only. The earliest record is kept; a rejected one names the record it duplicates.

Word n-grams cannot see two short instructions with the words moved or swapped for synonyms as duplicates
(bench/near_dup_eval.py: none of the held-out reworded pairs). The opt-in embedding check (`embedding_threshold`)
compares each instruction of at most `short_words` words with the kept ones of other lineages by all-MiniLM-L6-v2
cosine: at 0.89 it finds a third of the held-out reworded pairs and takes 7 of 40 different tasks a word apart
for duplicates (MiniLM puts "uppercase" and "lowercase" letters at 0.99), which is why it is off by default.
With `judge` (near_dup_judge.yaml: "do these two instructions ask for the same task?", read as P(Same) in both
orders, judge.py's SameRule; not the no_gain judge's "same depth and breadth", which is another question) the
embedding only finds candidates, each kept text of another lineage at or above `judge_threshold`, nearest first, at
most `judge_top_k`, and the judge decides: the rule's Same rejects; Different, an answer that says neither, or a
failed call keeps the record (each counted in the stats; a failed call makes the next `wizevol filter` run the filter
again). Two records in other programming languages, or with an input against none, are never duplicates
(task_contrast.py), for MinHash too. The judge is on by default where it is an instruct model (`llm_judge`
unset), measured by bench/judge_rules.py and bench/filter_audit.py.

A record is never compared with its own lineage (same `root_id`): evolution makes a child close to its parent by
design ("add ~10 words"), so at 60+ words a child's 5-gram Jaccard with its parent is above 0.8. Two seeds (or
branches) that reach the same text are duplicates: the earliest stays."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from datasketch import LeanMinHash, MinHash

from wizevol.filters.base import Filter
from wizevol.filters.judge import as_same_task
from wizevol.filters.minhash_index import MinHashIndex
from wizevol.filters.task_contrast import Contrast
from wizevol.record import Record, Verdict, drop
from wizevol.text import ngrams, words


def word_shingles(text: str, n: int) -> list[bytes]:
    """Word n-grams as bytes for MinHash; a text shorter than n words is one shingle."""
    tokens = words(text)
    if len(tokens) < n:
        return [" ".join(tokens).encode()] if tokens else []
    return [" ".join(g).encode() for g in ngrams(tokens, n)]


def _first(items: Any, keep: Callable[[Any], bool], n: int) -> list[Any]:
    """The first n items that `keep` accepts (a run of near-identical texts need not be walked to its end)."""
    out = []
    for item in items:
        if keep(item):
            out.append(item)
            if len(out) == n:
                break
    return out


class NearDup(Filter):
    """Rejects a record whose instruction nearly repeats an earlier one of another lineage."""

    name = "near_dup"

    def __init__(self, num_perm: int = 128, threshold: float = 0.8, ngram: int = 5, seed: int = 1,
                 embedding_threshold: float | None = None, short_words: int = 40,
                 judge: Callable[[str, str], str | bool | None] | None = None, judge_threshold: float = 0.65,
                 judge_top_k: int = 3, judge_ahead: Callable[..., None] | None = None,
                 judge_model: str | None = None, judge_rule: str | None = None, contrasts: bool = True):
        self.num_perm, self.threshold, self.ngram, self.seed = num_perm, threshold, ngram, seed
        self.embedding_threshold, self.short_words = embedding_threshold, short_words
        self.judge, self.judge_threshold, self.judge_top_k = judge, judge_threshold, judge_top_k
        self.judge_ahead, self.judge_model = judge_ahead, judge_model  # the model: a new one judges again
        self.judge_rule = judge_rule  # what makes a pair the same (SameRule.describe): a new rule judges again
        self.contrasts = contrasts  # task_contrast: another programming language, or an input, is another task
        self._template = MinHash(num_perm=num_perm, seed=seed)  # permutations are computed once

    def settings(self) -> dict[str, Any]:
        out = {"num_perm": self.num_perm, "threshold": self.threshold, "ngram": self.ngram, "seed": self.seed,
               "embedding_threshold": self.embedding_threshold, "short_words": self.short_words,
               "contrasts": self.contrasts}
        if self.judge is not None:
            out |= {"llm_judge": True, "judge_model": self.judge_model, "judge_threshold": self.judge_threshold,
                    "judge_top_k": self.judge_top_k, **({"judge_rule": self.judge_rule} if self.judge_rule else {})}
        return out

    @property
    def embedding(self) -> bool:
        return self.embedding_threshold is not None or self.judge is not None

    def start(self) -> None:
        self.index = MinHashIndex(self.threshold, self.num_perm)  # the kept records' bands, on disk
        self._vec_of: dict[str, Any] = {}  # this round's short instructions -> their embedding
        self._kept_vecs: Any = None  # embeddings of kept short instructions, in order (rows; grown by doubling)
        self._kept_ids: list[str] = []
        self._kept_roots: list[str] = []  # their lineages, signatures and languages, in the same order
        self._kept_sigs: list[LeanMinHash] = []
        self._kept_contrast: dict[str, Contrast] = {}
        self._text: dict[str, str] = {}  # kept short instructions, as written (what the judge reads)
        self._contrast: dict[str, Contrast] = {}  # the block's record id -> its language and input
        self.set_apart = {"language": 0, "input": 0}  # close pairs never called duplicates, by what differs
        self.asked = {"calls": 0, "same": 0, "different": 0, "unparsed": 0, "failed": 0}
        self.asked_ahead = 0
        self._total = self._checked = 0  # records in the run, and checked so far (the progress bar's)

    def prepare_run(self, records: list[Record]) -> None:
        self._total = len(records)

    def prepare_round(self, records: list[Record]) -> None:
        self._contrast = {r.id: Contrast(r.instruction, r.input, r.output) for r in records} if self.contrasts \
            else {}
        if not self.embedding:
            return
        short = [r for r in records if len(words(r.prompt_text())) <= self.short_words]
        if short:
            from wizevol.filters import encoder

            vecs = encoder.encode([r.prompt_text() for r in short])
            self._vec_of = {r.id: v for r, v in zip(short, vecs, strict=True)}
            if self.judge is not None and self.judge_ahead is not None:
                pairs = self._pairs_ahead(short, vecs)
                self.asked_ahead += len(pairs)
                if pairs:
                    emit = self.events or (lambda event, **data: None)
                    emit("phase", name="near_dup: the judge's questions, asked ahead", total=len(pairs))
                    self.judge_ahead(pairs, lambda: emit("step"))
                    emit("phase", name=self.name, total=self._total, done=self._checked)  # the checks go on

    def _pairs_ahead(self, short: list[Record], vecs: Any) -> list[tuple[str, str]]:
        """Before a round is checked one by one: every (kept text, text) pair that check() may ask the judge
        about, so that they can be asked all at once. A record's candidates are its judge_top_k nearest at
        judge_threshold among the kept texts and the round's earlier records. One of those may be rejected
        before its turn, and then a candidate beyond them is asked in check(), one at a time."""

        n = len(self._kept_ids)
        texts = [self._text[i] for i in self._kept_ids] + [r.prompt_text() for r in short]
        roots = self._kept_roots + [r.root_id or r.id for r in short]
        sigs = self._kept_sigs + [self.signature(t) for t in texts[n:]]
        contrast = [self._kept_contrast.get(i) for i in self._kept_ids] + [self._contrast.get(r.id) for r in short]
        pool = np.concatenate([self._kept_vecs[:n], vecs]) if n else vecs
        pairs = []
        for start in range(0, len(short), 256):  # a block of records against all before them
            block = vecs[start:start + 256]
            sims = block @ pool[:n + start + len(block)].T
            for row in range(len(block)):
                me = n + start + row
                above = np.flatnonzero(sims[row, :me] >= self.judge_threshold)
                nearest = _first(above[np.argsort(-sims[row, above], kind="stable")],
                                  lambda j, me=me: roots[j] != roots[me] and not self._differs(contrast[j],
                                                                                                contrast[me]),
                                  self.judge_top_k)
                if any(sigs[j].jaccard(sigs[me]) >= self.threshold for j in nearest):
                    continue  # a copy: MinHash rejects it before any question (paid for nothing if asked ahead)
                pairs += [(texts[j], texts[me]) for j in nearest]
        return pairs

    def _neighbours(self, record: Record, root: str, threshold: float, limit: int,
                    mine: Contrast | None) -> list[tuple[str, float]]:
        """The nearest `limit` kept short instructions of other lineages at or above the cosine threshold."""
        vec = self._vec_of.get(record.id)
        if vec is None or not self._kept_ids:
            return []

        sims = self._kept_vecs[:len(self._kept_ids)] @ vec
        above = np.flatnonzero(sims >= threshold)
        nearest = _first(above[np.argsort(-sims[above], kind="stable")],
                         lambda i: self._kept_roots[i] != root
                         and not self._differs(self._kept_contrast.get(self._kept_ids[i]), mine, count=True), limit)
        return [(self._kept_ids[i], float(sims[i])) for i in nearest]

    def _twin(self, record: Record, root: str, mine: Contrast | None) -> Verdict:
        """Without a judge: the nearest neighbour at embedding_threshold. With one: the first of the nearest
        judge_top_k at judge_threshold that the judge calls the same task."""
        if self.judge is None:
            near = self._neighbours(record, root, self.embedding_threshold, 1, mine)
            if not near:
                return True
            (other, cos), = near
            return drop(f"near-duplicate of {other} (embedding cosine {cos:.2f})", duplicate_of=other,
                        cosine=round(cos, 3), rule="embedding")
        for other, cos in self._neighbours(record, root, self.judge_threshold, self.judge_top_k, mine):
            answer = as_same_task(self.judge(self._text[other], record.prompt_text()))
            self.asked["calls"] += 1
            self.asked[answer.verdict] += 1
            if answer:
                shown = f", P(same) {answer.shown()}" if answer.p else ""
                return drop(f"near-duplicate of {other} (judge: same task{shown}; embedding cosine {cos:.2f})",
                            duplicate_of=other, cosine=round(cos, 3), judge="same", rule="judge",
                            **({"p_same": list(answer.p)} if answer.p else {}))
        return True

    def _differs(self, kept: Contrast | None, checked: Contrast | None, count: bool = False) -> bool:
        """Whether two records are different tasks by language or input (task_contrast), whatever their words."""
        if kept is None or checked is None:  # contrasts off
            return False
        why = kept.differs(checked)
        if why and count:
            self.set_apart[why] += 1
        return why is not None

    def _keep_vec(self, record_id: str, vec: Any, root: str, sig: LeanMinHash, mine: Contrast | None) -> None:
        n = len(self._kept_ids)
        if self._kept_vecs is None or n == len(self._kept_vecs):  # room for twice as many, copied once
            grown = np.zeros((max(1024, 2 * n), len(vec)), dtype=vec.dtype)
            if n:
                grown[:n] = self._kept_vecs
            self._kept_vecs = grown
        self._kept_vecs[n] = vec
        self._kept_ids.append(record_id)
        self._kept_roots.append(root)
        self._kept_sigs.append(sig)
        if mine is not None:
            self._kept_contrast[record_id] = mine

    def signature(self, text: str) -> LeanMinHash:
        """The MinHash signature of a text's word n-grams."""
        m = self._template.copy()
        shingles = word_shingles(text, self.ngram)
        if shingles:
            m.update_batch(shingles)
        return LeanMinHash(m)

    def check(self, record: Record) -> Verdict:
        self._checked += 1
        sig = self.signature(record.prompt_text())
        root = record.root_id or record.id
        mine = (self._contrast.get(record.id) or Contrast(record.instruction, record.input, record.output)) \
            if self.contrasts else None
        best, best_j = None, 0.0
        for other, other_root, values, languages, has_input in self.index.query(sig.hashvalues):
            if other_root == root:
                continue  # its own ancestor: evolution, not duplication
            if self._differs(Contrast.of(languages, has_input) if languages is not None else None, mine, count=True):
                continue  # "in C++" and "in C" are one text to word 5-grams
            j = float(np.count_nonzero(values == sig.hashvalues)) / len(values)  # LeanMinHash.jaccard
            if j >= self.threshold and (j > best_j or (j == best_j and other < best)):
                best, best_j = other, j
        if best is not None:
            return drop(f"near-duplicate of {best} (estimated Jaccard {best_j:.2f})", duplicate_of=best,
                        jaccard=round(float(best_j), 3), rule="minhash")
        if self.embedding:
            twin = self._twin(record, root, mine)
            if twin is not True:
                return twin
        self.index.insert(record.id, root, sig.hashvalues, mine.languages if mine else None,
                          mine.has_input if mine else False)
        if record.id in self._vec_of:
            self._keep_vec(record.id, self._vec_of[record.id], root, sig, mine)
            self._text[record.id] = record.prompt_text()
        return True

    def complete(self) -> bool:
        return self.judge is None or not self.asked["failed"]

    def report(self) -> dict[str, Any]:
        """Close pairs set apart as different tasks (by language, by input; counted where they were compared), the
        judge's verdicts (calls: pairs judged; same, different, unparsed: neither, failed: no answer), and the
        questions asked ahead, all at once, before each round was checked (their answers are in the run's cache:
        `calls` counts each question check() asked, answered from there or not)."""
        apart = {"set_apart": dict(self.set_apart)} if self.contrasts else {}
        if self.judge is None:
            return apart
        return {"judge": dict(self.asked), **({"judge_asked_ahead": self.asked_ahead} if self.judge_ahead else {}),
                **apart}

