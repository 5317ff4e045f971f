"""Quarantine: the route the gateway delivered through when it held a message, and what a release must still do.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    # Nullable and without defaults: rows held before this revision have no recorded route, and a release of
    # one must be told where to deliver (see gateway/notify/release.py).
    with op.batch_alter_table("quarantine") as batch:
        batch.add_column(sa.Column("route", _json(), nullable=True))
        batch.add_column(sa.Column("release_plan", _json(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("quarantine") as batch:
        batch.drop_column("release_plan")
        batch.drop_column("route")
