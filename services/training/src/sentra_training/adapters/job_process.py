"""One training job's run, as its own process (`python -m sentra_training.adapters.job_process
<job directory> [<service pid>]`): started by the service's `ProcessRunner` on its machine,
or by a Ray cluster as a Jobs API submission (`RayJobsRunner`).

It reads `job.json` (hyper-parameters, dataset, base model, Ray settings), runs the LoRA job
on Ray Train (`lora.ray_job.run`: a local Ray runtime of its own, or with `ray_address`
"auto" the cluster that runs it as a submission), evaluates the adapter against the base
model and the reference adapter on the job's test split and the regression set
(`lora.evaluate`; `phase` says `evaluating` meanwhile), and leaves `result.json` (the
adapter directory, the last progress, the evaluation) or `error.txt` (the reason, in
words). With `encryption_key_file` in its spec (the service's keyring; the runner passes
no SENTRA_* variable to this process) the dataset, test split, checkpoints and adapter
are sealed files, opened in memory. Started again on the same directory it resumes from
the run's last checkpoint. Given the service's pid it dies with that service (so a
restarted service starts it again instead of finding two); a submission on a cluster
outlives it.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import traceback
from pathlib import Path

from sentra_training.domain.model import JobFiles

JOB_FILE = JobFiles.JOB
DATASET_FILE = JobFiles.DATASET
TEST_FILE = JobFiles.TEST
PHASE_FILE = JobFiles.PHASE
RESULT_FILE = JobFiles.RESULT
ERROR_FILE = JobFiles.ERROR
LOG_FILE = JobFiles.LOG
RUNS_DIR = JobFiles.RUNS
RUN_NAME = JobFiles.RUN_NAME


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
    (job_dir / PHASE_FILE).write_text("training")
    try:
        import ray

        from sentra_training.lora import evaluate, ray_job
        from sentra_training.lora.config import LoraJobConfig
        from sentra_training.lora.data import read_jsonl
        from sentra_training.lora.gpu import GpuOptions

        key_file = spec.get("encryption_key_file") or None
        files = ray_job.sealed_files(key_file)
        base = Path(spec["base_model_dir"])
        result = ray_job.run(
            LoraJobConfig(**spec["config"]), job_dir / DATASET_FILE, base,
            job_dir / RUNS_DIR, RUN_NAME, address=spec.get("ray_address") or None, workers=spec["workers"],
            threads_per_worker=spec["threads_per_worker"], memory_bytes=spec.get("memory_bytes") or None,
            key_file=key_file, gpu=GpuOptions(**(spec.get("gpu") or {})),
        )
        ray.shutdown()
        evaluation = {}
        if (job_dir / TEST_FILE).exists():
            (job_dir / PHASE_FILE).write_text("evaluating")
            reference = spec.get("reference_adapter_dir")
            evaluation = evaluate.evaluate(
                base, Path(result.adapter_dir), read_jsonl(job_dir / TEST_FILE, files=files),
                reference=Path(reference) if reference else None, max_new_tokens=spec.get("max_new_tokens", 48),
                regression=evaluate.regression_set(spec.get("regression_texts")),
                threads=spec["workers"] * spec["threads_per_worker"], files=files,
            )
    except Exception as exc:  # the job's failure, told to whoever started it
        traceback.print_exc()
        (job_dir / ERROR_FILE).write_text(str(exc)[:4000] or type(exc).__name__)
        return 1
    (job_dir / RESULT_FILE).write_text(json.dumps({
        "adapter_dir": str(result.adapter_dir), "progress": result.progress,
        "resumed_from_step": result.resumed_from_step, "evaluation": evaluation,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
