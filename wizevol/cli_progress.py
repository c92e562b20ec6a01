"""What the CLI shows while work runs: the progress bars of `evolve` (one per round) and of the phases of
filter, eval, ablate and Evol Stop, fed by the core's `on_event` callbacks."""

from __future__ import annotations

import typer


class EvolveProgress:
    """Renders `run_evolve`'s events: one bar per round, notes on stderr."""

    def __init__(self, enabled: bool | None):
        self.disable = None if enabled is None else not enabled  # None: bars only on a terminal
        self.bars: dict = {}

    def __enter__(self) -> EvolveProgress:
        return self

    def __exit__(self, *exc) -> None:
        for bar in self.bars.values():
            bar.close()

    def on_event(self, event: str, **data) -> None:
        from tqdm import tqdm

        if event == "note":
            typer.echo(data["text"], err=True)
        elif event == "rounds":
            for bar in self.bars.values():  # under Evol Stop, one round at a time
                bar.close()
            first = data["first"]
            self.bars = {k: tqdm(total=data["pool"], desc=f"round {k}", unit="rec", position=k - first,
                                 disable=self.disable, dynamic_ncols=True, leave=True)
                         for k in range(first, data["last"] + 1)}
        elif event == "record" and data["round"] in self.bars:
            bar = self.bars[data["round"]]
            bar.update(1)
            bar.set_postfix(data["counts"], refresh=False)
        elif event == "trial":
            typer.echo(trial_line(data), err=True)
        elif event == "evol_stop":
            p, d = data["point"], data["decision"]
            score = (f"pass@1 {p['pass@1']:.3f} [{p['ci95'][0]:.3f}, {p['ci95'][1]:.3f}]" if "pass@1" in p
                     else p.get("skipped", ""))
            typer.echo(f"Evol Stop, rounds 0..{p['round']}: {score} -> {'stop' if d['stop'] else 'go on'}: "
                       f"{d['reason']}", err=True)


def trial_line(data: dict) -> str:
    what = "read back from its cache" if data["cached"] else "fine-tune + eval"
    return f"trial {data['label']}: {what} (trials/{data['key']})"


class PhaseProgress:
    """Renders the events of work done in phases (`run_filters`, `run_eval`): one bar per phase."""

    def __init__(self) -> None:
        self.bar = None

    def __enter__(self) -> PhaseProgress:
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()

    def on_event(self, event: str, **data) -> None:
        from tqdm import tqdm

        if event == "note":
            typer.echo(data["text"], err=True)
        elif event == "phase":
            if self.bar is not None:
                self.bar.close()
            self.bar = tqdm(total=data["total"], initial=data.get("done", 0), desc=data["name"], disable=None)
        elif event == "step" and self.bar is not None:
            self.bar.update(data.get("n", 1))
