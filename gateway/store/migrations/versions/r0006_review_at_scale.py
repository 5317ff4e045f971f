"""Review at scale (issue 14): a release to chosen recipients records who got the message (``released_to``) and
who was refused (``rejected_to``); a four-eyes request for such a release keeps its recipients in
``approvals.detail``.

The queue at 100,000 held messages (``bench/console_queue.py``) spent its time parsing every incident's ``rules``
JSON for the counts by rule and the rule filter: ``quarantine_rules`` keeps the holding rules of each message, one
row each, indexed by rule. A trigger fills it on every INSERT into ``quarantine`` (from the incident written just
before, in the same transaction), so the SMTP path's writer needs no change and cannot forget it; existing rows are
filled here.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def _json() -> sa.types.TypeEngine[Any]:
    from sqlalchemy.dialects import postgresql

    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


_SQLITE_RULES = (
    "SELECT DISTINCT {qid}, json_extract(r.value, '$.rule_id') FROM incidents i, json_each(i.rules) AS r "
    "WHERE i.id = {iid} AND coalesce(json_extract(r.value, '$.mode'), 'enforce') = 'enforce' "
    "AND json_extract(r.value, '$.rule_id') IS NOT NULL"
)
_PG_RULES = (
    "SELECT DISTINCT {qid}, r->>'rule_id' FROM incidents i CROSS JOIN LATERAL jsonb_array_elements(i.rules) AS r "
    "WHERE i.id = {iid} AND coalesce(r->>'mode', 'enforce') = 'enforce' AND r->>'rule_id' IS NOT NULL"
)


def upgrade() -> None:
    with op.batch_alter_table("quarantine") as batch:
        batch.add_column(sa.Column("released_to", _json(), nullable=True))
        batch.add_column(sa.Column("rejected_to", _json(), nullable=True))
    with op.batch_alter_table("approvals") as batch:
        batch.add_column(sa.Column("detail", _json(), nullable=True))
    op.create_table(
        "quarantine_rules",
        sa.Column("quarantine_id", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(["quarantine_id"], ["quarantine.id"], ondelete="CASCADE",
                                name="fk_quarantine_rules_quarantine_id_quarantine"),
        sa.PrimaryKeyConstraint("quarantine_id", "rule_id", name="pk_quarantine_rules"),
    )
    op.create_index("ix_quarantine_rules_rule_id", "quarantine_rules", ["rule_id", "quarantine_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("INSERT INTO quarantine_rules (quarantine_id, rule_id) "
                   + _PG_RULES.format(qid="q.id", iid="q.incident_id").replace(
                       "FROM incidents i", "FROM quarantine q JOIN incidents i ON i.id = q.incident_id", 1))
        op.execute(
            "CREATE FUNCTION dlpgate_quarantine_rules() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "INSERT INTO quarantine_rules (quarantine_id, rule_id) "
            + _PG_RULES.format(qid="NEW.id", iid="NEW.incident_id")
            + " ON CONFLICT DO NOTHING; RETURN NEW; END $$"
        )
        op.execute("CREATE TRIGGER trg_quarantine_rules AFTER INSERT ON quarantine FOR EACH ROW "
                   "EXECUTE FUNCTION dlpgate_quarantine_rules()")
    else:
        op.execute("INSERT INTO quarantine_rules (quarantine_id, rule_id) "
                   + _SQLITE_RULES.format(qid="q.id", iid="q.incident_id").replace(
                       "FROM incidents i", "FROM quarantine q JOIN incidents i ON i.id = q.incident_id", 1))
        op.execute(
            "CREATE TRIGGER trg_quarantine_rules AFTER INSERT ON quarantine BEGIN "
            "INSERT OR IGNORE INTO quarantine_rules (quarantine_id, rule_id) "
            + _SQLITE_RULES.format(qid="NEW.id", iid="NEW.incident_id") + "; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS trg_quarantine_rules ON quarantine")
        op.execute("DROP FUNCTION IF EXISTS dlpgate_quarantine_rules()")
    else:
        op.execute("DROP TRIGGER IF EXISTS trg_quarantine_rules")
    op.drop_index("ix_quarantine_rules_rule_id", table_name="quarantine_rules")
    op.drop_table("quarantine_rules")
    with op.batch_alter_table("approvals") as batch:
        batch.drop_column("detail")
    with op.batch_alter_table("quarantine") as batch:
        batch.drop_column("rejected_to")
        batch.drop_column("released_to")
