"""The config sections of what runs over a finished run: the filters, the sandbox, trials and Evol Stop."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from wizevol.config_base import Strict as _Strict


class NearDupConfig(_Strict):
    """Settings of the near_dup filter."""

    enabled: bool = True
    num_perm: int = Field(128, ge=16)
    threshold: float = Field(0.8, gt=0, le=1)
    ngram: int = Field(5, ge=1)
    embedding_threshold: float | None = Field(None, gt=0, le=1, description="opt-in: MiniLM cosine for short texts")
    short_words: int = Field(40, ge=1, description="instructions up to this many words get the embedding check")
    llm_judge: bool | None = Field(None, description="the judge role decides each short pair at judge_threshold "
                                   "(near_dup_judge.yaml); unset: on where the judge is an instruct model in chat")
    judge_threshold: float = Field(0.7, gt=0, le=1, description="MiniLM cosine of the pairs the judge is asked about")
    judge_top_k: int = Field(3, ge=1, description="the judge is asked about at most this many kept texts a record")
    contrasts: bool = Field(True, description="two records in other programming languages, or one with an input and "
                                               "one without, are never duplicates (filters/task_contrast.py)")
    judge_orders: Literal["both", "either"] = Field(
        "both", description="a pair is the same task when P(Same) >= judge_min_same in both orders (or either)")
    judge_min_same: float = Field(0.5, gt=0, le=1, description="the judge's P(Same) for one order, from its first "
                                                                "token's probabilities (else what it wrote: 1 or 0)")


class ContaminationConfig(_Strict):
    """Settings of the contamination filter: benchmarks and the three layers."""

    enabled: bool = True
    humaneval: bool = True
    benchmarks: list[dict[str, Any]] = Field(default_factory=list, description="[{name, path, fields, id_field}]")
    ngram: int = Field(10, ge=3)
    coverage: float = Field(0.5, gt=0, le=1)
    embedding: bool = True  # layer 3: all-MiniLM-L6-v2 cosine similarity (offline package); on by default
    embedding_threshold: float = Field(0.88, gt=0, le=1)
    top_k: int = Field(5, ge=0, description="each benchmark problem's nearest records that become candidates; "
                                             "0: every record at or above the threshold")
    shortlist: int = Field(32, ge=0, description="in a run of more than shortlist x problems records, MiniLM "
                                                 "encodes only each problem's shortlist nearest records by a "
                                                 "static embedding (0: encode every record)")
    # unset (auto), llm_judge and translate are on where the judge is an instruct model asked in chat
    llm_judge: bool | None = None  # the judge decides each embedding candidate at judge_threshold
    judge_threshold: float = Field(0.7, gt=0, le=1, description="with the judge on: MiniLM cosine of its candidates")
    judge_orders: Literal["both", "either"] = Field(
        "either", description="layer 3: a candidate is the problem's task when P(Same) >= judge_min_same in either "
                              "order (or both)")
    judge_min_same: float = Field(0.5, gt=0, le=1, description="the judge's P(Same) for one order")
    translate: bool | None = None  # code in other languages into Python (layer 4), instructions into English (3)
    execution: bool | Literal["auto"] = Field(
        "auto", description="layer 4: run each Python response against HumanEval's tests in the sandbox; auto: "
                            "where the sandbox isolates the code (else skipped, with a note)")
    allow_weak_sandbox: bool = False  # execution where only rlimits and the audit hook hold (no OS isolation)
    check_s: float = Field(0.25, gt=0, description="seconds one benchmark check may take (at least; a problem whose "
                                                   "own check is slow gets 20x its time)")
    min_agreement: float = Field(0.8, ge=0, le=1, description="share of mutated inputs on which a function that "
                                                               "passes the tests must answer as the canonical solution")
    # layer 4's second signal: a response that passes a problem's tests drops its record only where the instruction
    # is that problem's task too (a function can compute what a problem computes under an unrelated task)
    execution_min_same: float | None = Field(
        0.45, gt=0, le=1, description="with the judge on: its P(Same) of the problem and the instruction, in either "
                                     "order, that confirms a layer-4 hit (null: the judge does not confirm)")
    contradict_below: float | None = Field(
        0.5, ge=0, le=1, description="with layer 4 on: a layer-3 match is kept where the response's best function "
                                     "fails the problem's tests and answers as its canonical solution on fewer than "
                                     "this share of inputs near them, or no function of it takes the problem's "
                                     "arguments (null: execution does not overrule layer 3)")
    execution_min_cosine: float | None = Field(
        0.6, gt=0, le=1, description="with the judge on: MiniLM cosine of the problem and the instruction that "
                                     "confirms a layer-4 hit too (null: it does not); with the judge off, a hit "
                                     "stands alone")


class CodeCheckConfig(_Strict):
    """Settings of the code_check filter and its sandbox limits."""

    enabled: bool = True
    execute: bool = False  # code_exec: run the Python in the sandbox
    allow_weak_sandbox: bool = False  # run even where only rlimits and the audit hook hold (no OS isolation)
    languages: bool = True  # JavaScript, Bash, C, C++: their own syntax check where the tool is installed
    cpu_s: int = Field(5, ge=1)
    wall_s: float = Field(10.0, gt=0)
    memory_mb: int = Field(512, ge=64)


class VerifiedConfig(_Strict):
    """Settings of the verified filter: tests by the tester (the responder's endpoint), run in the sandbox."""

    enabled: bool = False  # opt-in: it calls the tester's endpoint for every record with code
    samples: int = Field(1, ge=1, description="answers per record, n (1: its own; more: n-1 new ones from the "
                                              "responder); the answer kept is chosen among them by agreement")
    tests: int = Field(1, ge=1, description="test sets per record, m, each written by the tester")
    min_agreement: float = Field(0.0, ge=0, le=1, description="the winning group's score over n*m below which a "
                                 "record is weak (no answer passing any test is always weak)")
    weak: Literal["drop", "mark"] = Field("drop", description="a weak record: dropped with its reason, or kept "
                                                              "and marked (passed: false)")
    cpu_s: int = Field(5, ge=1)
    wall_s: float = Field(10.0, gt=0)
    memory_mb: int = Field(512, ge=64)
    allow_weak_sandbox: bool = False


class FiltersConfig(_Strict):
    """Filters over a finished run (config `filters:`): `wizevol filter RUN [--only NAME]`."""

    near_dup: NearDupConfig = NearDupConfig()
    contamination: ContaminationConfig = ContaminationConfig()
    code_check: CodeCheckConfig = CodeCheckConfig()
    verified: VerifiedConfig = VerifiedConfig()
    judge_logprobs: bool = Field(True, description="ask the judge for its verdict's first-token probabilities "
                                                   "(P(Same)); false for an endpoint that refuses logprobs")
    embedding_device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="where MiniLM encodes (contamination layer 3, near_dup's embedding check); "
                            "auto: the GPU when torch sees one")


class SandboxConfig(_Strict):
    """Where generated Python runs (filters' execution, verified, code_check's execute)."""

    backend: Literal["local", "docker"] = "local"  # local: a subprocess under the OS layers that hold here
    image: str = Field("python:3.12-slim", description="docker: an image already pulled, with python3")


class TrialConfig(_Strict):
    """How a trial fine-tunes and evaluates (`wizevol ablate --config`; the base of `evol_stop:`)."""

    finetune_config: str | None = Field("configs/finetune/demo-cpu.yaml",
                                        description="a configs/finetune/ YAML; null: the WizardCoder recipe")
    finetune: dict[str, Any] = Field(default_factory=dict, description="keys over it (sft.x for its sft: block)")
    benchmark: str = "humaneval"
    limit: int | None = Field(None, ge=1, description="only the first N problems (a fixed subset)")
    n_samples: int = Field(1, ge=1)
    temperature: float = Field(0.0, ge=0)
    max_new_tokens: int = Field(512, ge=1)
    prompt: Literal["wizardcoder", "raw"] = "wizardcoder"
    batch_size: int = Field(8, ge=1, description="prompts per generate() call")
    allow_weak_sandbox: bool = Field(False, description="evaluate even where the sandbox has no OS isolation")


class EvolStopConfig(TrialConfig):
    """Evol Stop (config `evol_stop:` or `evolve --evol-stop FILE`): after each round k, fine-tune on rounds 0..k
    and stop evolving once pass@1 on the dev set has not risen by more than `margin` for `patience` rounds."""

    benchmark: str = "wizevol-dev"
    margin: float = Field(0.0, ge=0, description="a rise must exceed this to count")
    patience: int = Field(1, ge=1, description="rounds without a rise before the stop")

    @field_validator("benchmark")
    @classmethod
    def _not_the_test_set(cls, v: str) -> str:
        if v.lower() == "humaneval":
            raise ValueError("Evol Stop decides on a dev set, never on the test benchmark: use wizevol-dev or a "
                             "JSONL of your own")
        return v
