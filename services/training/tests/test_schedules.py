"""Training schedules with an injected clock, real SQLite stores, scripted datasets and a
scripted runner: the cron fires in the department's time zone and the run goes dataset →
approved items → job → outcome in the history; a run missed while the service was down
fires once; the document threshold fires; bad schedules are refused; only a department's
admin sets one up and other departments see nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sentra_common.db import create_engine, migrate, sqlite_url
from sentra_common.errors import InvalidArgument, NotFound, PermissionDenied
from sentra_common.principal import Principal
from sentra_training.adapters.cron import next_run
from sentra_training.adapters.dataset_store import DatasetStore
from sentra_training.adapters.lora_core import LoraCore, parse_example
from sentra_training.adapters.schedule_store import DocumentLedger, ScheduleStore
from sentra_training.adapters.store import JobStore
from sentra_training.app import MIGRATIONS
from sentra_training.domain.datasets import Datasets
from sentra_training.domain.ports import RunStatus
from sentra_training.domain.schedules import Schedules, ScheduleSpec
from sentra_training.domain.service import Environment, TrainingJobs

from services.training.tests.test_datasets import Source, Writer
from services.training.tests.test_training_jobs import RecordingPublisher, ScriptedRunner

ADMIN = Principal("marta", departments=("legal",), roles=("dept-admin",))
ANA = Principal("ana", departments=("legal",), roles=("trainer",))
LUIS = Principal("luis", departments=("rrhh",), roles=("dept-admin",))
SCORES = {"token_f1": 0.5, "regression_perplexity": 10.0, "examples": 2.0}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def world(tmp_path):
    engine = create_engine(sqlite_url(tmp_path / "meta.db"))
    await migrate(engine, MIGRATIONS, "alembic_version_training")
    clock = Clock(datetime(2026, 12, 2, 9, 0, tzinfo=UTC))  # a Wednesday
    runner = ScriptedRunner()
    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text("{}")
    jobs = TrainingJobs(JobStore(engine), runner, Environment(jobs_dir=tmp_path / "jobs", base_model_dir=base,
                                                              code_version="test"),
                        RecordingPublisher(tmp_path / "adapters"), LoraCore(), clock=clock)
    datasets = Datasets(DatasetStore(engine), Source(), Source(), Writer(), tmp_path / "datasets",
                        parse_line=parse_example, own_source=Source(), clock=clock)
    ledger = DocumentLedger(engine)
    schedules = Schedules(ScheduleStore(engine), ledger, datasets, jobs, next_run, clock=clock)
    yield schedules, jobs, runner, ledger, clock
    await datasets.close()
    await engine.dispose()


async def settle(schedules: Schedules, jobs: TrainingJobs, runner: ScriptedRunner, run_id_holder: list) -> None:
    """Tick until the run's dataset is made and its job started, then finish the job."""
    for _ in range(100):
        await schedules.tick()
        runs = await schedules.store.runs()
        if runs and runs[-1].job_id:
            run_id_holder.append(runs[-1].job_id)
            break
        await asyncio.sleep(0.02)
    job_id = run_id_holder[-1]
    runner.states[job_id] = RunStatus(known=True, ended=True, succeeded=True, adapter_dir="/x",
                                      progress={"step": 2, "total_steps": 2},
                                      evaluation={"base": {**SCORES, "token_f1": 0.1}, "candidate": SCORES})
    await jobs.tick()
    await schedules.tick()


async def test_friday_evening_in_madrid_the_new_documents_monday_a_better_model(world):
    schedules, jobs, runner, ledger, clock = world
    for i, document in enumerate(("d-legal-1", "d-legal-2", "d-legal-3")):
        await ledger.indexed(document, "legal", 1, clock.now - timedelta(days=3, minutes=i))
    created = await schedules.create(ADMIN, ScheduleSpec("legal", "contratos", cron="0 18 * * fri",
                                                          time_zone="Europe/Madrid", min_score=0.5,
                                                          settings={"max_steps": 2}))
    assert created.next_run_at == datetime(2026, 12, 4, 17, 0, tzinfo=UTC)  # 18:00 in Madrid (CET)
    assert created.settings["max_steps"] == 2 and created.settings["seed"] == 0
    clock.now = datetime(2026, 12, 4, 16, 59, tzinfo=UTC)
    await schedules.tick()
    assert await schedules.history(ADMIN, created.id) == []
    clock.now = datetime(2026, 12, 4, 17, 0, 20, tzinfo=UTC)
    jobs_started: list = []
    await settle(schedules, jobs, runner, jobs_started)
    runs = await schedules.history(ANA, created.id)  # trainers read the history
    assert len(runs) == 1 and runs[0].reason == "cron" and runs[0].state == "SUCCEEDED" and runs[0].promoted
    assert runs[0].outcome.startswith("promoted: token F1") and runs[0].dataset_id
    job = await jobs.get(ANA, jobs_started[0])
    assert job.created_by == f"schedule:{created.id}" and job.reproducibility["config"]["max_steps"] == 2
    lineage = job.reproducibility["dataset"]["version"]
    assert lineage["schedule_id"] == created.id and lineage["documents"] == ["d-legal-1", "d-legal-2", "d-legal-3"]
    # only items the reader scored at least min_score were approved (chunk_index 1 scores 0.6, 0 scores 0.5)
    assert job.reproducibility["dataset"]["examples"] + job.reproducibility["dataset"]["test_examples"] == 6
    (listed,) = await schedules.list(ADMIN)
    assert listed.next_run_at == datetime(2026, 12, 11, 17, 0, tzinfo=UTC) and listed.new_documents == 0

    # The platform was down over the next Friday: the run fires once when it is back, as "missed".
    clock.now = datetime(2026, 12, 14, 8, 0, tzinfo=UTC)
    await settle(schedules, jobs, runner, jobs_started)
    await schedules.tick()
    runs = await schedules.history(ADMIN, created.id)
    assert [r.reason for r in runs] == ["missed", "cron"]
    (listed,) = await schedules.list(ADMIN)
    assert listed.next_run_at == datetime(2026, 12, 18, 17, 0, tzinfo=UTC)

    # Paused, it never fires; resumed, it starts from now, not from the runs it slept through.
    await schedules.pause(ADMIN, created.id, True)
    clock.now = datetime(2026, 12, 25, 20, 0, tzinfo=UTC)
    await schedules.tick()
    assert len(await schedules.history(ADMIN, created.id)) == 2
    resumed = await schedules.pause(ADMIN, created.id, False)
    assert resumed.next_run_at == datetime(2027, 1, 1, 17, 0, tzinfo=UTC)


async def test_enough_new_documents_fire_a_run(world):
    schedules, jobs, runner, ledger, clock = world
    created = await schedules.create(ADMIN, ScheduleSpec("legal", "contratos", min_new_documents=2))
    await ledger.indexed("d-legal-1", "legal", 1, clock.now + timedelta(minutes=1))
    clock.now += timedelta(minutes=5)
    await schedules.tick()
    assert (await schedules.list(ADMIN))[0].new_documents == 1 and await schedules.history(ADMIN, created.id) == []
    await ledger.indexed("d-legal-2", "legal", 1, clock.now)
    clock.now += timedelta(minutes=1)
    started: list = []
    await settle(schedules, jobs, runner, started)
    runs = await schedules.history(ADMIN, created.id)
    assert [(r.reason, r.state) for r in runs] == [("documents", "SUCCEEDED")]
    assert (await schedules.list(ADMIN))[0].new_documents == 0  # counted from the last run


async def test_bad_schedules_are_refused_and_only_the_departments_admin_sets_one_up(world):
    schedules, *_ = world
    with pytest.raises(InvalidArgument, match="bad cron expression '61 18 \\* \\* fri'"):
        await schedules.create(ADMIN, ScheduleSpec("legal", "contratos", cron="61 18 * * fri"))
    with pytest.raises(InvalidArgument, match="unknown time zone 'Mars/Olympus'"):
        await schedules.create(ADMIN, ScheduleSpec("legal", "contratos", cron="0 18 * * fri", time_zone="Mars/Olympus"))
    with pytest.raises(InvalidArgument, match="needs a cron expression"):
        await schedules.create(ADMIN, ScheduleSpec("legal", "contratos"))
    with pytest.raises(InvalidArgument, match="bad training settings: learning_rate"):
        await schedules.create(ADMIN, ScheduleSpec("legal", "contratos", cron="0 18 * * fri",
                                                   settings={"learning_rate": 5.0}))
    with pytest.raises(PermissionDenied):
        await schedules.create(ANA, ScheduleSpec("legal", "contratos", cron="0 18 * * fri"))
    with pytest.raises(PermissionDenied):
        await schedules.create(LUIS, ScheduleSpec("legal", "contratos", cron="0 18 * * fri"))
    created = await schedules.create(ADMIN, ScheduleSpec("legal", "contratos", cron="0 18 * * fri"))
    assert await schedules.list(LUIS) == []
    for call in (schedules.history(LUIS, created.id), schedules.pause(LUIS, created.id, True),
                 schedules.delete(LUIS, created.id)):
        with pytest.raises(NotFound):
            await call
    with pytest.raises(PermissionDenied):
        await schedules.delete(ANA, created.id)
    await schedules.delete(ADMIN, created.id)
    assert await schedules.list(ADMIN) == []
