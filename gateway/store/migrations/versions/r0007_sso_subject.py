"""Single sign-on accounts keyed by the provider's identity (issue 14): ``console_accounts`` gains ``sso_issuer``
and ``sso_subject`` (the ID token's ``iss`` and ``sub``, or ``oid:`` + Entra's object id), unique together. The
user name claim becomes a display and look-up name only, so a user name the provider later gives to someone else
cannot open the old account.

Existing single sign-on accounts keep NULLs: the first sign-in after the upgrade binds the account to whoever
holds its name then (audited as ``account_bound``); from then on only that identity opens it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # plain ADD COLUMN and a unique index (not batch mode, which on SQLite must reflect the table and so cannot
    # produce the offline script of ``dlpgate db upgrade --sql``)
    op.add_column("console_accounts", sa.Column("sso_issuer", sa.String(255), nullable=True))
    op.add_column("console_accounts", sa.Column("sso_subject", sa.String(255), nullable=True))
    op.create_index("uq_console_accounts_sso_identity", "console_accounts", ["sso_issuer", "sso_subject"],
                    unique=True)


def downgrade() -> None:
    op.drop_index("uq_console_accounts_sso_identity", table_name="console_accounts")
    with op.batch_alter_table("console_accounts") as batch:
        batch.drop_column("sso_subject")
        batch.drop_column("sso_issuer")
