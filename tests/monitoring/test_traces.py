"""Traces of a running platform, received over OTLP/gRPC: an upload is one trace from the
gateway through ingestion, NATS, embedding and retrieval; an answer is one trace from the
gateway through inference and retrieval to the embedding service; log lines written inside
them carry their trace id. (The platform and the flows: conftest.py.)"""

from __future__ import annotations

import json
import time

import pytest
from sentra_common import events

from tests.monitoring.otlp import ReceivedSpan

pytestmark = pytest.mark.integration

SERVER, CLIENT, PRODUCER, CONSUMER = 2, 3, 4, 5


def connected(spans: list[ReceivedSpan], parent_id: str) -> bool:
    ids = {s.span_id for s in spans}
    return all(s.parent_span_id in ids or s.parent_span_id == parent_id for s in spans)


def wait_for_trace(observed, flow, services: set[str], timeout: float = 120) -> list[ReceivedSpan]:
    """The flow's spans once every service named has exported its part (each exports in
    batches, every few seconds) and every span's parent has arrived."""
    deadline = time.monotonic() + timeout
    while True:
        spans = observed.receiver.trace(flow.trace_id)
        if services <= {s.service for s in spans} and connected(spans, flow.parent_id):
            return spans
        if time.monotonic() > deadline:
            return spans
        time.sleep(0.5)


def ancestors(span: ReceivedSpan, spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
    by_id = {s.span_id: s for s in spans}
    chain = []
    while span.parent_span_id in by_id:
        span = by_id[span.parent_span_id]
        chain.append(span)
    return chain


def one(spans: list[ReceivedSpan], **where) -> ReceivedSpan:
    found = [s for s in spans if all(getattr(s, k) == v for k, v in where.items())]
    assert found, f"no span with {where} among {sorted((s.service, s.name) for s in spans)}"
    return found[0]


def delivery(spans: list[ReceivedSpan], subject: str, service: str) -> ReceivedSpan:
    """The consumer span of `subject` in `service`, checked to be the child of its publish."""
    consumer = next((s for s in spans if s.kind == CONSUMER and s.service == service
                     and s.attributes.get("messaging.destination.name") == subject), None)
    assert consumer is not None, f"{service} has no consumer span for {subject}"
    producer = next(s for s in spans if s.span_id == consumer.parent_span_id)
    assert producer.kind == PRODUCER and producer.attributes["messaging.destination.name"] == subject
    assert consumer.attributes["messaging.system"] == "nats"
    return consumer


def test_an_upload_is_one_trace_across_nats(observed):
    flow = observed.upload
    services = {"sentra-gateway", "sentra-ingestion", "sentra-embedding", "sentra-retrieval"}
    spans = wait_for_trace(observed, flow, services)
    assert services <= {s.service for s in spans}
    assert connected(spans, flow.parent_id), "a span's parent is missing from the trace"
    [root] = [s for s in spans if s.parent_span_id == flow.parent_id]
    assert (root.service, root.kind, root.name) == (
        "sentra-gateway", SERVER, "/sentra.ingestion.v1.IngestionService/UploadDocument")
    # Each hop of the pipeline is a publish and a delivery, child of the one before.
    parse = delivery(spans, events.DOCUMENT_UPLOADED, "sentra-ingestion")
    embed = delivery(spans, events.CHUNKS_CREATED, "sentra-embedding")
    index = delivery(spans, events.CHUNKS_EMBEDDED, "sentra-retrieval")
    indexed = delivery(spans, events.DOCUMENT_INDEXED, "sentra-ingestion")
    upload = one(spans, service="sentra-ingestion", kind=SERVER, name=root.name)
    assert [s.span_id for s in ancestors(indexed, spans) if s.kind in (SERVER, CONSUMER)] == [
        index.span_id, embed.span_id, parse.span_id, upload.span_id, root.span_id]


def test_an_answer_is_one_trace_from_the_gateway_to_the_embedding_model(observed):
    flow = observed.answer
    services = {"sentra-gateway", "sentra-inference", "sentra-retrieval", "sentra-embedding"}
    spans = wait_for_trace(observed, flow, services)
    assert services <= {s.service for s in spans}
    assert connected(spans, flow.parent_id), "a span's parent is missing from the trace"
    [root] = [s for s in spans if s.parent_span_id == flow.parent_id]
    assert (root.service, root.name) == ("sentra-gateway", "/sentra.inference.v1.InferenceService/Answer")
    embed = one(spans, service="sentra-embedding", kind=SERVER, name="/sentra.embedding.v1.EmbeddingService/Embed")
    chain = [(s.service, s.kind, s.name.rsplit("/", 1)[-1]) for s in ancestors(embed, spans)]
    assert chain == [
        ("sentra-retrieval", CLIENT, "Embed"), ("sentra-retrieval", SERVER, "Search"),
        ("sentra-inference", CLIENT, "Search"), ("sentra-inference", SERVER, "Answer"),
        ("sentra-gateway", CLIENT, "Answer"), ("sentra-gateway", SERVER, "Answer"),
    ]


def test_log_lines_inside_a_trace_carry_its_id(observed):
    wait_for_trace(observed, observed.upload, {"sentra-retrieval"})
    logs = observed.platform.log_dir
    traced: dict[str, list[dict]] = {}
    for service in ("gateway", "ingestion", "embedding", "retrieval", "inference"):
        for line in (logs / f"{service}.log").read_text(errors="replace").splitlines():
            if line.startswith("{"):
                entry = json.loads(line)
                if "trace_id" in entry:
                    assert len(entry["trace_id"]) == 32 and len(entry["span_id"]) == 16, entry
                    traced.setdefault(entry["trace_id"], []).append(entry)
    upload_lines = traced.get(observed.upload.trace_id, [])
    assert any(e["service"] == "ingestion" and e["msg"] == "document indexed" for e in upload_lines), upload_lines
