"""The thin CLI layer: parse options, build the config, call the core, turn errors into one line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wizevol.cli_errors import one_line_errors
from wizevol.cli_progress import EvolveProgress, PhaseProgress, trial_line

app = typer.Typer(
    name="wizevol",
    help="Code Evol-Instruct (the WizardCoder recipe) over any OpenAI-compatible endpoint.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)




@app.command()
@one_line_errors
def evolve(
    seed: Annotated[str, typer.Option(help="Seed: JSONL/JSON/parquet/CSV path, or a dataset name.")] = "data/seed_20.jsonl",
    out: Annotated[Path, typer.Option(help="Run folder (created; an existing one is resumed).")] = Path("runs/default"),
    rounds: Annotated[int | None, typer.Option(help="Evolution rounds.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config; flags override it.")] = None,
    backend: Annotated[str | None, typer.Option(help="local (embedded llama.cpp model) or api.")] = None,
    model: Annotated[str | None, typer.Option(help="Evolver model (responder and judge inherit it).")] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible base URL (implies --backend api).")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Calls in flight at once.")] = None,
    limit: Annotated[int | None, typer.Option(help="Use only the first N seed records.")] = None,
    seed_rng: Annotated[int | None, typer.Option(help="Seed for the heuristic choice.")] = None,
    instruction_field: Annotated[str | None, typer.Option(help="Seed column holding the instruction.")] = None,
    input_field: Annotated[str | None, typer.Option(help="Seed column holding the input.")] = None,
    output_field: Annotated[str | None, typer.Option(help="Seed column holding the output.")] = None,
    skip_bad: Annotated[bool | None, typer.Option("--skip-bad", help="Quarantine bad seed lines.")] = None,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress", help="Progress bars.")] = None,
    evol_stop: Annotated[Path | None, typer.Option(
        "--evol-stop", help="Evol Stop YAML (configs/evol_stop.yaml): after each round, fine-tune on rounds 0..k, "
                            "eval on a dev set, stop when pass@1 stops rising.")] = None,
    shard: Annotated[str | None, typer.Option(help="I/N: evolve only the I-th of N contiguous slices of the seed "
                                                     "(0-based) in its own run folder; `wizevol merge` joins them.")] = None,
    ray: Annotated[bool, typer.Option("--ray", help="Run --shards N shards as Ray tasks on the cluster ray.init() "
                                                    "reaches (RAY_ADDRESS, else a local one), into OUT/shard-I-of-N.")] = False,
    shards: Annotated[int | None, typer.Option(help="With --ray: how many shards.")] = None,
    batch: Annotated[bool | None, typer.Option("--batch", help="Send each stage of a round as one provider batch job "
                                                               "(half price, hours); resumable.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Estimate calls, tokens and cost per round and role; "
                                                             "make no call, write nothing.")] = False,
    strategy: Annotated[str | None, typer.Option(help="paper (the five fixed heuristics), auto (an optimizer rewrites "
                                                      "them after each round) or tree (scored candidates per parent, "
                                                      "the best goes on).")] = None,
) -> None:
    """Evolve a seed dataset for N rounds; every record ends up kept, eliminated (with its reason) or failed."""
    from wizevol.config_file import load_config, load_section
    from wizevol.config_filters import EvolStopConfig
    from wizevol.evolve.run import dry_run as estimate_run
    from wizevol.evolve.run import estimate_table
    from wizevol.loop.evol_stop import evolve_or_stop

    if base_url is not None and backend is None:
        backend = "api"
    overrides = {
        "backend": backend, "rounds": rounds, "evolver.model": model, "endpoint.base_url": base_url, "concurrency": concurrency,
        "limit": limit, "seed_rng": seed_rng, "seed.instruction_field": instruction_field,
        "seed.input_field": input_field, "seed.output_field": output_field, "seed.skip_bad": skip_bad,
        "batch.enabled": batch, "shard": shard, "strategy": strategy,
    }
    cfg = load_config(config, overrides)
    if evol_stop is not None:
        cfg = cfg.model_copy(update={"evol_stop": load_section(EvolStopConfig, evol_stop, {}, "evol_stop")})
    if ray or shards is not None:
        from wizevol.errors import InputError
        from wizevol.evolve.shards import run_on_ray

        if not (ray and shards):
            raise InputError("--ray and --shards N go together")
        results = run_on_ray(seed, out, cfg, shards, notify=typer.echo, run=evolve_or_stop)
        for r in results:
            kept = "/".join(str(s["kept"]) for s in r["rounds"][1:])
            typer.echo(f"{r['out']}: kept per round {kept or '-'} (new calls: {r['calls_made']})")
        typer.echo(f"join them: wizevol merge {out}/shard-*-of-{shards}")
        return
    if dry_run:
        est = estimate_run(seed, str(out), cfg)
        typer.echo(estimate_table(est))
        typer.echo(f"estimate, no call made: {est['how']}")
        return
    with EvolveProgress(progress) as bars:
        manifest = evolve_or_stop(seed, str(out), cfg, on_event=bars.on_event)
    _show_run(manifest, out)


def _show_run(manifest: dict, out: Path) -> None:
    """What `wizevol evolve` prints of a finished run: the rounds, strategy notes, the bill, Evol Stop."""
    from wizevol.evolve.run import summary_table

    typer.echo(summary_table(manifest["rounds"]))
    for r in manifest["rounds"]:
        if r.get("siblings"):
            typer.echo(f"round {r['round']}: tree's other candidates: "
                       + ", ".join(f"{why} {n}" for why, n in r["siblings"].items()))
        if r.get("method_version"):
            typer.echo(f"round {r['round']}: methods from {out / r['method_version']['file']}")
    typer.echo(f"run folder: {out}  (new calls: {manifest['calls_made']}, wall: {manifest['wall_s']:.1f}s)")
    if manifest.get("cost", {}).get("rounds"):
        c = manifest["cost"]
        typer.echo(f"cost of rounds {c['rounds'][0]}-{c['rounds'][-1]}: ${c['bill_usd']:.4f} (estimated "
                   f"${c['estimate_usd']:.4f}); calls {c['answered_calls']} (estimated {c['estimate_calls']}); "
                   f"prices: {', '.join(f'{r} {p}' for r, p in c['prices'].items())}")
    if "evol_stop" in manifest:
        d = manifest["evol_stop"]["decision"]
        use = f"; train on `wizevol merge {out} --rounds {d['merge']}`" if d["merge"] else ""
        typer.echo(f"Evol Stop: {d['reason']}{use} -> {out}/evol_stop.json")


@app.command()
@one_line_errors
def merge(
    run: Annotated[list[Path], typer.Argument(help="Run folder made by `wizevol evolve`, or every shard folder of one "
                                                   "sharded run (--shard I/N), in any order.")],
    out: Annotated[Path, typer.Option(help="Output file (.jsonl, or .parquet).")] = Path("merged.jsonl"),
    rounds: Annotated[str | None, typer.Option(help="Rounds: a range (0-3) or a list (0,2,3); default all.")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="alpaca | prompt-completion | messages")] = (
        "prompt-completion"),
    seed: Annotated[int, typer.Option(help="Shuffle seed.")] = 42,
    parquet: Annotated[bool, typer.Option("--parquet", help="Also write FILE.parquet.")] = False,
    hf_dataset: Annotated[Path | None, typer.Option(help="Also save an HF datasets folder here.")] = None,
    push_to_hub: Annotated[str | None, typer.Option(help="Push to this Hub repo (token: HF_TOKEN).")] = None,
    clean: Annotated[bool, typer.Option("--clean", help="Use filters/clean_K.jsonl (after `wizevol filter`).")] = False,
    min_pass_rate: Annotated[float | None, typer.Option(
        help="Keep records whose answers passed their tests at least this often (after the verified filter).")] = None,
    unverified: Annotated[str, typer.Option(
        help="With --min-pass-rate, records the verified filter could not verify (no Python, no usable tests, a "
             "failed call): drop or keep.")] = "drop",
) -> None:
    """Join rounds of a run into one training set: dedup, seeded shuffle, lineage in `metadata`."""
    from wizevol.train.merge import merge as do_merge

    report = do_merge(run if len(run) > 1 else run[0], rounds, out, format, seed, parquet, hf_dataset, push_to_hub,
                      clean, min_pass_rate, unverified)
    typer.echo(report.table())
    typer.echo(f"wrote {out} ({format})")


@app.command()
@one_line_errors
def finetune(
    data: Annotated[Path, typer.Argument(help="Merged data (.jsonl/.parquet or a datasets folder).")],
    out: Annotated[Path, typer.Option(help="Output folder for the model and train_summary.json.")] = Path(
        "runs/finetune"),
    model: Annotated[str | None, typer.Option(help="HF id, local folder, or local:gemma3-270m.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML (configs/finetune/).")] = None,
    lora: Annotated[bool | None, typer.Option("--lora/--full", help="LoRA adapters (peft) or full weights.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after N optimizer steps.")] = None,
    packing: Annotated[bool | None, typer.Option("--packing/--no-packing", help="Pack samples.")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="Peak learning rate.")] = None,
    effective_batch_size: Annotated[int | None, typer.Option(help="Batch per optimizer step, all GPUs.")] = None,
    per_device_batch_size: Annotated[int | None, typer.Option(help="Micro-batch per device.")] = None,
) -> None:
    """Fine-tune a code model on merged data with the WizardCoder recipe (TRL SFT, loss on the response)."""
    from wizevol.train.finetune import load_finetune_config, run_finetune

    cfg = load_finetune_config(config, {
        "model": model, "lora": lora, "sft.max_steps": max_steps, "sft.packing": packing,
        "sft.learning_rate": learning_rate, "effective_batch_size": effective_batch_size,
        "sft.per_device_train_batch_size": per_device_batch_size})
    summary = run_finetune(data, out, cfg)
    for s in summary["samples"]:
        typer.echo(f"--- held-back instruction ---\n{s['prompt']}\n--- before ---\n{s['before']}\n"
                   f"--- after ---\n{s['after']}")
    typer.echo(f"steps {summary['steps']}  loss {summary['first_loss']:.4f} -> {summary['final_loss']:.4f}  "
               f"{summary['tokens_per_s']} tokens/s  {summary['wall_s']}s  -> {out}")


@app.command("filter")
@one_line_errors
def filter_(
    run: Annotated[Path, typer.Argument(help="Run folder made by `wizevol evolve`.")],
    only: Annotated[str | None, typer.Option(help="Run one filter: near_dup, contamination, code_check or verified.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML with a `filters:` section.")] = None,
) -> None:
    """Filters over a finished run: near-duplicates, benchmark contamination, code checks."""
    from wizevol.cli_filter import filter_lines
    from wizevol.filters import run_filters

    with PhaseProgress() as bars:
        results, clean = run_filters(run, only, config, on_event=bars.on_event)
    for name, stats in results.items():
        for line in filter_lines(name, stats, run):
            typer.echo(line)
    if clean:
        typer.echo("clean records per round: " + ", ".join(f"{k}: {n}" for k, n in clean.items()))


@app.command("eval")
@one_line_errors
def eval_(
    model: Annotated[str, typer.Argument(help="A `wizevol finetune` folder, local:NAME (qwen2.5-coder-1.5b, "
                                              "qwen2.5-coder-0.5b, gemma3-270m, or a .gguf path), or a served "
                                              "model name with --base-url.")],
    benchmark: Annotated[str, typer.Option(help="humaneval, or a JSONL with task_id/prompt/test/entry_point.")] = (
        "humaneval"),
    limit: Annotated[int | None, typer.Option(help="Only the first N problems.")] = None,
    n_samples: Annotated[int, typer.Option(help="Samples per problem (pass@k for k <= N).")] = 1,
    temperature: Annotated[float, typer.Option(help="0: greedy.")] = 0.0,
    max_new_tokens: Annotated[int, typer.Option(help="Tokens per completion.")] = 512,
    prompt: Annotated[str | None, typer.Option(
        help="wizardcoder (Alpaca eval prompt), raw (HumanEval prompt, completion mode) or instruct (EvalPlus's "
             "chat instruction). Default: instruct in chat mode, else wizardcoder.")] = None,
    mode: Annotated[str | None, typer.Option(
        help="Served models: completion or chat. Default: chat for an instruct local model (local:qwen2.5-coder-*), "
             "else completion.")] = None,
    concurrency: Annotated[int | None, typer.Option(
        help="Served models: generation calls in flight (default: the config's; 2 against a URL on this "
             "machine).")] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible URL serving MODEL.")] = None,
    out: Annotated[Path, typer.Option(help="Eval folder (an existing one with the same settings resumes).")] = Path(
        "runs/eval"),
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Run config (endpoint, local model).")] = None,
    workers: Annotated[int | None, typer.Option(help="Sandboxed programs at once (default: cores).")] = None,
    batch_size: Annotated[int, typer.Option(help="Model folders: prompts per generate() call.")] = 8,
    allow_weak_sandbox: Annotated[bool, typer.Option(
        "--allow-weak-sandbox", help="Run completions even where the sandbox has no OS isolation.")] = False,
    sandbox_image: Annotated[str | None, typer.Option(
        help="Run completions in docker containers of this image (pulled already, with python3).")] = None,
) -> None:
    """pass@k of a model on HumanEval (or a benchmark in its shape), with a 95% interval."""
    from wizevol.eval import EvalSettings, run_eval

    settings = EvalSettings(benchmark, limit, n_samples, temperature, max_new_tokens, prompt, mode)
    with PhaseProgress() as bars:
        report = run_eval(model, out, settings, base_url, config, workers, batch_size, on_event=bars.on_event,
                          allow_weak_sandbox=allow_weak_sandbox, sandbox_image=sandbox_image,
                          concurrency=concurrency)
    scores = "  ".join(f"{k} {v['score']:.3f} [{v['ci95'][0]:.3f}, {v['ci95'][1]:.3f}]"
                       for k, v in report.items() if k.startswith("pass@"))
    counts = ", ".join(f"{n} {k}" for k, n in report["counts"].items())
    typer.echo(f"{model} on {report['benchmark']} ({report['problems']} problems, {report['samples']} samples: "
               f"{counts}): {scores}  -> {out}/eval.json")


@app.command()
@one_line_errors
def ablate(
    run: Annotated[Path, typer.Argument(help="Run folder made by `wizevol evolve`.")],
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Trial YAML (configs/ablate/).")] = None,
    rounds: Annotated[str | None, typer.Option(help="Rounds: a range (0-3) or a list; default all finished.")] = None,
    rows: Annotated[str, typer.Option(help="Rows: base, cumulative, samples, tokens (comma-separated).")] = (
        "base,cumulative,samples,tokens"),
    clean: Annotated[bool, typer.Option("--clean", help="Use filters/clean_K.jsonl (after `wizevol filter`).")] = False,
    out: Annotated[Path | None, typer.Option(help="Output folder (default RUN/ablation).")] = None,
    finetune_config: Annotated[str | None, typer.Option(help="configs/finetune/ YAML for every row.")] = None,
    benchmark: Annotated[str | None, typer.Option(help="humaneval, wizevol-dev, or a JSONL in their shape.")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N problems.")] = None,
    max_new_tokens: Annotated[int | None, typer.Option(help="Tokens per completion.")] = None,
) -> None:
    """The paper's round analysis: cumulative merges (Figure 3) and each round alone, matched by samples and by
    tokens (Table 4), each fine-tuned from the same base and evaluated; cached cell by cell."""
    from wizevol.config_file import load_section
    from wizevol.config_filters import TrialConfig
    from wizevol.loop.ablation import run_ablation, table

    cfg = load_section(TrialConfig, config, {"finetune_config": finetune_config, "benchmark": benchmark,
                                             "limit": limit, "max_new_tokens": max_new_tokens})
    kinds = tuple(k.strip() for k in rows.split(",") if k.strip())

    def on_event(event: str, **data) -> None:
        if event == "trial":
            typer.echo(trial_line(data), err=True)
        else:
            bars.on_event(event, **data)

    with PhaseProgress() as bars:
        report = run_ablation(run, cfg, rounds, out, clean, kinds, on_event)
    typer.echo(table(report))
    where = Path(report["plot"]).parent
    typer.echo(f"{len(report['rows'])} rows ({report['trained']} trained now, the rest read back) on "
               f"{report['benchmark']} ({report['problems']} problems) -> {where}/ablation.md, ablation.png")


@app.command()
@one_line_errors
def stats(
    run: Annotated[Path, typer.Argument(help="Run folder made by `wizevol evolve`.")],
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Write PNG plots into the run folder.")] = True,
    similarity: Annotated[str, typer.Option(help="embedding (MiniLM cosine, as the paper) or ngram.")] = "embedding",
    complexity: Annotated[bool, typer.Option("--complexity", help="The judge role rates each instruction 1-9, "
                                                                  "measured by its first token's probabilities (calls "
                                                                  "the run's endpoint or local model).")] = False,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Run config (default: the run's own).")] = None,
) -> None:
    """Per-round figures (paper §5): counts, lengths, method mix, HumanEval similarity, complexity, tokens."""
    from wizevol.stats import run_stats, table

    result = run_stats(str(run), plots, similarity, complexity, config, lambda text: typer.echo(text, err=True))
    typer.echo(table(result))
    typer.echo(f"wrote {run}/stats.json" + (f" and {len(result.get('plots', []))} plots" if plots else ""))


@app.command()
@one_line_errors
def report(
    run: Annotated[Path, typer.Argument(help="Run folder made by `wizevol evolve`.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="The page (default: RUN/report.html).")] = None,
    lineages: Annotated[int, typer.Option(help="Lineages the page holds at most (fewer where they would pass "
                                                "--lineage-mb); any other is read from the run's files.")] = 2000,
    lineage_mb: Annotated[float, typer.Option(help="MB the lineage sample may take, packed.")] = 3.0,
) -> None:
    """One self-contained HTML page of a run: rounds, plots, lineages, rejects, filters, manifest. No network."""
    from wizevol.report import build_report

    made = build_report(run, out, lineages, int(lineage_mb * 1e6), notify=lambda text: typer.echo(text, err=True))
    typer.echo(f"wrote {made['path']} ({made['bytes'] / 1e6:.2f} MB): {made['lineages']}; {made['rejects']}; "
               f"plots: {', '.join(made['plots']) or 'none'}")


@app.command()
@one_line_errors
def compare(
    runs: Annotated[list[Path], typer.Argument(help="Two or more run folders evolved from the same seed.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where compare.json, compare.md and compare.png go.")] = Path(
        "compare"),
    complexity: Annotated[bool, typer.Option("--complexity/--no-complexity", help="The judge rates every kept "
                                                                                 "instruction 1-9.")] = True,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="The judge's config (default: the first "
                                                                       "run's own).")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Spend what the complexity ratings cost, above $0.10.")] = False,
) -> None:
    """Runs compared per round: complexity, verified pass rate, diversity, eliminations, calls, tokens, dev pass@1."""
    from wizevol.loop.compare import compare_runs, table

    report = compare_runs([str(r) for r in runs], out, complexity, config, lambda text: typer.echo(text, err=True),
                          yes)
    typer.echo(table(report))
    typer.echo(f"wrote {out}/compare.md, compare.json and compare.png")


@app.command()
@one_line_errors
def serve(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config (its `local:` section).")] = None,
    model: Annotated[str | None, typer.Option(help="Packaged model name or a .gguf path.")] = None,
    port: Annotated[int | None, typer.Option(help="Port on 127.0.0.1 (default: a free one).")] = None,
    n_ctx: Annotated[int | None, typer.Option(help="Context size.")] = None,
    n_threads: Annotated[int | None, typer.Option(help="Threads (default: all cores).")] = None,
) -> None:
    """Run the embedded local model as an OpenAI-compatible server until Ctrl-C, for other tools."""
    import time

    from wizevol.config_file import load_config
    from wizevol.errors import WizevolError
    from wizevol.llm.local_server import LocalServer, sigterm_as_interrupt

    cfg = load_config(config, {"local.model": model, "local.n_ctx": n_ctx, "local.n_threads": n_threads}).local
    server = LocalServer.from_config(cfg, port=port)
    with sigterm_as_interrupt(), server:
        typer.echo(f"serving {server.alias} at {server.url} ({server.n_threads} threads; Ctrl-C to stop)")
        try:
            while server.proc is not None and server.proc.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            typer.echo("stopped", err=True)
            return
        raise WizevolError(f"the local model server exited with code {server.proc.returncode} (log: {server.log_path})")


@app.callback()
def _root() -> None:
    """wizevol: build code-instruction data with Code Evol-Instruct."""


def main() -> None:
    """The `wizevol` console script."""
    app(prog_name="wizevol")
