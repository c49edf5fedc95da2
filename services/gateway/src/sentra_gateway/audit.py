"""The audit log: every call through the gateway — who, when, what, the result and the
documents it returned or touched. Append-only: the application only inserts, and the
database refuses UPDATE, DELETE (and TRUNCATE on PostgreSQL) with triggers
(see migrations/). Entries form a hash chain (sentra_common.auditchain): each one holds
the hash of the one before, so `sentra audit verify` finds an entry changed, deleted or
inserted in the database behind the gateway's back."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sentra_common import auditchain
from sentra_common.access import validate_department
from sentra_common.db import create_sync_engine
from sentra_common.errors import InvalidArgument
from sentra_common.principal import Principal
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

metadata = MetaData()

audit_log = Table(
    "gateway_audit_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("subject", String(256), nullable=False),
    # ",legal,rrhh," so a department admin's query can match one department.
    Column("departments", Text, nullable=False),
    Column("roles", Text, nullable=False),
    Column("method", String(256), nullable=False),
    Column("result", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("document_ids", JSON, nullable=False),
    Column("department", String(128), nullable=False),
    Column("peer", String(128), nullable=False),
    Column("duration_ms", BigInteger, nullable=False),
    # The hash chain (sentra_common.auditchain); the first entry follows id 0, GENESIS.
    Column("prev_id", BigInteger),
    Column("prev_hash", String(64)),
    Column("hash", String(64)),
)

# One row (id 1): the newest entry's id and hash. Appends lock it; verification starts there.
audit_chain = Table(
    auditchain.CHAIN_TABLE,
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_id", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    # Entries up to this id existed before the chain did and were chained by migration 0002.
    Column("chained_existing_until", BigInteger, nullable=False),
)

MAX_DETAIL = 2000
MAX_DOCUMENT_IDS = 1000


@dataclass
class AuditRecord:
    method: str
    result: str
    subject: str = ""
    departments: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    detail: str = ""
    document_ids: list[str] = field(default_factory=list)
    department: str = ""
    peer: str = ""
    request_id: str = ""
    duration_ms: int = 0
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    id: int = 0


@dataclass(frozen=True)
class AuditQuery:
    subject: str = ""
    method: str = ""
    result: str = ""
    document_id: str = ""
    since: datetime | None = None
    page_size: int = 100
    page_token: str = ""


class _HeadMoved(Exception):
    """Another writer extended the chain since this process last did."""


class AuditLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # One append at a time in this process; the database lock orders the processes.
        self._lock = asyncio.Lock()
        # The chain head this process wrote last (id, hash): the next append's link.
        self._head: tuple[int, str] | None = None
        self._writer = create_sync_engine(engine)

    async def append(self, record: AuditRecord) -> None:
        at = record.at if record.at.tzinfo else record.at.replace(tzinfo=UTC)
        values = dict(
            at=at.astimezone(UTC), request_id=record.request_id[:64], subject=record.subject[:256],
            departments=_joined(record.departments), roles=_joined(record.roles), method=record.method[:256],
            result=record.result, detail=record.detail[:MAX_DETAIL],
            document_ids=list(dict.fromkeys(record.document_ids))[:MAX_DOCUMENT_IDS],
            department=record.department[:128], peer=record.peer[:128], duration_ms=record.duration_ms,
        )
        async with self._lock:
            # The whole transaction in one worker thread (see sentra_common.db.create_sync_engine):
            # every call waits for its audit entry, so the append is on every call's path.
            await asyncio.to_thread(self._append, values)

    def close(self) -> None:
        self._writer.dispose()

    def _append(self, values: dict) -> None:
        # Usually the head this process wrote last is still the head: then one conditional
        # update (which takes the database's write lock, or the head row's lock) and the
        # insert. Otherwise — another gateway appended, a row was written around the chain —
        # the head is read under the lock and the entry appended after it.
        if self._head is not None and self._append_after(values, self._head):
            return
        self._append_locked(values)

    def _append_after(self, values: dict, head: tuple[int, str]) -> bool:
        last_id, last_hash = head
        entry = {**values, "id": last_id + 1, "prev_id": last_id, "prev_hash": last_hash}
        entry["hash"] = auditchain.entry_hash(entry)
        is_head = audit_chain.c.id == auditchain.HEAD_ID
        try:
            with self._writer.begin() as conn:
                moved = conn.execute(
                    update(audit_chain)
                    .where(is_head, audit_chain.c.last_id == last_id, audit_chain.c.last_hash == last_hash)
                    .values(last_id=entry["id"], last_hash=entry["hash"]))
                if moved.rowcount != 1:
                    raise _HeadMoved
                conn.execute(insert(audit_log).values(**entry))
        except (_HeadMoved, IntegrityError):
            self._head = None
            return False
        self._head = (entry["id"], entry["hash"])
        return True

    def _append_locked(self, values: dict) -> None:
        is_head = audit_chain.c.id == auditchain.HEAD_ID
        # The newest id, also of a row written around the chain: new ids go past it.
        top = select(func.max(audit_log.c.id)).scalar_subquery()
        with self._writer.begin() as conn:
            if conn.dialect.name == "sqlite":
                # No row locks: a write as the transaction's first statement takes the
                # database's write lock before anything is read, so no other append (from
                # any process) can extend the same head.
                lock_and_read = (update(audit_chain).where(is_head).values(last_id=audit_chain.c.last_id)
                                 .returning(audit_chain.c.last_id, audit_chain.c.last_hash, top))
            else:
                lock_and_read = (select(audit_chain.c.last_id, audit_chain.c.last_hash, top).where(is_head)
                                 .with_for_update(of=audit_chain))  # held until commit
            row = conn.execute(lock_and_read).first()
            if row is None:
                raise RuntimeError(f"the audit chain has no head row ({auditchain.CHAIN_TABLE}); "
                                   "run the gateway's migrations")
            last_id, last_hash, newest = row
            values.update(id=max(newest or 0, last_id) + 1, prev_id=last_id, prev_hash=last_hash)
            values["hash"] = auditchain.entry_hash(values)
            conn.execute(insert(audit_log).values(**values))
            conn.execute(update(audit_chain).where(is_head).values(last_id=values["id"], last_hash=values["hash"]))
        self._head = (values["id"], values["hash"])

    async def query(self, viewer: Principal, q: AuditQuery) -> tuple[list[AuditRecord], str]:
        """Newest first. A platform admin sees everything; a department admin sees the calls
        made by members of their departments or naming one of them."""
        page_size = q.page_size or 100
        if not 1 <= page_size <= 1000:
            raise InvalidArgument("page_size must be between 1 and 1000")
        stmt = select(audit_log).order_by(audit_log.c.id.desc()).limit(page_size + 1)
        if q.page_token:
            try:
                stmt = stmt.where(audit_log.c.id < int(q.page_token))
            except ValueError:
                raise InvalidArgument("page_token is not valid; pass the next_page_token you received") from None
        if not viewer.is_platform_admin:
            # A department is a name, never a pattern: the one rule first (it refuses `%`,
            # commas and empty names), then LIKE with its wildcards escaped (`_` is valid).
            departments = [validate_department(d) for d in viewer.departments]
            scope = [audit_log.c.departments.contains(f",{d},", autoescape=True) for d in departments]
            scope += [audit_log.c.department.in_(departments), audit_log.c.subject == viewer.subject]
            stmt = stmt.where(or_(*scope))
        if q.subject:
            stmt = stmt.where(audit_log.c.subject == q.subject)
        if q.method:
            stmt = stmt.where(audit_log.c.method.contains(q.method, autoescape=True))
        if q.result:
            stmt = stmt.where(audit_log.c.result == q.result.upper())
        if q.since is not None:
            stmt = stmt.where(audit_log.c.at >= q.since)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        records = [_record(r) for r in rows]
        if q.document_id:
            # JSON containment differs between SQLite and PostgreSQL; filter the page here.
            records = [r for r in records if q.document_id in r.document_ids]
        next_token = str(rows[page_size - 1]["id"]) if len(rows) > page_size else ""
        return records[:page_size], next_token


def _joined(values: tuple[str, ...]) -> str:
    return "," + ",".join(values) + "," if values else ""


def _split(value: str) -> tuple[str, ...]:
    return tuple(v for v in value.split(",") if v)


def _record(row) -> AuditRecord:
    at = row["at"]
    if at.tzinfo is None:  # SQLite returns naive datetimes
        at = at.replace(tzinfo=UTC)
    return AuditRecord(
        id=row["id"], at=at, request_id=row["request_id"], subject=row["subject"],
        departments=_split(row["departments"]), roles=_split(row["roles"]), method=row["method"],
        result=row["result"], detail=row["detail"], document_ids=list(row["document_ids"] or []),
        department=row["department"], peer=row["peer"], duration_ms=row["duration_ms"],
    )
