"""Governance (issue 15): incident statuses move onto the triage flow (``new`` → ``near_miss`` |
``false_positive`` | ``potential_breach`` → ``reported_internally`` → ``reported_to_ico`` | ``not_reportable``
→ ``closed``). Rows in the old statuses are moved: ``released`` → ``closed`` (the hold was reviewed and the
message sent), ``confirmed_breach`` → ``reported_internally`` (confirmed means it reached the IA team, so the
ICO's 72-hour decision is still open); ``near_miss``, ``potential_breach`` and ``false_positive`` keep their
names. No table changes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

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


def upgrade() -> None:
    _move(FORWARD)


def downgrade() -> None:
    _move(BACK)
