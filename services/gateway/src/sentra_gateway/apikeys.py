"""API keys for automation tools that have only an "API key" field (n8n, Open WebUI,
LangChain with a fixed key): `Authorization: Bearer sk-sentra-<key id>_<secret>`.

A key acts as exactly one department and one role (member, trainer or dept-admin, never
platform-admin: a platform admin is not scoped to a department). Its calls take the same
path as any other (permission table, rate limit, audit) as the principal `key:<key id>`
with that department and role, so the audit log names the key on every use.

Stored in the gateway's database (`gateway_api_keys`, migration 0003): the key id, what
the key may do, who made it and when, an optional expiry, the revocation, and the secret
only as HMAC-SHA256 under a random per-key salt. The secret is 256 random bits, so a
slow password hash would add nothing but latency on every call; it is compared in
constant time. An unknown key id and a wrong secret get the same answer; only the
holder of the right secret learns that a key was revoked or has expired. Every call
reads the key's row, so a revocation holds from the next call on, on every replica.

Who manages keys: platform admins every key, department admins the keys of their own
departments. A call made with an API key manages no key (a leaked key cannot mint more).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sentra_common.access import validate_department
from sentra_common.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from sentra_common.principal import Principal
from sqlalchemy import Column, DateTime, String, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from sentra_gateway.audit import metadata

PREFIX = "sk-sentra-"
SUBJECT_PREFIX = "key:"
KEY_ROLES = ("member", "trainer", "dept-admin")
MAX_NAME = 200
MAX_LIFETIME = timedelta(days=3650)
KEY_RE = re.compile(r"sk-sentra-([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
# One message for an unknown id and a wrong secret: nothing tells which ids exist.
NOT_VALID = "the API key is not valid; ask an administrator for a key (`sentra api-keys create`)"

api_keys = Table(
    "gateway_api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("name", String(MAX_NAME), nullable=False),
    Column("department", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("salt", String(64), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoked_by", String(256)),
)


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    department: str
    role: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: str = ""

    def principal(self) -> Principal:
        return Principal(subject=SUBJECT_PREFIX + self.key_id, departments=(self.department,), roles=(self.role,),
                         display_name=self.name)


def is_api_key(authorization: str | None) -> bool:
    """Does this Authorization header carry an API key (rather than a realm token)?"""
    scheme, _, token = (authorization or "").strip().partition(" ")
    return scheme.lower() == "bearer" and token.strip().startswith(PREFIX)


def digest(salt: str, secret: str) -> str:
    return hmac.new(bytes.fromhex(salt), secret.encode(), hashlib.sha256).hexdigest()


def new_secret() -> tuple[str, str, str]:
    """(key id, secret, whole key)."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)  # 43 characters
    return key_id, secret, f"{PREFIX}{key_id}_{secret}"


class ApiKeys:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._dummy_salt = secrets.token_hex(16)

    # Authentication -----------------------------------------------------------------------

    async def authenticate(self, token: str, now: datetime | None = None) -> Principal:
        match = KEY_RE.fullmatch(token.strip())
        if match is None:
            raise Unauthenticated(f"the API key is malformed (expected {PREFIX}<id>_<secret>); copy it whole")
        key_id, secret = match.groups()
        row = await self._row(key_id)
        # The same work for an unknown id as for a known one.
        expected = row["secret_hash"] if row else digest(self._dummy_salt, "")
        given = digest(row["salt"] if row else self._dummy_salt, secret)
        if not hmac.compare_digest(expected, given) or row is None:
            raise Unauthenticated(NOT_VALID)
        key = _key(row)
        now = now or datetime.now(UTC)
        if key.revoked_at is not None:
            raise Unauthenticated(f"API key {key_id} was revoked on {key.revoked_at:%Y-%m-%d %H:%M} UTC; "
                                  "ask an administrator for a new one")
        if key.expires_at is not None and key.expires_at <= now:
            raise Unauthenticated(f"API key {key_id} expired on {key.expires_at:%Y-%m-%d %H:%M} UTC; "
                                  "ask an administrator for a new one")
        return key.principal()

    # Administration -----------------------------------------------------------------------

    async def create(
        self, creator: Principal, name: str, department: str, role: str, expires_in_seconds: int,
        now: datetime | None = None,
    ) -> tuple[ApiKey, str]:
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise InvalidArgument(f"name: say what the key is for, 1-{MAX_NAME} characters (e.g. \"n8n facturas\")",
                                  param="name")
        validate_department(department)
        _require_admin_of(creator, department)
        role = role or "member"
        if role not in KEY_ROLES:
            raise InvalidArgument(f"role must be one of {', '.join(KEY_ROLES)}, not {role!r} (an API key acts in "
                                  "one department; platform administrators log in)", param="role")
        if not 0 <= expires_in_seconds <= MAX_LIFETIME.total_seconds():
            raise InvalidArgument(f"expires_in_seconds must be between 0 (never) and "
                                  f"{int(MAX_LIFETIME.total_seconds())}", param="expires_in_seconds")
        now = now or datetime.now(UTC)
        key_id, secret, whole = new_secret()
        salt = secrets.token_hex(16)
        key = ApiKey(key_id=key_id, name=name, department=department, role=role, created_by=creator.subject,
                     created_at=now, expires_at=now + timedelta(seconds=expires_in_seconds) if expires_in_seconds
                     else None)
        async with self.engine.begin() as conn:
            await conn.execute(insert(api_keys).values(
                key_id=key.key_id, name=key.name, department=key.department, role=key.role, salt=salt,
                secret_hash=digest(salt, secret), created_by=key.created_by, created_at=key.created_at,
                expires_at=key.expires_at,
            ))
        return key, whole

    async def list(self, viewer: Principal, department: str = "", include_revoked: bool = False) -> list[ApiKey]:
        stmt = select(api_keys).order_by(api_keys.c.created_at.desc(), api_keys.c.key_id)
        if department:
            validate_department(department)
            _require_admin_of(viewer, department)
            stmt = stmt.where(api_keys.c.department == department)
        elif not viewer.is_platform_admin:
            stmt = stmt.where(api_keys.c.department.in_(_administered(viewer)))
        if not include_revoked:
            stmt = stmt.where(api_keys.c.revoked_at.is_(None))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [_key(r) for r in rows]

    async def revoke(self, viewer: Principal, key_id: str, now: datetime | None = None) -> ApiKey:
        row = await self._row(key_id) if re.fullmatch(r"[0-9a-f]{16}", key_id) else None
        if row is None or not _administers(viewer, row["department"]):
            raise NotFound(f"API key {key_id!r} does not exist or is not of a department you administer "
                           "(`sentra api-keys list`)", param="key_id")
        if row["revoked_at"] is None:
            async with self.engine.begin() as conn:
                await conn.execute(update(api_keys).where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                                   .values(revoked_at=now or datetime.now(UTC), revoked_by=viewer.subject))
            row = await self._row(key_id)
            assert row is not None
        return _key(row)

    async def department_of(self, key_id: str) -> str:
        row = await self._row(key_id) if re.fullmatch(r"[0-9a-f]{16}", key_id) else None
        return row["department"] if row else ""

    async def _row(self, key_id: str):
        async with self.engine.connect() as conn:
            return (await conn.execute(select(api_keys).where(api_keys.c.key_id == key_id))).mappings().first()


def _administered(principal: Principal) -> list[str]:
    return list(principal.departments) if "dept-admin" in principal.roles else []


def _administers(principal: Principal, department: str) -> bool:
    return principal.is_platform_admin or department in _administered(principal)


def _require_admin_of(principal: Principal, department: str) -> None:
    if not _administers(principal, department):
        raise PermissionDenied(f"{principal.subject} does not administer department {department!r}: API keys of a "
                               "department are managed by its admins and by platform admins")


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite returns naive datetimes


def _key(row) -> ApiKey:
    return ApiKey(
        key_id=row["key_id"], name=row["name"], department=row["department"], role=row["role"],
        created_by=row["created_by"], created_at=_aware(row["created_at"]), expires_at=_aware(row["expires_at"]),
        revoked_at=_aware(row["revoked_at"]), revoked_by=row["revoked_by"] or "",
    )

