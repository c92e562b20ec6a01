"""near_dup's opt-in embedding check for short reworded instructions (data/near_dup/pairs.jsonl): what word
5-grams miss, it catches at its threshold, naming the original; a record's own lineage is still never its
duplicate, and long instructions are left to MinHash."""

from __future__ import annotations

import json
import re

import pytest
from conftest import ROOT, SEED, rows
from test_filters import HEAVY, cli

from wizevol.filters.encoder import model as _embedder

PAIRS = [json.loads(line) for line in (ROOT / "data" / "near_dup" / "pairs.jsonl").read_text().splitlines()]
THRESHOLD = 0.89


def run_of(tmp_path, first: list[dict], second: list[dict]):
    run = tmp_path / "run"
    run.mkdir()
    for k, recs in enumerate((first, second)):
        (run / f"round_{k}.jsonl").write_text("".join(json.dumps({"round": k, "input": "", "output": "", **r}) + "\n"
                                                      for r in recs))
        (run / f"round_{k}.done").write_text(json.dumps({"round": k, "pool": len(recs), "kept": len(recs),
                                                          "eliminated_by_rule": {}, "failed": 0, "tokens": {}}))
    return run


def filter_with(tmp_path, run, settings: dict):
    cfg = tmp_path / "nd.yaml"
    cfg.write_text(json.dumps({"filters": {"near_dup": settings}}))
    result = cli("filter", run, "--only", "near_dup", "--config", cfg)
    assert result.exit_code == 0, result.output
    return {r["id"]: r for r in rows(run / "filters" / "near_dup" / "rejected_1.jsonl")}


def test_reworded_short_instructions_are_caught_only_by_the_embedding_check(tmp_path):
    dups = [p for p in PAIRS if p["duplicate"]]
    model = _embedder()
    a = model.encode([p["a"] for p in dups], normalize_embeddings=True)
    b = model.encode([p["b"] for p in dups], normalize_embeddings=True)
    close = {p["id"] for p, x, y in zip(dups, a, b, strict=True) if float(x @ y) >= THRESHOLD}
    assert len(close) >= 5
    first = [{"id": f"{p['id']}-a", "instruction": p["a"], "root_id": f"{p['id']}-a"} for p in dups]
    second = [{"id": f"{p['id']}-b", "instruction": p["b"], "root_id": f"{p['id']}-b"} for p in dups]
    run = run_of(tmp_path, first, second)
    assert filter_with(tmp_path, run, {}) == {}  # word 5-grams see none of the rewordings
    rej = filter_with(tmp_path, run, {"embedding_threshold": THRESHOLD})
    caught = {i.removesuffix("-b") for i in rej}
    assert close <= caught  # every pair at or above the threshold (another pair's original may be closer)
    for r in rej.values():
        assert r["reason"].startswith("near-duplicate of ") and "embedding cosine" in r["reason"]
        assert r["details"]["cosine"] >= THRESHOLD
    assert all(r["details"]["duplicate_of"].endswith("-a") for r in rej.values())  # an original of round 0
    own = sum(rej[f"{i}-b"]["details"]["duplicate_of"] == f"{i}-a" for i in close)
    assert own >= len(close) - 1  # almost always its own original, the closest one


def test_the_embedding_check_keeps_lineage_and_leaves_long_texts_to_minhash(tmp_path):
    dups = [p for p in PAIRS if p["duplicate"]]
    first = [{"id": f"{p['id']}-a", "instruction": p["a"], "root_id": p["id"]} for p in dups]
    second = [{"id": f"{p['id']}-b", "instruction": p["b"], "root_id": p["id"]} for p in dups]  # same lineage
    run = run_of(tmp_path, first, second)
    assert filter_with(tmp_path, run, {"embedding_threshold": THRESHOLD}) == {}
    (tmp_path / "apart").mkdir()
    apart = run_of(tmp_path / "apart", [{**r, "root_id": r["id"]} for r in first],
                   [{**r, "root_id": r["id"]} for r in second])
    assert filter_with(tmp_path, apart, {"embedding_threshold": THRESHOLD, "short_words": 3}) == {}  # all "long"
    assert filter_with(tmp_path, apart, {"embedding_threshold": THRESHOLD}) != {}  # the same run, short enough


HELDOUT = [json.loads(line) for line in (ROOT / "data" / "near_dup" / "heldout.jsonl").read_text().splitlines()]


def same_both_ways(server, a: str, b: str) -> None:
    """The scripted judge says Same about (a, b) in both orders (the default rule drops only that)."""
    for first, second in ((a, b), (b, a)):
        server.fault("text", role="near_dup_judge", match=f"Instruction A:\n{first}\n\nInstruction B:\n{second}",
                     arg="Same", times=None)


def judge_run(tmp_path, pairs):
    """Round 0: every distinct first text; round 1: every second text. Each round is one lineage, so that a text is
    compared only with the other round's (a lineage is never its own duplicate)."""
    firsts = list(dict.fromkeys(p["a"] for p in pairs))
    first = [{"id": f"a{i}", "instruction": t, "root_id": "A"} for i, t in enumerate(firsts)]
    second = [{"id": p["id"], "instruction": p["b"], "root_id": "B"} for p in pairs]
    return run_of(tmp_path, first, second), first


def test_the_judge_decides_each_embedding_candidate_with_its_same_task_question(tmp_path, server):
    """With llm_judge, MiniLM only proposes: each round-1 text is asked about its nearest kept texts of other
    lineages (cosine >= 0.70, the default; at most 3, nearest first) with near_dup_judge.yaml, over real HTTP,
    in both orders where the first says Same. A judge that knows the answers rejects exactly the reworded pairs
    whose original is among those candidates, naming it, and none of the different pairs, which MiniLM puts as
    close as 0.99 ("uppercase" / "lowercase")."""
    run, first = judge_run(tmp_path, HELDOUT)
    id_of = {r["instruction"]: r["id"] for r in first}
    for p in HELDOUT:
        if p["duplicate"]:  # the chat prompt holds the kept text, then the checked one; and the other way round
            same_both_ways(server, p["a"], p["b"])
    model = _embedder()
    va = model.encode([r["instruction"] for r in first], normalize_embeddings=True)
    vb = model.encode([p["b"] for p in HELDOUT], normalize_embeddings=True)
    sims = vb @ va.T
    asked = {p["id"]: [first[j]["id"] for j in sims[i].argsort()[::-1][:3] if sims[i, j] >= 0.70]
             for i, p in enumerate(HELDOUT)}
    expected = {p["id"] for p in HELDOUT if p["duplicate"] and id_of[p["a"]] in asked[p["id"]]}
    assert 30 <= len(expected) < 40
    assert sum(sims[i, first.index(next(r for r in first if r["instruction"] == p["a"]))] >= 0.89
               for i, p in enumerate(HELDOUT) if not p["duplicate"]) >= 5  # the threshold alone would drop these

    cfg = tmp_path / "judge.yaml"
    cfg.write_text(f"backend: api\nendpoint: {{base_url: '{server.url}', max_attempts: 1}}\n"
                   "evolver: {model: judge-model}\nfilters: {near_dup: {llm_judge: true}}\n")
    result = cli("filter", run, "--only", "near_dup", "--config", cfg)
    assert result.exit_code == 0, result.output
    rej = {r["id"]: r for r in rows(run / "filters" / "near_dup" / "rejected_1.jsonl")}
    assert set(rej) == expected
    for i, r in rej.items():
        p = next(p for p in HELDOUT if p["id"] == i)
        assert r["details"]["duplicate_of"] == id_of[p["a"]] and r["details"]["judge"] == "same"
        assert re.fullmatch(rf"near-duplicate of {id_of[p['a']]} \(judge: same task, P\(same\) 1\.00/1\.00; "
                            r"embedding cosine 0\.\d\d\)", r["reason"])
        assert r["details"]["rule"] == "judge" and r["details"]["p_same"] == [1.0, 1.0]
        assert abs(r["details"]["cosine"] - sims[HELDOUT.index(p), first.index(
            next(f for f in first if f["id"] == id_of[p["a"]]))]) < 1e-3
    calls = [c for c in server.calls if c.role == "near_dup_judge"]
    # every candidate pair is asked ahead, at once, before the round is checked: once in its order, and the other
    # way where that said Same; none again
    n_pairs = sum(len(v) for v in asked.values())
    assert len(calls) == len({c.text for c in calls}) == n_pairs + len(expected)
    assert {c.model for c in calls} == {"judge-model"}
    # check() then finds its answers in the run's cache: a duplicate's questions stop at its original's Equal
    per_text = {i: v.index(id_of[next(p["a"] for p in HELDOUT if p["id"] == i)]) + 1 if i in expected else len(v)
                for i, v in asked.items()}
    stats = json.loads((run / "filters" / "near_dup" / "stats.json").read_text())
    checked = sum(per_text.values())
    assert stats["judge"] == {"calls": checked, "same": len(expected), "different": checked - len(expected),
                              "unparsed": 0, "failed": 0}
    assert stats["judge_asked_ahead"] == n_pairs > checked

    # at cosine 0.5 most texts have several candidates: judge_top_k: 1 asks about the nearest only
    (tmp_path / "top1").mkdir()
    run, _ = judge_run(tmp_path / "top1", HELDOUT)
    cfg.write_text(cfg.read_text().replace("llm_judge: true", "llm_judge: true, judge_threshold: 0.5, judge_top_k: 1"))
    before = server.count("near_dup_judge")
    assert cli("filter", run, "--only", "near_dup", "--config", cfg).exit_code == 0
    rej = {r["id"] for r in rows(run / "filters" / "near_dup" / "rejected_1.jsonl")}
    assert rej == {p["id"] for i, p in enumerate(HELDOUT) if p["duplicate"] and sims[i].max() >= 0.5
                   and first[sims[i].argmax()]["instruction"] == p["a"]}
    nearest = sum(sims.max(1) >= 0.5)  # one question each, asked the other way too where the first says Same
    assert server.count("near_dup_judge") - before == nearest + len(rej)
    assert nearest < sum((sims >= 0.5).sum(1).clip(max=3))
    assert json.loads((run / "filters" / "near_dup" / "stats.json").read_text())["judge"]["calls"] == \
        sum(sims.max(1) >= 0.5)


def test_a_judge_that_cannot_answer_loses_nothing_and_says_so(tmp_path, server):
    """A failed call or an answer that is neither Same nor Different keeps the record, each counted;
    with llm_judge: false no judge is asked, even with a capable judge configured."""
    pairs = [p for p in HELDOUT if p["duplicate"]][:8]
    run, _ = judge_run(tmp_path, pairs)
    server.fault("500", role="near_dup_judge", times=None)
    cfg = tmp_path / "judge.yaml"
    cfg.write_text(f"backend: api\nendpoint: {{base_url: '{server.url}', max_attempts: 1}}\n"
                   "evolver: {model: judge-model}\nfilters: {near_dup: {llm_judge: true}}\n")
    result = cli("filter", run, "--only", "near_dup", "--config", cfg)
    assert result.exit_code == 0, result.output
    assert rows(run / "filters" / "near_dup" / "rejected_1.jsonl") == []
    stats = json.loads((run / "filters" / "near_dup" / "stats.json").read_text())
    # a question that failed ahead is asked again in check() (and fails again here): nothing is taken as answered
    assert stats["judge"]["calls"] == stats["judge"]["failed"] == stats["judge_asked_ahead"] >= 6
    assert server.count("near_dup_judge") == 2 * stats["judge"]["calls"]  # once ahead, once again in check()
    n = stats["judge"]["calls"]
    assert f"the judge's call failed for {n} of {n} questions: those records were kept; `wizevol filter` again " \
        "asks them again" in result.output
    # no done-marker: once the judge answers, the same command runs the filter again and asks again
    server.faults.clear()
    for p in pairs[:3]:
        same_both_ways(server, p["a"], p["b"])
    again = cli("filter", run, "--only", "near_dup", "--config", cfg)
    assert again.exit_code == 0 and "call failed" not in again.output
    assert {r["id"] for r in rows(run / "filters" / "near_dup" / "rejected_1.jsonl")} == {p["id"] for p in pairs[:3]}
    stats = json.loads((run / "filters" / "near_dup" / "stats.json").read_text())
    assert stats["judge"]["failed"] == 0 and "incomplete" not in stats["stamp"]
    assert cli("filter", run, "--only", "near_dup", "--config", cfg).exit_code == 0  # done now: skipped
    assert json.loads((run / "filters" / "near_dup" / "stats.json").read_text()) == stats

    server.faults.clear()
    server.fault("text", role="near_dup_judge", arg="Maybe", times=None)
    (tmp_path / "again").mkdir()
    run, _ = judge_run(tmp_path / "again", pairs)
    result = cli("filter", run, "--only", "near_dup", "--config", cfg)
    assert result.exit_code == 0
    assert rows(run / "filters" / "near_dup" / "rejected_1.jsonl") == []
    stats = json.loads((run / "filters" / "near_dup" / "stats.json").read_text())
    n = stats["judge"]["calls"]
    assert stats["judge"]["unparsed"] == n >= 6 and "incomplete" not in stats["stamp"]  # an answer, if no verdict
    assert f"{n} of the judge's {n} answers were neither Same nor Different: those records were kept" in result.output

    before = server.count("near_dup_judge")
    cfg.write_text(f"backend: api\nendpoint: {{base_url: '{server.url}', max_attempts: 1}}\n"
                   "evolver: {model: judge-model}\nfilters: {near_dup: {llm_judge: false}}\n")
    (tmp_path / "off").mkdir()
    run, _ = judge_run(tmp_path / "off", pairs)
    assert cli("filter", run, "--only", "near_dup", "--config", cfg).exit_code == 0
    assert server.count("near_dup_judge") == before and "judge" not in \
        json.loads((run / "filters" / "near_dup" / "stats.json").read_text())


def test_a_judge_without_its_api_key_is_one_error_line_before_any_record_is_judged(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    run, _ = judge_run(tmp_path, [p for p in HELDOUT if p["duplicate"]][:4])
    cfg = tmp_path / "judge.yaml"
    cfg.write_text("backend: api\nendpoint: {base_url: 'https://api.example.invalid/v1'}\n"
                   "evolver: {model: judge-model}\nfilters: {near_dup: {llm_judge: true}}\n")
    result = cli("filter", run, "--only", "near_dup", "--config", cfg)
    assert result.exit_code != 0
    assert result.stderr.strip() == ("Error: environment variable OPENAI_API_KEY is not set (the API key for "
                                     "https://api.example.invalid/v1)")
    assert not (run / "filters" / "near_dup" / "stats.json").exists()


def test_another_judge_model_judges_again(tmp_path, server):
    """The judge's model is part of the filter's settings: the same run with another model is not skipped as
    done, and the new model is asked."""
    run, _ = judge_run(tmp_path, [p for p in HELDOUT if p["duplicate"]][:6])
    cfg = tmp_path / "judge.yaml"
    for model in ("judge-a", "judge-a", "judge-b"):
        cfg.write_text(f"backend: api\nendpoint: {{base_url: '{server.url}', max_attempts: 1}}\n"
                       f"evolver: {{model: {model}}}\nfilters: {{near_dup: {{llm_judge: true}}}}\n")
        assert cli("filter", run, "--only", "near_dup", "--config", cfg).exit_code == 0
        stats = json.loads((run / "filters" / "near_dup" / "stats.json").read_text())
        assert stats["settings"]["judge_model"] == model
    asked = [c.model for c in server.calls if c.role == "near_dup_judge"]
    assert asked.count("judge-b") == asked.count("judge-a") >= 4  # a second judge-a run asks nothing anew


@pytest.mark.slow
def test_the_bench_measures_what_the_judge_adds():
    """bench/near_dup_eval.py --judge: a perfect judge reaches exactly the duplicates at the candidate cosine with no
    false positive; a judge that always says Equal is the embedding threshold alone."""
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    import near_dup_eval

    label = {(p["a"], p["b"]): p["duplicate"] for p in HELDOUT}
    cos = near_dup_eval.cosines(HELDOUT)
    perfect = near_dup_eval.judged(lambda a, b: label[(a, b)], 0.75, HELDOUT)
    bound = near_dup_eval.rates([c >= 0.75 for c in cos], HELDOUT)
    assert near_dup_eval.rates(perfect["caught"], HELDOUT) == (bound[0], 0, 40) and 0.5 < bound[0] < 1
    always = near_dup_eval.judged(lambda a, b: True, 0.75, HELDOUT)
    assert near_dup_eval.rates(always["caught"], HELDOUT) == bound and bound[1] > 10
    assert always["asked"]["calls"] == sum(c >= 0.75 for c in cos)


def test_asking_ahead_changes_no_verdict_and_leaves_check_little_to_ask():
    """Every text of both pair sets, each its own lineage, over two rounds, with a judge that knows the answers:
    asking ahead gives the same verdicts and the same questions in check(). check() asks one that was not asked
    ahead only when a nearer candidate of its own round was rejected before its turn. Copies of earlier texts
    (other lineages) are MinHash's: no question is asked about them, ahead or not."""
    from wizevol.filters.near_dup import NearDup
    from wizevol.record import Record

    pairs = PAIRS + HELDOUT
    same = {frozenset((p["a"], p["b"])) for p in pairs if p["duplicate"]}
    texts = list(dict.fromkeys(t for p in pairs for t in (p["a"], p["b"])))
    records = [Record(id=f"t{i:03d}", instruction=t, round=int(i >= len(texts) // 2)) for i, t in enumerate(texts)]
    copies = [Record(id=f"copy{i}", instruction=texts[i], round=1) for i in range(0, 40, 4)]  # checked last

    def run(ahead: bool, records: list[Record]):
        questions, before = [], []
        nd = NearDup(judge=lambda a, b: questions.append((a, b)) or frozenset((a, b)) in same,
                     judge_ahead=(lambda pairs, done: before.extend(pairs)) if ahead else None)
        nd.start()
        verdicts = {}
        for k in (0, 1):
            rnd = [r for r in records if r.round == k]
            nd.prepare_round(rnd)
            verdicts |= {r.id: nd.check(r) for r in rnd}
        return verdicts, questions, before

    alone, asked_alone, _ = run(False, records + copies)
    verdicts, asked, ahead = run(True, records + copies)
    assert verdicts == alone and asked == asked_alone
    _, asked_without, ahead_without = run(True, records)
    assert all("estimated Jaccard" in verdicts[c.id][1] for c in copies)
    assert (asked, ahead) == (asked_without, ahead_without)  # the copies cost no question
    rejected = {r.instruction for r in records if verdicts[r.id] is not True}
    assert 15 <= len(rejected) < 80
    late = set(asked) - set(ahead)
    assert len(late) <= len(asked) // 4
    for _first, second in late:  # a nearer candidate asked ahead was rejected before this text's turn
        assert any(a in rejected for a, b in ahead if b == second)
    assert len(set(ahead)) == len(ahead) > len(set(asked) & set(ahead))


def test_asking_ahead_has_its_own_progress_bar_and_the_checks_resume_theirs(tmp_path, server):
    """run_filters' events: near_dup's bar, then the judge's questions (one step each), then near_dup's bar again
    from the records checked so far; the same for contamination's judge."""
    from wizevol.filters import run_filters

    run, first = judge_run(tmp_path, [p for p in HELDOUT if p["duplicate"]][:10])
    cfg = tmp_path / "judge.yaml"
    cfg.write_text(f"backend: api\nendpoint: {{base_url: '{server.url}', max_attempts: 1}}\n"
                   "evolver: {model: judge-model}\nfilters: {near_dup: {llm_judge: true}}\n")
    events = []
    stats, _ = run_filters(run, "near_dup", cfg, on_event=lambda event, **data: events.append((event, data)))
    phases = [(i, d) for i, (e, d) in enumerate(events) if e == "phase"]
    assert [d["name"] for _, d in phases] == ["near_dup", "near_dup: the judge's questions, asked ahead", "near_dup"]
    (start, _), (ask, asked), (back, resumed) = phases
    assert asked["total"] == stats["near_dup"]["judge_asked_ahead"] == back - ask - 1 >= 5  # a step per question
    assert resumed == {"name": "near_dup", "total": len(first) + 10, "done": len(first)}  # round 1 is next
    assert sum(e == "step" for e, _ in events[back:]) == 10

    clean = [{"id": f"c{i}", "instruction": r["instruction"]} for i, r in enumerate(rows(SEED))]
    (tmp_path / "c").mkdir()
    crun = run_of(tmp_path / "c", [{"id": f"h{i}", "instruction": h} for i, h in enumerate(HEAVY)], clean)
    cfg.write_text(f"backend: api\nendpoint: {{base_url: '{server.url}', max_attempts: 1}}\n"
                   "evolver: {model: judge-model}\n"
                   "filters: {contamination: {judge_threshold: 0.55, llm_judge: true, execution: false}}\n")
    events.clear()
    stats, _ = run_filters(crun, "contamination", cfg, on_event=lambda event, **data: events.append((event, data)))
    names = [d["name"] for e, d in events if e == "phase"]
    assert names[-2:] == ["contamination: the judge's questions, asked ahead", "contamination"]
    ask = next(i for i, (e, d) in enumerate(events) if e == "phase" and "asked ahead" in d["name"])
    assert events[ask][1]["total"] == stats["contamination"]["judge_asked_ahead"] >= 2
    back = next(i for i, (e, _) in enumerate(events) if e == "phase" and i > ask)
    assert back - ask - 1 == events[ask][1]["total"] and events[back][1]["total"] == len(HEAVY) + len(clean)


def test_with_both_checks_set_the_judge_decides():
    """embedding_threshold and llm_judge together: a pair far above the threshold is kept when the judge says
    Different (the threshold alone would reject it)."""
    from wizevol.filters.near_dup import NearDup
    from wizevol.record import Record

    p = next(p for p in HELDOUT if p["id"] == "diff-00")  # "uppercase" / "lowercase": cosine 0.99
    a, b = (Record(id=s, instruction=p[s], root_id=s) for s in "ab")
    for judge, kept in ((None, False), (lambda x, y: "different", True), (lambda x, y: "same", False)):
        nd = NearDup(embedding_threshold=0.5, judge=judge)
        nd.start()
        nd.prepare_round([a, b])
        assert nd.check(a) is True and (nd.check(b) is True) == kept


def test_the_judge_is_on_by_default_for_an_instruct_model_and_off_for_a_base_model(tmp_path, server):
    """llm_judge unset: an API model in chat is asked (and rejects what it calls Same); the embedded base model
    (gemma3-270m, completion mode) is not started at all, and the console says why, once."""
    pairs = [p for p in HELDOUT if p["duplicate"]][:6]
    run, _ = judge_run(tmp_path, pairs)
    same_both_ways(server, pairs[0]["a"], pairs[0]["b"])
    cfg = tmp_path / "api.yaml"
    cfg.write_text(f"backend: api\nendpoint: {{base_url: '{server.url}', max_attempts: 1}}\n"
                   "evolver: {model: judge-model}\n")
    result = cli("filter", run, "--only", "near_dup", "--config", cfg)
    assert result.exit_code == 0, result.output
    stats = json.loads((run / "filters" / "near_dup" / "stats.json").read_text())
    assert stats["settings"]["llm_judge"] is True and stats["judge"]["calls"] >= 1
    assert server.count("near_dup_judge") >= 1 and "judges are off" not in result.output
    assert {r["id"] for r in rows(run / "filters" / "near_dup" / "rejected_1.jsonl")} == {pairs[0]["id"]}

    (tmp_path / "base").mkdir()
    run, _ = judge_run(tmp_path / "base", pairs)
    cfg = tmp_path / "gemma.yaml"
    cfg.write_text("backend: local\nlocal: {model: gemma3-270m}\n")
    result = cli("filter", run, "--only", "near_dup", "--config", cfg)
    assert result.exit_code == 0, result.output
    assert result.output.count("the judges are off: gemma3-270m is asked in completion mode (a base model); set "
                               "filters.near_dup.llm_judge: true to use them anyway") == 1
    assert "starting the local model" not in result.output and not (run / "local_server.log").exists()
    stats = json.loads((run / "filters" / "near_dup" / "stats.json").read_text())
    assert "llm_judge" not in stats["settings"] and "judge" not in stats


def test_the_same_task_verdict_is_read_from_what_the_judge_wrote():
    from wizevol.filters.judge import parse_same_task

    cases = {"Same": "same", "**Same**": "same", "same.": "same", "They ask for the same task.": "same",
             "Different": "different", "Different.\n": "different", "**Different** - one counts lowercase": "different",
             "Not the same": "different", "not same": "different", "These are not the same task.": "different",
             "": "unparsed", "Maybe": "unparsed", "Same or Different?": "unparsed", "Sameness": "unparsed",
             "Differently worded, same task": "same"}
    assert {a: parse_same_task(a) for a in cases} == cases


CONTRASTS = [json.loads(line) for line in (ROOT / "data" / "near_dup" / "contrasts.jsonl").read_text().splitlines()]


def test_a_one_word_contrast_is_kept_unless_the_judge_is_sure_both_ways(tmp_path, server):
    """Pairs of data/near_dup/contrasts.jsonl, different tasks a word apart, each its original's nearest kept text.
    The judge says Same in one order for all of them (as the 1.5B does for tasks on one topic). The other way round
    it says Different for half, and for the other half Different with P(Same) 0.4 on its first token. The default
    rule (P(Same) >= 0.5 in both orders) keeps every pair; judge_min_same 0.3 drops the second half; the old rule
    (either order) drops them all. Each reject says the probabilities it was dropped on."""
    model = _embedder()
    va = model.encode([p["a"] for p in CONTRASTS], normalize_embeddings=True)
    vb = model.encode([p["b"] for p in CONTRASTS], normalize_embeddings=True)
    sims = vb @ va.T
    own = [p for i, p in enumerate(CONTRASTS) if sims[i].argmax() == i and sims[i, i] >= 0.70][:8]
    assert len(own) == 8
    for i, p in enumerate(own):
        server.fault("text", role="near_dup_judge", match=f"Instruction A:\n{p['a']}\n\nInstruction B:\n{p['b']}",
                     arg="Same", times=None)
        back = f"Instruction A:\n{p['b']}\n\nInstruction B:\n{p['a']}"
        if i % 2:
            server.fault("logprobs", role="near_dup_judge", match=back, arg={"Different": 0.6, "Same": 0.4}, times=None)
        else:
            server.fault("text", role="near_dup_judge", match=back, arg="Different", times=None)
    cfg = tmp_path / "judge.yaml"
    for name, rule, dropped in (("default", {}, set()),
                                ("low", {"judge_min_same": 0.3}, {p["id"] for p in own[1::2]}),
                                ("either", {"judge_orders": "either"}, {p["id"] for p in own})):
        (tmp_path / name).mkdir()
        run, _ = judge_run(tmp_path / name, own)
        cfg.write_text(f"backend: api\nendpoint: {{base_url: '{server.url}', max_attempts: 1}}\n"
                       "evolver: {model: judge-model}\n"
                       f"filters: {json.dumps({'near_dup': {'llm_judge': True, **rule}})}\n")
        result = cli("filter", run, "--only", "near_dup", "--config", cfg)
        assert result.exit_code == 0, result.output
        rej = {r["id"]: r for r in rows(run / "filters" / "near_dup" / "rejected_1.jsonl")}
        assert set(rej) == dropped, name
        for r in rej.values():
            shown = "1.00" if name == "either" else "1.00/0.40"  # either: the first order's Same is enough
            assert f"(judge: same task, P(same) {shown}; embedding cosine" in r["reason"]
        stats = json.loads((run / "filters" / "near_dup" / "stats.json").read_text())
        assert stats["rounds"]["1"]["rejected_by_reason"] == ({"judge": len(dropped)} if dropped else {})


def test_the_judges_probability_of_same_is_read_from_its_first_token():
    from wizevol.filters.judge import SameRule, same_probability
    from wizevol.llm.wire import Completion

    def answer(text, top=None):
        return Completion(text, "stop", top_logprobs=None if top is None else tuple(
            (t, __import__("math").log(p)) for t, p in top.items()))

    assert same_probability(None) is None
    assert same_probability(answer("Same")) == 1.0 and same_probability(answer("Different")) == 0.0
    assert same_probability(answer("Maybe")) is None
    assert same_probability(answer("Same", {"Same": 0.7, "Different": 0.2, "The": 0.1})) == round(0.7 / 0.9, 4)
    assert same_probability(answer("Different", {" Same": 0.2, "S": 0.1, "Diff": 0.3, "D": 0.2})) == 0.375
    # under half of the probability on either word: what it wrote counts
    assert same_probability(answer("Same", {"Sure": 0.6, "Same": 0.3, "Different": 0.1})) == 1.0
    both, either = SameRule("both", 0.5), SameRule("either", 0.5)
    assert both.second_needed(0.9) and not both.second_needed(0.2) and not both.second_needed(None)
    assert either.second_needed(0.2) and either.second_needed(None) and not either.second_needed(0.9)
