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
    """Install a tracer provider. Spans are exported over OTLP/gRPC when an endpoint is set
    (`http://collector:4317` is plaintext, `https://…` TLS); trace ids are always generated
    so logs and propagated context carry them. `shutdown_tracing` flushes what is left."""
    provider = TracerProvider(resource=Resource.create({"service.name": f"sentra-{service}",
                                                        "service.namespace": "sentra"}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        insecure = otlp_endpoint.startswith("http://")
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint, insecure=insecure)))
        logger.info("traces exported over OTLP", extra={"otlp_endpoint": otlp_endpoint})
    for processor in extra_processors or []:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return provider


def shutdown_tracing(provider: TracerProvider) -> None:
    """Export the spans still queued (a stopping service's last ones) and stop exporting."""
    try:
        provider.shutdown()
    except Exception:  # the collector may be gone already; the process is stopping anyway
        logger.warning("could not flush the last traces", exc_info=True)


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def inject(carrier: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Write the current trace context (traceparent, tracestate) into `carrier`."""
    propagate.inject(carrier)
    return carrier


def extract(carrier: Mapping[str, str]):
    """A context whose parent is the trace context found in `carrier`."""
    return propagate.extract(dict(carrier))


def client_span(method: str) -> trace.Span:
    """A span for one outbound gRPC call (`/package.Service/Method`), child of the current
    one; the caller ends it when the call completes and injects its context."""
    service, _, name = method.lstrip("/").rpartition("/")
    return tracer().start_span(method, kind=trace.SpanKind.CLIENT, attributes={
        "rpc.system": "grpc", "rpc.service": service, "rpc.method": name,
    })


def inject_span(span: trace.Span, carrier: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Write `span`'s context (not the current one) into `carrier`."""
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    return carrier


def messaging_attributes(subject: str, consumer: str = "") -> dict[str, str]:
    """OpenTelemetry's messaging attributes of a NATS publish or delivery."""
    attributes = {"messaging.system": "nats", "messaging.destination.name": subject}
    if consumer:
        attributes["messaging.consumer.group.name"] = consumer
    return attributes


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
        with tracer().start_as_current_span(name, context=extract(carrier), kind=trace.SpanKind.SERVER,
                                            attributes=_server_attributes(name)):
            yield rid
    finally:
        request_id_var.reset(token)


def _server_attributes(name: str) -> dict[str, str]:
    if name.startswith("/"):  # a gRPC method
        service, _, method = name.lstrip("/").rpartition("/")
        return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}
    return {}
