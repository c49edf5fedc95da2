"""Training jobs submitted to a Ray cluster's Jobs API (`RayJobsRunner`): a head node on
loopback (`ray start --head` with its dashboard, token authentication with a token file of
this test's own), a real LoRA job submitted to its end; a restarted service (a new runner)
follows the same run instead of submitting a second; a stop ends the run as STOPPED; a
cluster that cannot be reached, or is asked without its token, fails the job with a reason
that names the address."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from sentra_cli.platform import base_model_dir
from sentra_training.adapters.ray_jobs import RayJobsRunner
from sentra_training.domain.model import JobFiles

RAY = str(Path(sys.executable).parent / "ray")
SMALL = {"batch_size": 2, "max_seq_length": 96, "checkpoint_every": 2, "seed": 3}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The head node's Jobs API address and its token."""
    home = tmp_path_factory.mktemp("ray-jobs")
    token = secrets.token_hex(32)
    (home / "ray-token").write_text(token)
    (home / "ray-token").chmod(0o600)
    # The cluster runs this checkout's Sentra with this interpreter (`python` on its PATH).
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(home / "ray-token"),
           "RAY_USAGE_STATS_ENABLED": "0", "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    short = Path(tempfile.mkdtemp(prefix="sentra-ray-"))  # socket paths may not pass 107 bytes
    dashboard = free_port()
    log = (home / "head.log").open("w")
    head = subprocess.Popen(
        [RAY, "start", "--head", f"--port={free_port()}", "--num-cpus=2", "--block", "--disable-usage-stats",
         "--node-ip-address=127.0.0.1", f"--temp-dir={short}", "--include-dashboard=true",
         "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}", f"--ray-client-server-port={free_port()}",
         f"--dashboard-agent-listen-port={free_port()}"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    address = f"http://127.0.0.1:{dashboard}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert head.poll() is None and time.monotonic() < deadline, (home / "head.log").read_text()[-3000:]
            try:
                RayJobsRunner(address, token=token)._client().list_jobs()
                break
            except Exception:
                time.sleep(1)
        yield address, token
    finally:
        os.killpg(head.pid, signal.SIGTERM)  # --block stops the node on SIGTERM
        head.wait(timeout=90)
        shutil.rmtree(short, ignore_errors=True)


def job_dir(root: Path, job_id: str, max_steps: int) -> Path:
    """A job's directory as the service writes it (`TrainingJobs.start`)."""
    path = root / "legal" / job_id
    path.mkdir(parents=True)
    (path / JobFiles.DATASET).write_text("\n".join(json.dumps({
        "messages": [{"role": "user", "content": f"¿Cuántos días de teletrabajo hay en la sede {i}?"},
                     {"role": "assistant", "content": f"En la sede {i}, dos días por semana."}]},
        ensure_ascii=False) for i in range(6)) + "\n")
    (path / JobFiles.JOB).write_text(json.dumps({
        "config": {"max_steps": max_steps, **SMALL}, "base_model_dir": str(base_model_dir()), "department": "legal",
        "workers": 1, "threads_per_worker": 1, "memory_bytes": 0, "max_new_tokens": 8}))
    return path


def submissions(runner: RayJobsRunner, job_id: str) -> list:
    return [j for j in runner._client().list_jobs() if (j.metadata or {}).get("sentra_job_id") == job_id]


def wait(runner: RayJobsRunner, job_id: str, path: Path, until, timeout: float = 150):
    deadline = time.monotonic() + timeout
    while True:
        status = runner.status(job_id, path)
        if until(status):
            return status
        assert time.monotonic() < deadline, (status, runner._client().get_job_logs(path.joinpath(
            JobFiles.SUBMISSION).read_text())[-3000:])
        time.sleep(1)


def test_a_submitted_job_ends_with_its_adapter_and_a_restarted_service_follows_it(cluster, tmp_path):
    address, token = cluster
    job_id = "6f1c0d8e-0000-4000-8000-000000000001"
    path = job_dir(tmp_path, job_id, max_steps=2)
    runner = RayJobsRunner(address, token=token)
    runner.launch(job_id, path)
    assert runner.status(job_id, path).known and not runner.status(job_id, path).ended

    # The service is restarted: the new runner finds the run by the id in the job directory.
    again = RayJobsRunner(address, token=token)
    assert again.status(job_id, path).known
    again.launch(job_id, path)  # and a launch adopts it instead of submitting a second
    assert [j.submission_id for j in submissions(again, job_id)] == [f"sentra-training-{job_id}-1"]
    [info] = submissions(again, job_id)
    assert info.metadata["sentra_department"] == "legal" and "SENTRA" not in json.dumps(info.runtime_env)

    status = wait(again, job_id, path, lambda s: s.ended)
    assert status.succeeded, status.reason
    assert status.progress["step"] == 2
    assert (Path(status.adapter_dir) / "adapter_model.safetensors").exists()


def test_a_stopped_run_ends_as_stopped(cluster, tmp_path):
    address, token = cluster
    job_id = "6f1c0d8e-0000-4000-8000-000000000002"
    path = job_dir(tmp_path, job_id, max_steps=500)
    runner = RayJobsRunner(address, token=token, stop_grace_seconds=30)
    runner.launch(job_id, path)
    wait(runner, job_id, path, lambda s: s.phase == "training", timeout=60)
    RayJobsRunner(address, token=token, stop_grace_seconds=30).stop(job_id)  # one that did not follow it yet
    [info] = submissions(runner, job_id)
    assert str(info.status) == "STOPPED"
    status = runner.status(job_id, path)
    assert status.ended and not status.succeeded and "stopped" in status.reason


def test_a_cluster_that_cannot_be_reached_fails_the_job_naming_its_address(cluster, tmp_path):
    address, token = cluster
    closed = f"http://127.0.0.1:{free_port()}"
    with socket.socket() as silent:  # accepts connections and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        mute = f"http://127.0.0.1:{silent.getsockname()[1]}"
        for where, runner in ((closed, RayJobsRunner(closed, token=token)),
                              (mute, RayJobsRunner(mute, token=token, deadline_seconds=1)),
                              (address, RayJobsRunner(address))):  # no token
            job_id = "6f1c0d8e-0000-4000-8000-000000000003"
            path = job_dir(tmp_path / where.rsplit(":", 1)[1], job_id, max_steps=2)
            started = time.monotonic()
            runner.launch(job_id, path)
            assert time.monotonic() - started < 30
            status = runner.status(job_id, path)
            assert status.known and status.ended and not status.succeeded
            assert f"the Ray cluster at {where} failed" in status.reason and "not submitted" in status.reason
    assert "Authentication" in status.reason
