"""Who may do what on the event bus.

Every process connects to NATS as its own user, and each user may publish and consume
only what its service needs (`SERVICE_ACCESS`): ingestion publishes the document and
chunk events and nobody else can; embedding alone publishes `chunks.embedded`;
retrieval alone `documents.indexed`; each service reports refused calls only on its
own audit subject (`sentra.audit.v1.refused.<service>`), so the gateway knows who
reported. A consumer may use only its own durable consumers; nobody may read a stream
directly (`STREAM.MSG.GET`, direct get) or purge or delete one, and each user's replies
arrive on its own inbox prefix, so no process can listen in on another's deliveries.

`render_server_config` writes the `authorization` block of nats-server's configuration
(passwords as bcrypt hashes); `sentra up` generates one password per service (files
0600), a cluster keeps them in Secrets.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sentra_common import events


@dataclass(frozen=True)
class BusAccess:
    publishes: tuple[str, ...] = ()
    # durable consumer name → the subject it is filtered on
    consumes: dict[str, str] = field(default_factory=dict)


SERVICE_ACCESS: dict[str, BusAccess] = {
    "ingestion": BusAccess(
        publishes=(events.DOCUMENT_UPLOADED, events.CHUNKS_CREATED, events.CHUNKS_CREATED_BULK,
                   events.DOCUMENT_FAILED, events.DOCUMENT_DELETED, events.STAGE_COMPLETED),
        consumes={
            "ingestion-parser": events.DOCUMENT_UPLOADED, "ingestion-indexed": events.DOCUMENT_INDEXED,
            "ingestion-failed": events.DOCUMENT_FAILED, "ingestion-stages": events.STAGE_COMPLETED,
            "ingestion-deadletters": f"{events.DEADLETTER_PREFIX}.>",
        },
    ),
    "embedding": BusAccess(
        publishes=(events.CHUNKS_EMBEDDED, events.STAGE_COMPLETED),
        consumes={"embedding": events.CHUNKS_CREATED, "embedding-bulk": events.CHUNKS_CREATED_BULK},
    ),
    "retrieval": BusAccess(
        publishes=(events.STAGE_COMPLETED, events.DOCUMENT_INDEXED),
        consumes={"retrieval-indexer": events.CHUNKS_EMBEDDED, "retrieval-deleter": events.DOCUMENT_DELETED},
    ),
    "inference": BusAccess(consumes={"inference-adapters": events.ADAPTER_PUBLISHED}),
    "training": BusAccess(publishes=(events.ADAPTER_PUBLISHED,),
                          consumes={"training-withdrawals": events.DOCUMENT_DELETED,
                                    "training-indexed": events.DOCUMENT_INDEXED}),
    "gateway": BusAccess(consumes={"gateway-audit-refusals": f"{events.REFUSED_CALL}.*"}),
}
STREAMS = (events.PIPELINE_STREAM, events.DEADLETTER_STREAM, events.AUDIT_STREAM, events.MODELS_STREAM)


def inbox_prefix(service: str) -> str:
    return f"_INBOX_{service}"


def permissions(service: str) -> dict:
    """nats-server permissions of the service's user."""
    access = SERVICE_ACCESS[service]
    publish = [*access.publishes, events.refused_call_subject(service)]
    publish += [events.deadletter_subject(durable) for durable in access.consumes]
    for stream in STREAMS:  # every service makes sure the streams exist, with the configured limits
        publish += [f"$JS.API.STREAM.INFO.{stream}", f"$JS.API.STREAM.CREATE.{stream}",
                    f"$JS.API.STREAM.UPDATE.{stream}"]
    if access.consumes:
        publish.append("$JS.API.STREAM.NAMES")
    for durable in access.consumes:
        publish += [
            f"$JS.API.CONSUMER.INFO.*.{durable}", f"$JS.API.CONSUMER.CREATE.*.{durable}",
            f"$JS.API.CONSUMER.CREATE.*.{durable}.>", f"$JS.API.CONSUMER.DURABLE.CREATE.*.{durable}",
            f"$JS.API.CONSUMER.MSG.NEXT.*.{durable}", f"$JS.ACK.*.{durable}.>",
        ]
    return {
        "publish": {"allow": publish},
        "subscribe": {"allow": [f"{inbox_prefix(service)}.>"]},
        "allow_responses": False,
    }


@dataclass(frozen=True)
class BusCredentials:
    user: str
    password: str

    @classmethod
    def from_file(cls, path: Path) -> BusCredentials:
        try:
            raw = json.loads(Path(path).read_text())
            return cls(str(raw["user"]), str(raw["password"]))
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(f"cannot read the event-bus credentials {path}: {exc}") from None


def generate_credentials(directory: Path, services: list[str]) -> dict[str, Path]:
    """One user and random password per service under `directory` (files 0600, kept
    across restarts); returns each service's credentials file."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    files = {}
    for service in services:
        path = directory / f"{service}.json"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump({"user": service, "password": secrets.token_urlsafe(24)}, fh)
        files[service] = path
    return files


def server_config(*, port: int, store_dir: Path, credentials: dict[str, Path], tls_dir: Path | None = None) -> str:
    """A whole nats-server configuration: loopback listener, JetStream, the users, and
    (with `tls_dir`, see `sentra_common.tls`) TLS with client certificates required."""
    parts = [f'listen: "127.0.0.1:{port}"', f"jetstream {{ store_dir: {json.dumps(str(store_dir))} }}",
             render_authorization(credentials)]
    if tls_dir is not None:
        files = {"cert_file": tls_dir / "nats.crt", "key_file": tls_dir / "nats.key", "ca_file": tls_dir / "ca.crt"}
        parts.append("tls " + json.dumps({**{k: str(v) for k, v in files.items()}, "verify": True}))
    return "\n".join(parts) + "\n"


def render_authorization(credentials: dict[str, Path]) -> str:
    """The `authorization` block for nats-server: one user per service, its password as a
    bcrypt hash, its permissions (JSON is valid nats-server configuration syntax)."""
    import bcrypt

    users = []
    for service, path in credentials.items():
        creds = BusCredentials.from_file(path)
        hashed = bcrypt.hashpw(creds.password.encode(), bcrypt.gensalt(rounds=11)).decode()
        users.append({"user": creds.user, "password": hashed, "permissions": permissions(service)})
    return "authorization " + json.dumps({"users": users}, indent=2)
