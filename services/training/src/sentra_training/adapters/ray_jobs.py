"""The `Runner` port on a Ray cluster, through its Jobs API (`ray.job_submission`): each
job's run is a submission whose entrypoint is `python -m sentra_training.adapters.job_process
<job directory>`, run by the cluster (its driver on the head node, its Ray Train workers
wherever the cluster places them) and outliving this service.

The submission id is derived from the job id and its attempt (`sentra-training-<job>-<n>`)
and kept in the job directory (`JobFiles.SUBMISSION`), written before it is submitted: a
restarted service asks the cluster about that id and adopts the run it finds instead of
submitting a second one. The job directory must be on storage shared by this service and
the cluster's nodes at the same path: the run reads `job.json` and the dataset there, and
leaves its progress log, checkpoints, `result.json` or `error.txt` there.

Every request carries a deadline. A cluster that cannot be reached when a job is launched
fails the job at once, naming the address; one that stops answering while a job runs fails
it after `unreachable_seconds`.
"""

from __future__ import annotations

import json
import logging
import shlex
import time
from collections.abc import Callable
from pathlib import Path

from sentra_common.errors import Unavailable

from sentra_training.domain.model import JobFiles
from sentra_training.domain.ports import RunStatus
from sentra_training.lora.ray_job import read_progress

logger = logging.getLogger(__name__)

ENTRYPOINT_MODULE = "sentra_training.adapters.job_process"
# What the run's processes need, and nothing of this service's (no SENTRA_* secrets).
RUN_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
LOG_TAIL_CHARS = 1500


class SubmissionNotFound(LookupError):
    pass


def submission_id(job_id: str, attempt: int) -> str:
    return f"sentra-training-{job_id}-{attempt}"


def attempt_of(submission: str) -> int:
    try:
        return int(submission.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 0


def run_status(state: str, message: str, job_dir: Path, logs: Callable[[], str], where: str) -> RunStatus:
    """A submission's state (PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED) as a RunStatus;
    progress, phase, result and reason are read from the job directory (`logs` is asked
    only for a failure that left no reason there)."""
    progress = read_progress(job_dir / JobFiles.RUNS / JobFiles.RUN_NAME)
    last = progress[-1] if progress else {}
    if state in ("PENDING", "RUNNING"):
        phase = _read(job_dir / JobFiles.PHASE) if state == "RUNNING" else ""
        return RunStatus(known=True, progress=last, phase=phase)
    result_file = job_dir / JobFiles.RESULT
    if state == "SUCCEEDED":
        if result_file.exists():
            result = json.loads(result_file.read_text())
            return RunStatus(known=True, progress=result.get("progress") or last, ended=True, succeeded=True,
                             adapter_dir=result["adapter_dir"], evaluation=result.get("evaluation") or {})
        reason = (f"the run on the Ray cluster {where} ended without leaving {JobFiles.RESULT} in {job_dir}: the job "
                  "directories must be on storage the cluster's nodes mount at the same path")
        return RunStatus(known=True, progress=last, ended=True, reason=reason)
    if state == "STOPPED":
        reason = f"the run was stopped on the Ray cluster {where} (not by this service: `ray job stop` or the cluster)"
        return RunStatus(known=True, progress=last, ended=True, reason=reason)
    reason = _read(job_dir / JobFiles.ERROR)
    if not reason:
        detail = f": {message}" if message else ""
        tail = _tail(logs)
        reason = f"the run failed on the Ray cluster {where}{detail}" + (f"; its log ends with: {tail}" if tail else "")
        if not job_dir.exists() or "No such file" in tail:
            reason += (f" (is {job_dir.parent.parent} on storage the cluster's nodes mount at the same path, and is "
                       "Sentra installed in the cluster's image?)")
    return RunStatus(known=True, progress=last, ended=True, reason=reason[:4000])


class RayJobsRunner:
    def __init__(self, address: str, *, token: str = "", ca_file: Path | None = None,
                 deadline_seconds: float = 10.0, stop_grace_seconds: float = 10.0,
                 unreachable_seconds: float = 300.0, python: str = "python", connect=None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.address = address.rstrip("/")
        self.stop_grace_seconds = stop_grace_seconds
        self.unreachable_seconds = unreachable_seconds
        self.python = python
        self._connect = connect or (lambda: _client(self.address, token, ca_file, deadline_seconds))
        self._clock = clock
        self._api = None
        self._submissions: dict[str, str] = {}  # job id → the submission followed
        self._failed: dict[str, str] = {}  # job id → why it could not be submitted
        self._unreachable_since: dict[str, float] = {}

    # ---- the port

    def launch(self, job_id: str, job_dir: Path, reference_adapter_dir: Path | None = None) -> None:
        self._failed.pop(job_id, None)
        try:
            self._launch(job_id, job_dir, reference_adapter_dir)
        except Exception as exc:  # the job's failure, in words: it was not submitted
            logger.warning("training job %s could not be submitted to %s", job_id, self.address, exc_info=True)
            self._failed[job_id] = self._unreachable(exc, "the job was not submitted; check that the cluster's head "
                                                     "is up and its dashboard (Jobs API) reachable from this "
                                                     "service, and the token (SENTRA_TRAINING_RAY_TOKEN_FILE)")

    def status(self, job_id: str, job_dir: Path) -> RunStatus:
        if job_id in self._failed:
            return RunStatus(known=True, progress=_last(job_dir), ended=True, reason=self._failed.pop(job_id))
        submission = self._submissions.get(job_id) or _read(job_dir / JobFiles.SUBMISSION)
        if not submission:
            return self._not_running(job_dir)
        try:
            api = self._client()
            info = _info(api, submission)
        except Exception as exc:
            return self._still_unknown(job_id, job_dir, exc)
        self._unreachable_since.pop(job_id, None)
        if info is None:  # not on this cluster (it was replaced): started again, it resumes
            self._submissions.pop(job_id, None)
            return self._not_running(job_dir)
        if job_id not in self._submissions:
            logger.info("training job %s: following its run %s on %s", job_id, submission, self.address)
            self._submissions[job_id] = submission
        state = str(info.status)
        status = run_status(state, info.message or "", job_dir, lambda: api.get_job_logs(submission),
                            f"{self.address} (submission {submission})")
        if status.ended:
            self._submissions.pop(job_id, None)
        return status

    def stop(self, job_id: str) -> None:
        """Stops the job's run on the cluster (Ray sends SIGTERM, then SIGKILL) and waits
        up to the grace period for it to end."""
        submission = self._submissions.pop(job_id, None)
        try:
            api = self._client()
            if submission:
                running = [submission]
            else:  # not followed by this service (yet): every live submission of the job
                running = [j.submission_id for j in api.list_jobs()
                           if (j.metadata or {}).get("sentra_job_id") == job_id and not j.status.is_terminal()]
            for name in running:
                api.stop_job(name)
            deadline = self._clock() + self.stop_grace_seconds
            for name in running:
                while not api.get_job_status(name).is_terminal() and self._clock() < deadline:
                    time.sleep(0.2)
        except Exception as exc:
            self._api = None
            raise Unavailable(f"training job {job_id} could not be stopped on the Ray cluster {self.address} "
                              f"({_short(exc)}); try again when it answers") from None

    def stop_all(self) -> None:
        """Nothing to stop: the runs belong to the cluster and outlive this service, which
        finds them again when it is back."""
        self._submissions.clear()

    # ---- inside

    def _launch(self, job_id: str, job_dir: Path, reference_adapter_dir: Path | None) -> None:
        api = self._client()
        current = _read(job_dir / JobFiles.SUBMISSION)
        attempt = 1
        if current:
            info = _info(api, current)
            if info is not None and not info.status.is_terminal():
                logger.info("training job %s: its run %s is still on %s; following it", job_id, current, self.address)
                self._submissions[job_id] = current
                return
            # an ended run is not submitted again under its id; one the cluster does not know may be
            attempt = attempt_of(current) + (1 if info is not None else 0)
        submission = submission_id(job_id, max(attempt, 1))
        spec_file = job_dir / JobFiles.JOB
        spec = json.loads(spec_file.read_text())
        spec["reference_adapter_dir"] = str(reference_adapter_dir) if reference_adapter_dir else None
        spec["ray_address"] = "auto"  # the run joins the cluster it was submitted to
        spec_file.write_text(json.dumps(spec, indent=2))
        for name in (JobFiles.RESULT, JobFiles.ERROR, JobFiles.PHASE):
            (job_dir / name).unlink(missing_ok=True)
        (job_dir / JobFiles.SUBMISSION).write_text(submission)  # before: a restart finds it either way
        self._submissions[job_id] = submission
        try:
            api.submit_job(
                entrypoint=f"{self.python} -m {ENTRYPOINT_MODULE} {shlex.quote(str(job_dir))}",
                submission_id=submission, runtime_env={"env_vars": dict(RUN_ENV)},
                metadata={"sentra_job_id": job_id, "sentra_department": str(spec.get("department", "")),
                          "sentra_service": "training"},
            )
        except RuntimeError:
            if _info(api, submission) is None:
                raise
            logger.info("training job %s: %s was already submitted; following it", job_id, submission)
            return
        logger.info("training job %s submitted to %s as %s", job_id, self.address, submission)

    def _client(self):
        if self._api is None:
            self._api = self._connect()
        return self._api

    def _not_running(self, job_dir: Path) -> RunStatus:
        if (job_dir / JobFiles.RESULT).exists():  # it ended, and what came after (recording it) did not
            return run_status("SUCCEEDED", "", job_dir, lambda: "", self.address)
        return RunStatus(known=False, progress=_last(job_dir))

    def _still_unknown(self, job_id: str, job_dir: Path, exc: Exception) -> RunStatus:
        """The cluster did not answer about a running job: it counts as running until it
        has not answered for `unreachable_seconds`."""
        now = self._clock()
        since = self._unreachable_since.setdefault(job_id, now)
        if now - since < self.unreachable_seconds:
            logger.warning("training job %s: the Ray cluster %s did not answer (%s); trying again", job_id,
                           self.address, _short(exc))
            return RunStatus(known=True, progress=_last(job_dir), phase=_read(job_dir / JobFiles.PHASE))
        self._unreachable_since.pop(job_id, None)
        self._submissions.pop(job_id, None)
        reason = self._unreachable(exc, f"it did not answer for {self.unreachable_seconds:.0f} s; the run may still "
                                        "be there (`ray job list`)")
        return RunStatus(known=True, progress=_last(job_dir), ended=True, reason=reason)

    def _unreachable(self, exc: Exception, what: str) -> str:
        self._api = None  # connect again next time
        return f"the Ray cluster at {self.address} failed: {_short(exc)}; {what}"


def _client(address: str, token: str, ca_file: Path | None, deadline_seconds: float):
    """A JobSubmissionClient whose every request has a deadline and that tells a
    submission it does not know (404) from other refusals. With a token it is sent as
    `Authorization: Bearer` (Ray's token authentication); without, Ray's own look-up
    applies (RAY_AUTH_MODE=token with RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH)."""
    from ray.job_submission import JobSubmissionClient

    class Client(JobSubmissionClient):
        def _do_request(self, method, endpoint, **kwargs):
            kwargs.setdefault("timeout", deadline_seconds)
            return super()._do_request(method, endpoint, **kwargs)

        def _raise_error(self, r):
            if r.status_code == 404:
                raise SubmissionNotFound(r.text)
            super()._raise_error(r)

    headers = {"Authorization": f"Bearer {token}"} if token else None
    return Client(address, headers=headers, verify=str(ca_file) if ca_file else True)


def _info(api, submission: str):
    try:
        return api.get_job_info(submission)
    except SubmissionNotFound:
        return None


def _last(job_dir: Path) -> dict:
    progress = read_progress(job_dir / JobFiles.RUNS / JobFiles.RUN_NAME)
    return progress[-1] if progress else {}


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _tail(logs: Callable[[], str]) -> str:
    try:
        text = logs() or ""
    except Exception as exc:  # the log is a courtesy: its absence is said, not raised
        return f"(its log could not be read: {_short(exc)})"
    return " | ".join(line for line in text.strip()[-LOG_TAIL_CHARS:].splitlines() if line.strip())


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__
