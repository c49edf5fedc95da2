"""NATS JetStream helpers: streams, publishing with trace headers and de-duplication
ids, and durable pull consumers with bounded retries, back-off and a dead-letter
subject.

Handlers must be idempotent: a message is delivered at least once (again after a
crash, a timeout or a failed attempt).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

import nats
from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StreamConfig
from nats.js.errors import NotFoundError
from opentelemetry import trace
from sentra.events.v1 import events_pb2

from sentra_common import events, telemetry
from sentra_common.bus_access import BusCredentials, inbox_prefix
from sentra_common.config import NatsSettings
from sentra_common.metrics import ServiceMetrics

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)


class PermanentError(Exception):
    """Retrying cannot help (e.g. an undecodable payload): dead-letter at once."""


@dataclass
class Delivery(Generic[M]):
    """One decoded message with its delivery attempt number (1-based)."""

    message: M
    subject: str
    attempt: int
    headers: dict[str, str]


Handler = Callable[[Delivery[M]], Awaitable[None]]


class EventBus:
    """A NATS connection with JetStream, owned by one service."""

    def __init__(self, settings: NatsSettings, service: str, metrics: ServiceMetrics) -> None:
        self.settings = settings
        self.service = service
        self.metrics = metrics
        self.nc: nats.NATS | None = None
        self.js = None
        self._tasks: list[asyncio.Task] = []
        self._stopping = asyncio.Event()

    def _auth_options(self) -> dict:
        """The service's own user, inbox and TLS (see `sentra_common.bus_access`)."""
        s = self.settings
        options: dict = {"inbox_prefix": inbox_prefix(self.service)}
        if s.credentials_file is not None:
            creds = BusCredentials.from_file(s.credentials_file)
            options.update(user=creds.user, password=creds.password)
        elif not s.anonymous:
            raise ValueError(
                f"SENTRA_{self.service.upper()}_NATS__CREDENTIALS_FILE is not set: each service connects to the "
                "event bus as its own user (`sentra up` generates them; in a cluster mount the sentra-nats secret)"
            )
        if s.tls.enabled:
            context = ssl.create_default_context(cafile=str(s.tls.ca_file))
            context.load_cert_chain(str(s.tls.cert_file), str(s.tls.key_file))
            options.update(tls=context, tls_hostname=s.tls_server_name)
        return options

    async def connect(self) -> None:
        self.nc = await nats.connect(
            self.settings.url,
            name=f"sentra-{self.service}",
            connect_timeout=self.settings.connect_timeout_seconds,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            **self._auth_options(),
        )
        self.js = self.nc.jetstream(timeout=self.settings.connect_timeout_seconds)
        await self.ensure_streams()

    async def ensure_streams(self) -> None:
        """Create the pipeline, dead-letter and audit streams when missing (idempotent)."""
        max_age = self.settings.stream_max_age_hours * 3600
        for name, subjects in (
            (events.PIPELINE_STREAM, list(events.PIPELINE_SUBJECTS)),
            (events.DEADLETTER_STREAM, [f"{events.DEADLETTER_PREFIX}.>"]),
            (events.AUDIT_STREAM, list(events.AUDIT_SUBJECTS)),
            (events.MODELS_STREAM, list(events.MODELS_SUBJECTS)),
        ):
            config = StreamConfig(
                name=name,
                subjects=subjects,
                retention=RetentionPolicy.LIMITS,
                max_age=max_age,
                duplicate_window=120,
            )
            try:
                info = await self.js.stream_info(name)
            except NotFoundError:
                with contextlib.suppress(Exception):  # another service created it first
                    await self.js.add_stream(config)
                continue
            if abs((info.config.max_age or 0) - max_age) > 1:  # the retention setting changed: apply it
                with contextlib.suppress(Exception):
                    await self.js.update_stream(config)

    async def publish(self, subject: str, message: Message, *, msg_id: str | None = None) -> None:
        """Publish to JetStream and wait for the stream's acknowledgement.

        `msg_id` makes the publish idempotent within the stream's duplicate window, so
        a handler that is retried does not emit the same event twice.
        """
        with telemetry.tracer().start_as_current_span(
            f"{subject} publish", kind=trace.SpanKind.PRODUCER, attributes=telemetry.messaging_attributes(subject),
        ):
            headers = telemetry.inject({})
            if msg_id:
                headers["Nats-Msg-Id"] = msg_id
            await self.js.publish(subject, message.SerializeToString(), headers=headers)
        self.metrics.events_published.labels(subject).inc()

    def subscribe(
        self,
        subject: str,
        durable: str,
        message_type: type[M],
        handler: Handler[M],
        *,
        concurrency: int = 1,
        batch: int = 8,
    ) -> None:
        """Run a durable pull consumer in the background until `close()`.

        A handler that raises is retried with back-off up to `max_deliver` attempts;
        then the message is published to `sentra.deadletter.v1.<durable>` and
        terminated. `PermanentError` skips the retries.
        """
        task = asyncio.create_task(
            self._consume(subject, durable, message_type, handler, concurrency, batch),
            name=f"consumer:{durable}",
        )
        self._tasks.append(task)

    async def _consume(self, subject, durable, message_type, handler, concurrency, batch) -> None:
        config = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.settings.ack_wait_seconds,
            # One more than our bound, so the server redelivers until we dead-letter.
            max_deliver=self.settings.max_deliver + 1,
            max_ack_pending=max(64, batch * concurrency * 4),
        )
        while not self._stopping.is_set():
            try:
                sub = await self.js.pull_subscribe(subject, durable=durable, config=config)
                break
            except Exception:
                logger.warning("cannot create consumer %s yet; retrying", durable, exc_info=True)
                await asyncio.sleep(1)
        else:
            return
        watcher = asyncio.create_task(self._watch_backlog(sub, durable), name=f"backlog:{durable}")
        semaphore = asyncio.Semaphore(concurrency)
        running: set[asyncio.Task] = set()
        while not self._stopping.is_set():
            try:
                msgs = await sub.fetch(batch, timeout=1)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except Exception:
                if self._stopping.is_set():
                    break
                logger.warning("fetch failed on %s; retrying", durable, exc_info=True)
                await asyncio.sleep(1)
                continue
            for msg in msgs:
                await semaphore.acquire()
                t = asyncio.create_task(self._handle(msg, durable, message_type, handler))
                running.add(t)
                t.add_done_callback(lambda done: (running.discard(done), semaphore.release()))
        watcher.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        with contextlib.suppress(Exception):
            await sub.unsubscribe()

    async def _watch_backlog(self, sub, durable: str) -> None:
        """Poll the consumer's state from JetStream (its backlog, what is in flight) into the
        `sentra_<service>_nats_consumer_*` gauges, every `consumer_info_seconds`: a queue
        that grows while its consumer is stuck shows there, handler or no handler."""
        while not self._stopping.is_set():
            try:
                info = await sub.consumer_info()
                self.metrics.consumer_info(
                    info.stream_name, durable, info.num_pending or 0, info.num_ack_pending or 0,
                    info.num_redelivered or 0,
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.debug("cannot read the state of consumer %s", durable, exc_info=True)
            await asyncio.sleep(self.settings.consumer_info_seconds)

    async def _handle(self, msg: Msg, durable: str, message_type: type[M], handler: Handler[M]) -> None:
        attempt = msg.metadata.num_delivered if msg.metadata else 1
        headers = dict(msg.headers or {})
        started = time.perf_counter()
        span_cm = telemetry.tracer().start_as_current_span(
            f"{msg.subject} process", context=telemetry.extract(headers), kind=trace.SpanKind.CONSUMER,
            attributes={**telemetry.messaging_attributes(msg.subject, durable),
                        "messaging.message.delivery_attempt": attempt},
        )
        with span_cm as span:
            heartbeat = asyncio.create_task(self._heartbeat(msg))
            try:
                decoded = message_type()
                try:
                    decoded.ParseFromString(msg.data)
                except DecodeError as exc:
                    raise PermanentError(f"undecodable {message_type.__name__}: {exc}") from exc
                await handler(Delivery(decoded, msg.subject, attempt, headers))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
                await self._failed(msg, durable, attempt, exc)
            else:
                await msg.ack()
                self.metrics.events_handled.labels(msg.subject, "ok").inc()
            finally:
                heartbeat.cancel()
                self.metrics.event_duration.labels(msg.subject).observe(time.perf_counter() - started)

    async def _heartbeat(self, msg: Msg) -> None:
        """Tell the server we are still working, so long work is not redelivered."""
        interval = max(self.settings.ack_wait_seconds / 3, 0.5)
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(interval)
                await msg.in_progress()

    async def _failed(self, msg: Msg, durable: str, attempt: int, exc: Exception) -> None:
        permanent = isinstance(exc, PermanentError)
        if permanent or attempt >= self.settings.max_deliver:
            logger.error(
                "message failed %d time(s); sent to the dead-letter subject",
                attempt,
                extra={"subject": msg.subject, "consumer": durable, "error": str(exc)},
                exc_info=not permanent,
            )
            letter = events_pb2.DeadLetter(
                subject=msg.subject, consumer=durable, deliveries=attempt,
                error=str(exc)[:2000], payload=msg.data,
            )
            await self.publish(events.deadletter_subject(durable), letter)
            await msg.term()
            self.metrics.events_handled.labels(msg.subject, "dead_letter").inc()
            return
        backoff = self.settings.backoff_seconds or [1.0]
        delay = backoff[min(attempt - 1, len(backoff) - 1)]
        logger.warning(
            "message failed (attempt %d of %d); retrying in %.1fs",
            attempt, self.settings.max_deliver, delay,
            extra={"subject": msg.subject, "consumer": durable, "error": str(exc)},
        )
        await msg.nak(delay=delay)
        self.metrics.events_handled.labels(msg.subject, "retry").inc()

    async def close(self) -> None:
        self._stopping.set()
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=10)
            for task in pending:
                task.cancel()
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.drain()


async def connect_reporting_refusals(settings: NatsSettings, service: str, metrics: ServiceMetrics,
                                     server) -> EventBus:
    """Connect to NATS and have every call `server` (a `GrpcServer`) refuses for want of a
    valid principal reported there, for the gateway's audit log."""
    bus = EventBus(settings, service, metrics)
    await bus.connect()
    server.report_refusals(refusal_reporter(bus, service))
    return bus


def event_consumer(enabled: bool, settings: NatsSettings, service: str, metrics: ServiceMetrics, server,
                   subscribe: Callable[[EventBus], None]) -> Callable[[], Awaitable[EventBus | None]]:
    """`runtime.serving`'s `connect_events` for a service that consumes events when
    `enabled`: connect (reporting refused calls), then `subscribe(bus)`."""

    async def connect() -> EventBus | None:
        if not enabled:
            return None
        bus = await connect_reporting_refusals(settings, service, metrics, server)
        subscribe(bus)
        return bus

    return connect


def refusal_reporter(bus: EventBus, service: str):
    """A `GrpcServer.report_refusals` callback publishing `sentra.audit.v1.refused.<service>`
    (fire and forget: a refused call is not delayed by the report)."""
    pending: set[asyncio.Task] = set()

    def report(refused) -> None:
        at = Timestamp()
        at.FromDatetime(datetime.now(UTC))
        event = events_pb2.RefusedCall(
            at=at, service=service, method=refused.method, code=refused.code, detail=refused.detail,
            peer=refused.peer, request_id=refused.request_id,
        )
        task = asyncio.create_task(_publish_quietly(bus, events.refused_call_subject(service), event))
        pending.add(task)
        task.add_done_callback(pending.discard)

    return report


async def _publish_quietly(bus: EventBus, subject: str, message) -> None:
    try:
        await bus.publish(subject, message)
    except Exception:
        logger.warning("could not publish a refused call for the audit log", exc_info=True)
