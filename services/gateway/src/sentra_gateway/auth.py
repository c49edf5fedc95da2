"""Who is calling: bearer tokens from the Sentra realm (Keycloak) → `Principal`.

Every token is verified here, on every call: the algorithm is one of the configured
asymmetric ones (so `alg: none` and HS256 keyed with the public key are refused before
any key is touched), the signature checks against the realm's JWKS (refetched when a token
names a key id not seen yet, so key rotation needs no restart), and issuer, audience,
expiry and not-before are enforced. A token that passes is re-checked against the realm's
userinfo endpoint every `session_check_seconds`, so a disabled user or an ended session
stops working within that time even while the token has not expired. (Service-account
tokens have no session; they stop with the access-token lifespan once the client is
disabled.) A user's token must be requested with the `openid` scope: the realm answers
userinfo only for those, and the refusal says so.

Names in access lists (`sentra_common.access`):
- `group:<department>` is membership of `/departments/<department>`, and only that. Every
  other group keeps its full path, leading slash included (`group:/legal`,
  `group:/teams/contracts`): a department name has no slash, so no other group reads as a
  department, whatever it is called. (Keycloak must escape slashes in group names,
  `--spi-group--jpa--escape-slashes-in-group-path=true`, or a top-level group named
  `departments/legal` would have the department's path.)
- `user:<account id>`: the token's `sub`, which Keycloak never gives to another account.
  A username is not stable enough (a deleted account's username can be given to a new
  one), so an access list that names the caller by username is stored with the caller's
  id, and any other username is refused with the way to find the id: the gateway sees
  only the caller's token and cannot tell which account another username is.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
from sentra_common.access import DEPARTMENT_RE
from sentra_common.errors import InvalidArgument, Unauthenticated, Unavailable
from sentra_common.principal import Principal

from sentra_gateway.apikeys import SUBJECT_PREFIX, ApiKeys, is_api_key
from sentra_gateway.config import AuthSettings

logger = logging.getLogger(__name__)

# Realm roles that mean something to Sentra; any other role in a token is ignored.
SENTRA_ROLES = ("platform-admin", "dept-admin", "trainer", "member")
DEV_IDENTITY_HEADER = "x-sentra-dev-identity"
# In development mode every response says so (gRPC initial metadata, HTTP header).
IDENTITY_MODE_HEADER = "x-sentra-identity-mode"
SERVICE_ACCOUNT_PREFIX = "service-account-"
# An account id as Keycloak issues it: a UUID, or `f:<provider>:<id>` for a federated user.
ACCOUNT_ID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|f:[^:\s]+:\S+")
# userinfo's refusal of a token requested without the openid scope (RFC 6750 error code).
INSUFFICIENT_SCOPE_RE = re.compile(r'error\s*=\s*"?insufficient_scope"?')


@dataclass(frozen=True)
class Credentials:
    """What a caller presented: the Authorization header and, in development mode only,
    an asserted identity."""

    authorization: str | None = None
    dev_identity: str | None = None
    peer: str = ""


class Jwks:
    """The realm's signing keys, by key id, refetched on an unknown id (rate-limited)."""

    def __init__(self, url: str, http: httpx.AsyncClient, min_refresh: float, max_age: float) -> None:
        self.url = url
        self.http = http
        self.min_refresh = min_refresh
        self.max_age = max_age
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> jwt.PyJWK | None:
        if kid in self._keys and time.monotonic() - self._fetched_at < self.max_age:
            return self._keys[kid]
        async with self._lock:
            age = time.monotonic() - self._fetched_at
            if (kid not in self._keys and age >= self.min_refresh) or age >= self.max_age:
                await self._fetch()
        return self._keys.get(kid)

    async def _fetch(self) -> None:
        try:
            response = await self.http.get(self.url)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("cannot fetch the realm's keys", extra={"url": self.url, "error": str(exc)})
            if not self._keys:
                raise Unavailable(
                    "the identity provider cannot be reached to verify the token; try again shortly"
                ) from None
            return
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document.get("keys", []):
            if entry.get("use", "sig") != "sig" or "kid" not in entry:
                continue
            try:
                keys[entry["kid"]] = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                continue  # an algorithm this gateway does not support
        self._keys = keys
        self._fetched_at = time.monotonic()
        logger.info("realm keys loaded", extra={"kids": sorted(keys)})


class SessionCheck:
    """Is the user behind a token still enabled, with a live session? Asked of the realm's
    userinfo endpoint, cached per token for `ttl` seconds."""

    def __init__(self, url: str, http: httpx.AsyncClient, ttl: float, max_entries: int = 10_000) -> None:
        self.url = url
        self.http = http
        self.ttl = ttl
        self.max_entries = max_entries
        self._checked: OrderedDict[str, float] = OrderedDict()

    async def ensure_active(self, token: str) -> None:
        digest = hashlib.sha256(token.encode()).hexdigest()
        checked = self._checked.get(digest)
        if checked is not None and time.monotonic() - checked < self.ttl:
            return
        try:
            response = await self.http.get(self.url, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError:
            raise Unavailable("the identity provider cannot be reached to check the session; try again") from None
        if response.status_code in (401, 403):
            self._checked.pop(digest, None)
            if INSUFFICIENT_SCOPE_RE.search(response.headers.get("www-authenticate", "")):
                raise Unauthenticated(
                    "the token was requested without the openid scope, so the realm will not confirm its "
                    "session; request it with scope=openid (`sentra login` does)"
                )
            raise Unauthenticated(
                "the account is disabled or its session has ended; ask an administrator, then `sentra login` again"
            )
        if response.status_code >= 400:
            raise Unavailable(f"the identity provider answered {response.status_code}; try again shortly")
        self._checked[digest] = time.monotonic()
        self._checked.move_to_end(digest)
        while len(self._checked) > self.max_entries:
            self._checked.popitem(last=False)


class Authenticator:
    """Turns a caller's credentials into a verified `Principal` or refuses: an API key
    (`sentra_gateway.apikeys`, in either mode), else a realm token, else (development mode
    only) the asserted identity."""

    def __init__(
        self, settings: AuthSettings, http: httpx.AsyncClient | None = None, api_keys: ApiKeys | None = None,
    ) -> None:
        self.settings = settings
        self.api_keys = api_keys
        self.http = http or httpx.AsyncClient(timeout=settings.http_timeout_seconds)
        realm = settings.realm_url if settings.mode == "keycloak" else ""
        self.jwks = Jwks(
            f"{realm}/protocol/openid-connect/certs", self.http,
            settings.jwks_min_refresh_seconds, settings.jwks_max_age_seconds,
        )
        self.sessions = SessionCheck(
            f"{realm}/protocol/openid-connect/userinfo", self.http, settings.session_check_seconds
        )

    @property
    def development(self) -> bool:
        return self.settings.mode == "development"

    async def close(self) -> None:
        await self.http.aclose()

    async def authenticate(self, credentials: Credentials) -> Principal:
        if self.api_keys is not None and is_api_key(credentials.authorization):
            return await self.api_keys.authenticate(_bearer(credentials.authorization))
        if self.development:
            return self._development_identity(credentials)
        token = _bearer(credentials.authorization)
        claims = await self.verify(token)
        if claims.get("sid"):
            # A user's token belongs to a session: it ends when the user is disabled or logs out.
            # Client-credentials tokens have no session; disabling the client stops new tokens
            # and the current one expires with the realm's access-token lifespan.
            await self.sessions.ensure_active(token)
        return self.principal(claims)

    def _development_identity(self, credentials: Credentials) -> Principal:
        if not credentials.dev_identity:
            raise Unauthenticated(
                f"development mode: set SENTRA_IDENTITY=subject:dept1,dept2[:role] (sent as {DEV_IDENTITY_HEADER})"
            )
        principal = Principal.parse(credentials.dev_identity)
        if principal.subject.startswith(SUBJECT_PREFIX):
            raise Unauthenticated(f"subjects starting with {SUBJECT_PREFIX!r} are kept for API keys")
        roles = tuple(r for r in principal.roles if r in SENTRA_ROLES)
        return Principal(principal.subject, principal.departments, roles, principal.subject)

    async def verify(self, token: str) -> dict[str, Any]:
        """Check the token's algorithm, signature, issuer, audience and validity period."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Unauthenticated(
                "the bearer token is not a well-formed JWT; log in again with `sentra login`"
            ) from None
        alg = header.get("alg")
        if alg not in self.settings.algorithms:
            raise Unauthenticated(
                f"token algorithm {alg!r} is not accepted; Sentra accepts {', '.join(self.settings.algorithms)} "
                "tokens issued by its realm"
            )
        if unverified.get("iss") != self.settings.issuer:
            raise Unauthenticated(
                f"token issued by {unverified.get('iss')!r}, not by Sentra's realm {self.settings.issuer!r}; "
                "log in with `sentra login`"
            )
        key = await self.jwks.key(str(header.get("kid")))
        if key is None:
            raise Unauthenticated("token signed by a key the Sentra realm does not publish; log in again")
        if key.algorithm_name != alg:
            raise Unauthenticated(f"token algorithm {alg!r} does not match its key ({key.algorithm_name})")
        try:
            claims = jwt.decode(
                token, key.key, algorithms=[alg], audience=self.settings.audience, issuer=self.settings.issuer,
                leeway=self.settings.clock_skew_seconds,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated(
                f"token expired at {_when(unverified.get('exp'))}; log in again with `sentra login`"
            ) from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated(
                f"token is not valid before {_when(unverified.get('nbf') or unverified.get('iat'))}; "
                "check the clocks of this machine and of the identity provider"
            ) from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated(
                f"token is not meant for Sentra (audience {unverified.get('aud')!r}, "
                f"expected {self.settings.audience!r}); log in through `sentra login`"
            ) from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated("token signature is invalid (the token was altered); log in again") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthenticated(f"token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"token refused: {exc}") from None
        if claims.get("typ", "Bearer") != "Bearer":
            raise Unauthenticated(f"a {claims.get('typ')} token is not an access token; send the access token")
        return claims

    def principal(self, claims: dict[str, Any]) -> Principal:
        username = str(claims.get("preferred_username") or claims["sub"])
        if username.startswith(SERVICE_ACCOUNT_PREFIX) and claims.get("azp"):
            subject = f"client:{claims['azp']}"
        else:
            subject = username
        if subject.startswith(SUBJECT_PREFIX):
            raise Unauthenticated(f"usernames starting with {SUBJECT_PREFIX!r} are kept for API keys, so the audit "
                                  "log cannot confuse the two; rename the account in the realm")
        realm_roles = (claims.get("realm_access") or {}).get("roles") or []
        roles = tuple(r for r in SENTRA_ROLES if r in realm_roles)
        prefix = self.settings.department_group_prefix
        departments: list[str] = []
        groups: list[str] = []
        for path in claims.get("groups") or []:
            path = str(path)
            rest = path[len(prefix):] if path.startswith(prefix) else None
            if rest is not None and DEPARTMENT_RE.fullmatch(rest):
                departments.append(rest)
            else:
                # Its full path, leading slash kept: `group:/legal` is never `group:legal`.
                groups.append(path if path.startswith("/") else f"/{path}")
        return Principal(
            subject=subject, departments=tuple(sorted(departments)), roles=roles,
            display_name=str(claims.get("name") or username), groups=tuple(sorted(groups)),
            user_id=str(claims["sub"]),
        )


def resolve_access_list(principal: Principal, entries: Sequence[str]) -> list[str]:
    """An access list as it will be stored: users by account id (the caller's own username
    becomes the caller's id), groups other than departments by their full path. Refuses what
    it cannot resolve; the service that stores the list checks the rest of its form."""
    if not principal.user_id:
        return list(entries)  # development identity: subjects are the only names there are
    resolved = []
    for entry in entries:
        kind, _, name = entry.strip().partition(":")
        if kind == "user" and name:
            if name in (principal.subject, principal.user_id):
                name = principal.user_id
            elif not ACCOUNT_ID_RE.fullmatch(name):
                raise InvalidArgument(
                    f"access list entry {entry!r} names a username, and a username can later belong to "
                    f"another account; name the account by its id, user:<id> (its owner sees it with "
                    f"`sentra whoami`, a platform admin with `sentra admin users list`)"
                )
            entry = f"user:{name}"
        elif kind == "group" and "/" in name and not name.startswith("/"):
            raise InvalidArgument(
                f"access list entry {entry!r}: a group other than a department is named by its full path, "
                f"group:/{name}"
            )
        resolved.append(entry)
    return resolved


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated(
            "no bearer token: log in with `sentra login` (API clients send `Authorization: Bearer <token>`)"
        )
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be `Bearer <access token>`")
    return token.strip()


def _when(timestamp: Any) -> str:
    try:
        return datetime.fromtimestamp(float(timestamp), UTC).isoformat(timespec="seconds")
    except (TypeError, ValueError):
        return "an unknown time"
