"""The domain's `Parser` port: each document is parsed and chunked by a process of its own,
in a sandbox (`sandbox.py`), that sees that one document and nothing else and exits after
it. A time-out, a crash or an exhausted limit ends that process and fails that document
only; the other parses go on.

One process per slot (`workers` slots) is started ahead of its document, so the start-up
(bubblewrap, Python, the parsing code) is not waited for; the document's format loads its
own library once the document is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time

from sentra_ingestion.adapters.parse_worker import READY
from sentra_ingestion.adapters.sandbox import ParserSandbox
from sentra_ingestion.domain.parsing import ChunkDraft, ChunkingPolicy, ParseError, ParseLimits
from sentra_ingestion.domain.ports import ParseOutcome

logger = logging.getLogger(__name__)

STDERR_KEPT = 8 * 1024
MAX_REASON_CHARS = 2000


class SandboxUnavailable(RuntimeError):
    """A parser process could not start: the machine's fault, not the document's."""


class _OutputTooLarge(Exception):
    pass


class _Process:
    def __init__(self, slot: int, proc: asyncio.subprocess.Process) -> None:
        self.slot = slot
        self.proc = proc
        self.ready = False
        self.stderr = bytearray()
        self._stderr_task = asyncio.create_task(self._drain_stderr())

    async def _drain_stderr(self) -> None:
        # Kept for the operator's log at DEBUG only: it may quote the document.
        while piece := await self.proc.stderr.read(4096):
            self.stderr = (self.stderr + piece)[-STDERR_KEPT:]

    def kill(self) -> None:
        if self.proc.returncode is None:
            # Its own process group: a plain child's children go too; bubblewrap's sandbox
            # dies with it (--die-with-parent takes its PID namespace down).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    async def finish(self) -> int:
        returncode = await self.proc.wait()
        if not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._stderr_task, 5)
        return returncode

    def stderr_text(self) -> str:
        return bytes(self.stderr).decode("utf-8", "replace")


class ParserPool:
    def __init__(self, workers: int, timeout_seconds: float, sandbox: ParserSandbox, max_output_bytes: int) -> None:
        self.workers = workers
        self.timeout_seconds = timeout_seconds
        self.sandbox = sandbox
        self.max_output_bytes = max_output_bytes
        self._ready: asyncio.Queue[_Process] = asyncio.Queue()
        self._running: set[_Process] = set()
        self._spawning: set[asyncio.Task] = set()
        self._closed = False

    async def start(self) -> None:
        """Start one parser process per slot and wait until each is ready; raises
        SandboxUnavailable (with bubblewrap's or Python's own words) when they cannot start."""
        problem = self.sandbox.problem()
        if problem:
            raise SandboxUnavailable(problem)
        for slot in range(self.workers):
            process = await self._spawn(slot)
            await self._wait_ready(process)
            self._ready.put_nowait(process)

    async def _spawn(self, slot: int) -> _Process:
        proc = await asyncio.create_subprocess_exec(
            *self.sandbox.command(slot), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env={}, start_new_session=True, limit=64 * 1024,
        )
        process = _Process(slot, proc)
        self._running.add(process)
        return process

    async def _wait_ready(self, process: _Process) -> None:
        if process.ready:
            return
        try:
            line = await asyncio.wait_for(process.proc.stdout.readline(), max(self.timeout_seconds, 60))
        except (TimeoutError, ValueError):
            line = b""
        process.ready = line == READY
        if not process.ready:
            process.kill()
            await process.finish()
            self._running.discard(process)
            raise SandboxUnavailable(
                f"a parser process ({self.sandbox.mode} sandbox) did not start: "
                f"{process.stderr_text().strip()[-2000:] or 'no output'}"
            )

    async def _take(self) -> _Process:
        """A ready process of a free slot (a fresh one if the one waiting has gone)."""
        process = await self._ready.get()
        if process.proc.returncode is not None:
            await process.finish()
            self._running.discard(process)
            process = await self._spawn(process.slot)
        try:
            await self._wait_ready(process)
        except SandboxUnavailable:
            self._replace(process.slot)
            raise
        return process

    def _replace(self, slot: int) -> None:
        """Start the slot's next process ahead of its document (in the background)."""
        if self._closed:
            return

        async def spawn() -> None:
            try:
                process = await self._spawn(slot)
            except OSError:
                logger.exception("cannot start a parser process; trying again in 1 s")
                await asyncio.sleep(1)
                return self._replace(slot)
            self._ready.put_nowait(process)

        task = asyncio.get_running_loop().create_task(spawn())
        self._spawning.add(task)
        task.add_done_callback(self._spawning.discard)

    async def parse(self, data: bytes, filename: str, limits: ParseLimits, chunking: ChunkingPolicy) -> ParseOutcome:
        """Parse and chunk; raises ParseError with a user-facing reason."""
        process = await self._take()
        try:
            header = json.dumps({"filename": filename, "limits": limits.model_dump(),
                                 "chunking": chunking.model_dump()}).encode() + b"\n"
            started = time.perf_counter()
            try:
                output = await asyncio.wait_for(self._exchange(process, header + data), self.timeout_seconds)
            except TimeoutError:
                process.kill()
                await process.finish()
                logger.warning("parser timed out after %.0f s; only its document fails", self.timeout_seconds)
                raise ParseError(
                    f"parsing took longer than {self.timeout_seconds:.0f} s; the document is too large "
                    "or malformed — split it or re-export it"
                ) from None
            except _OutputTooLarge:
                process.kill()
                await process.finish()
                raise ParseError(
                    "the document yields more text than the parser may return; split it into smaller files"
                ) from None
            returncode = await process.finish()
            logger.debug("parser process finished in %.0f ms with %s; stderr: %s",
                         (time.perf_counter() - started) * 1000, returncode, process.stderr_text())
            return self._result(returncode, output)
        finally:
            process.kill()
            self._running.discard(process)
            self._replace(process.slot)

    async def _exchange(self, process: _Process, payload: bytes) -> bytes:
        proc = process.proc

        async def feed() -> None:
            try:
                proc.stdin.write(payload)
                await proc.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                pass  # it ended early (a limit): its exit status says why
            finally:
                proc.stdin.close()

        async def collect() -> bytes:
            output = bytearray()
            while piece := await proc.stdout.read(256 * 1024):
                output += piece
                if len(output) > self.max_output_bytes:
                    raise _OutputTooLarge
            return bytes(output)

        _, output = await asyncio.gather(feed(), collect())
        return output

    def _result(self, returncode: int, output: bytes) -> ParseOutcome:
        signum = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
        confinement = self.sandbox.confinement
        if signum == signal.SIGXCPU:
            raise ParseError(
                f"parsing needed more than {confinement.cpu_seconds} s of CPU time; the document is too large "
                "or malformed — split it or re-export it"
            )
        try:
            message = json.loads(output)
            if "error" in message:
                reason = message["error"]
                if not isinstance(reason, str) or not reason:
                    raise ValueError("empty reason")
                raise ParseError(reason[:MAX_REASON_CHARS])
            return _outcome(message["outcome"])
        except (ValueError, KeyError, TypeError, IndexError):
            logger.warning("parser process ended with status %s and no usable result", returncode)
            raise ParseError(
                f"the parser ran out of memory (limit {confinement.memory_mb} MiB) or CPU time "
                f"({confinement.cpu_seconds} s) or crashed on this document; split it or re-export it"
            ) from None

    async def close(self) -> None:
        self._closed = True
        await asyncio.gather(*self._spawning, return_exceptions=True)
        for process in list(self._running):
            process.kill()
        for process in list(self._running):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(process.finish(), 5)
        self._running.clear()


def _outcome(raw: dict) -> ParseOutcome:
    """The worker's answer, checked field by field: it comes from a process that read a
    hostile document, so nothing but plain strings and numbers is accepted from it."""
    chunks = []
    for text, page, heading in raw["chunks"]:
        if not (isinstance(text, str) and isinstance(heading, str) and type(page) is int and page >= 0):
            raise TypeError("malformed chunk")
        chunks.append(ChunkDraft(text, page, heading))
    title = raw["title"]
    if not (isinstance(raw["content_type"], str) and type(raw["page_count"]) is int
            and (title is None or isinstance(title, str))):
        raise TypeError("malformed outcome")
    return ParseOutcome(raw["content_type"][:128], max(raw["page_count"], 0), title, chunks)


def output_limit(limits: ParseLimits) -> int:
    """The most bytes a parser may answer with: its text limit in UTF-8 (4 bytes a character)
    three times over (chunk overlap, headings repeated per chunk) and room for the JSON."""
    return 3 * 4 * limits.max_text_chars + 16 * 1024 * 1024



async def check(sandbox: ParserSandbox) -> str:
    """Start a parser process in `sandbox` and parse a line of text: what setup runs to
    show the sandbox works on this machine (`python -m sentra_ingestion.adapters.parser_pool`)."""
    pool = ParserPool(1, 60, sandbox, output_limit(ParseLimits()))
    try:
        await pool.start()
        outcome = await pool.parse(b"Sandbox check.", "check.txt", ParseLimits(), ChunkingPolicy())
    finally:
        await pool.close()
    user = f"uid {sandbox.uid_base}" if os.geteuid() == 0 else f"uid {os.geteuid()} in a user namespace"
    return f"parser sandbox works ({sandbox.mode}, {user}): {outcome.chunks[0].text}"


if __name__ == "__main__":
    import sys

    from sentra_ingestion.app import build_parser
    from sentra_ingestion.config import IngestionSettings

    try:
        print(asyncio.run(check(build_parser(IngestionSettings()).sandbox)))
    except (SandboxUnavailable, ParseError) as exc:
        print(f"parser sandbox does not work here: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
