"""gRPC surface of the training service: proto in → domain → proto out."""

from __future__ import annotations

import asyncio
import json

from google.protobuf.timestamp_pb2 import Timestamp
from sentra.training.v1 import training_pb2, training_pb2_grpc
from sentra_common.errors import FailedPrecondition
from sentra_common.principal import current_principal

from sentra_training.domain.model import JobRecord, JobState
from sentra_training.domain.service import StartRequest, TrainingJobs

_STATES = {
    JobState.QUEUED: training_pb2.JOB_STATE_QUEUED, JobState.RUNNING: training_pb2.JOB_STATE_RUNNING,
    JobState.EVALUATING: training_pb2.JOB_STATE_EVALUATING,
    JobState.SUCCEEDED: training_pb2.JOB_STATE_SUCCEEDED, JobState.FAILED: training_pb2.JOB_STATE_FAILED,
    JobState.CANCELLED: training_pb2.JOB_STATE_CANCELLED,
}
# Request fields → LoraJobConfig fields (0 / empty: the default).
_SETTINGS = {"epochs": "epochs", "learning_rate": "learning_rate", "lora_rank": "rank", "lora_alpha": "alpha",
             "max_seq_length": "max_seq_length", "batch_size": "batch_size", "seed": "seed",
             "checkpoint_every": "checkpoint_every", "max_steps": "max_steps"}
WATCH_POLL_SECONDS = 0.5
NOT_YET = "datasets come with the datasets issue; start a job from a JSONL file (dataset_jsonl)"


def _ts(value) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def job_to_proto(job: JobRecord) -> training_pb2.TrainingJob:
    return training_pb2.TrainingJob(
        job_id=job.id, adapter_name=job.adapter_name, state=_STATES[job.state], failure_reason=job.failure_reason,
        metrics=job.metrics, department=job.department, created_by=job.created_by, step=job.step,
        total_steps=job.total_steps, loss=job.loss, tokens_per_second=job.tokens_per_second,
        eta_seconds=job.eta_seconds, resumed_from_step=job.resumed_from_step, restarts=job.restarts,
        queue_position=job.queue_position, created_at=_ts(job.created_at), started_at=_ts(job.started_at),
        finished_at=_ts(job.finished_at), reproducibility_json=json.dumps(job.reproducibility, sort_keys=True),
        promoted=job.promoted, decision=job.decision, artifact_path=job.artifact_path,
    )


def settings_from(request: training_pb2.StartTrainingJobRequest) -> dict:
    given = {}
    for field, name in _SETTINGS.items():
        value = getattr(request.settings, field)
        if value:
            given[name] = value
    for field, name in (("max_steps", "max_steps"), ("learning_rate", "learning_rate"), ("lora_rank", "rank")):
        if name not in given and getattr(request, field):
            given[name] = getattr(request, field)
    return given


class TrainingServicer(training_pb2_grpc.TrainingServiceServicer):
    def __init__(self, jobs: TrainingJobs) -> None:
        self.jobs = jobs

    async def StartTrainingJob(self, request, context):
        if request.dataset_id and not request.dataset_jsonl:
            raise FailedPrecondition(f"dataset versions are not available yet: {NOT_YET}")
        job = await self.jobs.start(current_principal(), StartRequest(
            department=request.department, adapter_name=request.adapter_name,
            dataset_jsonl=request.dataset_jsonl, dataset_filename=request.dataset_filename,
            settings=settings_from(request),
        ))
        return training_pb2.StartTrainingJobResponse(job=job_to_proto(job))

    async def GetTrainingJob(self, request, context):
        job = await self.jobs.get(current_principal(), request.job_id)
        reply = job_to_proto(job)
        reply.model_card_json = await self.jobs.model_card(job)
        return training_pb2.GetTrainingJobResponse(job=reply)

    async def ListTrainingJobs(self, request, context):
        jobs = await self.jobs.list(current_principal(), request.department)
        return training_pb2.ListTrainingJobsResponse(jobs=[job_to_proto(j) for j in jobs])

    async def CancelTrainingJob(self, request, context):
        job = await self.jobs.cancel(current_principal(), request.job_id)
        return training_pb2.CancelTrainingJobResponse(job=job_to_proto(job))

    async def WatchTrainingJob(self, request, context):
        principal = current_principal()
        last = None
        while True:
            job = job_to_proto(await self.jobs.get(principal, request.job_id))
            current = (job.state, job.step, job.restarts, job.queue_position, job.failure_reason)
            if current != last:
                yield training_pb2.WatchTrainingJobResponse(job=job, step=job.step, loss=job.loss)
                last = current
            if job.state in (training_pb2.JOB_STATE_SUCCEEDED, training_pb2.JOB_STATE_FAILED,
                             training_pb2.JOB_STATE_CANCELLED):
                return
            await asyncio.sleep(WATCH_POLL_SECONDS)
