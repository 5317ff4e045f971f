"""Case-aware recipients (issue 16): the case directory as keyed hashes, its import metadata, and the hashed
sender-recipient history for first-time recipients.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def _bigid() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "case_directory",
        sa.Column("id", sa.Integer(), autoincrement=False),
        sa.Column("generation", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("imported_at", _ts(), nullable=False),
        sa.Column("imported_by", sa.String(255), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_case_directory"),
    )
    op.create_table(
        "case_rows",
        sa.Column("id", _bigid(), autoincrement=True),
        sa.Column("row_hash", sa.String(32), nullable=False),
        sa.Column("case_hash", sa.String(32), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("name_hash", sa.String(32), nullable=True),
        sa.Column("name_short_hash", sa.String(32), nullable=True),
        sa.Column("name_dob_hash", sa.String(32), nullable=True),
        sa.Column("name_short_dob_hash", sa.String(32), nullable=True),
        sa.Column("recipient_hash", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_case_rows"),
        sa.UniqueConstraint("row_hash", name="uq_case_rows_row_hash"),
    )
    op.create_table(
        "recipient_history",
        sa.Column("pair_hash", sa.String(32), nullable=False),
        sa.Column("first_at", _ts(), nullable=False),
        sa.Column("last_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("pair_hash", name="pk_recipient_history"),
    )
    op.create_index("ix_recipient_history_last_at", "recipient_history", ["last_at"])


def downgrade() -> None:
    op.drop_index("ix_recipient_history_last_at", table_name="recipient_history")
    op.drop_table("recipient_history")
    op.drop_table("case_rows")
    op.drop_table("case_directory")
