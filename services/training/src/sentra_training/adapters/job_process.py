"""One training job's run, as its own process (`python -m sentra_training.adapters.job_process
<job directory>`), started by the service's `ProcessRunner`.

It reads `job.json` (hyper-parameters, dataset, base model, Ray settings), runs the LoRA job
on Ray Train (`lora.ray_job.run`: a local Ray runtime of its own, or the configured
cluster), and leaves `result.json` (the adapter directory, the last progress) or
`error.txt` (the reason, in words). Started again on the same directory it resumes from the
run's last checkpoint. It dies with the service that started it (so a restarted service
starts it again instead of finding two).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import traceback
from pathlib import Path

JOB_FILE = "job.json"
DATASET_FILE = "dataset.jsonl"
RESULT_FILE = "result.json"
ERROR_FILE = "error.txt"
LOG_FILE = "run.log"
RUNS_DIR = "runs"
RUN_NAME = "run"


def run_dir(job_dir: Path) -> Path:
    """Where Ray keeps the run's checkpoints and the progress log."""
    return job_dir / RUNS_DIR / RUN_NAME


def _die_with(parent: int) -> None:
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:
        raise SystemExit(1)


def main(argv: list[str]) -> int:
    job_dir = Path(argv[0]).resolve()
    if len(argv) > 1:
        _die_with(int(argv[1]))
    spec = json.loads((job_dir / JOB_FILE).read_text())
    (job_dir / ERROR_FILE).unlink(missing_ok=True)
    try:
        from sentra_training.lora import ray_job
        from sentra_training.lora.config import LoraJobConfig

        result = ray_job.run(
            LoraJobConfig(**spec["config"]), job_dir / DATASET_FILE, Path(spec["base_model_dir"]),
            job_dir / RUNS_DIR, RUN_NAME, address=spec.get("ray_address") or None, workers=spec["workers"],
            threads_per_worker=spec["threads_per_worker"], memory_bytes=spec.get("memory_bytes") or None,
        )
    except Exception as exc:  # the job's failure, told to whoever started it
        traceback.print_exc()
        (job_dir / ERROR_FILE).write_text(str(exc)[:4000] or type(exc).__name__)
        return 1
    (job_dir / RESULT_FILE).write_text(json.dumps({
        "adapter_dir": str(result.adapter_dir), "progress": result.progress,
        "resumed_from_step": result.resumed_from_step,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
