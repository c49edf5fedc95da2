"""The training service through the real platform (nats-server, every service, the gateway
as separate processes, `Platform.up()`'s supervisor) and a real Ray runtime started by each
job: a job from an imported JSONL file to SUCCEEDED, followed with `sentra train`, evaluated,
published with its model card, promoted (the gate's margin is opened for the test) and then
served by the inference service under the department's alias; kill -9 of
the training service mid-job → restarted by the supervisor, the job resumes from its last
checkpoint and ends once; cancel; bad settings and a malformed file refused with what to fix
and nothing started; another department's trainer sees nothing, a member without the role
may not train."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import grpc
import pytest
from sentra.inference.v1 import inference_pb2
from sentra.training.v1 import training_pb2
from sentra_cli.client import Clients
from sentra_cli.platform import Platform

from tests.support.platform import TEST_ENV

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ANA = "ana:legal:trainer"
LUIS = "luis:rrhh:trainer"
EVA = "eva:legal:member"
SMALL = training_pb2.TrainingSettings(batch_size=2, max_seq_length=96, checkpoint_every=2, seed=3)
ENDED = (training_pb2.JOB_STATE_SUCCEEDED, training_pb2.JOB_STATE_FAILED, training_pb2.JOB_STATE_CANCELLED)


def examples(n: int = 6) -> bytes:
    return ("\n".join(json.dumps({
        "messages": [{"role": "user", "content": f"¿Cuántos días de teletrabajo hay en la sede {i}?"},
                     {"role": "assistant", "content": f"En la sede {i}, dos días por semana."}]},
        ensure_ascii=False) for i in range(n)) + "\n").encode()


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    home = tmp_path_factory.mktemp("training-platform")
    (home / "sentra.toml").write_text("[supervisor]\nbackoff_initial_seconds = 0.5\nbackoff_max_seconds = 4\n")
    # A margin of -1 promotes whatever trains (the gate's rules have unit tests): here the
    # point is the hand-off to serving.
    env = {**TEST_ENV, "SENTRA_TRAINING_PROMOTION__MARGIN": "-1",
           "SENTRA_TRAINING_PROMOTION__REGRESSION_TOLERANCE": "100", "SENTRA_TRAINING_SCHEDULE_POLL_SECONDS": "2",
           # each model's regression perplexity on 4 paragraphs, not 30 (about 25 s less per evaluation)
           "SENTRA_TRAINING_PROMOTION__REGRESSION_TEXTS": "4"}
    platform = Platform(home, identity="development", extra_env=env)
    try:
        platform.up(timeout=300)
        yield platform
    finally:
        platform.down()


class As:
    """Calls through the gateway as one development identity (what the CLI sends)."""

    def __init__(self, platform: Platform, identity: str, monkeypatch) -> None:
        monkeypatch.setenv("SENTRA_IDENTITY", identity)
        self.clients = Clients(platform)
        self.training = self.clients.training

    async def start(self, data: bytes = b"", name: str = "train.jsonl", settings=SMALL, **fields):
        request = training_pb2.StartTrainingJobRequest(
            department="legal", adapter_name="teletrabajo", dataset_jsonl=data or examples(),
            dataset_filename=name, settings=settings, **fields)
        return (await self.training.StartTrainingJob(request)).job

    async def get(self, job_id: str):
        return (await self.training.GetTrainingJob(training_pb2.GetTrainingJobRequest(job_id=job_id))).job

    async def until(self, job_id: str, done, timeout: float = 600):
        deadline = time.monotonic() + timeout
        while True:
            try:
                job = await self.get(job_id)
            except grpc.aio.AioRpcError as exc:  # the service restarting
                if exc.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
                continue
            if done(job):
                return job
            assert time.monotonic() < deadline, f"job never got there: {job}"
            await asyncio.sleep(0.5)

    async def close(self):
        await self.clients.close()


@pytest.fixture
def no_login(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no stored login: the development identity is used


def sentra(platform: Platform, *args: str, identity: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SENTRA_IDENTITY": identity, "SENTRA_HOME": str(platform.data_dir)}
    env.pop("SENTRA_GATEWAY", None)
    return subprocess.run([sys.executable, "-m", "sentra_cli.main", *args], env=env, capture_output=True,
                          text=True, timeout=900)


def runner_processes(job_id: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    cmdline = fh.read().decode(errors="replace")
            except OSError:
                continue
            if "sentra_training.adapters.job_process" in cmdline and job_id in cmdline:
                found.append(int(entry))
    return found


def test_a_job_from_a_jsonl_file_to_succeeded_with_the_cli(platform, tmp_path, no_login):
    dataset = tmp_path / "teletrabajo.jsonl"
    dataset.write_bytes(examples())
    started = sentra(platform, "train", "start", str(dataset), "--adapter", "teletrabajo", "--department", "legal",
                     "--max-steps", "4", "--batch-size", "2", "--max-seq-length", "96", "--checkpoint-every", "2",
                     "--follow", identity=ANA)
    assert started.returncode == 0, started.stdout + started.stderr
    assert "SUCCEEDED" in started.stdout and "4 steps" in started.stdout
    listed = sentra(platform, "train", "list", "--json", identity=ANA)
    jobs = json.loads(listed.stdout)
    assert len(jobs) == 1 and jobs[0]["state"] == "JOB_STATE_SUCCEEDED" and jobs[0]["created_by"] == "ana"
    shown = json.loads(sentra(platform, "train", "show", jobs[0]["job_id"], "--json", identity=ANA).stdout)
    reproducible = json.loads(shown["reproducibility_json"])
    assert reproducible["config"]["max_steps"] == 4 and reproducible["config"]["seed"] == 0
    assert reproducible["dataset"]["examples"] == 6 and len(reproducible["base_model"]["sha256"]) == 64
    assert 200 < shown["metrics"]["peak_worker_rss_mb"] < 16 * 1024  # the worker's memory, reported
    run = platform.data_dir / "data" / "training" / "legal" / jobs[0]["job_id"] / "runs" / "run"
    assert list(run.glob("checkpoint_*/adapter_model.safetensors"))
    # Evaluated on the example held out of the file, judged, handed to serving with its card.
    assert shown["promoted"] and "gain" in shown["decision"]
    assert shown["artifact_path"] == f"teletrabajo/{jobs[0]['job_id']}"
    card = json.loads(shown["model_card_json"])
    assert card["dataset"]["test_examples"] == 1 and card["dataset"]["train_examples"] == 5
    assert set(card["evaluation"]) == {"base", "candidate"} and card["promoted"]
    assert card["evaluation"]["candidate"]["regression_perplexity"] > 0
    stored = platform.adapter_root / "legal" / shown["artifact_path"]
    assert sorted(p.name for p in stored.iterdir()) == [
        "adapter_config.json", "adapter_model.safetensors", "model_card.json"]
    # The inference service registered it and moved the department's alias to it.
    adapters = json.loads(wait_for(lambda: _active(platform), 300))
    assert adapters["aliases"][0]["alias"] == "teletrabajo" and adapters["aliases"][0]["active"]
    assert adapters["adapters"][0]["department"] == "legal"
    # `sentra adapters show` gives the model card of the version the alias points at.
    shown_card = sentra(platform, "adapters", "show", "teletrabajo", identity=EVA)
    assert shown_card.returncode == 0, shown_card.stderr
    assert "data: teletrabajo.jsonl — 5 train, 1 test examples" in shown_card.stdout
    assert "promoted: token F1" in shown_card.stdout and "trained by ana" in shown_card.stdout
    # Evaluated again on demand (EvaluateAdapter), as the gate did: on the held-out example.
    evaluated = sentra(platform, "train", "evaluate", jobs[0]["job_id"], "--json", identity=ANA)
    assert evaluated.returncode == 0, evaluated.stderr
    report = json.loads(evaluated.stdout)
    assert report["test_examples"] == 1 and report["test_set"] == "the job's held-out examples"
    assert set(report["models"]) == {"adapter", "base model"}
    assert report["models"]["adapter"]["regression_perplexity"] > 0
    assert report["models"]["base model"]["regression_perplexity"] == pytest.approx(
        card["evaluation"]["base"]["regression_perplexity"], rel=1e-3)
    refused = sentra(platform, "train", "evaluate", jobs[0]["job_id"], identity=EVA)
    assert refused.returncode == 1 and "PERMISSION_DENIED" in refused.stderr
    # Another department's trainer sees none of it.
    assert json.loads(sentra(platform, "train", "list", "--json", identity=LUIS).stdout) == []
    other = sentra(platform, "train", "show", jobs[0]["job_id"], identity=LUIS)
    assert other.returncode == 1 and "NOT_FOUND" in other.stderr


def _active(platform: Platform) -> str | None:
    listed = sentra(platform, "adapters", "list", "--json", identity=ANA)
    if listed.returncode != 0:
        return None
    data = json.loads(listed.stdout)
    return listed.stdout if any(a.get("active") for a in data.get("aliases", [])) else None


def wait_for(probe, timeout: float):
    deadline = time.monotonic() + timeout
    while (found := probe()) is None:
        assert time.monotonic() < deadline, "timed out"
        time.sleep(1)
    return found


async def test_kill_9_of_the_training_service_mid_job_resumes_from_the_checkpoint(platform, no_login,
                                                                                   monkeypatch):
    ana = As(platform, ANA, monkeypatch)
    try:
        # No general paragraphs: the point here is the resume (they have their own tests).
        settings = training_pb2.TrainingSettings(batch_size=2, max_seq_length=96, checkpoint_every=2, seed=3,
                                                 general_text_ratio=0)
        job = await ana.start(settings=settings)
        await ana.until(job.job_id, lambda j: j.step >= 3)
        before = runner_processes(job.job_id)
        assert len(before) == 1
        victim = platform.load_state().services["training"].pid
        os.kill(victim, signal.SIGKILL)
        await asyncio.to_thread(platform.wait_restarted, "training", victim, 300)
        # (a generous guard: the rest of the run and its evaluation on 2 shared cores)
        done = await ana.until(job.job_id, lambda j: j.state in ENDED, timeout=1500)
        assert done.state == training_pb2.JOB_STATE_SUCCEEDED, done.failure_reason
        assert done.restarts == 1 and done.resumed_from_step >= 2 and done.resumed_from_step % 2 == 0
        assert done.step == done.total_steps == 9  # 5 examples (1 of the 6 held out), batches of 2, 3 epochs
        assert not any(pid in runner_processes(job.job_id) for pid in before)  # the first run died with it
        jobs = (await ana.training.ListTrainingJobs(training_pb2.ListTrainingJobsRequest())).jobs
        assert [j.job_id for j in jobs].count(job.job_id) == 1
        # Handed to serving once: one registered version for this job, not one per run.
        deadline = time.monotonic() + 120
        while True:
            listed = await ana.clients.inference.ListAdapters(inference_pb2.ListAdaptersRequest())
            versions = [a for a in listed.adapters if a.artifact_uri.endswith(job.job_id)]
            if versions or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        assert len(versions) == 1
    finally:
        await ana.close()


async def test_cancel_stops_the_run(platform, no_login, monkeypatch):
    ana = As(platform, ANA, monkeypatch)
    try:
        job = await ana.start(settings=training_pb2.TrainingSettings(batch_size=2, max_seq_length=96, max_steps=200))
        await ana.until(job.job_id, lambda j: j.state == training_pb2.JOB_STATE_RUNNING and j.step >= 1)
        cancelled = (await ana.training.CancelTrainingJob(
            training_pb2.CancelTrainingJobRequest(job_id=job.job_id))).job
        assert cancelled.state == training_pb2.JOB_STATE_CANCELLED and cancelled.failure_reason == "cancelled by ana"
        assert runner_processes(job.job_id) == []
        with pytest.raises(grpc.aio.AioRpcError) as again:
            await ana.training.CancelTrainingJob(training_pb2.CancelTrainingJobRequest(job_id=job.job_id))
        assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    finally:
        await ana.close()


async def test_bad_requests_are_refused_with_what_to_fix_and_nothing_starts(platform, no_login, monkeypatch):
    ana, luis, eva = (As(platform, who, monkeypatch) for who in (ANA, LUIS, EVA))
    try:
        before = (await ana.training.ListTrainingJobs(training_pb2.ListTrainingJobsRequest())).jobs
        cases = [
            (dict(settings=training_pb2.TrainingSettings(learning_rate=0.5)), "learning_rate"),
            (dict(data=examples(2) + b'{"instruction": "sin respuesta"}\n'), "train.jsonl: line 3: 'output'"),
            (dict(data=b"not json\n"), "line 1"),
        ]
        for fields, words in cases:
            with pytest.raises(grpc.aio.AioRpcError) as bad:
                await ana.start(**fields)
            assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT and words in bad.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as outsider:
            await luis.start()  # a trainer of rrhh, training for legal
        assert outsider.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.aio.AioRpcError) as member:
            await eva.start()  # a member of legal without the trainer role: refused at the gateway
        assert member.value.code() == grpc.StatusCode.PERMISSION_DENIED
        after = (await ana.training.ListTrainingJobs(training_pb2.ListTrainingJobsRequest())).jobs
        assert len(after) == len(before)
    finally:
        for who in (ana, luis, eva):
            await who.close()


# ---- datasets from documents (the real question generator, reader and PII masker)

LEGAL_TEXT = """Política de teletrabajo de Cierzo Logística

Cada empleado puede teletrabajar un máximo de 2 días por semana, siempre que su puesto lo permita.
Las solicitudes se envían a Recursos Humanos antes del 15 de marzo de 2026.
Para dudas escriba a teletrabajo@cierzo-logistica.es o llame al 612 345 678.
La compensación por gastos de conexión es de 30 euros al mes.
"""
RRHH_TEXT = """Plan de formación anual

El presupuesto de formación de la empresa es de 45.000 euros para todo el año.
Cada trabajador dispone de 40 horas de formación pagada, que se pueden usar hasta el 30 de noviembre.
La coordinadora del plan es la Sra. Lucía Fernández, con DNI 12345678Z.
"""
ADMIN_ID = "root:legal,rrhh:platform-admin"
_EMAIL_OR_PHONE = r"[\w.+-]+@[\w-]+\.[\w.]+|\b\d{3}[ ]?\d{3}[ ]?\d{3}\b|\b\d{8}[A-Z]\b"


async def _upload_and_index(admin: As, text: str, name: str, department: str) -> str:
    from sentra.ingestion.v1 import ingestion_pb2

    def messages():
        yield ingestion_pb2.UploadDocumentRequest(metadata=ingestion_pb2.UploadMetadata(
            filename=name, department=department))
        yield ingestion_pb2.UploadDocumentRequest(data=text.encode())

    document = (await admin.clients.ingestion.UploadDocument(messages())).document
    deadline = time.monotonic() + 300
    while document.state != ingestion_pb2.DOCUMENT_STATE_INDEXED:
        assert document.state != ingestion_pb2.DOCUMENT_STATE_FAILED, document.failure_reason
        assert time.monotonic() < deadline, "the document was never indexed"
        await asyncio.sleep(0.5)
        document = (await admin.clients.ingestion.GetDocument(
            ingestion_pb2.GetDocumentRequest(document_id=document.document_id))).document
    return document.document_id


async def _create_dataset(trainer: As, **fields):
    """CreateDataset, once the training service has heard that the documents are indexed
    (its ledger follows sentra.documents.v1.indexed, as ingestion's state does)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return (await trainer.training.CreateDataset(training_pb2.CreateDatasetRequest(**fields))).dataset
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.FAILED_PRECONDITION or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def _dataset_ready(trainer: As, dataset_id: str):
    deadline = time.monotonic() + 600
    while True:
        dataset = (await trainer.training.GetDataset(training_pb2.GetDatasetRequest(dataset_id=dataset_id))).dataset
        if dataset.state != training_pb2.DATASET_STATE_GENERATING:
            return dataset
        assert time.monotonic() < deadline, "the dataset never finished generating"
        await asyncio.sleep(1)


async def test_datasets_from_two_departments_documents_isolated_masked_withdrawn_and_trained(platform, no_login,
                                                                                             monkeypatch):
    import re

    admin = As(platform, ADMIN_ID, monkeypatch)
    legal_doc = await _upload_and_index(admin, LEGAL_TEXT, "teletrabajo.txt", "legal")
    rrhh_doc = await _upload_and_index(admin, RRHH_TEXT, "formacion.txt", "rrhh")
    await admin.close()
    ana = As(platform, ANA, monkeypatch)
    try:
        legal = await _create_dataset(ana, department="legal", questions_per_chunk=4)
        assert legal.state == training_pb2.DATASET_STATE_GENERATING and legal.document_ids == [legal_doc]
        legal = await _dataset_ready(ana, legal.dataset_id)
        assert legal.state == training_pb2.DATASET_STATE_READY, legal.failure_reason
        assert legal.generator_id.startswith("qg-gemma3-270m-lora-") and legal.pending >= 1
        items = (await ana.training.ListDatasetItems(training_pb2.ListDatasetItemsRequest(
            dataset_id=legal.dataset_id))).items
        assert items and all(i.document_id == legal_doc and i.chunk_id and i.generator_id for i in items)
        for item in items:  # every answer is copied from its chunk and nothing personal is stored
            assert "?" in item.question and item.answer
            for text in (item.question, item.answer, item.context):
                assert not re.search(_EMAIL_OR_PHONE, text), text
        assert "<EMAIL_ADDRESS>" in items[0].context and legal.pii_found["EMAIL_ADDRESS"] >= 1
        # Another department's trainer sees none of it, and cannot build from legal's documents.
        monkeypatch.setenv("SENTRA_IDENTITY", LUIS)
        luis = As(platform, LUIS, monkeypatch)
        try:
            assert (await luis.training.ListDatasets(training_pb2.ListDatasetsRequest())).datasets == []
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await luis.training.GetDataset(training_pb2.GetDatasetRequest(dataset_id=legal.dataset_id))
            assert refused.value.code() == grpc.StatusCode.NOT_FOUND
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await luis.training.CreateDataset(training_pb2.CreateDatasetRequest(department="legal"))
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
            rrhh = await _dataset_ready(luis, (await _create_dataset(
                luis, department="rrhh", questions_per_chunk=4)).dataset_id)
            assert rrhh.state == training_pb2.DATASET_STATE_READY and rrhh.document_ids == [rrhh_doc]
            rrhh_items = (await luis.training.ListDatasetItems(training_pb2.ListDatasetItemsRequest(
                dataset_id=rrhh.dataset_id))).items
            assert all("12345678Z" not in i.context for i in rrhh_items)
        finally:
            await luis.close()
        monkeypatch.setenv("SENTRA_IDENTITY", ANA)
        # Export → import is identical; a malformed file is refused naming its line, nothing imported.
        exported = (await ana.training.ExportDataset(training_pb2.ExportDatasetRequest(
            dataset_id=legal.dataset_id, items="all"))).jsonl
        again = (await ana.training.ImportDataset(training_pb2.ImportDatasetRequest(
            department="legal", jsonl=exported, filename="legal.jsonl"))).dataset
        assert again.source == "import" and again.pending == len(items)
        assert (await ana.training.ExportDataset(training_pb2.ExportDatasetRequest(
            dataset_id=again.dataset_id, items="all"))).jsonl == exported
        before = len((await ana.training.ListDatasets(training_pb2.ListDatasetsRequest())).datasets)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await ana.training.ImportDataset(training_pb2.ImportDatasetRequest(
                department="legal", jsonl=exported + b'{"instruction": "sin respuesta"}\n', filename="bad.jsonl"))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert f"bad.jsonl: line {len(items) + 1}: 'output' must be a non-empty string" in refused.value.details()
        assert len((await ana.training.ListDatasets(training_pb2.ListDatasetsRequest())).datasets) == before
        # Approved items train an adapter; the job's model card names the dataset version.
        await ana.training.ReviewDatasetItems(training_pb2.ReviewDatasetItemsRequest(
            dataset_id=legal.dataset_id, decision=training_pb2.ITEM_STATUS_APPROVED, min_score=0.0001))
        job = (await ana.training.StartTrainingJob(training_pb2.StartTrainingJobRequest(
            department="legal", adapter_name="teletrabajo-docs", dataset_id=legal.dataset_id,
            settings=training_pb2.TrainingSettings(batch_size=2, max_seq_length=96, max_steps=2)))).job
        done = await ana.until(job.job_id, lambda j: j.state in ENDED)
        assert done.state == training_pb2.JOB_STATE_SUCCEEDED, done.failure_reason
        lineage = json.loads(done.reproducibility_json)["dataset"]["version"]
        assert lineage["dataset_id"] == legal.dataset_id and lineage["documents"] == [legal_doc]
        # Deleting the document withdraws its items: nothing of it trains again.
        monkeypatch.setenv("SENTRA_IDENTITY", ADMIN_ID)
        admin = As(platform, ADMIN_ID, monkeypatch)
        from sentra.ingestion.v1 import ingestion_pb2

        await admin.clients.ingestion.DeleteDocument(ingestion_pb2.DeleteDocumentRequest(document_id=legal_doc))
        await admin.close()
        monkeypatch.setenv("SENTRA_IDENTITY", ANA)
        deadline = time.monotonic() + 60
        while (legal := (await ana.training.GetDataset(training_pb2.GetDatasetRequest(
                dataset_id=legal.dataset_id))).dataset).withdrawn_document_ids != [legal_doc]:
            assert time.monotonic() < deadline, "the deletion never reached the dataset"
            await asyncio.sleep(0.5)
        assert legal.withdrawn == len(items) and legal.approved == 0
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await ana.training.StartTrainingJob(training_pb2.StartTrainingJobRequest(
                department="legal", adapter_name="teletrabajo-docs", dataset_id=legal.dataset_id))
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "no approved items" in refused.value.details()
    finally:
        await ana.close()


async def test_a_schedule_fires_on_new_documents_and_its_history_shows_the_run(platform, no_login, monkeypatch):
    """No user behind the run: the training service reads legal's department-wide chunks as
    itself (the one such read retrieval allows it), and a document restricted to some of
    legal's people never reaches the dataset."""
    marta = As(platform, "marta:legal:dept-admin", monkeypatch)
    try:
        schedule = (await marta.training.CreateSchedule(training_pb2.CreateScheduleRequest(
            schedule=training_pb2.Schedule(department="legal", adapter_name="formacion", min_new_documents=2,
                                           min_score=0.0001, settings=training_pb2.TrainingSettings(
                                               batch_size=2, max_seq_length=96, max_steps=1))))).schedule
        assert schedule.next_run_at.seconds == 0 and schedule.time_zone == "UTC"
        from sentra.ingestion.v1 import ingestion_pb2

        def messages(text: str, name: str, access: list[str]):
            yield ingestion_pb2.UploadDocumentRequest(metadata=ingestion_pb2.UploadMetadata(
                filename=name, department="legal", access_list=access))
            yield ingestion_pb2.UploadDocumentRequest(data=text.encode())

        await marta.clients.ingestion.UploadDocument(messages(
            "Expediente reservado. El acuerdo con Hortalia vence el 31 de enero de 2027 y su importe es de "
            "250.000 euros.", "reservado.txt", ["user:marta"]))
        await marta.clients.ingestion.UploadDocument(messages(RRHH_TEXT, "formacion.txt", []))
        deadline = time.monotonic() + 600
        while True:
            runs = (await marta.training.ListScheduleRuns(training_pb2.ListScheduleRunsRequest(
                schedule_id=schedule.schedule_id))).runs
            if runs and runs[0].state != "RUNNING":
                break
            assert time.monotonic() < deadline, f"the schedule never finished a run: {runs}"
            await asyncio.sleep(2)
        assert runs[0].reason == "documents" and runs[0].state == "SUCCEEDED", runs[0].outcome
        assert runs[0].job_id and runs[0].dataset_id
        items = (await marta.training.ListDatasetItems(training_pb2.ListDatasetItemsRequest(
            dataset_id=runs[0].dataset_id))).items
        assert items and not any("Hortalia" in i.context or "250.000" in i.answer for i in items)
        job = (await marta.training.GetTrainingJob(training_pb2.GetTrainingJobRequest(job_id=runs[0].job_id))).job
        assert job.created_by == f"schedule:{schedule.schedule_id}" and job.state == training_pb2.JOB_STATE_SUCCEEDED
    finally:
        await marta.close()
