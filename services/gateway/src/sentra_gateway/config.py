"""Settings of the gateway (`SENTRA_GATEWAY_…`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import SettingsConfigDict
from sentra_common.config import DatabaseSettings, NatsSettings, ServiceSettings, is_loopback

# Only asymmetric algorithms: a token signed with a shared secret (e.g. HS256 keyed with
# the realm's public key) or not signed at all (`none`) is refused before any key is used.
ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]


class AuthSettings(BaseModel):
    """How callers are authenticated.

    `keycloak`: every call carries `Authorization: Bearer <access token>` issued by the
    Sentra realm. `development`: no identity provider; callers assert an identity in
    `x-sentra-dev-identity` (`subject:dept1,dept2:role1,role2`). Development mode is never
    the default and the gateway warns about it at start-up and in every audit entry.
    """

    mode: Literal["keycloak", "development"] = "keycloak"
    # The realm's issuer, e.g. http://keycloak:8080/realms/sentra (the `iss` claim).
    issuer: str = ""
    # Where the gateway reaches Keycloak, when it differs from the issuer's host (in-cluster).
    internal_url: str = ""
    audience: str = "sentra-gateway"
    algorithms: list[str] = Field(default_factory=lambda: ["RS256"])
    clock_skew_seconds: int = Field(default=30, ge=0, le=300)
    # JWKS: cached keys are refreshed when a token names an unknown key id, at most this often.
    jwks_min_refresh_seconds: float = Field(default=10.0, ge=0)
    jwks_max_age_seconds: float = Field(default=3600.0, gt=0)
    # Disabled users and ended sessions: a token is re-checked with the realm's userinfo
    # endpoint after this many seconds (0: on every call).
    session_check_seconds: float = Field(default=30.0, ge=0)
    http_timeout_seconds: float = Field(default=5.0, gt=0)
    department_group_prefix: str = "/departments/"

    def check(self) -> None:
        if self.mode == "keycloak" and not self.issuer:
            raise ValueError(
                "auth.issuer is required in keycloak mode (e.g. http://127.0.0.1:8080/realms/sentra); "
                "set SENTRA_GATEWAY_AUTH__ISSUER, or SENTRA_GATEWAY_AUTH__MODE=development on a development machine"
            )
        bad = [a for a in self.algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if bad:
            raise ValueError(f"auth.algorithms may only list asymmetric algorithms, not {bad}")

    @property
    def realm_url(self) -> str:
        if not self.internal_url:
            return self.issuer.rstrip("/")
        realm_path = self.issuer.rstrip("/").split("/realms/", 1)[1]
        return f"{self.internal_url.rstrip('/')}/realms/{realm_path}"


class RateLimitSettings(BaseModel):
    """Per-principal token bucket (per network peer for calls that fail authentication)."""

    requests_per_second: float = Field(default=20.0, gt=0)
    burst: int = Field(default=40, ge=1)
    # Buckets idle this long are forgotten.
    idle_seconds: float = Field(default=600.0, gt=0)
    # Refusals of unidentified callers (and those the services report) are counted per peer
    # and reason and written to the audit log once per window; at most this many keys a window.
    refusal_audit_window_seconds: float = Field(default=60.0, ge=0)
    refusal_audit_max_keys: int = Field(default=1000, ge=1)


class HttpSettings(BaseModel):
    host: str = "127.0.0.1"
    # 0 picks a free port (written to port_file); -1 disables the HTTP API.
    port: int = Field(default=0, ge=-1, le=65535)
    port_file: Path | None = None
    # Bodies are bounded while they stream in (413 past the limit), after the caller is
    # authenticated: document uploads, and every other body (JSON).
    max_upload_bytes: int = Field(default=100 * 1024 * 1024, ge=1)
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)


class ConsoleSettings(BaseModel):
    """The web console at /console/ (sentra_gateway.console)."""

    enabled: bool = True
    # The realm's public client the console logs in with (authorization code + PKCE).
    client_id: str = "sentra-console"
    # Where the built console is (default: the package's console_static/, which `make setup`
    # builds from console/ with npm).
    static_dir: Path | None = None


class AuditDatabaseSettings(DatabaseSettings):
    """Where the audit log lives, and who owns its schema (see sentra_gateway.schema)."""

    # true: the gateway migrates the schema at start-up as the role it connects as (SQLite,
    # one machine). false: `python -m sentra_gateway.migrate` does, as the owner role; the
    # gateway checks that the schema is current and that its own role cannot change the log.
    migrate: bool = True
    # For `python -m sentra_gateway.migrate` on PostgreSQL: the role the gateway connects as,
    # granted SELECT and INSERT on the audit log (and the chain head's SELECT/UPDATE) only.
    runtime_role: str = Field(default="", pattern=r"^([a-z_][a-z0-9_]{0,62})?$")


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SENTRA_GATEWAY_", env_nested_delimiter="__")

    auth: AuthSettings = AuthSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    http: HttpSettings = HttpSettings()
    console: ConsoleSettings = ConsoleSettings()
    # The audit log lives here (append-only table, hash chain).
    database: AuditDatabaseSettings = AuditDatabaseSettings()
    # Internal services report calls they refused (around the gateway) over NATS.
    nats: NatsSettings = NatsSettings()
    # Internal services; an empty target answers UNAVAILABLE ("not deployed").
    ingestion_target: str = ""
    retrieval_target: str = ""
    inference_target: str = ""
    training_target: str = ""
    # The embedding service answers /v1/embeddings (the platform's own model).
    embedding_target: str = ""

    @model_validator(mode="after")
    def _check_auth(self) -> GatewaySettings:
        self.auth.check()
        if self.auth.mode == "development":
            listeners = {"grpc.host": self.grpc.host, "telemetry.metrics_host": self.telemetry.metrics_host}
            if self.http.port != -1:
                listeners["http.host"] = self.http.host
            exposed = {k: v for k, v in listeners.items() if not is_loopback(v)}
            if exposed:
                raise ValueError(
                    f"development identity (callers assert who they are) only runs on loopback, but "
                    f"{', '.join(f'{k}={v}' for k, v in exposed.items())}; bind 127.0.0.1 or use "
                    "SENTRA_GATEWAY_AUTH__MODE=keycloak"
                )
        return self
