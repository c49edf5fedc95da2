"""The learned reader on this machine's CPU: a reader artifact (`sentra_common.reader`:
a MiniLM cross-encoder with relevance and span heads, the shipped MiniLM bi-encoder,
lexical features and their fitted combiner; trained by `python -m sentra_training.reader`)
loaded once and run on its own worker thread, so the event loop never waits on the model."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sentra_common.errors import Unavailable
from sentra_common.reader.reading import PassageReading

logger = logging.getLogger(__name__)

DEFAULT_READER_DIR = Path(__file__).resolve().parents[1] / "assets" / "reader"


class LocalReader:
    """Implements the answering domain's `Reader` port."""

    def __init__(self, directory: Path, *, dtype: str = "float32", threshold: float | None = None) -> None:
        self.directory = Path(directory).expanduser()
        self.dtype = dtype
        self._threshold_override = threshold
        self.threshold = 0.0
        self._reader = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentra-reader")

    async def start(self) -> None:
        def _load():
            from sentra_common.reader.runtime import Reader

            return Reader.load(self.directory, dtype=self.dtype)

        try:
            self._reader = await asyncio.get_running_loop().run_in_executor(self._executor, _load)
        except FileNotFoundError as exc:
            raise RuntimeError(
                f"{exc}. The reader ships with Sentra (sentra_inference/assets/reader); point "
                "SENTRA_INFERENCE_READER__PATH at a reader directory, retrain one with "
                "`python -m sentra_training.reader train --out DIR`, or set "
                "SENTRA_INFERENCE_READER__ENABLED=false together with "
                "SENTRA_INFERENCE_ANSWER__DEFAULT_STRATEGY=extractive"
            ) from None
        self.threshold = self._reader.threshold if self._threshold_override is None else self._threshold_override
        logger.info("reader loaded", extra={"path": str(self.directory), "threshold": self.threshold})

    async def read(self, question: str, passages: Sequence[str], contexts: Sequence[str]) -> list[PassageReading]:
        if self._reader is None:
            raise Unavailable("the reader is still loading; try again in a few seconds")
        reader = self._reader
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, lambda: reader.read(question, list(passages), list(contexts)),
        )

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def main() -> None:
    """`python -m sentra_inference.adapters.reader [DIR]`: load the reader (the shipped one
    by default) and read one question, as `make setup` does to check the installation."""
    import sys

    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_READER_DIR

    async def check() -> None:
        reader = LocalReader(directory)
        await reader.start()
        try:
            [reading] = await reader.read("¿Cuántos días?", ["El plazo es de 30 días naturales."], [""])
        finally:
            await reader.close()
        if not reading.spans:
            raise SystemExit(f"the reader at {directory} read nothing")
        print(f"reader ready: {directory} (threshold {reader.threshold:.3f})")

    asyncio.run(check())


if __name__ == "__main__":
    main()
