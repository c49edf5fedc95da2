"""Training jobs: started from an imported JSONL file for one department, queued (one
running job per department, `max_running_jobs` on the machine), run by the `Runner`,
followed step by step, cancelled, and started again from their last checkpoint when the
service (or a worker) died under them. A finished job's adapter is evaluated (by its run),
judged by the promotion gate (`gate`), given a model card and handed to serving
(`AdapterPublisher`): registered, and its alias moved to it when promoted.

Every job belongs to its department and follows the same rule as documents
(`sentra_common.access`): a job of another department is "not found", never "forbidden".
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sentra_common.access import (
    departments_to_list,
    require_department_member,
    validate_department,
)
from sentra_common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from sentra_common.principal import Principal
from sentra_common.sealed import SealedFiles

from sentra_training.domain.model import JobFiles, JobRecord, JobState
from sentra_training.domain.ports import AdapterPublisher, Decision, Evaluator, Runner, Store, TrainingCore

logger = logging.getLogger(__name__)

TRAINING_ROLES = frozenset({"platform-admin", "dept-admin", "trainer"})
ADAPTER_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PromotionRules:
    """See `config.PromotionSettings`."""

    margin: float = 0.02
    regression_tolerance: float = 0.10
    test_fraction: float = 0.1
    min_examples_for_test: int = 5
    max_test_examples: int = 50
    max_new_tokens: int = 48
    regression_texts: int = 30


PLAIN_FILES = SealedFiles(None)


@dataclass(frozen=True)
class Environment:
    """What jobs run with, from the service's settings."""

    jobs_dir: Path
    base_model_dir: Path
    code_version: str
    ray_address: str = ""
    workers: int = 1
    threads_per_worker: int = 2
    memory_mb: int = 0
    max_running_jobs: int = 1
    max_dataset_bytes: int = 64 * 1024 * 1024
    max_examples: int = 200_000
    promotion: PromotionRules = PromotionRules()
    # Encryption at rest: the files jobs write (datasets, checkpoints, adapters) go through
    # these (sealed when a key is configured), and each job's run is given the key file.
    files: SealedFiles = PLAIN_FILES
    key_file: str = ""
    # The GPU path's options (`lora.gpu.GpuOptions`), given to each job's run.
    gpu: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StartRequest:
    department: str
    adapter_name: str
    dataset_jsonl: bytes
    dataset_filename: str
    settings: dict  # hyper-parameters given (the rest take their defaults)
    # From a dataset version: its test split (never trained on) and its lineage (id,
    # version, documents, generator); empty for an imported file, whose test share is drawn.
    test_jsonl: bytes = b""
    lineage: dict | None = None


@dataclass(frozen=True)
class EvaluationSet:
    """Examples to evaluate an adapter on (JSONL in a training file's format)."""

    department: str
    jsonl: bytes
    name: str


@dataclass(frozen=True)
class AdapterEvaluation:
    job: JobRecord
    test_set: str
    candidate: dict
    base: dict
    reference: dict
    reference_job_id: str


def model_digest(directory: Path) -> str:
    """SHA-256 over the base model's files (names, sizes and bytes), as stored with each job."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(directory)}\0{path.stat().st_size}\0".encode())
        with path.open("rb") as fh:
            while piece := fh.read(1 << 20):
                digest.update(piece)
    return digest.hexdigest()


class TrainingJobs:
    def __init__(self, store: Store, runner: Runner, environment: Environment, publisher: AdapterPublisher,
                 core: TrainingCore, clock: Callable[[], datetime] = utcnow,
                 evaluator: Evaluator | None = None) -> None:
        self.core = core
        self.evaluator = evaluator
        self.store = store
        self.runner = runner
        self.publisher = publisher
        self.env = environment
        self.clock = clock
        self._base_digest: str | None = None
        self._tick_lock = asyncio.Lock()

    def job_dir(self, job: JobRecord) -> Path:
        return self.env.jobs_dir / job.department / job.id

    async def base_digest(self) -> str:
        if self._base_digest is None:
            self._base_digest = await asyncio.to_thread(model_digest, self.env.base_model_dir)
        return self._base_digest

    # ---- the doors

    async def start(self, principal: Principal, request: StartRequest) -> JobRecord:
        department = validate_department(request.department)
        _require_trainer(principal, department)
        if not ADAPTER_NAME_RE.fullmatch(request.adapter_name):
            raise InvalidArgument(
                f"adapter name {request.adapter_name!r} is not valid: use 1-64 lowercase letters, digits, '-' or '_'"
            )
        if not request.dataset_jsonl:
            raise InvalidArgument("no training data: send a JSONL file (one example per line, "
                                  "{\"messages\": [...]} or {\"instruction\", \"output\"})")
        if len(request.dataset_jsonl) > self.env.max_dataset_bytes:
            raise InvalidArgument(
                f"the training file is {len(request.dataset_jsonl)} bytes, more than the limit of "
                f"{self.env.max_dataset_bytes} (SENTRA_TRAINING_MAX_DATASET_BYTES); split it or raise the limit"
            )
        try:
            config = self.core.settings(request.settings)
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
        job = JobRecord(
            id=str(uuid.uuid4()), department=department, adapter_name=request.adapter_name,
            created_by=principal.subject, state=JobState.QUEUED, reproducibility={}, created_at=self.clock(),
        )
        job_dir = self.job_dir(job)
        job_dir.mkdir(parents=True)
        try:
            try:
                examples = await asyncio.to_thread(self.core.count_examples, request.dataset_jsonl,
                                                   self.env.max_examples)
            except ValueError as exc:
                raise InvalidArgument(f"{request.dataset_filename or 'the training file'}: {exc}") from None
            if request.test_jsonl:
                train, test = request.dataset_jsonl, request.test_jsonl
                train_count, test_count = examples, request.test_jsonl.count(b"\n")
            else:
                train, test, train_count, test_count = split_for_test(request.dataset_jsonl, config["seed"],
                                                                      self.env.promotion)
            await asyncio.to_thread(self.env.files.write_bytes, job_dir / JobFiles.DATASET, train)
            if test:
                await asyncio.to_thread(self.env.files.write_bytes, job_dir / JobFiles.TEST, test)
            job.reproducibility = {
                "config": config,
                "dataset": {"filename": request.dataset_filename, "examples": examples,
                            "sha256": hashlib.sha256(request.dataset_jsonl).hexdigest(),
                            "train_examples": train_count, "test_examples": test_count,
                            **({"version": request.lineage} if request.lineage else {})},
                "base_model": {"path": str(self.env.base_model_dir), "sha256": await self.base_digest()},
                "code_version": self.env.code_version,
                "ray": {"address": self.env.ray_address or "local", "workers": self.env.workers,
                        "threads_per_worker": self.env.threads_per_worker},
            }
            (job_dir / JobFiles.JOB).write_text(json.dumps({
                "config": job.reproducibility["config"], "base_model_dir": str(self.env.base_model_dir),
                "department": department, "workers": self.env.workers,
                "threads_per_worker": self.env.threads_per_worker,
                "memory_bytes": self.env.memory_mb * 1024 * 1024,
                "max_new_tokens": self.env.promotion.max_new_tokens,
                "regression_texts": self.env.promotion.regression_texts,
                "encryption_key_file": self.env.key_file or None,
                "gpu": self.env.gpu,
            }, indent=2))
            await self.store.insert(job)
        except BaseException:
            shutil.rmtree(job_dir, ignore_errors=True)  # nothing half-started
            raise
        logger.info("training job %s queued for department %s (adapter %s, %d examples)", job.id, department,
                    job.adapter_name, examples)
        await self.tick()
        return await self._positioned(await self.store.get(job.id))

    async def get(self, principal: Principal, job_id: str) -> JobRecord:
        return await self._positioned(await self._readable(principal, job_id))

    async def model_card(self, job: JobRecord) -> str:
        """The stored model card of the job's adapter (JSON text), or "" before there is one."""
        if not job.artifact_path:
            return ""
        path = self.publisher.stored(job.department, job.artifact_path) / "model_card.json"
        try:
            return (await asyncio.to_thread(self.env.files.read_either, path)).decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return ""

    async def evaluate(self, principal: Principal, job_id: str, *, adapter_name: str = "",
                       test: EvaluationSet | None = None) -> AdapterEvaluation:
        """The job's adapter against the base model and the adapter of its name promoted
        before it, on `test` (a dataset version's test split, of the job's department) or
        on the examples held out of the job's own file."""
        job = await self._readable(principal, job_id)
        _require_trainer(principal, job.department)
        if adapter_name and adapter_name != job.adapter_name:
            raise InvalidArgument(f"training job {job_id} trained adapter {job.adapter_name!r}, not {adapter_name!r}")
        if job.state != JobState.SUCCEEDED or not job.artifact_path:
            raise FailedPrecondition(f"training job {job_id} is {job.state.value}: only a job that SUCCEEDED has an "
                                     "adapter to evaluate")
        if test is not None and test.department != job.department:
            raise InvalidArgument(f"the dataset belongs to {test.department} and the job to {job.department}: "
                                  "evaluate an adapter on its own department's data")
        if test is None:
            held_out = self.job_dir(job) / JobFiles.TEST
            if not held_out.is_file():
                raise FailedPrecondition(f"training job {job_id} held no examples out of its file; name a dataset "
                                         "version to evaluate on (--dataset)")
            test = EvaluationSet(job.department, await asyncio.to_thread(self.env.files.read_bytes, held_out),
                                 "the job's held-out examples")
        if not test.jsonl.strip():
            raise FailedPrecondition(f"{test.name} has no examples to evaluate on")
        if self.evaluator is None:
            raise FailedPrecondition("this training service runs no evaluations")
        before = [j for j in await self.store.list([job.department], (JobState.SUCCEEDED,))
                  if j.adapter_name == job.adapter_name and j.promoted and j.artifact_path and j.id != job.id
                  and j.finished_at and job.finished_at and j.finished_at < job.finished_at]
        reference = max(before, key=lambda j: j.finished_at) if before else None
        scores = await self.evaluator.evaluate(
            self.publisher.stored(job.department, job.artifact_path), test.jsonl,
            self.publisher.stored(job.department, reference.artifact_path) if reference else None)
        logger.info("adapter of training job %s evaluated by %s on %s", job.id, principal.subject, test.name)
        return AdapterEvaluation(job=job, test_set=test.name, candidate=scores.get("candidate", {}),
                                 base=scores.get("base", {}), reference=scores.get("reference", {}),
                                 reference_job_id=reference.id if reference else "")

    async def list(self, principal: Principal, department: str = "") -> list[JobRecord]:
        departments = departments_to_list(principal, department)
        jobs = await self.store.list(departments)
        positions = _queue_positions(await self.store.list(departments, (JobState.QUEUED,)))
        for job in jobs:
            job.queue_position = positions.get(job.id, 0)
        return sorted(jobs, key=lambda j: j.created_at, reverse=True)

    async def cancel(self, principal: Principal, job_id: str) -> JobRecord:
        job = await self._readable(principal, job_id)
        _require_trainer(principal, job.department)
        if job.state.ended:
            raise FailedPrecondition(f"training job {job_id} has already ended ({job.state.value}); nothing to cancel")
        async with self._tick_lock:
            job = await self.store.get(job_id)
            if job.state == JobState.RUNNING:
                await asyncio.to_thread(self.runner.stop, job_id)
            if job.state.ended:
                raise FailedPrecondition(f"training job {job_id} has already ended ({job.state.value})")
            await self.store.update(job_id, expect_state=job.state, state=JobState.CANCELLED,
                                    failure_reason=f"cancelled by {principal.subject}", finished_at=self.clock(),
                                    eta_seconds=0.0)
        logger.info("training job %s cancelled by %s", job_id, principal.subject)
        await self.tick()
        return await self._positioned(await self.store.get(job_id))

    # ---- the loop

    async def tick(self) -> None:
        """One pass: collect ended runs, record progress, start again the runs this
        service did not start (it was restarted), and start queued jobs where allowed."""
        async with self._tick_lock:
            for job in await self.store.list(None, ACTIVE):
                await self._follow(job)
            running = await self.store.list(None, ACTIVE)
            busy = {job.department for job in running}
            free = self.env.max_running_jobs - len(running)
            for job in await self.store.list(None, (JobState.QUEUED,)):
                if free <= 0:
                    break
                if job.department in busy:
                    continue
                if await self.store.update(job.id, expect_state=JobState.QUEUED, state=JobState.RUNNING,
                                           started_at=self.clock()):
                    await asyncio.to_thread(self.runner.launch, job.id, self.job_dir(job), await self._reference(job))
                    logger.info("training job %s started", job.id)
                    busy.add(job.department)
                    free -= 1

    async def _follow(self, job: JobRecord) -> None:
        status = await asyncio.to_thread(self.runner.status, job.id, self.job_dir(job))
        progress = _progress_fields(status.progress)
        if not status.known:
            # Running when this service last stopped: its run died with it; start it again
            # on the same run directory, which resumes from the last checkpoint.
            await asyncio.to_thread(self.runner.launch, job.id, self.job_dir(job), await self._reference(job))
            await self.store.update(job.id, expect_state=job.state, state=JobState.RUNNING,
                                    restarts=job.restarts + 1, **progress)
            logger.warning("training job %s was running when the service stopped; started again (it resumes from "
                           "its last checkpoint)", job.id)
            return
        if not status.ended:
            state = JobState.EVALUATING if status.phase == "evaluating" else job.state
            changed = progress and (progress["step"], progress["resumed_from_step"]) != (job.step,
                                                                                       job.resumed_from_step)
            if changed or state != job.state:  # a write only when something moved
                await self.store.update(job.id, expect_state=job.state, state=state, **progress)
            return
        if not status.succeeded:
            await self.store.update(job.id, expect_state=job.state, state=JobState.FAILED,
                                    failure_reason=status.reason, finished_at=self.clock(), **progress)
            logger.warning("training job %s failed: %s", job.id, status.reason)
            return
        decision = gate(status.evaluation, self.env.promotion)
        metrics = {"final_loss": float(status.progress.get("loss", 0.0)),
                   "tokens_per_second": float(status.progress.get("tokens_per_s", 0.0)),
                   "train_seconds": float(status.progress.get("elapsed_s", 0.0)),
                   "peak_worker_rss_mb": float(status.progress.get("peak_rss_mb", 0.0))}
        if status.progress.get("peak_gpu_mb"):
            metrics["peak_gpu_mb"] = float(status.progress["peak_gpu_mb"])
        for model, scores in status.evaluation.items():
            metrics.update({f"{model}.{name}": float(value) for name, value in scores.items()})
        finished = self.clock()
        card = model_card(job, metrics, status.evaluation, decision, finished)
        # Published before it is recorded: a failure here leaves the job as it was, and
        # the next pass publishes again (the same artifact, the same event id).
        path = await self.publisher.publish(job, Path(status.adapter_dir), card, decision)
        await self.store.update(job.id, expect_state=job.state, state=JobState.SUCCEEDED, finished_at=finished,
                                metrics=metrics, promoted=decision.promote, decision=decision.reason,
                                artifact_path=path, **{**progress, "eta_seconds": 0.0})
        logger.info("training job %s succeeded; adapter %s/%s %s: %s", job.id, job.department, path,
                    "promoted" if decision.promote else "not promoted", decision.reason)

    async def _reference(self, job: JobRecord) -> Path | None:
        """The adapter this job's candidate must beat: the last one promoted under its name."""
        promoted = [j for j in await self.store.list([job.department], (JobState.SUCCEEDED,))
                    if j.adapter_name == job.adapter_name and j.promoted and j.artifact_path]
        return self.publisher.stored(job.department, promoted[-1].artifact_path) if promoted else None

    async def _readable(self, principal: Principal, job_id: str) -> JobRecord:
        job = await self.store.get(job_id) if is_uuid(job_id) else None
        if job is None or not principal.may_access_department(job.department):
            raise NotFound(f"training job {job_id} not found")
        return job

    async def _positioned(self, job: JobRecord) -> JobRecord:
        if job.state == JobState.QUEUED:
            queued = await self.store.list([job.department], (JobState.QUEUED,))
            job.queue_position = _queue_positions(queued).get(job.id, 0)
        return job


ACTIVE = (JobState.RUNNING, JobState.EVALUATING)


def split_for_test(data: bytes, seed: int, rules: PromotionRules) -> tuple[bytes, bytes, int, int]:
    """A seeded share of the file's examples held out for the test (never trained on):
    (training lines, test lines, their counts). A file with fewer than
    `min_examples_for_test` keeps them all (and the test is empty)."""
    lines = [line for line in data.decode("utf-8").splitlines() if line.strip()]
    if len(lines) < rules.min_examples_for_test:
        return data, b"", len(lines), 0
    count = min(max(1, round(len(lines) * rules.test_fraction)), rules.max_test_examples)
    order = list(range(len(lines)))
    random.Random(f"sentra-test-split:{seed}").shuffle(order)
    held = set(order[:count])
    test = "".join(lines[i] + "\n" for i in sorted(held))
    train = "".join(lines[i] + "\n" for i in range(len(lines)) if i not in held)
    return train.encode("utf-8"), test.encode("utf-8"), len(lines) - count, count


def gate(evaluation: dict, rules: PromotionRules) -> Decision:
    """Promote only a candidate that beats the reference (the adapter promoted before, else
    the base model) on the test split by the margin, without losing on the regression set."""
    if "candidate" not in evaluation:
        return Decision(False, f"not evaluated: the file had fewer than {rules.min_examples_for_test} examples, so "
                               "none were held out for a test; registered inactive (activate it yourself if you "
                               "trust it)")
    candidate = evaluation["candidate"]
    against = "reference" if "reference" in evaluation else "base"
    reference = evaluation[against]
    label = "the adapter promoted before" if against == "reference" else "the base model"
    gain = candidate["token_f1"] - reference["token_f1"]
    if gain < rules.margin:
        return Decision(False, f"token F1 on the {int(candidate['examples'])} test examples {candidate['token_f1']:.3f}"
                               f" against {reference['token_f1']:.3f} for {label}: a gain of {gain:+.3f}, below the "
                               f"margin of {rules.margin:+.3f}")
    limit = reference["regression_perplexity"] * (1 + rules.regression_tolerance)
    if candidate["regression_perplexity"] > limit:
        return Decision(False, f"perplexity on the regression set {candidate['regression_perplexity']:.2f} against "
                               f"{reference['regression_perplexity']:.2f} for {label}: more than "
                               f"{rules.regression_tolerance:.0%} worse")
    return Decision(True, f"token F1 on the {int(candidate['examples'])} test examples {candidate['token_f1']:.3f} "
                          f"against {reference['token_f1']:.3f} for {label} (gain {gain:+.3f}, margin "
                          f"{rules.margin:+.3f}); regression-set perplexity {candidate['regression_perplexity']:.2f} "
                          f"against {reference['regression_perplexity']:.2f}")


def model_card(job: JobRecord, metrics: dict, evaluation: dict, decision: Decision, finished: datetime) -> dict:
    """What the adapter is, from what and how it was trained, how it scored, and whether it
    was promoted: stored beside its files and with its job."""
    return {
        "adapter": job.adapter_name, "department": job.department, "job_id": job.id,
        "created_by": job.created_by, "created_at": job.created_at.isoformat(), "finished_at": finished.isoformat(),
        "base_model": job.reproducibility.get("base_model", {}), "dataset": job.reproducibility.get("dataset", {}),
        "config": job.reproducibility.get("config", {}), "code_version": job.reproducibility.get("code_version", ""),
        "training": {"steps": job.step, "restarts": job.restarts, "resumed_from_step": job.resumed_from_step,
                     "final_loss": metrics.get("final_loss"), "tokens_per_second": metrics.get("tokens_per_second")},
        "evaluation": evaluation,
        "evaluation_sets": {"test": "held out of the job's file (never trained on)",
                            "regression": "perplexity of 30 SQuAD-es paragraphs with a question each, read as plain "
                                          "text; XQuAD paragraphs excluded (sentra_training/lora/regression.jsonl; "
                                          "CC BY 4.0)"},
        "promoted": decision.promote, "decision": decision.reason,
    }


def _require_trainer(principal: Principal, department: str) -> None:
    require_department_member(principal, department)
    if not (TRAINING_ROLES & set(principal.roles)):
        raise PermissionDenied("training needs the trainer or department-admin role; ask your department's admin")


def _queue_positions(queued: list[JobRecord]) -> dict[str, int]:
    """1 for the next job of its department, 2 for the one after…"""
    seen: dict[str, int] = {}
    positions = {}
    for job in sorted(queued, key=lambda j: (j.created_at, j.id)):
        seen[job.department] = seen.get(job.department, 0) + 1
        positions[job.id] = seen[job.department]
    return positions


def _progress_fields(progress: dict) -> dict:
    if not progress:
        return {}
    return {
        "step": int(progress.get("step", 0)), "total_steps": int(progress.get("total_steps", 0)),
        "loss": float(progress.get("loss", 0.0)), "tokens_per_second": float(progress.get("tokens_per_s", 0.0)),
        "eta_seconds": float(progress.get("eta_s", 0.0)), "resumed_from_step": int(progress.get("started_step", 0)),
    }


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, TypeError):
        return False
    return True
