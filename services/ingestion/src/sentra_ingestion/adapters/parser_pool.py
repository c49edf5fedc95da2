"""Runs parsing and chunking in worker processes with a time and memory limit, so a
hostile document (zip bomb, pathological PDF) fails alone instead of taking the
service down."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import resource
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from sentra_ingestion.domain.parsing import ChunkingPolicy, ParseError, ParseLimits
from sentra_ingestion.domain.ports import ParseOutcome

logger = logging.getLogger(__name__)


def _init_worker(memory_mb: int) -> None:
    # pypdf's warnings can quote raw document bytes: never log document content.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _parse_in_worker(data: bytes, filename: str, limits: ParseLimits, chunking: ChunkingPolicy) -> ParseOutcome | str:
    """Worker body: a ParseOutcome, or the user-facing reason of a ParseError."""
    from sentra_ingestion.domain.parsing import chunk_sections, parse_document

    try:
        parsed = parse_document(data, filename, limits)
        chunks = chunk_sections(parsed.sections, chunking)
    except ParseError as exc:
        return exc.reason
    except MemoryError:
        return "the document needs more memory than the parser limit allows; split it into smaller files"
    return ParseOutcome(parsed.content_type, parsed.page_count, parsed.title, chunks)


class ParserPool:
    def __init__(self, workers: int, timeout_seconds: float, memory_mb: int) -> None:
        self.workers = workers
        self.timeout_seconds = timeout_seconds
        self.memory_mb = memory_mb
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self.memory_mb,),
        )

    def _restart(self) -> None:
        old = self._executor
        self._executor = self._new_executor()
        for process in list(getattr(old, "_processes", {}).values()):
            process.kill()
        old.shutdown(wait=False, cancel_futures=True)

    async def parse(self, data: bytes, filename: str, limits: ParseLimits, chunking: ChunkingPolicy) -> ParseOutcome:
        """Parse and chunk; raises ParseError with a user-facing reason."""
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self._executor, _parse_in_worker, data, filename, limits, chunking)
            result = await asyncio.wait_for(future, self.timeout_seconds)
        except TimeoutError:
            logger.warning("parser timed out; restarting the worker pool")
            self._restart()
            raise ParseError(
                f"parsing took longer than {self.timeout_seconds:.0f} s; the document is too large "
                "or malformed — split it or re-export it"
            ) from None
        except BrokenProcessPool:
            logger.warning("parser worker died; restarting the worker pool")
            self._restart()
            raise ParseError(
                f"the parser ran out of memory (limit {self.memory_mb} MiB) or crashed on this "
                "document; split it or re-export it"
            ) from None
        if isinstance(result, str):
            raise ParseError(result)
        return result

    def close(self) -> None:
        self._restart()
        self._executor.shutdown(wait=False, cancel_futures=True)
