"""The Ray Jobs runner without a cluster: each Jobs API state as the job's run status
(progress, phase, result and reason read from the job directory), the address forms the
settings accept, and against a scripted Jobs API client: one submission per job and
attempt, found again by a restarted service, a cluster that does not answer."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from pydantic import ValidationError
from ray.job_submission import JobStatus
from sentra_common.errors import Unavailable
from sentra_training.adapters.ray_jobs import RayJobsRunner, SubmissionNotFound, run_status, submission_id
from sentra_training.config import TrainingSettings
from sentra_training.domain.model import JobFiles

JOB = "0b6f9a52-1111-4222-8333-444455556666"
WHERE = "http://head:8265 (submission s)"


@pytest.fixture
def job_dir(tmp_path):
    path = tmp_path / "legal" / JOB
    (path / JobFiles.RUNS / JobFiles.RUN_NAME).mkdir(parents=True)
    (path / JobFiles.JOB).write_text(json.dumps({"config": {}, "department": "legal", "workers": 1}))
    (path / JobFiles.RUNS / JobFiles.RUN_NAME / "progress.jsonl").write_text(
        json.dumps({"step": 1, "loss": 2.5}) + "\n" + json.dumps({"step": 2, "loss": 2.1}) + "\n")
    return path


def no_logs() -> str:
    raise AssertionError("the log is read only for a failure without error.txt")


def test_pending_and_running_are_followed_with_their_progress_and_phase(job_dir):
    (job_dir / JobFiles.PHASE).write_text("evaluating")
    pending = run_status("PENDING", "", job_dir, no_logs, WHERE)
    assert pending.known and not pending.ended and pending.progress["step"] == 2 and pending.phase == ""
    running = run_status("RUNNING", "", job_dir, no_logs, WHERE)
    assert running.known and not running.ended and running.phase == "evaluating"


def test_succeeded_is_read_from_the_result_and_without_one_names_the_shared_storage(job_dir):
    lost = run_status("SUCCEEDED", "", job_dir, no_logs, WHERE)
    assert lost.ended and not lost.succeeded
    assert "result.json" in lost.reason and "mount at the same path" in lost.reason
    (job_dir / JobFiles.RESULT).write_text(json.dumps({"adapter_dir": "/x/checkpoint", "progress": {"step": 2},
                                                       "evaluation": {"base": {"f1": 0.1}}}))
    done = run_status("SUCCEEDED", "", job_dir, no_logs, WHERE)
    assert done.ended and done.succeeded and done.adapter_dir == "/x/checkpoint"
    assert done.evaluation == {"base": {"f1": 0.1}}


def test_failed_says_why_from_error_txt_or_the_log_tail(job_dir):
    (job_dir / JobFiles.ERROR).write_text("line 3: 'output' must be a non-empty string")
    told = run_status("FAILED", "exit code 1", job_dir, no_logs, WHERE)
    assert told.ended and not told.succeeded and told.reason == "line 3: 'output' must be a non-empty string"
    (job_dir / JobFiles.ERROR).unlink()
    crashed = run_status("FAILED", "Job entrypoint command failed with exit code 137", job_dir,
                         lambda: "loading\nKilled\n", WHERE)
    assert WHERE in crashed.reason and "exit code 137" in crashed.reason and "Killed" in crashed.reason
    unread = run_status("FAILED", "", job_dir, lambda: (_ for _ in ()).throw(OSError("gone")), WHERE)
    assert "could not be read" in unread.reason


def test_stopped_elsewhere_is_a_failure_that_says_so(job_dir):
    status = run_status("STOPPED", "", job_dir, no_logs, WHERE)
    assert status.ended and not status.succeeded and "stopped on the Ray cluster" in status.reason


@dataclass
class Info:
    status: JobStatus
    message: str = ""
    metadata: dict = field(default_factory=dict)
    submission_id: str = ""


class ScriptedJobsApi:
    """The Jobs API as the runner uses it; `down` makes every call fail as a refused connection."""

    def __init__(self) -> None:
        self.jobs: dict[str, Info] = {}
        self.submitted: list[dict] = []
        self.down = False

    def _check(self):
        if self.down:
            raise ConnectionError("Failed to connect to Ray at address: http://head:8265.")

    def submit_job(self, **kwargs):
        self._check()
        if kwargs["submission_id"] in self.jobs:
            raise RuntimeError("Request failed with status code 400: job already exists.")
        self.submitted.append(kwargs)
        self.jobs[kwargs["submission_id"]] = Info(JobStatus.PENDING, metadata=kwargs["metadata"],
                                                  submission_id=kwargs["submission_id"])
        return kwargs["submission_id"]

    def get_job_info(self, name):
        self._check()
        if name not in self.jobs:
            raise SubmissionNotFound(name)
        return self.jobs[name]

    def get_job_status(self, name):
        return self.get_job_info(name).status

    def get_job_logs(self, name):
        return ""

    def list_jobs(self):
        self._check()
        return list(self.jobs.values())

    def stop_job(self, name):
        self._check()
        self.jobs[name].status = JobStatus.STOPPED
        return True


def runner(api: ScriptedJobsApi, **kwargs) -> RayJobsRunner:
    return RayJobsRunner("http://head:8265", connect=lambda: api, **kwargs)


def test_one_submission_per_attempt_found_again_after_a_restart(job_dir):
    api = ScriptedJobsApi()
    runner(api).launch(JOB, job_dir)
    [first] = api.submitted
    assert first["submission_id"] == submission_id(JOB, 1) == (job_dir / JobFiles.SUBMISSION).read_text()
    assert first["entrypoint"] == f"python -m sentra_training.adapters.job_process {job_dir}"
    assert first["metadata"]["sentra_job_id"] == JOB and first["metadata"]["sentra_department"] == "legal"
    assert not any(name.startswith("SENTRA_") for name in first["runtime_env"]["env_vars"])
    assert json.loads((job_dir / JobFiles.JOB).read_text())["ray_address"] == "auto"

    restarted = runner(api)
    api.jobs[first["submission_id"]].status = JobStatus.RUNNING
    assert restarted.status(JOB, job_dir).known  # followed, not started again
    restarted.launch(JOB, job_dir)
    runner(api).launch(JOB, job_dir)
    assert len(api.submitted) == 1

    # A cluster that was replaced does not know the run: the same id again (it resumes there).
    api.jobs.clear()
    fresh = runner(api)
    assert not fresh.status(JOB, job_dir).known
    fresh.launch(JOB, job_dir)
    assert [s["submission_id"] for s in api.submitted] == [submission_id(JOB, 1)] * 2
    # One that ended is never submitted again under its id: the next attempt.
    api.jobs[submission_id(JOB, 1)].status = JobStatus.FAILED
    fresh.launch(JOB, job_dir)
    assert api.submitted[-1]["submission_id"] == submission_id(JOB, 2)


def test_a_cluster_that_does_not_answer(job_dir):
    api = ScriptedJobsApi()
    api.down = True
    refused = runner(api)
    refused.launch(JOB, job_dir)
    status = refused.status(JOB, job_dir)
    assert status.ended and "the Ray cluster at http://head:8265 failed: ConnectionError" in status.reason

    api.down = False
    now = [0.0]
    following = runner(api, unreachable_seconds=60, clock=lambda: now[0])
    following.launch(JOB, job_dir)
    api.down = True
    assert not following.status(JOB, job_dir).ended  # a moment away: still running
    now[0] = 59
    assert not following.status(JOB, job_dir).ended
    now[0] = 61
    gone = following.status(JOB, job_dir)
    assert gone.ended and "did not answer for 60 s" in gone.reason
    with pytest.raises(Unavailable, match="could not be stopped on the Ray cluster http://head:8265"):
        following.stop(JOB)


def test_stop_finds_the_run_of_a_job_it_did_not_follow(job_dir):
    api = ScriptedJobsApi()
    runner(api).launch(JOB, job_dir)
    runner(api, stop_grace_seconds=1).stop(JOB)
    assert api.jobs[submission_id(JOB, 1)].status == JobStatus.STOPPED


def test_the_address_is_a_jobs_api_and_another_machine_needs_the_token(tmp_path):
    assert TrainingSettings(ray_address="http://127.0.0.1:8265").ray_address
    with pytest.raises(ValidationError, match="not a Ray Jobs API address"):
        TrainingSettings(ray_address="127.0.0.1:6379")
    with pytest.raises(ValidationError, match="not a Ray Jobs API address"):
        TrainingSettings(ray_address="ray://head:10001")
    with pytest.raises(ValidationError, match="SENTRA_TRAINING_RAY_TOKEN_FILE"):
        TrainingSettings(ray_address="http://ray-head.sentra.svc:8265")
    token = tmp_path / "token"
    token.write_text("t")
    assert TrainingSettings(ray_address="https://ray-head.sentra.svc:8265", ray_token_file=token).ray_token_file
