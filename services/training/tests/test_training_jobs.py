"""Training jobs' rules with a real SQLite store and a scripted runner (no Ray): bad
hyper-parameters and malformed files refused with what to fix and nothing stored; one
running job per department and a queue; cancel; a run that died with the service started
again; departments isolated."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sentra_common import sealed
from sentra_common.db import create_engine, migrate, sqlite_url
from sentra_common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from sentra_common.principal import Principal
from sentra_training.adapters.lora_core import LoraCore
from sentra_training.adapters.store import JobStore
from sentra_training.app import MIGRATIONS
from sentra_training.domain.model import JobState
from sentra_training.domain.ports import RunStatus
from sentra_training.domain.service import (
    Environment,
    PromotionRules,
    StartRequest,
    TrainingJobs,
    gate,
    split_for_test,
)

ANA = Principal("ana", departments=("legal",), roles=("trainer",))
EVA = Principal("eva", departments=("legal",), roles=("member",))
LUIS = Principal("luis", departments=("rrhh",), roles=("trainer",))
GOOD = "\n".join(json.dumps({"instruction": f"¿Plazo {i}?", "output": f"{i} días."}) for i in range(3)).encode()


class ScriptedRunner:
    """Runs nothing: the test says how each run is doing."""

    def __init__(self) -> None:
        self.launched: list[str] = []
        self.stopped: list[str] = []
        self.states: dict[str, RunStatus] = {}

    def launch(self, job_id, job_dir, reference=None):
        assert (job_dir / "job.json").exists() and (job_dir / "dataset.jsonl").exists()
        self.launched.append(job_id)
        self.states[job_id] = RunStatus(known=True)

    def status(self, job_id, job_dir):
        return self.states.get(job_id, RunStatus(known=False))

    def stop(self, job_id):
        self.stopped.append(job_id)
        self.states.pop(job_id, None)

    def stop_all(self):
        pass


class RecordingPublisher:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.published: list[tuple[str, dict, bool]] = []

    def stored(self, department, artifact_path):
        return self.root / department / artifact_path

    async def publish(self, job, adapter_dir, card, decision):
        self.published.append((job.id, card, decision.promote))
        return f"{job.adapter_name}/{job.id}"


class Clock:
    def __init__(self):
        self.now = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)

    def __call__(self):
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
async def setup(tmp_path):
    engine = create_engine(sqlite_url(tmp_path / "meta.db"))
    await migrate(engine, MIGRATIONS, "alembic_version_training")
    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text("{}")
    runner = ScriptedRunner()
    publisher = RecordingPublisher(tmp_path / "adapters")
    environment = Environment(jobs_dir=tmp_path / "jobs", base_model_dir=base, code_version="test")
    jobs = TrainingJobs(JobStore(engine), runner, environment, publisher, LoraCore(), clock=Clock())
    jobs.publisher_log = publisher.published
    yield jobs, runner, tmp_path / "jobs"
    await engine.dispose()


def request(department="legal", data=GOOD, **settings) -> StartRequest:
    return StartRequest(department, "contratos", data, "train.jsonl", settings)


async def test_bad_settings_and_malformed_files_are_refused_with_what_to_fix_and_nothing_is_kept(setup):
    jobs, runner, jobs_dir = setup
    with pytest.raises(InvalidArgument, match=r"bad training settings: learning_rate: .*less than or equal to 0.01"):
        await jobs.start(ANA, request(learning_rate=0.5))
    with pytest.raises(InvalidArgument, match=r"rank: .*greater than or equal to 1"):
        await jobs.start(ANA, request(rank=0))
    bad = GOOD + b'\n{"instruction": "sin respuesta"}\n'
    with pytest.raises(InvalidArgument, match=r"train\.jsonl: line 4: 'output' must be a non-empty string"):
        await jobs.start(ANA, request(data=bad))
    with pytest.raises(InvalidArgument, match="no training data"):
        await jobs.start(ANA, request(data=b""))
    assert await jobs.list(ANA) == [] and runner.launched == []
    assert not any(p.is_file() for p in jobs_dir.rglob("*"))  # nothing half-stored


async def test_one_running_job_per_department_the_rest_queued_in_order(setup):
    jobs, runner, _ = setup
    jobs.env = replace(jobs.env, max_running_jobs=2)  # room for both departments
    first = await jobs.start(ANA, request(max_steps=4))
    second = await jobs.start(ANA, request())
    third = await jobs.start(ANA, request())
    other = await jobs.start(LUIS, request(department="rrhh"))
    assert first.state == JobState.RUNNING and other.state == JobState.RUNNING
    assert (second.state, second.queue_position, third.queue_position) == (JobState.QUEUED, 1, 2)
    assert runner.launched == [first.id, other.id]
    stored = json.loads(json.dumps(first.reproducibility))
    assert stored["config"]["max_steps"] == 4 and stored["config"]["seed"] == 0
    assert stored["dataset"]["examples"] == 3 and len(stored["dataset"]["sha256"]) == 64
    assert len(stored["base_model"]["sha256"]) == 64 and stored["code_version"] == "test"

    runner.states[first.id] = RunStatus(known=True, ended=True, succeeded=True, adapter_dir="/x",
                                        progress={"step": 4, "total_steps": 4, "loss": 1.5, "tokens_per_s": 90.0})
    await jobs.tick()
    done = await jobs.get(ANA, first.id)
    assert done.state == JobState.SUCCEEDED and done.step == 4 and done.metrics["final_loss"] == 1.5
    assert (await jobs.get(ANA, second.id)).state == JobState.RUNNING
    assert (await jobs.get(ANA, third.id)).queue_position == 1


async def test_the_machine_limit_holds_jobs_of_other_departments_too(setup):
    jobs, runner, _ = setup
    first = await jobs.start(ANA, request())
    other = await jobs.start(LUIS, request(department="rrhh"))
    assert first.state == JobState.RUNNING and other.state == JobState.QUEUED and other.queue_position == 1
    runner.states[first.id] = RunStatus(known=True, ended=True, succeeded=False, reason="out of memory")
    await jobs.tick()
    failed = await jobs.get(ANA, first.id)
    assert failed.state == JobState.FAILED and failed.failure_reason == "out of memory"
    assert (await jobs.get(LUIS, other.id)).state == JobState.RUNNING


async def test_cancel_a_running_and_a_queued_job(setup):
    jobs, runner, _ = setup
    running = await jobs.start(ANA, request())
    queued = await jobs.start(ANA, request())
    cancelled = await jobs.cancel(ANA, queued.id)
    assert cancelled.state == JobState.CANCELLED and cancelled.failure_reason == "cancelled by ana"
    cancelled = await jobs.cancel(ANA, running.id)
    assert cancelled.state == JobState.CANCELLED and runner.stopped == [running.id]
    with pytest.raises(FailedPrecondition, match="already ended"):
        await jobs.cancel(ANA, running.id)


async def test_a_run_that_died_with_the_service_is_started_again(setup):
    jobs, runner, _ = setup
    job = await jobs.start(ANA, request())
    runner.states.clear()  # a new service process: it knows no run
    runner.launched.clear()
    await jobs.tick()
    again = await jobs.get(ANA, job.id)
    assert runner.launched == [job.id] and again.state == JobState.RUNNING and again.restarts == 1


async def test_departments_are_isolated_and_members_without_the_role_cannot_train(setup):
    jobs, _, _ = setup
    job = await jobs.start(ANA, request())
    with pytest.raises(NotFound):
        await jobs.get(LUIS, job.id)
    with pytest.raises(NotFound):
        await jobs.cancel(LUIS, job.id)
    assert await jobs.list(LUIS) == []
    with pytest.raises(PermissionDenied, match="not a member of department 'legal'"):
        await jobs.start(LUIS, request())
    with pytest.raises(PermissionDenied, match="trainer or department-admin role"):
        await jobs.start(EVA, request())
    with pytest.raises(NotFound):
        await jobs.get(ANA, "../../etc/passwd")
    assert [j.id for j in await jobs.list(EVA)] == [job.id]  # members see their department's jobs


def scores(f1: float, regression: float = 10.0) -> dict:
    return {"token_f1": f1, "regression_perplexity": regression, "examples": 4.0}


def test_the_promotion_gate():
    rules = PromotionRules(margin=0.02, regression_tolerance=0.10)
    promoted = gate({"base": scores(0.10), "candidate": scores(0.40)}, rules)
    assert promoted.promote and "0.400 against 0.100 for the base model" in promoted.reason
    small = gate({"base": scores(0.10), "candidate": scores(0.11)}, rules)
    assert not small.promote and "below the margin of +0.020" in small.reason
    forgot = gate({"base": scores(0.10, 10.0), "candidate": scores(0.50, 11.5)}, rules)
    assert not forgot.promote and "more than 10% worse" in forgot.reason
    # Against the adapter promoted before, not the base model, when there is one.
    worse = gate({"base": scores(0.1), "reference": scores(0.6), "candidate": scores(0.5)}, rules)
    assert not worse.promote and "the adapter promoted before" in worse.reason
    assert not gate({}, rules).promote and "not evaluated" in gate({}, rules).reason


def test_a_seeded_share_of_the_file_is_held_out_for_the_test():
    lines = [json.dumps({"instruction": f"q{i}", "output": f"a{i}"}) for i in range(20)]
    train, test, train_count, test_count = split_for_test(("\n".join(lines) + "\n\n").encode(), 7,
                                                          PromotionRules(test_fraction=0.1))
    assert (train_count, test_count) == (18, 2)
    train_lines, test_lines = train.decode().splitlines(), test.decode().splitlines()
    assert sorted(train_lines + test_lines) == sorted(lines) and not set(train_lines) & set(test_lines)
    again = split_for_test(("\n".join(lines) + "\n").encode(), 7, PromotionRules(test_fraction=0.1))
    assert again[1] == test  # the seed decides
    few = ("\n".join(lines[:4]) + "\n").encode()
    assert split_for_test(few, 7, PromotionRules()) == (few, b"", 4, 0)


async def test_with_a_key_a_jobs_dataset_and_test_files_are_sealed_and_its_run_gets_the_key(setup, tmp_path):
    jobs, _, jobs_dir = setup
    keyring = tmp_path / "sentra.keys"
    keyring.write_text(sealed.new_key_line("k1") + "\n")
    files = sealed.load_files(keyring, "SENTRA_TRAINING_ENCRYPTION_KEY_FILE")
    jobs.env = replace(jobs.env, files=files, key_file=str(keyring))
    data = "\n".join(json.dumps({"instruction": f"¿Plazo {i}?", "output": f"respuesta secreta {i}"})
                     for i in range(10)).encode()
    job = await jobs.start(ANA, request(data=data))
    job_dir = jobs_dir / "legal" / job.id
    stored = {p.name: p.read_bytes() for p in job_dir.iterdir()}
    assert sealed.is_sealed(job_dir / "dataset.jsonl") and sealed.is_sealed(job_dir / "test.jsonl")
    assert not any(b"respuesta" in blob or "¿Plazo".encode() in blob for blob in stored.values())
    train, test = files.read_text(job_dir / "dataset.jsonl"), files.read_text(job_dir / "test.jsonl")
    assert len(train.splitlines()) == 9 and len(test.splitlines()) == 1 and "respuesta secreta" in test
    assert json.loads(stored["job.json"])["encryption_key_file"] == str(keyring)
    with pytest.raises(sealed.SealedError, match="no key is configured"):
        sealed.SealedFiles(None).read_bytes(job_dir / "dataset.jsonl")


async def test_a_finished_job_is_judged_published_with_its_card_and_becomes_the_next_reference(setup):
    jobs, runner, _ = setup
    first = await jobs.start(ANA, request())
    evaluation = {"base": scores(0.1), "candidate": scores(0.5)}
    runner.states[first.id] = RunStatus(known=True, ended=True, succeeded=True, adapter_dir="/run/ckpt",
                                        progress={"step": 3, "total_steps": 3, "loss": 0.8, "peak_rss_mb": 2100.5},
                                        evaluation=evaluation)
    await jobs.tick()
    done = await jobs.get(ANA, first.id)
    assert done.metrics["peak_worker_rss_mb"] == 2100.5 and "peak_gpu_mb" not in done.metrics
    assert done.state == JobState.SUCCEEDED and done.promoted and done.artifact_path == f"contratos/{first.id}"
    assert done.metrics["candidate.token_f1"] == 0.5 and done.metrics["base.token_f1"] == 0.1
    job_id, card, promote = jobs.publisher_log[0]
    assert job_id == first.id and promote and card["promoted"] and card["created_by"] == "ana"
    assert card["dataset"]["sha256"] == first.reproducibility["dataset"]["sha256"]
    assert card["evaluation"] == evaluation and "gain" in card["decision"]

    launched = []
    runner.launch = lambda job_id, job_dir, reference=None: launched.append(reference)
    await jobs.start(ANA, request())
    assert launched == [jobs.publisher.stored("legal", f"contratos/{first.id}")]


class RecordingEvaluator:
    def __init__(self):
        self.calls: list[tuple[Path, bytes, Path | None]] = []

    async def evaluate(self, candidate, test_jsonl, reference):
        self.calls.append((candidate, test_jsonl, reference))
        out = {"base": scores(0.1), "candidate": scores(0.6)}
        if reference is not None:
            out["reference"] = scores(0.4)
        return out


async def finish(jobs, runner, job, f1: float = 0.5):
    runner.states[job.id] = RunStatus(known=True, ended=True, succeeded=True, adapter_dir="/run/ckpt",
                                      progress={"step": 3, "total_steps": 3, "loss": 0.8},
                                      evaluation={"base": scores(0.1), "candidate": scores(f1)})
    await jobs.tick()
    return await jobs.get(ANA, job.id)


async def test_evaluating_a_jobs_adapter_against_the_base_and_the_adapter_promoted_before_it(setup):
    from sentra_training.domain.service import EvaluationSet

    jobs, runner, jobs_dir = setup
    jobs.evaluator = evaluator = RecordingEvaluator()
    data = "\n".join(json.dumps({"instruction": f"¿Plazo {i}?", "output": f"{i} días."}) for i in range(12)).encode()
    first = await finish(jobs, runner, await jobs.start(ANA, request(data=data)))
    second = await finish(jobs, runner, await jobs.start(ANA, request(data=data)), f1=0.9)
    assert first.promoted and second.promoted

    # On the examples held out of its own file; the reference is the one promoted before it.
    result = await jobs.evaluate(ANA, second.id)
    candidate, test, reference = evaluator.calls[-1]
    assert candidate == jobs.publisher.stored("legal", f"contratos/{second.id}")
    assert reference == jobs.publisher.stored("legal", f"contratos/{first.id}")
    assert test == (jobs_dir / "legal" / second.id / "test.jsonl").read_bytes() and test.strip()
    assert result.candidate["token_f1"] == 0.6 and result.base["token_f1"] == 0.1
    assert result.reference_job_id == first.id and result.test_set == "the job's held-out examples"
    # The first had no adapter promoted before it.
    assert (await jobs.evaluate(ANA, first.id)).reference == {} and evaluator.calls[-1][2] is None
    # A dataset's test split of the job's department is used as given.
    given = EvaluationSet("legal", b'{"instruction": "q", "output": "a"}\n', "dataset legal v1 test split")
    assert (await jobs.evaluate(ANA, first.id, test=given)).test_set == "dataset legal v1 test split"
    assert evaluator.calls[-1][1] == given.jsonl

    # Refused: another department's data, another department's job, a member without the
    # trainer role, a wrong adapter name, a job that has no adapter.
    with pytest.raises(InvalidArgument, match="own department"):
        await jobs.evaluate(ANA, first.id, test=EvaluationSet("rrhh", given.jsonl, "dataset rrhh v1 test split"))
    with pytest.raises(NotFound):
        await jobs.evaluate(LUIS, first.id)
    with pytest.raises(PermissionDenied):
        await jobs.evaluate(EVA, first.id)
    with pytest.raises(InvalidArgument, match="contratos"):
        await jobs.evaluate(ANA, first.id, adapter_name="otro")
    queued = await jobs.start(ANA, request(data=data))
    with pytest.raises(FailedPrecondition, match="SUCCEEDED"):
        await jobs.evaluate(ANA, queued.id)
    assert len(evaluator.calls) == 3


def test_an_unusable_key_file_stops_the_service_at_start(tmp_path):
    from pydantic import ValidationError
    from sentra_training.config import TrainingSettings

    with pytest.raises(ValidationError, match="SENTRA_TRAINING_ENCRYPTION_KEY_FILE does not exist"):
        TrainingSettings(encryption_key_file=tmp_path / "missing.keys")
    (tmp_path / "short.keys").write_text("k1:c2hvcnQ=\n")
    with pytest.raises(ValidationError, match="line 1: the key of 'k1' is 5 bytes; AES-256 needs 32"):
        TrainingSettings(encryption_key_file=tmp_path / "short.keys")


async def test_a_jobs_run_is_told_how_much_of_the_regression_set_to_measure(setup):
    jobs, _, jobs_dir = setup
    job = await jobs.start(ANA, request())
    assert json.loads((jobs_dir / "legal" / job.id / "job.json").read_text())["regression_texts"] == 30
    jobs.env = replace(jobs.env, promotion=replace(jobs.env.promotion, regression_texts=4))
    other = await jobs.start(LUIS, request(department="rrhh"))
    assert json.loads((jobs_dir / "rrhh" / other.id / "job.json").read_text())["regression_texts"] == 4
