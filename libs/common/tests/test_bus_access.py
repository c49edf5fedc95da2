"""The event bus refuses what a process has no business doing — performed against a real
nats-server configured the way `sentra up` configures it (sentra_common.bus_access)."""

from __future__ import annotations

import asyncio
import json

import nats
import pytest
from nats.errors import NoServersError
from prometheus_client import CollectorRegistry
from sentra.events.v1 import events_pb2
from sentra_common import events
from sentra_common.bus_access import generate_credentials, server_config
from sentra_common.config import NatsSettings
from sentra_common.metrics import ServiceMetrics
from sentra_common.nats import EventBus

from tests.support.servers import nats_server

SERVICES = ["ingestion", "embedding", "retrieval", "inference", "gateway"]


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    creds = generate_credentials(tmp_path_factory.mktemp("bus") / "creds", SERVICES)
    with nats_server(lambda port, store: server_config(port=port, store_dir=store, credentials=creds)) as url:
        yield url, creds


def _bus(url, creds, service) -> EventBus:
    settings = NatsSettings(url=url, credentials_file=creds[service], max_deliver=2, backoff_seconds=[0.05],
                            ack_wait_seconds=5)
    return EventBus(settings, service, ServiceMetrics(f"bus_{service}", registry=CollectorRegistry()))


async def _raw(url, creds, service):
    user = json.loads(creds[service].read_text())
    errors: list[Exception] = []

    async def on_error(exc):
        errors.append(exc)

    nc = await nats.connect(url, user=user["user"], password=user["password"], error_cb=on_error,
                            allow_reconnect=False, inbox_prefix=f"_INBOX_{service}")
    return nc, errors


async def test_a_process_without_credentials_cannot_connect(secured):
    url, _ = secured
    with pytest.raises((NoServersError, nats.errors.Error, OSError)):
        await nats.connect(url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2)
    settings = NatsSettings(url=url)  # a service without its credentials refuses to start
    with pytest.raises(ValueError, match="CREDENTIALS_FILE"):
        await EventBus(settings, "retrieval", ServiceMetrics("bus_x", registry=CollectorRegistry())).connect()


async def test_the_pipeline_flows_with_each_service_as_itself(secured):
    url, creds = secured
    ingestion, embedding = _bus(url, creds, "ingestion"), _bus(url, creds, "embedding")
    await ingestion.connect()
    await embedding.connect()
    got: asyncio.Queue = asyncio.Queue()

    async def handle(delivery):
        await got.put(delivery.message.document_id)

    embedding.subscribe(events.CHUNKS_CREATED, "embedding", events_pb2.ChunksCreated, handle)
    await ingestion.publish(events.CHUNKS_CREATED, events_pb2.ChunksCreated(document_id="doc-1"))
    assert await asyncio.wait_for(got.get(), 15) == "doc-1"
    await embedding.close()
    await ingestion.close()


@pytest.mark.parametrize("service,subject", [
    ("embedding", events.CHUNKS_CREATED),           # forged chunks with any department and access list
    ("embedding", events.DOCUMENT_DELETED),         # deleting another department's document from the index
    ("retrieval", events.CHUNKS_EMBEDDED),
    ("inference", events.DOCUMENT_UPLOADED),        # pointing a document at another blob
    ("embedding", events.refused_call_subject("ingestion")),  # reporting in another service's name
    ("embedding", events.deadletter_subject("ingestion-parser")),  # forging a dead letter
    ("gateway", events.DOCUMENT_INDEXED),
])
async def test_a_service_cannot_publish_what_is_not_its_own(secured, service, subject):
    url, creds = secured
    nc, errors = await _raw(url, creds, service)
    try:
        await nc.publish(subject, b"forged")
        await nc.flush()
        await asyncio.sleep(0.3)
        assert any("permissions violation" in str(e).lower() for e in errors), errors
    finally:
        await nc.close()


@pytest.mark.parametrize("subject", ["sentra.chunks.v1.>", ">", "_INBOX_embedding.>", "$JS.API.STREAM.MSG.GET.*"])
async def test_a_service_cannot_listen_in(secured, subject):
    """Reading every department's chunk text off the bus, or another service's deliveries."""
    url, creds = secured
    nc, errors = await _raw(url, creds, "inference")
    try:
        await nc.subscribe(subject)
        await nc.flush()
        await asyncio.sleep(0.3)
        assert any("permissions violation" in str(e).lower() for e in errors), errors
    finally:
        await nc.close()


async def test_a_service_cannot_read_the_streams_directly_or_use_another_consumer(secured):
    url, creds = secured
    ingestion = _bus(url, creds, "ingestion")
    await ingestion.connect()  # creates the streams
    await ingestion.publish(events.CHUNKS_CREATED, events_pb2.ChunksCreated(document_id="secret"))
    nc, _ = await _raw(url, creds, "inference")
    js = nc.jetstream(timeout=2)
    try:
        with pytest.raises(Exception):  # noqa: B017 - any refusal: a timeout (no permission to ask) or an error
            await js.get_msg(events.PIPELINE_STREAM, 1)
        with pytest.raises(Exception):  # noqa: B017
            sub = await js.pull_subscribe(events.CHUNKS_CREATED, durable="embedding")
            await sub.fetch(1, timeout=2)
        with pytest.raises(Exception):  # noqa: B017
            await js.delete_stream(events.PIPELINE_STREAM)
    finally:
        await nc.close()
        await ingestion.close()
