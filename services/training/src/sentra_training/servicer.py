"""gRPC surface of the training service: proto in → domain → proto out."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC

from google.protobuf.timestamp_pb2 import Timestamp
from sentra.training.v1 import training_pb2, training_pb2_grpc
from sentra_common.errors import InvalidArgument
from sentra_common.principal import current_principal

from sentra_training.domain.datasets import (
    CreateRequest,
    DatasetRecord,
    Datasets,
    DatasetState,
    ItemFilter,
    ItemRecord,
    ItemStatus,
)
from sentra_training.domain.model import JobRecord, JobState
from sentra_training.domain.schedules import RunRecord, ScheduleRecord, Schedules, ScheduleSpec
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
_DATASET_STATES = {
    DatasetState.GENERATING: training_pb2.DATASET_STATE_GENERATING,
    DatasetState.READY: training_pb2.DATASET_STATE_READY,
    DatasetState.FAILED: training_pb2.DATASET_STATE_FAILED,
}
_ITEM_STATUSES = {
    ItemStatus.PENDING: training_pb2.ITEM_STATUS_PENDING, ItemStatus.APPROVED: training_pb2.ITEM_STATUS_APPROVED,
    ItemStatus.REJECTED: training_pb2.ITEM_STATUS_REJECTED, ItemStatus.WITHDRAWN: training_pb2.ITEM_STATUS_WITHDRAWN,
}
_FROM_ITEM_STATUS = {v: k for k, v in _ITEM_STATUSES.items()}


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


def dataset_to_proto(record: DatasetRecord) -> training_pb2.Dataset:
    counts = record.counts
    return training_pb2.Dataset(
        dataset_id=record.id, department=record.department, version=record.version,
        train_examples=counts.get("train", 0), validation_examples=counts.get("validation", 0),
        test_examples=counts.get("test", 0), created_at=_ts(record.created_at), state=_DATASET_STATES[record.state],
        failure_reason=record.failure_reason, created_by=record.created_by, source=record.source,
        generator_id=record.generator_id, pii_mode=record.pii_mode, chunks_done=record.chunks_done,
        chunks_total=record.chunks_total, pending=counts.get("PENDING", 0), approved=counts.get("APPROVED", 0),
        rejected=counts.get("REJECTED", 0), withdrawn=counts.get("WITHDRAWN", 0), dropped=record.dropped,
        withdrawn_document_ids=record.withdrawn_document_ids, pii_found=record.pii_found,
        document_ids=record.document_ids, finished_at=_ts(record.finished_at), timings=record.timings,
    )


def item_to_proto(item: ItemRecord) -> training_pb2.DatasetItem:
    return training_pb2.DatasetItem(
        item_id=item.id, dataset_id=item.dataset_id, document_id=item.document_id,
        document_version=item.document_version, chunk_id=item.chunk_id, document_title=item.document_title,
        split=item.split, question=item.question, answer=item.answer, context=item.context,
        language=item.language, context_language=item.context_language, score=item.score,
        status=_ITEM_STATUSES[item.status], pii=[training_pb2.PiiCount(entity=k, count=v) for k, v in item.pii.items()],
        edited=item.edited, generator_id=item.generator_id, reviewed_by=item.reviewed_by,
    )


def schedule_to_proto(record: ScheduleRecord) -> training_pb2.Schedule:
    settings = training_pb2.TrainingSettings(**{
        field: record.settings[name] for field, name in _SETTINGS.items() if name in record.settings},
        general_text_ratio=record.settings.get("general_text_ratio"))
    return training_pb2.Schedule(
        schedule_id=record.id, department=record.department, adapter_name=record.adapter_name, cron=record.cron,
        min_new_documents=record.min_new_documents, last_run_at=_ts(record.last_run_at),
        time_zone=record.time_zone, paused=record.paused, next_run_at=_ts(record.next_run_at),
        created_by=record.created_by, created_at=_ts(record.created_at), min_score=record.min_score,
        settings=settings, new_documents=record.new_documents,
    )


def run_to_proto(run: RunRecord) -> training_pb2.ScheduleRun:
    return training_pb2.ScheduleRun(
        run_id=run.id, schedule_id=run.schedule_id, reason=run.reason, started_at=_ts(run.started_at),
        finished_at=_ts(run.finished_at), state=run.state, dataset_id=run.dataset_id, job_id=run.job_id,
        promoted=run.promoted, outcome=run.outcome,
    )


def settings_dict(settings: training_pb2.TrainingSettings) -> dict:
    """The LoraJobConfig values a request's settings give (0 / unset: the default)."""
    given = {name: getattr(settings, field) for field, name in _SETTINGS.items() if getattr(settings, field)}
    if settings.HasField("general_text_ratio"):  # 0 is a choice here (off), not "unset"
        given["general_text_ratio"] = settings.general_text_ratio
    return given


def settings_from(request: training_pb2.StartTrainingJobRequest) -> dict:
    given = settings_dict(request.settings)
    for field, name in (("max_steps", "max_steps"), ("learning_rate", "learning_rate"), ("lora_rank", "rank")):
        if name not in given and getattr(request, field):
            given[name] = getattr(request, field)
    return given


class TrainingServicer(training_pb2_grpc.TrainingServiceServicer):
    def __init__(self, jobs: TrainingJobs, datasets: Datasets, schedules: Schedules) -> None:
        self.jobs = jobs
        self.datasets = datasets
        self.schedules = schedules

    async def StartTrainingJob(self, request, context):
        principal = current_principal()
        start = StartRequest(
            department=request.department, adapter_name=request.adapter_name,
            dataset_jsonl=request.dataset_jsonl, dataset_filename=request.dataset_filename,
            settings=settings_from(request),
        )
        if request.dataset_id and not request.dataset_jsonl:
            start = await self.datasets.start_request(principal, request.dataset_id, request.adapter_name,
                                                      start.settings, request.department)
        job = await self.jobs.start(principal, start)
        return training_pb2.StartTrainingJobResponse(job=job_to_proto(job))

    # ---- datasets

    async def CreateDataset(self, request, context):
        record = await self.datasets.create(current_principal(), CreateRequest(
            department=request.department, document_ids=tuple(request.document_ids),
            since=request.since.ToDatetime(UTC) if request.HasField("since") else None,
            pii_mode=request.pii_mode, questions_per_chunk=request.questions_per_chunk,
            max_examples=request.max_examples, seed=request.seed,
        ))
        return training_pb2.CreateDatasetResponse(dataset=dataset_to_proto(record))

    async def GetDataset(self, request, context):
        record = await self.datasets.get(current_principal(), request.dataset_id)
        return training_pb2.GetDatasetResponse(dataset=dataset_to_proto(record))

    async def ListDatasets(self, request, context):
        records = await self.datasets.list(current_principal(), request.department)
        return training_pb2.ListDatasetsResponse(datasets=[dataset_to_proto(r) for r in records])

    async def ListDatasetItems(self, request, context):
        where = ItemFilter(status=_FROM_ITEM_STATUS.get(request.status), document_id=request.document_id,
                           text=request.text, split=request.split)
        items, token, total = await self.datasets.items(current_principal(), request.dataset_id, where,
                                                        request.page_size, request.page_token)
        return training_pb2.ListDatasetItemsResponse(items=[item_to_proto(i) for i in items],
                                                     next_page_token=token, total=total)

    async def ReviewDatasetItems(self, request, context):
        decision = _FROM_ITEM_STATUS.get(request.decision)
        if decision is None:
            raise InvalidArgument("decision must be ITEM_STATUS_APPROVED or ITEM_STATUS_REJECTED")
        changed, record = await self.datasets.review(current_principal(), request.dataset_id, decision,
                                                     list(request.item_ids), request.min_score)
        return training_pb2.ReviewDatasetItemsResponse(changed=changed, dataset=dataset_to_proto(record))

    async def EditDatasetItem(self, request, context):
        item = await self.datasets.edit(current_principal(), request.dataset_id, request.item_id,
                                        request.question, request.answer)
        return training_pb2.EditDatasetItemResponse(item=item_to_proto(item))

    async def ExportDataset(self, request, context):
        data, count = await self.datasets.export(current_principal(), request.dataset_id, request.format,
                                                 request.items, request.split)
        return training_pb2.ExportDatasetResponse(jsonl=data, items=count)

    async def ImportDataset(self, request, context):
        record = await self.datasets.import_(current_principal(), request.department, request.jsonl,
                                             request.filename, request.pii_mode, request.approved)
        return training_pb2.ImportDatasetResponse(dataset=dataset_to_proto(record))

    # ---- schedules

    async def CreateSchedule(self, request, context):
        given = request.schedule
        record = await self.schedules.create(current_principal(), ScheduleSpec(
            department=given.department, adapter_name=given.adapter_name, cron=given.cron,
            time_zone=given.time_zone, min_new_documents=given.min_new_documents, min_score=given.min_score,
            settings=settings_dict(given.settings),
        ))
        return training_pb2.CreateScheduleResponse(schedule=schedule_to_proto(record))

    async def ListSchedules(self, request, context):
        records = await self.schedules.list(current_principal(), request.department)
        return training_pb2.ListSchedulesResponse(schedules=[schedule_to_proto(r) for r in records])

    async def DeleteSchedule(self, request, context):
        await self.schedules.delete(current_principal(), request.schedule_id)
        return training_pb2.DeleteScheduleResponse()

    async def PauseSchedule(self, request, context):
        record = await self.schedules.pause(current_principal(), request.schedule_id, request.paused)
        return training_pb2.PauseScheduleResponse(schedule=schedule_to_proto(record))

    async def ListScheduleRuns(self, request, context):
        runs = await self.schedules.history(current_principal(), request.schedule_id)
        return training_pb2.ListScheduleRunsResponse(runs=[run_to_proto(r) for r in runs])

    # ---- jobs

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

    async def EvaluateAdapter(self, request, context):
        principal = current_principal()
        if not request.job_id:
            raise InvalidArgument("name the training job whose adapter to evaluate (job_id; `sentra train list`)")
        test = await self.datasets.test_split(principal, request.dataset_id) if request.dataset_id else None
        result = await self.jobs.evaluate(principal, request.job_id, adapter_name=request.adapter_name, test=test)

        def floats(scores: dict) -> dict[str, float]:
            return {k: float(v) for k, v in scores.items()}

        return training_pb2.EvaluateAdapterResponse(
            metrics=floats(result.candidate), baseline_metrics=floats(result.base),
            reference_metrics=floats(result.reference), reference_job_id=result.reference_job_id,
            test_examples=int(result.candidate.get("examples", 0)), test_set=result.test_set)

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
