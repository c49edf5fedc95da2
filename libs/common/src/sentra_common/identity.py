"""Signed principals between Sentra's processes.

Only the gateway talks to people and their tokens. It forwards each verified caller to
the internal services as a short-lived *assertion*: a JWS (EdDSA, Ed25519) whose claims
are the principal. Every internal service verifies it against a trust file of public
keys, so a call that reaches a service around the gateway — with no assertion, a forged
one, or one signed by an unknown key — gets nothing.

An assertion is good for one call to one service:
- its audience (`aud`) is the service it is sent to; another service refuses it;
- it carries a `jti` that the receiving service remembers until it expires, so a
  captured assertion cannot be replayed;
- it lives at most 60 s (it covers the start of a call; streams started in time are
  not cut).

A service that calls another one *as the caller* (inference searches retrieval for the
user it answers) cannot sign for the user. The gateway signs, with each call to such a
service, one *onward* assertion per service it calls that way (`ONWARD_AUDIENCES`), sent
in `x-sentra-onward`; the service forwards the one for its target unchanged.

Keys and what they may sign:
- the gateway's key (issuer `gateway`) signs any user principal;
- a service's own key (issuer `service:<name>`) signs only that service's own principal
  (subject `service:<name>`, role `service`), and that principal may call only the
  methods listed for it in `SERVICE_CALLS` — it sees no department's data, with one
  narrow exception: the training service's schedules list the chunks a whole department
  may read (retrieval's `ListChunks` with `department_wide_only`, one department named).
  Only services that make calls of their own have a key (`SIGNING_SERVICES`).

The trust file (`trust.json`) lists public keys: `{"keys": [{"kid", "issuer",
"public_key" (PEM)}]}`. `generate_keys` writes one private key per issuer (mode 0600)
and the trust file; in Kubernetes they are Secrets.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sentra_common.errors import PermissionDenied, Unauthenticated, Unavailable
from sentra_common.principal import SERVICE_ROLE, Principal

ASSERTION_METADATA_KEY = "x-sentra-assertion"
ONWARD_METADATA_KEY = "x-sentra-onward"
GATEWAY_ISSUER = "gateway"
ALGORITHM = "EdDSA"
DEFAULT_TTL_SECONDS = 60
MAX_TTL_SECONDS = 60
CLOCK_SKEW_SECONDS = 30

# The services a service calls as the caller it serves; the gateway signs one onward
# assertion for each with every call it forwards to the service on the left.
ONWARD_AUDIENCES: dict[str, tuple[str, ...]] = {"inference": ("retrieval",), "training": ("retrieval",)}

# What a service may call as itself (its own principal): the only calls made with the
# service role. A service principal sees no department's data.
SERVICE_CALLS: dict[str, frozenset[str]] = {
    "retrieval": frozenset({
        "/sentra.embedding.v1.EmbeddingService/Embed",
        "/sentra.embedding.v1.EmbeddingService/GetModelInfo",
        # The registry's word on a document before its chunks are indexed or removed.
        "/sentra.ingestion.v1.IngestionService/GetIndexingFacts",
    }),
    # A department's training schedule runs with no user behind it: it reads the chunks the
    # whole department may read (retrieval refuses anything else to this principal).
    "training": frozenset({
        "/sentra.retrieval.v1.RetrievalService/ListChunks",
    }),
}
# Services that hold a signing key: the gateway (users) and those with calls of their own.
SIGNING_SERVICES = tuple(SERVICE_CALLS)

Credentials = tuple[tuple[str, str], ...]

_onward: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("sentra_onward", default=None)


def forwarded_credentials(audience: str) -> Credentials:
    """The onward assertion for `audience` that came with the call being served (the
    default credentials of an outbound channel), or none."""
    token = (_onward.get() or {}).get(audience)
    return ((ASSERTION_METADATA_KEY, token),) if token else ()


def set_onward(tokens: dict[str, str] | None) -> contextvars.Token:
    return _onward.set(tokens)


def reset_onward(token: contextvars.Token) -> None:
    _onward.reset(token)


def service_issuer(service: str) -> str:
    return f"service:{service}"


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class AssertionSigner:
    """Signs principals with one private key for one issuer, one assertion per call."""

    def __init__(self, private_key: Ed25519PrivateKey, issuer: str, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> None:
        self._key = private_key
        self.issuer = issuer
        self.kid = key_id(private_key.public_key())
        self.ttl_seconds = min(ttl_seconds, MAX_TTL_SECONDS)

    @classmethod
    def from_file(cls, path: Path, issuer: str, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> AssertionSigner:
        try:
            key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read the signing key {path}: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return cls(key, issuer, ttl_seconds)

    def sign(self, principal: Principal, audience: str, *, now: float | None = None) -> str:
        """One assertion of `principal` for one call to the service `audience`."""
        if self.issuer != GATEWAY_ISSUER and principal.subject != self.issuer:
            raise ValueError(f"the key of {self.issuer} may only sign its own principal")
        issued = int(now if now is not None else time.time())
        claims = {
            "iss": self.issuer,
            "aud": audience,
            "sub": principal.subject,
            "iat": issued,
            "exp": issued + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
            "departments": list(principal.departments),
            "roles": list(principal.roles),
            "groups": list(principal.groups),
            "name": principal.display_name,
            "uid": principal.user_id,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self.kid})

    def credentials(self, principal: Principal, audience: str) -> Credentials:
        """Call metadata for one call to `audience` as `principal`: its assertion and, from
        the gateway, the onward assertions for the services `audience` calls as the caller."""
        metadata = [(ASSERTION_METADATA_KEY, self.sign(principal, audience))]
        if self.issuer == GATEWAY_ISSUER:
            metadata.extend((ONWARD_METADATA_KEY, self.sign(principal, onward))
                            for onward in ONWARD_AUDIENCES.get(audience, ()))
        return tuple(metadata)

    def provider(self, principal: Principal):
        """Credentials for `principal`, freshly signed for each call (see `open_channel`)."""
        return lambda audience: self.credentials(principal, audience)


@dataclass(frozen=True)
class TrustedKey:
    kid: str
    issuer: str
    public_key: Ed25519PublicKey


class ReplayGuard:
    """The `jti`s of the assertions a service has accepted, each kept until it expires:
    an assertion is good for one call. At most `max_entries` are held (an explicit
    limit); past it calls are refused as UNAVAILABLE rather than remembered loosely."""

    def __init__(self, max_entries: int = 1_000_000) -> None:
        self.max_entries = max_entries
        self._seen: dict[str, float] = {}
        self._sweep_at = 1024
        self._lock = threading.Lock()

    def admit(self, jti: str, expires: float, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            if len(self._seen) >= self._sweep_at:
                self._seen = {j: e for j, e in self._seen.items() if e >= now}
                self._sweep_at = max(1024, 2 * len(self._seen))
            if jti in self._seen:
                raise Unauthenticated("this principal assertion was already used; an assertion is good for one call")
            if len(self._seen) >= self.max_entries:
                raise Unavailable("too many calls in flight to remember their assertions; retry shortly")
            self._seen[jti] = expires + CLOCK_SKEW_SECONDS


class AssertionVerifier:
    """Verifies the assertions sent to one service (`audience`) against the trusted keys."""

    def __init__(self, keys: list[TrustedKey], audience: str, replay: ReplayGuard | None = None) -> None:
        self._keys = {k.kid: k for k in keys}
        self.audience = audience
        self.replay = replay or ReplayGuard()

    @classmethod
    def from_file(cls, path: Path, audience: str) -> AssertionVerifier:
        try:
            raw = json.loads(Path(path).read_text())
            keys = []
            for entry in raw["keys"]:
                public = serialization.load_pem_public_key(entry["public_key"].encode())
                if not isinstance(public, Ed25519PublicKey):
                    raise ValueError(f"key {entry.get('kid')} is not an Ed25519 public key")
                kid = key_id(public)
                if entry.get("kid") not in (None, kid):
                    raise ValueError(f"key id {entry['kid']} does not match its public key ({kid})")
                keys.append(TrustedKey(kid, entry["issuer"], public))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"cannot read the trust file {path}: {exc}") from exc
        return cls(keys, audience)

    def verify(self, token: str, method: str = "") -> Principal:
        """The principal of one call to `method` of this service; the assertion is spent."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"malformed principal assertion: {exc}") from None
        if header.get("alg") != ALGORITHM:
            raise Unauthenticated(f"principal assertion uses algorithm {header.get('alg')!r}, only EdDSA is accepted")
        trusted = self._keys.get(str(header.get("kid")))
        if trusted is None:
            raise Unauthenticated("principal assertion signed by an unknown key")
        try:
            claims = jwt.decode(
                token, trusted.public_key, algorithms=[ALGORITHM], audience=self.audience, issuer=trusted.issuer,
                leeway=CLOCK_SKEW_SECONDS, options={"require": ["iss", "aud", "sub", "iat", "exp", "jti"]},
            )
        except jwt.InvalidAudienceError:
            raise Unauthenticated(
                f"this principal assertion is for another service, not {self.audience}"
            ) from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid principal assertion: {exc}") from None
        if claims["exp"] - claims["iat"] > MAX_TTL_SECONDS:
            raise Unauthenticated(f"principal assertion lives longer than the {MAX_TTL_SECONDS} s allowed")
        principal = Principal(
            subject=str(claims["sub"]),
            departments=tuple(str(d) for d in claims.get("departments", ())),
            roles=tuple(str(r) for r in claims.get("roles", ())),
            groups=tuple(str(g) for g in claims.get("groups", ())),
            display_name=str(claims.get("name", "")),
            user_id=str(claims.get("uid", "")),
        )
        if trusted.issuer != GATEWAY_ISSUER:
            if (principal.subject != trusted.issuer or principal.roles != (SERVICE_ROLE,) or principal.departments
                    or principal.user_id):
                raise Unauthenticated(f"the key of {trusted.issuer} may only assert its own service principal")
            service = trusted.issuer.removeprefix("service:")
            if method not in SERVICE_CALLS.get(service, frozenset()):
                raise PermissionDenied(f"the {service} service may not call {method or 'this method'} as itself")
        elif SERVICE_ROLE in principal.roles:
            raise Unauthenticated("the gateway may not assert the internal service role")
        self.replay.admit(str(claims["jti"]), float(claims["exp"]))
        return principal


def onward_tokens(values: Iterable[str]) -> dict[str, str]:
    """The onward assertions of a call by audience (read unverified: the service they are
    for verifies them)."""
    tokens = {}
    for token in values:
        try:
            audience = jwt.decode(token, options={"verify_signature": False}).get("aud")
        except jwt.PyJWTError:
            continue
        if isinstance(audience, str):
            tokens[audience] = token
    return tokens


def generate_keys(directory: Path, issuers: list[str]) -> Path:
    """Write `<issuer>.key` (Ed25519, PEM, mode 0600) for each issuer missing one and a
    trust file listing every key in the directory; returns the trust file's path."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    entries = []
    for issuer in issuers:
        path = key_path(directory, issuer)
        if not path.exists():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        public = key.public_key()
        entries.append({
            "kid": key_id(public),
            "issuer": issuer,
            "public_key": public.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode(),
        })
    trust = directory / "trust.json"
    tmp = trust.with_suffix(".tmp")
    tmp.write_text(json.dumps({"keys": entries}, indent=2))
    tmp.replace(trust)
    return trust


def key_path(directory: Path, issuer: str) -> Path:
    return directory / f"{issuer.replace(':', '-')}.key"
