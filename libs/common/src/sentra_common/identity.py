"""Signed principals between Sentra's processes.

Only the gateway talks to people and their tokens. It forwards each verified caller to
the internal services as a short-lived *assertion*: a JWS (EdDSA, Ed25519) whose claims
are the principal. Every internal service verifies it against a trust file of public
keys, so a call that reaches a service around the gateway — with no assertion, a forged
one, or one signed by an unknown key — gets nothing.

Keys and what they may sign:
- the gateway's key (issuer `gateway`) signs any user principal;
- a service's own key (issuer `service:<name>`) signs only that service's own principal
  (subject `service:<name>`, role `service`), used for the service's background calls.

A service forwards the assertion of the call it is serving unchanged to the services it
calls, so a user's identity (and nothing more) travels with the request.

The trust file (`trust.json`) lists public keys: `{"keys": [{"kid", "issuer",
"public_key" (PEM)}]}`. `generate_keys` writes one private key per issuer (mode 0600)
and the trust file; in Kubernetes they are Secrets.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sentra_common.errors import Unauthenticated
from sentra_common.principal import SERVICE_ROLE, Principal

ASSERTION_METADATA_KEY = "x-sentra-assertion"
AUDIENCE = "sentra-internal"
GATEWAY_ISSUER = "gateway"
ALGORITHM = "EdDSA"
# An assertion covers the start of every call it is forwarded to; long streams started
# in time are not cut.
DEFAULT_TTL_SECONDS = 300
MAX_TTL_SECONDS = 3600
CLOCK_SKEW_SECONDS = 30

_current_assertion: contextvars.ContextVar[str | None] = contextvars.ContextVar("sentra_assertion", default=None)


def current_assertion() -> str | None:
    """The verified assertion of the call being served (forwarded on outbound calls)."""
    return _current_assertion.get()


def set_assertion(token: str | None) -> contextvars.Token:
    return _current_assertion.set(token)


def reset_assertion(token: contextvars.Token) -> None:
    _current_assertion.reset(token)


def service_issuer(service: str) -> str:
    return f"service:{service}"


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class AssertionSigner:
    """Signs principals with one private key for one issuer."""

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

    def sign(self, principal: Principal, *, now: float | None = None) -> str:
        if self.issuer != GATEWAY_ISSUER and principal.subject != self.issuer:
            raise ValueError(f"the key of {self.issuer} may only sign its own principal")
        issued = int(now if now is not None else time.time())
        claims = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": principal.subject,
            "iat": issued,
            "exp": issued + self.ttl_seconds,
            "departments": list(principal.departments),
            "roles": list(principal.roles),
            "groups": list(principal.groups),
            "name": principal.display_name,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self.kid})

    def provider(self, principal: Principal):
        """A callable returning a valid assertion for `principal`, re-signed before expiry."""
        cache: dict[str, tuple[str, float]] = {}

        def current() -> str:
            token, expires = cache.get("t", ("", 0.0))
            if time.time() > expires - self.ttl_seconds / 3:
                token = self.sign(principal)
                cache["t"] = (token, time.time() + self.ttl_seconds)
            return token

        return current


@dataclass(frozen=True)
class TrustedKey:
    kid: str
    issuer: str
    public_key: Ed25519PublicKey


class AssertionVerifier:
    """Verifies assertions against the trusted public keys."""

    def __init__(self, keys: list[TrustedKey]) -> None:
        self._keys = {k.kid: k for k in keys}

    @classmethod
    def from_file(cls, path: Path) -> AssertionVerifier:
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
        return cls(keys)

    def verify(self, token: str) -> Principal:
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
                token, trusted.public_key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=trusted.issuer,
                leeway=CLOCK_SKEW_SECONDS, options={"require": ["iss", "aud", "sub", "iat", "exp"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid principal assertion: {exc}") from None
        if claims["exp"] - claims["iat"] > MAX_TTL_SECONDS:
            raise Unauthenticated("principal assertion lives longer than allowed")
        principal = Principal(
            subject=str(claims["sub"]),
            departments=tuple(str(d) for d in claims.get("departments", ())),
            roles=tuple(str(r) for r in claims.get("roles", ())),
            groups=tuple(str(g) for g in claims.get("groups", ())),
            display_name=str(claims.get("name", "")),
        )
        if trusted.issuer != GATEWAY_ISSUER and (
            principal.subject != trusted.issuer or principal.roles != (SERVICE_ROLE,) or principal.departments
        ):
            raise Unauthenticated(f"the key of {trusted.issuer} may only assert its own service principal")
        if trusted.issuer == GATEWAY_ISSUER and SERVICE_ROLE in principal.roles:
            raise Unauthenticated("the gateway may not assert the internal service role")
        return principal


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
