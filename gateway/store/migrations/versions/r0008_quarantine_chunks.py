"""Quarantined message bytes in chunk rows (issue 13: bounded memory): ``quarantine_chunks`` holds each message
held from now on as pieces sealed one by one (``gateway/store/chunks.py``), so neither the gateway nor the
database driver ever binds a whole 30 MB message as one value.

No existing data is touched: messages held before this revision keep their bytes in ``quarantine.raw``, and
every reader takes either layout, so the upgrade is one CREATE TABLE however large the quarantine is (no table
rewrite, no copy of the blobs in one transaction). They leave ``raw`` with retention, as before.

The downgrade cannot put chunked messages back into ``raw`` (each chunk is sealed on its own, and the key is not
the migration's to hold), so it refuses while any chunk row exists: release, reject-and-purge or wait for
retention first.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "quarantine_chunks",
        sa.Column("quarantine_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["quarantine_id"], ["quarantine.id"], ondelete="CASCADE",
                                name="fk_quarantine_chunks_quarantine_id_quarantine"),
        sa.PrimaryKeyConstraint("quarantine_id", "seq", name="pk_quarantine_chunks"),
    )


def downgrade() -> None:
    if not context.is_offline_mode():
        left = op.get_bind().execute(sa.text("SELECT count(*) FROM quarantine_chunks")).scalar_one()
        if left:
            raise RuntimeError(
                f"quarantine_chunks still holds {left} chunk rows of messages held since revision 0008; this "
                "downgrade would lose them. Release or purge those messages first."
            )
    op.drop_table("quarantine_chunks")
