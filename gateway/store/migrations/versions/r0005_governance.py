"""Governance (issue 15): incident statuses move onto the triage flow (``new`` → ``near_miss`` |
``false_positive`` | ``potential_breach`` → ``reported_internally`` → ``reported_to_ico`` | ``not_reportable``
→ ``closed``). Rows in the old statuses are moved: ``released`` → ``closed`` (the hold was reviewed and the
message sent), ``confirmed_breach`` → ``reported_internally`` (confirmed means it reached the IA team, so the
ICO's 72-hour decision is still open); ``near_miss``, ``potential_breach`` and ``false_positive`` keep their
names. Policy exceptions, their use and senders' release requests get their tables.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

FORWARD = {"released": "closed", "confirmed_breach": "reported_internally"}
BACK = {"new": "near_miss", "closed": "released", "reported_internally": "confirmed_breach",
        "reported_to_ico": "confirmed_breach", "not_reportable": "false_positive"}

_incidents = sa.table("incidents", sa.column("status", sa.String(32)))


def _move(mapping: dict[str, str]) -> None:
    for old, new in mapping.items():
        op.execute(sa.update(_incidents).where(_incidents.c.status == old).values(status=new))


def _bigid() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:
    from sqlalchemy.dialects import postgresql

    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    _move(FORWARD)
    op.create_table(
        "policy_exceptions",
        sa.Column("id", _bigid(), autoincrement=True),
        sa.Column("sender", sa.String(512), nullable=False),
        sa.Column("recipient", sa.String(512), nullable=False),
        sa.Column("rules", _json(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("expires_at", _ts(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(255), nullable=False),
        sa.Column("requested_at", _ts(), nullable=False),
        sa.Column("decided_by", sa.String(255), nullable=True),
        sa.Column("decided_at", _ts(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("last_used_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_policy_exceptions"),
    )
    op.create_index("ix_policy_exceptions_expires_at", "policy_exceptions", ["expires_at"])
    op.create_index("ix_policy_exceptions_state", "policy_exceptions", ["state"])
    op.create_table(
        "exception_uses",
        sa.Column("id", _bigid(), autoincrement=True),
        sa.Column("exception_id", sa.BigInteger(), nullable=False),
        sa.Column("at", _ts(), nullable=False),
        sa.Column("txn_id", sa.String(64), nullable=False),
        sa.Column("rules", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_exception_uses"),
    )
    op.create_index("ix_exception_uses_exception_id", "exception_uses", ["exception_id"])
    op.create_index("ix_exception_uses_at", "exception_uses", ["at"])
    op.create_table(
        "release_requests",
        sa.Column("id", _bigid(), autoincrement=True),
        sa.Column("reference", sa.String(32), nullable=False),
        sa.Column("requested_at", _ts(), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("source", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_at", _ts(), nullable=True),
        sa.Column("told_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_release_requests"),
        sa.UniqueConstraint("reference", name="uq_release_requests_reference"),
    )
    op.create_index("ix_release_requests_state", "release_requests", ["state"])


def downgrade() -> None:
    op.drop_index("ix_release_requests_state", table_name="release_requests")
    op.drop_table("release_requests")
    op.drop_index("ix_exception_uses_at", table_name="exception_uses")
    op.drop_index("ix_exception_uses_exception_id", table_name="exception_uses")
    op.drop_table("exception_uses")
    op.drop_index("ix_policy_exceptions_state", table_name="policy_exceptions")
    op.drop_index("ix_policy_exceptions_expires_at", table_name="policy_exceptions")
    op.drop_table("policy_exceptions")
    _move(BACK)
