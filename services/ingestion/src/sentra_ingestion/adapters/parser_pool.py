"""The domain's `Parser` port: each document is parsed and chunked by a process of its own,
in a sandbox (`sandbox.py`), that sees that one document and nothing else and exits after
it. A time-out, a crash or an exhausted limit ends that process and fails that document
only; the other parses go on.

Each slot (`workers` slots) runs a fork server in its sandbox (`parse_worker`), started
once, with Python, the parsing code and every format's library loaded: a document's
process is forked from it (a few milliseconds, where starting bubblewrap and Python for
each document cost ~130 ms of CPU), confines itself, parses, and exits; the server then
kills whatever it left and empties the sandbox's /tmp before the next document. A time-out
or an answer that is too large ends the whole slot's sandbox, and a fresh one starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import time

from sentra_ingestion.adapters.parse_worker import READY
from sentra_ingestion.adapters.sandbox import ParserSandbox
from sentra_ingestion.domain.parsing import ChunkDraft, ChunkingPolicy, ParseError, ParseLimits
from sentra_ingestion.domain.ports import ParseOutcome

logger = logging.getLogger(__name__)

STDERR_KEPT = 8 * 1024
MAX_REASON_CHARS = 2000
MAX_LINE = 64


class SandboxUnavailable(RuntimeError):
    """A parser process could not start: the machine's fault, not the document's."""


class _OutputTooLarge(Exception):
    pass


class _Server:
    """One slot's fork server: its process (bubblewrap's, in the sandbox) and the control
    socket the documents' sockets are handed over on."""

    def __init__(self, slot: int, proc: asyncio.subprocess.Process, control: socket.socket) -> None:
        self.slot = slot
        self.proc = proc
        self.control = control
        self.ready = False
        self.stderr = bytearray()
        self._pending = b""
        self._stderr_task = asyncio.create_task(self._drain_stderr())

    async def _drain_stderr(self) -> None:
        # Kept for the operator's log at DEBUG only: it may quote the document.
        while piece := await self.proc.stderr.read(4096):
            self.stderr = (self.stderr + piece)[-STDERR_KEPT:]

    async def line(self) -> bytes:
        """The server's next line on the control socket (EOFError once it has gone)."""
        loop = asyncio.get_running_loop()
        while b"\n" not in self._pending:
            piece = await loop.sock_recv(self.control, MAX_LINE)
            if not piece or len(self._pending) > MAX_LINE:
                raise EOFError
            self._pending += piece
        line, _, self._pending = self._pending.partition(b"\n")
        return line + b"\n"

    def hand_over(self, conn: socket.socket) -> None:
        """Give the server one document's socket (a message of one byte carrying it)."""
        socket.send_fds(self.control, [b"D"], [conn.fileno()])

    def kill(self) -> None:
        if self.proc.returncode is None:
            # Its own process group: a plain server's children go too; bubblewrap's sandbox
            # dies with it (--die-with-parent takes its PID namespace down).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        self.control.close()

    async def finish(self) -> int:
        returncode = await self.proc.wait()
        self.control.close()
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
        self._ready: asyncio.Queue[_Server] = asyncio.Queue()
        self._running: set[_Server] = set()
        self._spawning: set[asyncio.Task] = set()
        self._closed = False

    async def start(self) -> None:
        """Start one fork server per slot and wait until each is ready; raises
        SandboxUnavailable (with bubblewrap's or Python's own words) when they cannot start."""
        problem = self.sandbox.problem()
        if problem:
            raise SandboxUnavailable(problem)
        for slot in range(self.workers):
            server = await self._spawn(slot)
            await self._wait_ready(server)
            self._ready.put_nowait(server)

    async def _spawn(self, slot: int) -> _Server:
        control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.sandbox.command(slot), stdin=theirs.fileno(), stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE, env={}, start_new_session=True,
            )
        except BaseException:
            control.close()
            raise
        finally:
            theirs.close()
        control.setblocking(False)
        server = _Server(slot, proc, control)
        self._running.add(server)
        return server

    async def _wait_ready(self, server: _Server) -> None:
        if server.ready:
            return
        try:
            line = await asyncio.wait_for(server.line(), max(self.timeout_seconds, 60))
        except (TimeoutError, EOFError, OSError):
            line = b""
        server.ready = line == READY
        if not server.ready:
            server.kill()
            await server.finish()
            self._running.discard(server)
            raise SandboxUnavailable(
                f"a parser process ({self.sandbox.mode} sandbox) did not start: "
                f"{server.stderr_text().strip()[-2000:] or 'no output'}"
            )

    async def _take(self) -> _Server:
        """The ready server of a free slot (a fresh one if the one waiting has gone)."""
        server = await self._ready.get()
        if server.proc.returncode is not None:
            await server.finish()
            self._running.discard(server)
            server = await self._spawn(server.slot)
        try:
            await self._wait_ready(server)
        except SandboxUnavailable:
            self._replace(server.slot)
            raise
        return server

    def _replace(self, slot: int) -> None:
        """Start the slot's next server ahead of its document (in the background)."""
        if self._closed:
            return

        async def spawn() -> None:
            try:
                server = await self._spawn(slot)
            except OSError:
                logger.exception("cannot start a parser process; trying again in 1 s")
                await asyncio.sleep(1)
                return self._replace(slot)
            self._ready.put_nowait(server)

        task = asyncio.get_running_loop().create_task(spawn())
        self._spawning.add(task)
        task.add_done_callback(self._spawning.discard)

    async def parse(self, data: bytes, filename: str, limits: ParseLimits, chunking: ChunkingPolicy) -> ParseOutcome:
        """Parse and chunk; raises ParseError with a user-facing reason."""
        server = await self._take()
        kept = False
        try:
            header = json.dumps({"filename": filename, "limits": limits.model_dump(),
                                 "chunking": chunking.model_dump()}).encode() + b"\n"
            started = time.perf_counter()
            try:
                returncode, output = await asyncio.wait_for(self._run(server, header + data), self.timeout_seconds)
            except TimeoutError:
                logger.warning("parser timed out after %.0f s; only its document fails", self.timeout_seconds)
                raise ParseError(
                    f"parsing took longer than {self.timeout_seconds:.0f} s; the document is too large "
                    "or malformed — split it or re-export it"
                ) from None
            except _OutputTooLarge:
                raise ParseError(
                    "the document yields more text than the parser may return; split it into smaller files"
                ) from None
            except (EOFError, OSError, ValueError):
                # The server itself went (or answered nonsense): only this document fails.
                logger.warning("a parser fork server ended unexpectedly; starting a fresh one")
                returncode, output = -signal.SIGKILL, b""
            else:
                kept = True
            logger.debug("parser process finished in %.0f ms with %s; stderr: %s",
                         (time.perf_counter() - started) * 1000, returncode, server.stderr_text())
            return self._result(returncode, output)
        finally:
            if kept:
                self._ready.put_nowait(server)
            else:
                server.kill()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(server.finish(), 5)
                self._running.discard(server)
                self._replace(server.slot)

    async def _run(self, server: _Server, payload: bytes) -> tuple[int, bytes]:
        """Hand one document to the server on a socket of its own; its answer, then the exit
        status of the process that parsed it."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            server.hand_over(theirs)
        finally:
            theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours)

        async def feed() -> None:
            try:
                writer.write(payload)
                await writer.drain()
                writer.write_eof()
            except (BrokenPipeError, ConnectionResetError):
                pass  # it ended early (a limit): its exit status says why

        async def collect() -> bytes:
            output = bytearray()
            with contextlib.suppress(ConnectionResetError):
                while piece := await reader.read(256 * 1024):
                    output += piece
                    if len(output) > self.max_output_bytes:
                        raise _OutputTooLarge
            return bytes(output)

        try:
            _, output = await asyncio.gather(feed(), collect())
        finally:
            writer.close()
        return int(await server.line()), output

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
