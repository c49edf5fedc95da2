"""Append-only audit log: every call through the gateway, refusals included.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = "the audit log is append-only"


def upgrade() -> None:
    op.create_table(
        "gateway_audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(256), nullable=False),
        sa.Column("departments", sa.Text, nullable=False),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("method", sa.String(256), nullable=False),
        sa.Column("result", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("document_ids", sa.JSON, nullable=False),
        sa.Column("department", sa.String(128), nullable=False),
        sa.Column("peer", sa.String(128), nullable=False),
        sa.Column("duration_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_gateway_audit_log_at", "gateway_audit_log", ["at"])
    op.create_index("ix_gateway_audit_log_subject", "gateway_audit_log", ["subject", "id"])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER gateway_audit_log_no_{event.lower()} BEFORE {event} ON gateway_audit_log "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION gateway_audit_log_append_only() RETURNS trigger AS $$ "
            f"BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER gateway_audit_log_no_change BEFORE UPDATE OR DELETE ON gateway_audit_log "
            "FOR EACH ROW EXECUTE FUNCTION gateway_audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER gateway_audit_log_no_truncate BEFORE TRUNCATE ON gateway_audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION gateway_audit_log_append_only()"
        )


def downgrade() -> None:
    op.drop_table("gateway_audit_log")
