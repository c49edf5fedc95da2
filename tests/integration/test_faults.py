"""The supervised single-machine platform (`Platform.up()` runs the supervisor that
`sentra up` runs) under faults, and its settings.

- kill -9 of nats-server or of any service while documents are being ingested: the
  supervisor brings it back by itself (the test never restarts anything), and every
  document ends INDEXED exactly once, nothing stuck in PROCESSING, no chunk indexed twice;
- kill -9 of the supervisor itself, then of a service: nothing restarts it until `up()`
  runs again, whose new supervisor adopts the running processes and restarts the dead one;
- a service that cannot start is reported as a crash loop, and comes back once fixed;
- settings from `sentra.toml` and from the environment reach the services, and the state
  (what `sentra status`/`sentra config` print) says which value won.

60 documents per victim by default (the issue's 300 take several minutes per victim on
a small CI machine; the fault and its recovery happen a third of the way through either
way); SENTRA_TEST_FAULT_DOCUMENTS=300 runs the full size.
Keycloak is not among the victims: these platforms run the development identity.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import grpc
import pytest
from sentra.ingestion.v1 import ingestion_pb2
from sentra_cli.platform import Platform
from typer.testing import CliRunner

from tests.support.platform import FAILED, INDEXED, PROCESSING, TEST_ENV, Api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N = int(os.environ.get("SENTRA_TEST_FAULT_DOCUMENTS", "60"))
TOPICS = ["vacaciones", "nómina", "almacén", "transporte", "factura", "seguridad", "contrato", "formación"]
# Transient while a process is down: the upload is retried, as any client would; the
# same source_uri makes a retry land on the same document.
RETRY = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN,
         grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED}

SETTINGS = """
[supervisor]
backoff_initial_seconds = 0.5
backoff_max_seconds = 4
stable_seconds = 20
crash_loop_restarts = 3
crash_loop_window_seconds = 120

[ingestion.limits]
max_upload_bytes = 20000   # the environment's 40000 wins

[ingestion]
connectors = [{{ path = "{inbox}", department = "operaciones", interval_seconds = 1, name = "inbox" }}]
"""


def document(i: int) -> bytes:
    topic = TOPICS[i % len(TOPICS)]
    paragraphs = [
        f"Procedimiento {i} sobre {topic}. Referencia interna PR-{i:04d}.",
        f"El responsable del procedimiento {i} revisa el registro de {topic} cada {i % 12 + 1} semanas.",
        "Cualquier incidencia se comunica al coordinador de área y se documenta en el sistema.",
    ]
    return ("\n\n".join(paragraphs) * (1 + i % 3)).encode()


@pytest.fixture(scope="module")
def supervised(tmp_path_factory):
    """Its own platform (faults must not disturb the session's), with a sentra.toml and
    an environment variable that beats one of the file's values."""
    home = tmp_path_factory.mktemp("supervised-platform")
    inbox = home / "inbox"
    inbox.mkdir()
    (home / "sentra.toml").write_text(SETTINGS.format(inbox=inbox))
    env = {k: v for k, v in TEST_ENV.items() if k != "SENTRA_INGESTION_LIMITS__MAX_UPLOAD_BYTES"}
    with pytest.MonkeyPatch.context() as mp:
        # The supervisor inherits the environment of whoever runs `up()`, as from `sentra up`.
        mp.setenv("SENTRA_INGESTION_LIMITS__MAX_UPLOAD_BYTES", "40000")
        platform = Platform(home, identity="development", extra_env=env)
        try:
            platform.up(timeout=300)
            platform.inbox = inbox
            yield platform
        finally:
            platform.down()


async def upload(api: Api, data: bytes, name: str, source: str) -> str:
    deadline = time.monotonic() + 180
    while True:
        try:
            reply = await api.upload(data, name, "operaciones", source_uri=source)
            return reply.document.document_id
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in RETRY or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


def info_of(platform: Platform, name: str):
    state = platform.load_state()
    return {"nats": state.nats, "supervisor": state.supervisor}.get(name) or state.services[name]


async def all_documents(api: Api) -> list[ingestion_pb2.Document]:
    docs, token = [], ""
    while True:
        reply = await api.ingestion.ListDocuments(ingestion_pb2.ListDocumentsRequest(page_size=1000, page_token=token))
        docs.extend(reply.documents)
        token = reply.next_page_token
        if not token:
            return docs


async def test_settings_from_the_file_and_the_environment_reach_the_services(supervised):
    from sentra_cli.main import app

    platform = supervised
    api = Api(platform)
    try:
        # The environment's 40000 bytes won over the file's 20000.
        kept = await api.upload(b"a" * 30000, "treinta.txt", "operaciones", source_uri="test:settings/30k")
        refused = await api.upload(b"b" * 50000, "cincuenta.txt", "operaciones", source_uri="test:settings/50k")
        assert kept.document.state != FAILED, kept.document.failure_reason
        assert refused.document.state == FAILED and "upload limit" in refused.document.failure_reason
        report = platform.load_state().services["ingestion"].settings
        assert report["SENTRA_INGESTION_LIMITS__MAX_UPLOAD_BYTES"] == {
            "value": "40000", "source": "environment", "overrode": ["file=20000"]}
        assert report["SENTRA_INGESTION_CONNECTORS"]["source"] == "file"

        # The folder connector, configured only in the file, picks up a new file.
        (platform.inbox / "horario.txt").write_text("El almacén de Huesca abre a las 8:00 de lunes a viernes.\n")
        deadline = time.monotonic() + 120
        synced = []
        while not synced and time.monotonic() < deadline:
            synced = [d for d in await all_documents(api) if d.source_uri == "folder:inbox/horario.txt"]
            await asyncio.sleep(0.5)
        assert synced, "the folder connector from sentra.toml did not pick the file up"
        settled = await api.wait_settled([synced[0].document_id], timeout=300)
        assert settled[synced[0].document_id].state == INDEXED
    finally:
        await api.close()

    result = CliRunner().invoke(app, ["config", "--home", str(platform.data_dir)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert f"settings file: {platform.data_dir / 'sentra.toml'}" in result.output
    assert "LIMITS__MAX_UPLOAD_BYTES" in result.output and "file=20000" in result.output


@pytest.mark.parametrize("victim", ["nats", "embedding", "ingestion", "retrieval", "inference", "training",
                                    "gateway", "supervisor"])
async def test_kill_9_during_ingestion_comes_back_by_itself_and_loses_nothing(supervised, victim):
    platform = supervised
    api = Api(platform)
    prefix = f"test:faults/{victim}/"
    killed: dict[str, int] = {}
    ids = []
    try:
        for i in range(N):
            ids.append(await upload(api, document(i), f"pr-{victim}-{i}.txt", f"{prefix}{i}"))
            if i == N // 3:
                killed[victim] = info_of(platform, victim).pid
                os.kill(killed[victim], signal.SIGKILL)  # mid-stream
            if victim == "supervisor" and i == N // 2:
                # Nobody restarts this one until `up()` runs again.
                killed["embedding"] = info_of(platform, "embedding").pid
                os.kill(killed["embedding"], signal.SIGKILL)
        if victim == "supervisor":
            await asyncio.sleep(2)
            assert platform.running()["embedding"] is False
            state = await asyncio.to_thread(platform.up, 300)  # a new supervisor adopts the rest
            assert state.supervisor.pid != killed["supervisor"]
            assert state.services["embedding"].pid != killed["embedding"]
            for name in ("ingestion", "retrieval", "gateway"):
                assert platform.running()[name]
        else:
            back = await asyncio.to_thread(platform.wait_restarted, victim, killed[victim], 300)
            assert back.restarts >= 1 and back.last_exit == "killed by SIGKILL"

        docs = await api.wait_settled(ids, timeout=900)
        assert len(set(ids)) == N  # a retried upload landed on the same document
        assert not [d for d in docs.values() if d.state == PROCESSING]
        indexed = [d for d in docs.values() if d.state == INDEXED]
        assert len(indexed) == N, [d.failure_reason for d in docs.values() if d.state != INDEXED][:3]
        for doc in indexed:
            assert await api.points(doc.document_id) == doc.chunk_count  # none lost, none twice
        mine = [d for d in await all_documents(api) if d.source_uri.startswith(prefix)]
        assert len(mine) == N  # nothing duplicated
    finally:
        await api.close()
    assert all(platform.running().values()), platform.running()


async def test_a_service_that_cannot_start_is_a_crash_loop_until_fixed(supervised):
    from sentra_cli.main import app

    platform = supervised
    good = dict(platform.extra_env)
    platform.extra_env = {**good, "SENTRA_GATEWAY_RATE_LIMIT__BURST": "not-a-number"}
    platform.write_supervisor_file()  # the supervisor takes it at the next restart
    old = info_of(platform, "gateway").pid
    try:
        os.kill(old, signal.SIGTERM)
        deadline = time.monotonic() + 120
        while not info_of(platform, "gateway").crash_loop:
            assert time.monotonic() < deadline, info_of(platform, "gateway")
            await asyncio.sleep(0.5)
        info = info_of(platform, "gateway")
        assert info.last_exit.startswith("exited with code"), info
        result = CliRunner().invoke(app, ["status", "--home", str(platform.data_dir)], env={"COLUMNS": "250"})
        assert "CRASH LOOP" in result.output, result.output
        assert "exited with code" in result.output
    finally:
        platform.extra_env = good
        platform.write_supervisor_file()
    back = await asyncio.to_thread(platform.wait_restarted, "gateway", old, 120)
    assert back.restarts >= 3 and platform.running()["gateway"]
