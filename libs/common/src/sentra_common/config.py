"""Settings shared by the services.

Each service defines one `pydantic_settings.BaseSettings` subclass with the prefix
`SENTRA_<SERVICE>_` and nested sub-models (`SENTRA_INGESTION_NATS__URL=...`). Settings
are loaded once in `__main__` with `load_settings` and passed down.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings

from sentra_common.principal import Principal
from sentra_common.tls import TlsSettings


class GrpcServerSettings(BaseModel):
    host: str = "127.0.0.1"
    # 0 picks a free port; the bound port is logged and written to `port_file`.
    port: int = Field(default=0, ge=0, le=65535)
    port_file: Path | None = None
    grace_seconds: float = Field(default=5.0, ge=0)
    max_message_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)


class ClientSettings(BaseModel):
    """Outbound gRPC calls: every call carries a deadline."""

    deadline_seconds: float = Field(default=30.0, gt=0)


class NatsSettings(BaseModel):
    url: str = "nats://127.0.0.1:4222"
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    # Bounded retries before a message goes to the dead-letter subject.
    max_deliver: int = Field(default=5, ge=1)
    # Seconds before an unacknowledged message is delivered again.
    ack_wait_seconds: float = Field(default=30.0, gt=0)
    # Back-off between retries of a failed message, seconds; the last value repeats.
    backoff_seconds: list[float] = Field(default_factory=lambda: [1.0, 5.0, 15.0, 30.0])
    # Events (chunk text included) are kept no longer than the pipeline needs them: a
    # document whose events are gone is re-queued by ingestion's stalled-document check.
    stream_max_age_hours: float = Field(default=24.0, gt=0, le=24 * 7)
    # How often each durable consumer's backlog is read from JetStream for the metrics.
    consumer_info_seconds: float = Field(default=15.0, gt=0)
    # This service's user on the bus (JSON {"user", "password"}; `sentra up` writes it,
    # 0600; a Secret in a cluster). Without it the service refuses to start, unless
    # `anonymous` says on purpose that the bus has no users (a test bus).
    credentials_file: Path | None = None
    anonymous: bool = False
    # TLS to the bus (the CA, and this service's certificate for a server that asks).
    tls: TlsSettings = TlsSettings()
    # The name in the bus server's certificate (it is reached by address).
    tls_server_name: str = "nats"


class DatabaseSettings(BaseModel):
    # sqlite+aiosqlite:///path/to/sentra.db (embedded) or postgresql+psycopg://user@host/db
    url: str = "sqlite+aiosqlite:///./sentra.db"

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+psycopg://")):
            raise ValueError(
                "database url must start with sqlite+aiosqlite:// or postgresql+psycopg://"
            )
        return value


class TelemetrySettings(BaseModel):
    # Port of the Prometheus /metrics endpoint; 0 picks a free port, -1 disables it.
    metrics_port: int = Field(default=0, ge=-1, le=65535)
    metrics_host: str = "127.0.0.1"
    # OTLP/gRPC endpoint for traces (e.g. http://otel-collector:4317); empty: not exported.
    otlp_endpoint: str = ""
    # How often a service reads the state it exports as gauges (documents by state, jobs
    # and adapters by state) from its database or its registry.
    poll_seconds: float = Field(default=15.0, gt=0)
    log_level: str = "INFO"
    log_json: bool = True


class IdentitySettings(BaseModel):
    """How an internal service knows who is calling (see `sentra_common.identity`).

    `trust_file` lists the public keys whose signed principals this service accepts (the
    gateway's and the services'); without it the service refuses to start.
    `signing_key_file` is this service's own key, for calls it makes for itself.
    """

    trust_file: Path | None = None
    signing_key_file: Path | None = None
    # An assertion is for one call; it covers the call's start, not its whole length.
    assertion_ttl_seconds: int = Field(default=60, ge=10, le=60)
    # Assertions remembered against replay (until each expires); past this calls are refused.
    max_remembered_assertions: int = Field(default=1_000_000, ge=1000)


class ServiceSettings(BaseSettings):
    """Fields every service has."""

    grpc: GrpcServerSettings = GrpcServerSettings()
    client: ClientSettings = ClientSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    identity: IdentitySettings = IdentitySettings()
    # Mutual TLS for the internal gRPC server and the channels to other services.
    tls: TlsSettings = TlsSettings()


S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S]) -> S:
    """Load settings from the environment; on error print a clear message and exit 2."""
    try:
        return cls()
    except ValidationError as exc:
        prefix = cls.model_config.get("env_prefix", "")
        lines = [f"invalid configuration for {cls.__name__}:"]
        for err in exc.errors():
            path = "__".join(str(p) for p in err["loc"]).upper()
            # The value is not printed: it may be a secret (a password in a URL, an API key).
            lines.append(f"  {prefix}{path}: {err['msg']}")
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None


def service_principal(service: str) -> Principal:
    """The principal a service uses for its own (non-user) calls."""
    return Principal(subject=f"service:{service}", departments=(), roles=("service",))


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address) is this machine's loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
