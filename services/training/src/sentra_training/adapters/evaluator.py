"""The domain's `Evaluator` port: an on-demand evaluation (`EvaluateAdapter`) runs
`python -m sentra_training.lora.evaluate` in a process of its own — the models it loads
never stay in the service — one at a time, with a time limit. The same code judges every
job's candidate at the promotion gate, so the figures compare."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

from sentra_common.errors import FailedPrecondition, ResourceExhausted
from sentra_common.sealed import SealedFiles

from sentra_training.adapters.runner import child_environment


class ProcessEvaluator:
    def __init__(self, base_model_dir: Path, *, threads: int = 2, max_examples: int = 50, max_new_tokens: int = 48,
                 regression_texts: int = 30, timeout_seconds: float = 1800.0, work_dir: Path | None = None,
                 key_file: Path | None = None, files: SealedFiles | None = None) -> None:
        self.base_model_dir = base_model_dir
        self.threads = threads
        self.max_examples = max_examples
        self.max_new_tokens = max_new_tokens
        self.regression_texts = regression_texts
        self.timeout_seconds = timeout_seconds
        self.work_dir = work_dir
        # Encryption at rest: the test examples are written sealed, and the evaluation
        # opens them and the adapters with the same keyring.
        self.key_file = key_file
        self.files = files or SealedFiles(None)
        self._one_at_a_time = asyncio.Lock()

    async def evaluate(self, candidate: Path, test_jsonl: bytes, reference: Path | None) -> dict:
        if self._one_at_a_time.locked():
            raise ResourceExhausted("another adapter evaluation is running on this training service; try again when "
                                    "it has finished")
        async with self._one_at_a_time:
            if self.work_dir is not None:
                self.work_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix="sentra-evaluate-", dir=self.work_dir) as work:
                test, out = Path(work) / "test.jsonl", Path(work) / "scores.json"
                self.files.write_bytes(test, test_jsonl)
                argv = [sys.executable, "-m", "sentra_training.lora.evaluate", "--base", str(self.base_model_dir),
                        "--candidate", str(candidate), "--test", str(test), "--out", str(out),
                        "--threads", str(self.threads), "--max-examples", str(self.max_examples),
                        "--max-new-tokens", str(self.max_new_tokens),
                        "--regression-texts", str(self.regression_texts)]
                if reference is not None:
                    argv += ["--reference", str(reference)]
                if self.key_file is not None:
                    argv += ["--key-file", str(self.key_file)]
                process = await asyncio.create_subprocess_exec(
                    *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
                    stdin=asyncio.subprocess.DEVNULL, env=child_environment(), start_new_session=True)
                try:
                    _, stderr = await asyncio.wait_for(process.communicate(), self.timeout_seconds)
                except TimeoutError:
                    process.kill()
                    await process.wait()
                    raise FailedPrecondition(
                        f"the evaluation took longer than {self.timeout_seconds:.0f} s and was stopped; evaluate on "
                        "fewer examples (SENTRA_TRAINING_PROMOTION__MAX_TEST_EXAMPLES)") from None
                except asyncio.CancelledError:
                    process.kill()
                    await process.wait()
                    raise
                if process.returncode != 0 or not out.is_file():
                    tail = (stderr or b"").decode(errors="replace").strip().splitlines()[-3:]
                    raise FailedPrecondition("the evaluation failed: " + (" | ".join(tail) or
                                                                          f"status {process.returncode}"))
                return json.loads(out.read_text())
