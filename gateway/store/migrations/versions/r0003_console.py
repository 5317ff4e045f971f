"""Review console (issue 14): console accounts, four-eyes approvals, a hash-chained audit trail (with where an
action came from) and indexes for the queue's keyset paging and filters.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from gateway.store.auditchain import GENESIS, row_hash

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def _bigid() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:
    from sqlalchemy.dialects import postgresql

    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        batch.add_column(sa.Column("source", sa.String(64), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("row_hash", sa.String(64), nullable=True))
    _chain_existing_rows()
    op.create_table(
        "console_accounts",
        sa.Column("id", _bigid(), autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("locked_until", _ts(), nullable=True),
        sa.Column("last_login_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_console_accounts"),
        sa.UniqueConstraint("name", name="uq_console_accounts_name"),
    )
    op.create_table(
        "approvals",
        sa.Column("id", _bigid(), autoincrement=True),
        sa.Column("reference", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(255), nullable=False),
        sa.Column("requested_at", _ts(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(255), nullable=True),
        sa.Column("decided_at", _ts(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_approvals"),
    )
    op.create_index("ix_approvals_reference", "approvals", ["reference"])
    op.create_index("ix_approvals_state", "approvals", ["state"])
    op.create_index("ix_quarantine_state_id", "quarantine", ["state", "id"])


def _chain_existing_rows() -> None:
    """Rows written before this revision join the chain in id order. Offline (``db upgrade --sql``) there are no
    rows to read: run ``dlpgate db upgrade`` online on a database with an audit trail, or ``audit verify`` reports
    the old rows as unchained."""
    if op.get_context().as_sql:
        return
    conn = op.get_bind()
    audit = sa.table(
        "audit",
        sa.column("id", sa.Integer()), sa.column("at", _ts()), sa.column("actor", sa.String()),
        sa.column("node", sa.String()), sa.column("event", sa.String()), sa.column("reference", sa.String()),
        sa.column("old_status", sa.String()), sa.column("new_status", sa.String()), sa.column("reason", sa.Text()),
        sa.column("detail", _json()), sa.column("source", sa.String()), sa.column("prev_hash", sa.String()),
        sa.column("row_hash", sa.String()),
    )
    prev = GENESIS
    rows = conn.execute(sa.select(audit).order_by(audit.c.id)).mappings().all()
    for row in rows:
        digest = row_hash(prev, row)
        conn.execute(sa.update(audit).where(audit.c.id == row["id"]).values(prev_hash=prev, row_hash=digest))
        prev = digest


def downgrade() -> None:
    op.drop_index("ix_quarantine_state_id", table_name="quarantine")
    op.drop_index("ix_approvals_state", table_name="approvals")
    op.drop_index("ix_approvals_reference", table_name="approvals")
    op.drop_table("approvals")
    op.drop_table("console_accounts")
    with op.batch_alter_table("audit") as batch:
        batch.drop_column("row_hash")
        batch.drop_column("prev_hash")
        batch.drop_column("source")
