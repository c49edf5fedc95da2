"""OpenTelemetry tracing: one tracer provider per process, W3C trace context carried
in gRPC metadata and NATS headers so a trace follows a document across services."""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

logger = logging.getLogger(__name__)

TRACER_NAME = "sentra"


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
