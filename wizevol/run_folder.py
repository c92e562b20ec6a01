"""The run folder: atomic files, per-round done-markers, the manifest.

runs/NAME/
  manifest.json          resolved config (no secrets), counts per round and rule, tokens, wall time, versions
  cache.sqlite           content-addressed response cache (resume without paying twice)
  quarantine_seed.jsonl  bad seed lines with reasons (only with --skip-bad)
  round_0.jsonl          the normalized seed
  round_K.jsonl          records kept in round K (the round's dataset)
  eliminated_K.jsonl     evolutions dropped in round K, each with `rule` and `reason`
  failed_K.jsonl         evolutions whose calls failed for good, each with `stage` and `error`
  pool_K.jsonl           what round K+1 evolves: survivors as themselves, parents of failures unchanged
  round_K.done           done-marker with the round's stats; a re-run skips the round
  batches.jsonl          `evolve --batch`: each job logged when created (before any wait) and when it ended
  methods_K.json         strategy auto: the heuristics' texts and weights that served round K, and why
  spool_K.jsonl          round K's outcomes in arrival order while the round runs (removed once it is written)
  spool_K.offsets        where each record's outcome sits in spool_K.jsonl, 8 bytes a record (removed with it)
  filters/<filter>/      rejected_K.jsonl and stats.json (done-marker) of `wizevol filter`; verified: results_K
  filters/clean_K.jsonl  kept records that no enabled filter rejected
  trials/<key>/          one fine-tune + eval (data.jsonl, model/, eval/, trial.json) of Evol Stop or ablate
  evol_stop.json         Evol Stop's curve and decision
  ablation/              `wizevol ablate`: ablation.md, ablation.json, ablation.png
  stats.json, plot_*.png `wizevol stats`; report.html: `wizevol report`
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from wizevol.errors import InputError, WizevolError


def write_atomic(path: Path, text: str) -> None:
    """Write a file so that readers see the old or the new content, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dumps_line(obj: dict[str, Any]) -> str:
    """One JSONL line."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=False) + "\n"


class JsonlWriter:
    """Rows streamed to a temp file beside `path`, which replaces `path` on `commit` (atomically, fsynced)."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        self.f = os.fdopen(fd, "w", encoding="utf-8", newline="\n")

    def write(self, row: dict[str, Any]) -> None:
        self.f.write(dumps_line(row))

    def commit(self) -> None:
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.f.close()
        Path(self.tmp).unlink(missing_ok=True)


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write rows as JSONL, atomically, streaming (the rows are never all in memory)."""
    w = JsonlWriter(path)
    try:
        for r in rows:
            w.write(r)
    except BaseException:
        w.abort()
        raise
    w.commit()


class AppendLog:
    """An append-only JSONL log that a kill may leave with a half-written last line (eval's completions and
    samples, the batch jobs, layer 4's results). Reading it cuts such a line off, so the next append starts on
    a line of its own, and returns the complete rows (the torn row is redone); each append is one line, flushed
    and fsynced, under `lock` when threads share the log."""

    def __init__(self, path: str | Path, lock: threading.Lock | None = None):
        self.path = Path(path)
        self.lock = lock or threading.Lock()

    def rows(self) -> list[dict[str, Any]]:
        with self.lock:
            if not self.path.exists():
                return []
            data = self.path.read_bytes()
            if data and not data.endswith(b"\n"):
                with self.path.open("r+b") as f:
                    f.truncate(data.rfind(b"\n") + 1)
            rows = []
            for line in data.decode("utf-8", "replace").splitlines(keepends=True):
                if line.endswith("\n") and line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError:
                        continue
            return rows

    def append(self, row: dict[str, Any]) -> None:
        line = json.dumps(row, ensure_ascii=False) + "\n"
        with self.lock, self.path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, object) for each non-blank line of a user's JSONL file; bad JSON names file and line."""
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"{path}:{n}: invalid JSON: {e.msg}") from None


def stream_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of a JSONL file written by wizevol, one at a time."""
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def count_rows(path: Path) -> int:
    """The rows of a JSONL file written by wizevol, counted without parsing them."""
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a JSONL file written by wizevol."""
    return list(stream_jsonl(path))


@contextlib.contextmanager
def hold(folder: Path, what: str) -> Iterator[None]:
    """Hold a folder for one process: an exclusive `fcntl` lock on its `.lock`, released when the process ends,
    however it ends. Another process (or another holder in this one) gets one line naming the holder."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+", encoding="utf-8") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise WizevolError(f"{folder} is in use by {holder}; wait for it to end, or stop it") from None
        f.seek(0)
        f.truncate()
        f.write(f"wizevol {what} (pid {os.getpid()})")
        f.flush()
        try:
            yield
        finally:
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)


class RunFolder:
    """Every path and done-marker of one run folder, under one name each."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def prepare(self, fingerprint: str, also: str | None = None) -> None:
        """Create the folder, or check that an existing one was made by the same config. A folder stamped with
        `also` (the same run's fingerprint as an older wizevol computed it) is the same run: it is restamped."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK | os.X_OK):
                raise PermissionError(13, "Permission denied")
        except OSError as e:
            raise WizevolError(f"{self.root}: cannot create the run folder here: {e.strerror or e}") from None
        stamp = self.root / "fingerprint"
        if stamp.exists():
            old = stamp.read_text().strip()
            if also is not None and old == also != fingerprint:
                write_atomic(stamp, fingerprint + "\n")
            elif old != fingerprint:
                raise WizevolError(
                    f"{self.root} holds a run made with a different config or seed (fingerprint {old} != "
                    f"{fingerprint}); choose another --out, or delete the folder to start over")
        else:
            write_atomic(stamp, fingerprint + "\n")

    def lock(self, what: str = "evolve") -> contextlib.AbstractContextManager[None]:
        """Hold the folder for one process (`hold`): a second process working in the same folder would corrupt the
        first's spool and files."""
        return hold(self.root, what)

    def methods(self, k: int) -> Path:
        """strategy auto: the method version (texts, weights, the optimizer's answer) that served round k."""
        return self.root / f"methods_{k}.json"

    def manifest(self) -> Path:
        """The resolved config, counts per round and rule, tokens, versions."""
        return self.root / "manifest.json"

    def cache(self) -> Path:
        """The response cache (SQLite)."""
        return self.root / "cache.sqlite"

    def local_server_log(self) -> Path:
        """The embedded llama.cpp server's output."""
        return self.root / "local_server.log"

    def stats(self) -> Path:
        """`wizevol stats` output; its plots are plot_*.png beside it."""
        return self.root / "stats.json"

    def report(self) -> Path:
        """`wizevol report`: one self-contained page of the run."""
        return self.root / "report.html"

    def plot(self, name: str) -> Path:
        """A plot of `wizevol stats`."""
        return self.root / f"plot_{name}.png"

    def completions(self) -> Path:
        """`wizevol eval`: each generated completion, raw and extracted, appended as it comes."""
        return self.root / "completions.jsonl"

    def samples(self) -> Path:
        """`wizevol eval`: each completion's result (passed / failed / timed out, with the error)."""
        return self.root / "samples.jsonl"

    def eval_report(self) -> Path:
        """`wizevol eval`: model, benchmark, settings, counts, pass@k with its interval, versions."""
        return self.root / "eval.json"

    def evol_stop(self) -> Path:
        """Evol Stop's curve (pass@1 on the dev set after rounds 0..k), decision and reason."""
        return self.root / "evol_stop.json"

    def trial(self, key: str) -> Path:
        """One fine-tune + eval, cached by (data, fine-tune config, eval settings): Evol Stop and ablate share it."""
        return self.root / "trials" / key

    def batches(self) -> Path:
        """Batch jobs of `evolve --batch`: one line when a job is created, one when it ends."""
        return self.root / "batches.jsonl"

    def quarantine(self) -> Path:
        """Bad seed lines with reasons (--skip-bad)."""
        return self.root / "quarantine_seed.jsonl"

    def kept(self, k: int) -> Path:
        """Round k's dataset: the records kept in round k (round 0: the seed)."""
        return self.root / f"round_{k}.jsonl"

    def eliminated(self, k: int) -> Path:
        """Round k's evolutions dropped by a rule, with rule, reason and stage."""
        return self.root / f"eliminated_{k}.jsonl"

    def failed(self, k: int) -> Path:
        """Round k's evolutions whose calls failed for good, with stage and error."""
        return self.root / f"failed_{k}.jsonl"

    def pool(self, k: int) -> Path:
        """What round k+1 evolves (round 0: the seed)."""
        return self.kept(0) if k == 0 else self.root / f"pool_{k}.jsonl"

    def filter_rejected(self, name: str, k: int) -> Path:
        """The records of round k that a filter rejected."""
        return self.root / "filters" / name / f"rejected_{k}.jsonl"

    def filter_results(self, name: str, k: int) -> Path:
        """A filter's row for every record of round k it checked (verified: passed, pass rate, difficulty)."""
        return self.root / "filters" / name / f"results_{k}.jsonl"

    def filter_stats(self, name: str) -> Path:
        """A filter's counts per round; also its done-marker."""
        return self.root / "filters" / name / "stats.json"

    def clean(self, k: int) -> Path:
        """Round k's kept records that no enabled filter rejected (`merge --clean`)."""
        return self.root / "filters" / f"clean_{k}.jsonl"

    def clean_stamp(self) -> Path:
        """Which filters the clean files come from, and each one's stamp when they were written."""
        return self.root / "filters" / "clean.json"

    def done_marker(self, k: int) -> Path:
        """Round k's done-marker, holding its stats."""
        return self.root / f"round_{k}.done"

    def finished_rounds(self) -> list[int]:
        """The rounds with a done-marker, in order."""
        return sorted(int(p.name.split("_")[1].split(".")[0]) for p in self.root.glob("round_*.done"))

    def read_done(self, k: int) -> dict[str, Any] | None:
        """Round k's stats from its done-marker, or None when the round is not done."""
        marker = self.done_marker(k)
        if not marker.exists():
            return None
        return json.loads(marker.read_text(encoding="utf-8"))

    def mark_done(self, k: int, stats: dict[str, Any]) -> None:
        """Write round k's done-marker (after its files)."""
        write_atomic(self.done_marker(k), json.dumps(stats, indent=2, sort_keys=True) + "\n")

    def write_report(self, path: Path, report: dict[str, Any]) -> None:
        """Write a JSON report (eval.json) atomically."""
        write_atomic(path, json.dumps(report, indent=2, ensure_ascii=False) + "\n")

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Write manifest.json atomically."""
        write_atomic(self.manifest(), json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
