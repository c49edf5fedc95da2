"""The `Runner` port: each running job is a process of its own (`job_process`), in its own
process group, that dies with this service. The service reads its progress from the run's
progress log and its end from its exit status and result files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sentra_training.adapters import job_process
from sentra_training.domain.ports import RunStatus
from sentra_training.lora.ray_job import read_progress


def child_environment() -> dict[str, str]:
    """The environment of a process the service starts (a job's run, an evaluation): the
    service's own, without its SENTRA_* settings (they may name its secrets)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SENTRA_")}


class ProcessRunner:
    def __init__(self, stop_grace_seconds: float = 10.0) -> None:
        self.stop_grace_seconds = stop_grace_seconds
        self._processes: dict[str, subprocess.Popen] = {}

    def launch(self, job_id: str, job_dir: Path, reference_adapter_dir: Path | None = None) -> None:
        (job_dir / job_process.RESULT_FILE).unlink(missing_ok=True)
        spec_file = job_dir / job_process.JOB_FILE
        spec = json.loads(spec_file.read_text())
        spec["reference_adapter_dir"] = str(reference_adapter_dir) if reference_adapter_dir else None
        spec.pop("ray_address", None)  # a Ray runtime of its own, on this machine
        spec_file.write_text(json.dumps(spec, indent=2))
        env = {**child_environment(), "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
        with (job_dir / job_process.LOG_FILE).open("ab") as log:
            self._processes[job_id] = subprocess.Popen(
                [sys.executable, "-m", "sentra_training.adapters.job_process", str(job_dir), str(os.getpid())],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=job_dir,
                start_new_session=True,
            )

    def status(self, job_id: str, job_dir: Path) -> RunStatus:
        process = self._processes.get(job_id)
        progress = read_progress(job_process.run_dir(job_dir))
        last = progress[-1] if progress else {}
        result_file = job_dir / job_process.RESULT_FILE
        if process is None:
            if result_file.exists():  # it ended, and what came after (recording it) did not
                return _succeeded(result_file, last)
            return RunStatus(known=False, progress=last)
        code = process.poll()
        if code is None:
            return RunStatus(known=True, progress=last, phase=_read(job_dir / job_process.PHASE_FILE))
        del self._processes[job_id]
        if code == 0 and result_file.exists():
            return _succeeded(result_file, last)
        reason = _read(job_dir / job_process.ERROR_FILE) or _exit_reason(code)
        return RunStatus(known=True, progress=last, ended=True, succeeded=False, reason=reason)

    def stop(self, job_id: str) -> None:
        """SIGTERM to the run's process group, SIGKILL after the grace period."""
        process = self._processes.pop(job_id, None)
        if process is None:
            return
        _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace_seconds
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        _signal_group(process, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for job_id in list(self._processes):
            self.stop(job_id)


def _succeeded(result_file: Path, last: dict) -> RunStatus:
    result = json.loads(result_file.read_text())
    return RunStatus(known=True, progress=result.get("progress") or last, ended=True, succeeded=True,
                     adapter_dir=result["adapter_dir"], evaluation=result.get("evaluation") or {})


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _exit_reason(code: int) -> str:
    if code < 0:
        return f"the training process was ended by signal {signal.Signals(-code).name}"
    return f"the training process ended with status {code} and no result; see its run.log"
