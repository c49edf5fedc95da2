"""OpenTelemetry tracing: one tracer provider per process, W3C trace context carried
in gRPC metadata and NATS headers so a trace follows a document across services."""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Iterator, Mapping, MutableMapping

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from sentra_common.logging import request_id_var

logger = logging.getLogger(__name__)

TRACER_NAME = "sentra"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def configure_tracing(
    service: str, otlp_endpoint: str = "", extra_processors: list[SpanProcessor] | None = None
) -> TracerProvider:
    """Install a tracer provider. Spans are exported over OTLP when an endpoint is set
    (needs the `opentelemetry-exporter-otlp` package); trace ids are always generated
    so logs and propagated context carry them."""
    provider = TracerProvider(resource=Resource.create({"service.name": f"sentra-{service}"}))
    if otlp_endpoint:
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError:
            logger.warning(
                "SENTRA telemetry: otlp_endpoint is set but opentelemetry-exporter-otlp is "
                "not installed; traces are not exported"
            )
        else:
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    for processor in extra_processors or []:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return provider


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def inject(carrier: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Write the current trace context (traceparent, tracestate) into `carrier`."""
    propagate.inject(carrier)
    return carrier


def extract(carrier: Mapping[str, str]):
    """A context whose parent is the trace context found in `carrier`."""
    return propagate.extract(dict(carrier))


@contextlib.contextmanager
def server_request(name: str, carrier: Mapping[str, str]) -> Iterator[str]:
    """The scope of one request a server handles (gRPC or HTTP): its request id (the
    caller's `x-request-id`, or a new one) on every log line, and a server span that
    continues the caller's trace. Yields the request id; one that is not 1–64 letters,
    digits, '.', '_' or '-' is replaced, so a caller cannot forge log lines with it."""
    rid = carrier.get("x-request-id") or ""
    if not _REQUEST_ID.fullmatch(rid):
        rid = uuid.uuid4().hex[:16]
    token = request_id_var.set(rid)
    try:
        with tracer().start_as_current_span(name, context=extract(carrier), kind=trace.SpanKind.SERVER):
            yield rid
    finally:
        request_id_var.reset(token)
