"""The audit log becomes a hash chain: each entry holds the id and the hash of the entry
before it and its own hash (sentra_common.auditchain); one head row holds the newest.

Entries written before this revision are chained here, oldest first, with the ids they
have: the chain covers the whole table. They were protected by the append-only triggers
until now, not by hashes; the head row records how far they go (`chained_existing_until`)
and when the chain started, so a verification can say so.

Revision ID: 0002
Revises: 0001
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sentra_common import auditchain

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY = "the audit log is append-only"

entries = sa.table(
    "gateway_audit_log",
    sa.column("id", sa.BigInteger), sa.column("at", sa.DateTime(timezone=True)),
    *(sa.column(n, sa.Text) for n in ("request_id", "subject", "departments", "roles", "method", "result", "detail",
                                      "department", "peer")),
    sa.column("document_ids", sa.JSON), sa.column("duration_ms", sa.BigInteger),
    sa.column("prev_id", sa.BigInteger), sa.column("prev_hash", sa.String(64)), sa.column("hash", sa.String(64)),
)


def upgrade() -> None:
    op.add_column("gateway_audit_log", sa.Column("prev_id", sa.BigInteger, nullable=True))
    op.add_column("gateway_audit_log", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("gateway_audit_log", sa.Column("hash", sa.String(64), nullable=True))
    chain = op.create_table(
        "gateway_audit_chain",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_id", sa.BigInteger, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("chained_existing_until", sa.BigInteger, nullable=False),
        sa.CheckConstraint("id = 1", name="gateway_audit_chain_one_row"),
    )
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    # The existing entries get their hashes: the UPDATE trigger steps aside for this
    # transaction only (on PostgreSQL only the table's owner may do this).
    if sqlite:
        op.execute("DROP TRIGGER gateway_audit_log_no_update")
    else:
        op.execute("ALTER TABLE gateway_audit_log DISABLE TRIGGER gateway_audit_log_no_change")
    last_id, last_hash = 0, auditchain.GENESIS
    while rows := bind.execute(
        sa.select(entries).where(entries.c.id > last_id).order_by(entries.c.id).limit(1000)
    ).mappings().all():
        for row in rows:
            digest = auditchain.entry_hash({**row, "prev_id": last_id, "prev_hash": last_hash})
            bind.execute(sa.update(entries).where(entries.c.id == row["id"])
                         .values(prev_id=last_id, prev_hash=last_hash, hash=digest))
            last_id, last_hash = row["id"], digest
    if sqlite:
        op.execute(
            "CREATE TRIGGER gateway_audit_log_no_update BEFORE UPDATE ON gateway_audit_log "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )
    else:
        op.execute("ALTER TABLE gateway_audit_log ENABLE TRIGGER gateway_audit_log_no_change")
    op.bulk_insert(chain, [{"id": auditchain.HEAD_ID, "last_id": last_id, "last_hash": last_hash,
                            "started_at": datetime.now(UTC), "chained_existing_until": last_id}])
    # The head row moves with every append and is never removed.
    keep = "the head row of the audit chain is never removed"
    if sqlite:
        op.execute(
            "CREATE TRIGGER gateway_audit_chain_no_delete BEFORE DELETE ON gateway_audit_chain "
            f"BEGIN SELECT RAISE(ABORT, '{keep}'); END"
        )
    else:
        op.execute(
            "CREATE FUNCTION gateway_audit_chain_keep() RETURNS trigger AS $$ "
            f"BEGIN RAISE EXCEPTION '{keep}'; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER gateway_audit_chain_no_delete BEFORE DELETE ON gateway_audit_chain "
            "FOR EACH ROW EXECUTE FUNCTION gateway_audit_chain_keep()"
        )
        op.execute(
            "CREATE TRIGGER gateway_audit_chain_no_truncate BEFORE TRUNCATE ON gateway_audit_chain "
            "FOR EACH STATEMENT EXECUTE FUNCTION gateway_audit_chain_keep()"
        )


def downgrade() -> None:
    op.drop_table("gateway_audit_chain")
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION gateway_audit_chain_keep()")
    for column in ("hash", "prev_hash", "prev_id"):
        op.execute(f"ALTER TABLE gateway_audit_log DROP COLUMN {column}")
