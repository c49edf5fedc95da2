"""JetStream helpers against a real nats-server: delivery, retries with back-off,
the dead-letter subject, de-duplication and trace propagation."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry import trace
from prometheus_client import CollectorRegistry
from sentra.events.v1 import events_pb2
from sentra_common import events
from sentra_common.config import NatsSettings
from sentra_common.metrics import ServiceMetrics
from sentra_common.nats import EventBus, PermanentError

pytestmark = pytest.mark.integration


@pytest.fixture
async def bus(nats_url):
    settings = NatsSettings(url=nats_url, max_deliver=3, backoff_seconds=[0.05], ack_wait_seconds=5, anonymous=True)
    b = EventBus(settings, "test", ServiceMetrics("test", registry=CollectorRegistry()))
    await b.connect()
    yield b
    await b.close()


async def wait_for(predicate, timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def stage(doc: str) -> events_pb2.StageCompleted:
    return events_pb2.StageCompleted(document_id=doc, version=1, stage="parse")


async def test_delivers_decoded_messages(bus):
    seen = []

    async def handler(d):
        seen.append(d.message.document_id)

    bus.subscribe(events.STAGE_COMPLETED, "t-deliver", events_pb2.StageCompleted, handler)
    await bus.publish(events.STAGE_COMPLETED, stage("deliver-1"))
    await wait_for(lambda: "deliver-1" in seen)


async def test_failing_handler_is_retried_then_dead_lettered(bus):
    attempts, letters = [], []

    async def flaky(d):
        if d.message.document_id == "poison":
            attempts.append(d.attempt)
            raise RuntimeError("cannot handle this")

    async def dead(d):
        letters.append(d.message)

    bus.subscribe(events.DOCUMENT_FAILED, "t-retry", events_pb2.DocumentFailed, flaky)
    bus.subscribe(f"{events.DEADLETTER_PREFIX}.t-retry", "t-dlq", events_pb2.DeadLetter, dead)
    await bus.publish(events.DOCUMENT_FAILED, events_pb2.DocumentFailed(document_id="poison", version=1))
    await wait_for(lambda: letters)
    assert attempts == [1, 2, 3]
    assert letters[0].deliveries == 3
    assert "cannot handle this" in letters[0].error
    original = events_pb2.DocumentFailed()
    original.ParseFromString(letters[0].payload)
    assert original.document_id == "poison"


async def test_permanent_error_skips_retries(bus):
    attempts, letters = [], []

    async def handler(d):
        attempts.append(d.attempt)
        raise PermanentError("bad payload")

    async def dead(d):
        letters.append(d.message)

    bus.subscribe(events.DOCUMENT_DELETED, "t-perm", events_pb2.DocumentDeleted, handler)
    bus.subscribe(f"{events.DEADLETTER_PREFIX}.t-perm", "t-perm-dlq", events_pb2.DeadLetter, dead)
    await bus.publish(events.DOCUMENT_DELETED, events_pb2.DocumentDeleted(document_id="x"))
    await wait_for(lambda: letters)
    assert attempts == [1]


async def test_same_msg_id_is_published_once(bus):
    seen = []

    async def handler(d):
        seen.append(d.message.document_id)

    bus.subscribe(events.DOCUMENT_INDEXED, "t-dedupe", events_pb2.DocumentIndexed, handler)
    for _ in range(3):
        await bus.publish(events.DOCUMENT_INDEXED, events_pb2.DocumentIndexed(document_id="once"), msg_id="m-1")
    await bus.publish(events.DOCUMENT_INDEXED, events_pb2.DocumentIndexed(document_id="after"), msg_id="m-2")
    await wait_for(lambda: "after" in seen)
    assert seen.count("once") == 1


async def test_trace_context_travels_in_headers(bus):
    from opentelemetry.sdk.trace import TracerProvider

    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())
    traces = []

    async def handler(d):
        traces.append(trace.get_current_span().get_span_context().trace_id)

    bus.subscribe(events.CHUNKS_CREATED, "t-trace", events_pb2.ChunksCreated, handler)
    with trace.get_tracer("test").start_as_current_span("producer") as span:
        await bus.publish(events.CHUNKS_CREATED, events_pb2.ChunksCreated(document_id="t"))
    await wait_for(lambda: traces)
    assert traces[0] == span.get_span_context().trace_id


def _sample(metrics: ServiceMetrics, name: str, **labels) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


async def test_publish_is_a_producer_span_parent_of_the_consumer_span(bus):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())
    exporter = InMemorySpanExporter()
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))
    done = []

    async def handler(d):
        done.append(d.message.document_id)

    bus.subscribe(events.DOCUMENT_FAILED, "t-spans", events_pb2.DocumentFailed, handler)
    await bus.publish(events.DOCUMENT_FAILED, events_pb2.DocumentFailed(document_id="spans"))
    await wait_for(lambda: "spans" in done)
    producer = next(s for s in exporter.get_finished_spans()
                    if s.kind == trace.SpanKind.PRODUCER and s.name.startswith(events.DOCUMENT_FAILED))

    def consumers():  # the stream may hold earlier tests' messages: this trace's delivery
        return [s for s in exporter.get_finished_spans()
                if s.kind == trace.SpanKind.CONSUMER and s.context.trace_id == producer.context.trace_id]

    await wait_for(consumers)
    consumer = consumers()[0]
    assert consumer.parent.span_id == producer.context.span_id
    assert consumer.attributes["messaging.consumer.group.name"] == "t-spans"
    assert producer.attributes["messaging.destination.name"] == events.DOCUMENT_FAILED
    assert _sample(bus.metrics, "sentra_test_events_published_total", subject=events.DOCUMENT_FAILED) >= 1


async def test_a_consumer_backlog_is_polled_into_gauges(nats_url):
    settings = NatsSettings(url=nats_url, anonymous=True, consumer_info_seconds=0.1, ack_wait_seconds=5)
    metrics = ServiceMetrics("lag", registry=CollectorRegistry())
    bus = EventBus(settings, "lag", metrics)
    await bus.connect()
    release = asyncio.Event()

    async def stuck(d):
        await release.wait()

    try:
        for n in range(5):
            await bus.publish(events.DOCUMENT_DELETED, events_pb2.DocumentDeleted(document_id=f"lag-{n}"))
        bus.subscribe(events.DOCUMENT_DELETED, "t-lag", events_pb2.DocumentDeleted, stuck, concurrency=1, batch=1)
        labels = {"stream": events.PIPELINE_STREAM, "consumer": "t-lag"}
        # Messages in (or fetched for) the stuck handler are delivered, not acknowledged;
        # the others wait in the stream.
        await wait_for(lambda: (_sample(metrics, "sentra_lag_nats_consumer_ack_pending_messages", **labels) or 0) >= 1
                       and (_sample(metrics, "sentra_lag_nats_consumer_pending_messages", **labels) or 0) >= 1)
        release.set()
        await wait_for(lambda: _sample(metrics, "sentra_lag_nats_consumer_pending_messages", **labels) == 0
                       and _sample(metrics, "sentra_lag_nats_consumer_ack_pending_messages", **labels) == 0)
    finally:
        release.set()
        await bus.close()
