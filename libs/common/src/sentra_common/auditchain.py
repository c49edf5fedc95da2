"""The audit log's hash chain, shared by the gateway (which appends entries) and
`sentra audit verify` (which checks the database directly, without asking the gateway).

Every entry stores the id and the hash of the entry before it (`prev_id`, `prev_hash`)
and its own `hash`: sha256 over a canonical serialisation of its fields and those two.
One head row (`gateway_audit_chain`) holds the newest entry's id and hash; appends lock
it, so the chain is one line, and it is how a deleted newest entry is noticed.

Verification walks the chain from the head back to the first entry, newest first:
- **changed**: an entry's fields no longer give its hash, or its hash is not the one its
  successor recorded (rewritten together with its hash);
- **deleted**: the entry a successor names as its predecessor is gone;
- **inserted**: an entry that no successor (and not the head) names: it is not part of
  the chain.

The chain detects changes made behind the gateway's back (in the database). It cannot
stop someone who can write both the entries and the head from recomputing every hash
after a change: the hash has no secret. Compare the head `sentra audit verify` prints
with one recorded elsewhere earlier (`--expect`) to catch that.

The serialisation is version 1 and never changes; a new one would be version 2 beside it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

AUDIT_TABLE = "gateway_audit_log"
CHAIN_TABLE = "gateway_audit_chain"
GENESIS = "0" * 64  # the prev_hash of the first entry (its prev_id is 0)
HEAD_ID = 1  # the chain table's one row

# The stored fields, in the order of the table; each one is covered by the hash.
FIELDS = ("id", "at", "request_id", "subject", "departments", "roles", "method", "result", "detail",
          "document_ids", "department", "peer", "duration_ms", "prev_id", "prev_hash")


def canonical(entry: Mapping[str, Any]) -> bytes:
    """The bytes an entry's hash is taken over: its stored values as sorted, compact JSON.
    `at` and `document_ids` may come as the text SQLite stores; a value that does not
    parse raises ValueError (a verifier counts the entry as changed)."""
    at = entry["at"]
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    if at.tzinfo is None:  # SQLite keeps the UTC time without its zone
        at = at.replace(tzinfo=UTC)
    document_ids = entry["document_ids"]
    if isinstance(document_ids, str):
        document_ids = json.loads(document_ids)
    if not isinstance(document_ids, list | None):
        raise ValueError("document_ids is not a list")
    document = {
        "v": 1,
        "id": int(entry["id"]),
        "at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "document_ids": [str(d) for d in document_ids or []],
        "duration_ms": int(entry["duration_ms"]),
        "prev_id": int(entry["prev_id"] or 0),
        "prev_hash": str(entry["prev_hash"] or ""),
    }
    for name in ("request_id", "subject", "departments", "roles", "method", "result", "detail", "department", "peer"):
        document[name] = str(entry[name])
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(entry: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


# Verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Break:
    kind: str  # changed | deleted | inserted
    id: int  # the first entry concerned (for deleted: the first missing id)
    message: str


@dataclass
class Verification:
    head_id: int = 0
    head_hash: str = GENESIS
    entries: int = 0  # rows read
    breaks: list[Break] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.breaks

    @property
    def first(self) -> Break | None:
        return self.breaks[0] if self.breaks else None


class ChainWalk:
    """Walks the chain from its head back to its start; feed it every row, newest first."""

    def __init__(self, head_id: int, head_hash: str, expect: Mapping[int, str] | None = None) -> None:
        self.report = Verification(head_id=head_id, head_hash=head_hash)
        self.expect = dict(expect or {})
        self._found: list[Break] = []
        # What the chain says comes next, going back: the head names the newest entry.
        self._want_id, self._want_hash, self._named_by = head_id, head_hash, "the chain head"
        self._oldest: int | None = None

    def add(self, row: Mapping[str, Any]) -> None:
        self.report.entries += 1
        row_id = int(row["id"])
        self._oldest = row_id
        want_id, named_by = self._want_id, self._named_by
        if row_id > want_id:
            follows = f"entry {want_id}" if want_id else "nothing (the start of the chain)"
            self._found.append(Break("inserted", row_id, f"entry {row_id} is not part of the chain: "
                                     f"{named_by} follows {follows}"))
            return
        if row_id < want_id:
            first_missing = row_id + 1
            span = f"entry {want_id} is" if first_missing == want_id else f"entries {first_missing}..{want_id} are"
            self._found.append(Break("deleted", first_missing, f"{span} missing: {named_by} follows entry "
                                     f"{want_id}, the next one present is entry {row_id}"))
            self._want_hash = None  # its successor is gone: nothing to compare its hash with
        try:
            computed = entry_hash(row)
        except (TypeError, ValueError, AttributeError):
            computed = None  # a field no longer even has its type
        if row["hash"] is None or computed != row["hash"]:
            self._found.append(Break("changed", row_id, f"entry {row_id} was changed: its fields do not give "
                                     "its hash"))
        elif self._want_hash is not None and row["hash"] != self._want_hash:
            self._found.append(Break("changed", row_id, f"entry {row_id} was changed and its hash recomputed: "
                                     f"{named_by} recorded another hash for it"))
        expected = self.expect.pop(row_id, None)
        if expected is not None and expected != row["hash"]:
            self._found.append(Break("changed", row_id, f"entry {row_id} does not have the hash recorded for "
                                     "it earlier (--expect): the chain was rewritten from there on"))
        self._want_id, self._want_hash = int(row["prev_id"] or 0), row["prev_hash"]
        self._named_by = f"entry {row_id}"

    def result(self) -> Verification:
        found = list(self._found)
        if self._want_id:
            oldest = f"the oldest present is entry {self._oldest}" if self._oldest else "no entry is present"
            found.append(Break("deleted", 1, f"entries up to {self._want_id} are missing: {self._named_by} "
                               f"follows entry {self._want_id}, {oldest}"))
        for entry_id in sorted(self.expect):
            found.append(Break("deleted", entry_id, f"entry {entry_id}, recorded earlier (--expect), is not in "
                               "the chain"))
        # Found newest first; reported oldest first.
        self.report.breaks = sorted(found, key=lambda b: (b.id, b.kind))
        return self.report


def verify_entries(head_id: int, head_hash: str, newest_first: Iterable[Mapping[str, Any]],
                   expect: Mapping[int, str] | None = None) -> Verification:
    walk = ChainWalk(head_id, head_hash, expect)
    for row in newest_first:
        walk.add(row)
    return walk.result()


def _tables() -> tuple[sa.TableClause, sa.TableClause]:
    entries = sa.table(
        AUDIT_TABLE,
        # `at` and `document_ids` untyped: a tampered value must reach the check, not fail the read.
        sa.column("id", sa.BigInteger), sa.column("at"),
        *(sa.column(n, sa.Text) for n in ("request_id", "subject", "departments", "roles", "method", "result",
                                          "detail", "department", "peer")),
        sa.column("document_ids"), sa.column("duration_ms"),
        sa.column("prev_id", sa.BigInteger), sa.column("prev_hash", sa.Text), sa.column("hash", sa.Text),
    )
    head = sa.table(CHAIN_TABLE, sa.column("id", sa.Integer), sa.column("last_id", sa.BigInteger),
                    sa.column("last_hash", sa.Text))
    return entries, head


class ChainHeadMissing(Exception):
    """The database has no chain head: not migrated, or the head row was removed."""


async def verify_database(engine: AsyncEngine, expect: Mapping[int, str] | None = None,
                          page_size: int = 1000) -> Verification:
    """Verify the audit log in one consistent snapshot of the database."""
    entries, head = _tables()
    if engine.dialect.name == "postgresql":
        options: dict[str, Any] = {"isolation_level": "REPEATABLE READ"}
    else:
        options = {}
    async with engine.connect() as conn:
        conn = await conn.execution_options(**options)
        if engine.dialect.name == "sqlite":
            # pysqlite starts no transaction for reads: without one each page would be its own snapshot.
            await conn.exec_driver_sql("BEGIN")
        try:
            row = (await conn.execute(sa.select(head.c.last_id, head.c.last_hash).where(head.c.id == HEAD_ID))).first()
        except sa.exc.DBAPIError as exc:
            raise ChainHeadMissing(f"no {CHAIN_TABLE} table: {exc.orig}") from None
        if row is None:
            raise ChainHeadMissing(f"the {CHAIN_TABLE} table has no head row")

        walk = ChainWalk(int(row.last_id), row.last_hash, expect)
        before = None
        while True:
            stmt = sa.select(entries).order_by(entries.c.id.desc()).limit(page_size)
            if before is not None:
                stmt = stmt.where(entries.c.id < before)
            page = (await conn.execute(stmt)).mappings().all()
            for r in page:
                walk.add(r)
            if len(page) < page_size:
                break
            before = page[-1]["id"]
        await conn.rollback()
    return walk.result()
