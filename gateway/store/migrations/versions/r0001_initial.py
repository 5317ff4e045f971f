"""Initial schema: incident numbers, incidents, quarantine, audit, digests sent.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _bigid() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "incident_numbers",
        sa.Column("id", _bigid(), autoincrement=True),
        sa.Column("reserved_at", _ts(), nullable=False),
        sa.Column("node", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_incident_numbers"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "incidents",
        sa.Column("id", _bigid(), autoincrement=True),
        sa.Column("reference", sa.String(32), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("received_at", _ts(), nullable=False),
        sa.Column("node", sa.String(255), nullable=False),
        sa.Column("txn_id", sa.String(64), nullable=False),
        sa.Column("peer", sa.String(64), nullable=False),
        sa.Column("auth_user", sa.String(255), nullable=True),
        sa.Column("sender", sa.String(512), nullable=False),
        sa.Column("recipients", _json(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("encrypt_mode", sa.String(16), nullable=True),
        sa.Column("rules", _json(), nullable=False),
        sa.Column("clauses", _json(), nullable=False),
        sa.Column("sensitivity", sa.String(32), nullable=False),
        sa.Column("entities", _json(), nullable=False),
        sa.Column("unscannable", _json(), nullable=False),
        sa.Column("attachments", _json(), nullable=False),
        sa.Column("message_id", sa.String(998), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("forwarded", sa.Boolean(), nullable=False),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("quarantined", sa.Boolean(), nullable=False),
        sa.Column("upstream_reply", sa.String(512), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("deadline_at", _ts(), nullable=True),
        sa.Column("status_changed_at", _ts(), nullable=False),
        sa.Column("alert_attempt_at", _ts(), nullable=True),
        sa.Column("alerted_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
        sa.UniqueConstraint("reference", name="uq_incidents_reference"),
    )
    op.create_index("ix_incidents_created_at", "incidents", ["created_at"])
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_table(
        "quarantine",
        sa.Column("id", _bigid(), autoincrement=True),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(32), nullable=False),
        sa.Column("stored_at", _ts(), nullable=False),
        sa.Column("mail_from", sa.String(512), nullable=False),
        sa.Column("rcpt_tos", _json(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.Column("encryption", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_changed_at", _ts(), nullable=False),
        sa.Column("state_by", sa.String(255), nullable=True),
        sa.Column("claim", sa.String(64), nullable=True),
        sa.Column("release_reply", sa.String(512), nullable=True),
        sa.Column("purged_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_quarantine"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_quarantine_incident_id_incidents", ondelete="RESTRICT"
        ),
        sa.UniqueConstraint("incident_id", name="uq_quarantine_incident_id"),
        sa.UniqueConstraint("reference", name="uq_quarantine_reference"),
    )
    op.create_index("ix_quarantine_stored_at", "quarantine", ["stored_at"])
    op.create_index("ix_quarantine_state", "quarantine", ["state"])
    op.create_table(
        "audit",
        sa.Column("id", _bigid(), autoincrement=True),
        sa.Column("at", _ts(), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("node", sa.String(255), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("reference", sa.String(32), nullable=True),
        sa.Column("old_status", sa.String(32), nullable=True),
        sa.Column("new_status", sa.String(32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", _json(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit"),
    )
    op.create_index("ix_audit_at", "audit", ["at"])
    op.create_index("ix_audit_reference", "audit", ["reference"])
    op.create_table(
        "digests_sent",
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("node", sa.String(255), nullable=False),
        sa.Column("claimed_at", _ts(), nullable=False),
        sa.Column("sent_at", _ts(), nullable=True),
        sa.Column("to_address", sa.String(512), nullable=True),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("day", name="pk_digests_sent"),
    )


def downgrade() -> None:
    op.drop_table("digests_sent")
    op.drop_index("ix_audit_reference", table_name="audit")
    op.drop_index("ix_audit_at", table_name="audit")
    op.drop_table("audit")
    op.drop_index("ix_quarantine_state", table_name="quarantine")
    op.drop_index("ix_quarantine_stored_at", table_name="quarantine")
    op.drop_table("quarantine")
    op.drop_index("ix_incidents_status", table_name="incidents")
    op.drop_index("ix_incidents_created_at", table_name="incidents")
    op.drop_table("incidents")
    op.drop_table("incident_numbers")
