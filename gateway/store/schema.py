"""Tables (SQLAlchemy Core). The migrations in ``migrations/versions`` create exactly these; a test compares them.

Personal data rule for every column here: envelope addresses, attachment names and *redacted* evidence only. The
message itself lives in ``quarantine_chunks`` (``quarantine.raw`` before revision 0008), optionally encrypted, and
nowhere else; no subject, no matched text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes in and out on both backends (SQLite has no time zones; it stores naive UTC text)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def Json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def BigId() -> sa.types.TypeEngine[int]:
    # SQLite only autoincrements an INTEGER PRIMARY KEY (a BIGINT one would not be the rowid).
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

incident_numbers = sa.Table(
    "incident_numbers",
    metadata,
    sa.Column("id", BigId(), primary_key=True, autoincrement=True),
    sa.Column("reserved_at", UtcDateTime(), nullable=False),
    sa.Column("node", sa.String(255), nullable=False),
    sqlite_autoincrement=True,
)
"""One row per reference handed out: the database sequence that keeps references unique across nodes."""

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", BigId(), primary_key=True, autoincrement=True),
    sa.Column("reference", sa.String(32), nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime(), nullable=False, index=True),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("node", sa.String(255), nullable=False),
    sa.Column("txn_id", sa.String(64), nullable=False),
    sa.Column("peer", sa.String(64), nullable=False),
    sa.Column("auth_user", sa.String(255), nullable=True),
    sa.Column("sender", sa.String(512), nullable=False),
    sa.Column("recipients", Json(), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("encrypt_mode", sa.String(16), nullable=True),
    sa.Column("rules", Json(), nullable=False),
    sa.Column("clauses", Json(), nullable=False),
    sa.Column("sensitivity", sa.String(32), nullable=False),
    sa.Column("entities", Json(), nullable=False),
    sa.Column("unscannable", Json(), nullable=False),
    sa.Column("attachments", Json(), nullable=False),
    sa.Column("message_id", sa.String(998), nullable=True),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("forwarded", sa.Boolean(), nullable=False),
    sa.Column("encrypted", sa.Boolean(), nullable=False),
    sa.Column("delivered", sa.Boolean(), nullable=False),
    sa.Column("quarantined", sa.Boolean(), nullable=False),
    sa.Column("upstream_reply", sa.String(512), nullable=True),
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("deadline_at", UtcDateTime(), nullable=True),
    sa.Column("status_changed_at", UtcDateTime(), nullable=False),
    sa.Column("alert_attempt_at", UtcDateTime(), nullable=True),
    sa.Column("alerted_at", UtcDateTime(), nullable=True),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", BigId(), primary_key=True, autoincrement=True),
    sa.Column(
        "incident_id", sa.BigInteger(), sa.ForeignKey("incidents.id", ondelete="RESTRICT"), nullable=False, unique=True
    ),
    sa.Column("reference", sa.String(32), nullable=False, unique=True),
    sa.Column("stored_at", UtcDateTime(), nullable=False, index=True),
    sa.Column("mail_from", sa.String(512), nullable=False),
    sa.Column("rcpt_tos", Json(), nullable=False),
    sa.Column("raw", sa.LargeBinary(), nullable=True),
    sa.Column("encryption", sa.String(16), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("state_changed_at", UtcDateTime(), nullable=False),
    sa.Column("state_by", sa.String(255), nullable=True),
    sa.Column("claim", sa.String(64), nullable=True),
    sa.Column("release_reply", sa.String(512), nullable=True),
    sa.Column("purged_at", UtcDateTime(), nullable=True),
    sa.Column("route", Json(), nullable=True),
    sa.Column("release_plan", Json(), nullable=True),
    sa.Column("released_to", Json(), nullable=True),
    sa.Column("rejected_to", Json(), nullable=True),
)
"""States: held → releasing → released; held → rejected; held → expired (retention). ``raw`` is NULL once purged
(``purged_at`` set), and for every message held from revision 0008 on (its bytes are in ``quarantine_chunks``).

``route`` is where the gateway delivered mail when it held the message (``{"upstream": URL,
"encryption_smarthost": URL or null}``, after ``serve --upstream``), so a release goes there and not wherever the
releasing command's own config points. ``release_plan`` is what the policy still required of the message beyond
the hold (the outranked actions: ``{"action", "encrypt_mode", "subject_tag", "triggers", "rules", "headers"}``),
applied by a release unless the reviewer chooses otherwise. Both are NULL for messages held before revision 0002:
a release then needs the route named explicitly.

``released_to`` / ``rejected_to`` (revision 0006) are the recipients a release to chosen recipients sent it to,
and those the reviewer then refused; NULL when every recipient was decided at once. A message partly released
with the rest kept goes back to ``held`` for the others, so no release ever sends to one of them twice."""

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", BigId(), primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime(), nullable=False, index=True),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("node", sa.String(255), nullable=False),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("reference", sa.String(32), nullable=True, index=True),
    sa.Column("old_status", sa.String(32), nullable=True),
    sa.Column("new_status", sa.String(32), nullable=True),
    sa.Column("reason", sa.Text(), nullable=True),
    sa.Column("detail", Json(), nullable=True),
    sa.Column("source", sa.String(64), nullable=True),
    sa.Column("prev_hash", sa.String(64), nullable=True),
    sa.Column("row_hash", sa.String(64), nullable=True),
)
"""``source``: where the action came from (the console client's address; NULL for the CLI and the gateway).
``row_hash`` chains each row to the one before (``gateway/store/auditchain.py``; ``dlpgate audit verify``)."""

console_accounts = sa.Table(
    "console_accounts",
    metadata,
    sa.Column("id", BigId(), primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=True),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("disabled", sa.Boolean(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("failed_count", sa.Integer(), nullable=False),
    sa.Column("locked_until", UtcDateTime(), nullable=True),
    sa.Column("last_login_at", UtcDateTime(), nullable=True),
    sa.Column("sso_issuer", sa.String(255), nullable=True),
    sa.Column("sso_subject", sa.String(255), nullable=True),
    sa.Index("uq_console_accounts_sso_identity", "sso_issuer", "sso_subject", unique=True),
)
"""Review-console accounts (issue 14): separate from SMTP AUTH users. ``password_hash`` is argon2id (NULL for
single sign-on accounts); ``failed_count``/``locked_until`` carry the lockout and back-off. A single sign-on
account is the provider's identity ``(sso_issuer, sso_subject)`` (``sub``, or ``oid:`` + Entra's object id), never
its user name: a user name the provider hands to someone else later must not open the old account."""

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("id", BigId(), primary_key=True, autoincrement=True),
    sa.Column("reference", sa.String(32), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("requested_by", sa.String(255), nullable=False),
    sa.Column("requested_at", UtcDateTime(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("decided_by", sa.String(255), nullable=True),
    sa.Column("decided_at", UtcDateTime(), nullable=True),
    sa.Column("decision_reason", sa.Text(), nullable=True),
    sa.Column("detail", Json(), nullable=True),
)
"""Four eyes: a release that needs a second person is a request here (``pending`` → ``approved``/``denied``);
the requester can never decide their own."""

sa.Index("ix_quarantine_state_id", quarantine.c.state, quarantine.c.id)

quarantine_rules = sa.Table(
    "quarantine_rules",
    metadata,
    sa.Column("quarantine_id", sa.BigInteger(), sa.ForeignKey("quarantine.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("rule_id", sa.String(128), primary_key=True),
)
"""The rules that held each quarantined message (enforce mode), one row each (revision 0006): the queue's rule
filter and counts by rule read this small index instead of parsing every incident's ``rules`` JSON (3 s at
100,000 held messages; ``bench/console_queue.py``). A database trigger made by the migration fills it on every INSERT
into ``quarantine`` from the incident's ``rules``, so no writer can forget it."""

sa.Index("ix_quarantine_rules_rule_id", quarantine_rules.c.rule_id, quarantine_rules.c.quarantine_id)

quarantine_chunks = sa.Table(
    "quarantine_chunks",
    metadata,
    sa.Column("quarantine_id", sa.BigInteger(), sa.ForeignKey("quarantine.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("data", sa.LargeBinary(), nullable=False),
)
"""A quarantined message's bytes in pieces (revision 0008; issue 13: bounded memory): ``seq`` 0, 1, 2 ... each
``data`` one piece of the message sealed on its own (under 1 MiB; ``gateway/store/chunks.py``), written and
read a few at a time so no one copy of the whole message is ever bound to the driver. Messages held before
0008 keep their bytes in ``quarantine.raw`` instead; retention deletes these rows."""

digests_sent = sa.Table(
    "digests_sent",
    metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("node", sa.String(255), nullable=False),
    sa.Column("claimed_at", UtcDateTime(), nullable=False),
    sa.Column("sent_at", UtcDateTime(), nullable=True),
    sa.Column("to_address", sa.String(512), nullable=True),
    sa.Column("message_id", sa.String(255), nullable=True),
)
"""Keyed by the local day the digest covers: a second node or a restarted one sees the day as taken."""


case_directory = sa.Table(
    "case_directory",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("generation", sa.String(32), nullable=False),
    sa.Column("key_id", sa.String(16), nullable=False),
    sa.Column("imported_at", UtcDateTime(), nullable=False),
    sa.Column("imported_by", sa.String(255), nullable=False),
    sa.Column("rows", sa.Integer(), nullable=False),
    sa.Column("cases", sa.Integer(), nullable=False),
)
"""Issue 16: one row (id 1) describing the imported case directory; ``generation`` changes with every import so
each node's next configuration generation builds a fresh snapshot for its workers."""

case_rows = sa.Table(
    "case_rows",
    metadata,
    sa.Column("id", BigId(), primary_key=True, autoincrement=True),
    sa.Column("row_hash", sa.String(32), nullable=False, unique=True),
    sa.Column("case_hash", sa.String(32), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("name_hash", sa.String(32), nullable=True),
    sa.Column("name_short_hash", sa.String(32), nullable=True),
    sa.Column("name_dob_hash", sa.String(32), nullable=True),
    sa.Column("name_short_dob_hash", sa.String(32), nullable=True),
    sa.Column("recipient_hash", sa.String(32), nullable=True),
)
"""The case directory, one row per person per case, as keyed hashes only (HMAC-SHA256 with a key the database
never holds; ``detectors/casedir.py``): no case number, name, date of birth or address is stored in clear."""

recipient_history = sa.Table(
    "recipient_history",
    metadata,
    sa.Column("pair_hash", sa.String(32), primary_key=True),
    sa.Column("first_at", UtcDateTime(), nullable=False),
    sa.Column("last_at", UtcDateTime(), nullable=False, index=True),
)
"""First-time recipients: keyed hashes of (sender, external recipient) and of the recipient alone (the
organisation-wide scope), with when they were first and last delivered to; aged out by ``last_at``."""


policy_exceptions = sa.Table(
    "policy_exceptions",
    metadata,
    sa.Column("id", BigId(), primary_key=True, autoincrement=True),
    sa.Column("sender", sa.String(512), nullable=False),
    sa.Column("recipient", sa.String(512), nullable=False),
    sa.Column("rules", Json(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("requested_by", sa.String(255), nullable=False),
    sa.Column("requested_at", UtcDateTime(), nullable=False),
    sa.Column("decided_by", sa.String(255), nullable=True),
    sa.Column("decided_at", UtcDateTime(), nullable=True),
    sa.Column("decision_reason", sa.Text(), nullable=True),
    sa.Column("uses", sa.Integer(), nullable=False),
    sa.Column("last_used_at", UtcDateTime(), nullable=True),
)
"""Policy exceptions (issue 15): ``pending`` → ``approved`` | ``denied`` (by an approver who did not ask for it)
→ ``revoked``; an approved one applies until ``expires_at``. ``uses`` counts the messages it let through."""

exception_uses = sa.Table(
    "exception_uses",
    metadata,
    sa.Column("id", BigId(), primary_key=True, autoincrement=True),
    sa.Column("exception_id", sa.BigInteger(), nullable=False, index=True),
    sa.Column("at", UtcDateTime(), nullable=False, index=True),
    sa.Column("txn_id", sa.String(64), nullable=False),
    sa.Column("rules", Json(), nullable=False),
)
"""One row per message an exception let through (the transaction id, the rules it relaxed)."""

release_requests = sa.Table(
    "release_requests",
    metadata,
    sa.Column("id", BigId(), primary_key=True, autoincrement=True),
    sa.Column("reference", sa.String(32), nullable=False, unique=True),
    sa.Column("requested_at", UtcDateTime(), nullable=False),
    sa.Column("justification", sa.Text(), nullable=False),
    sa.Column("source", sa.String(64), nullable=True),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("decided_at", UtcDateTime(), nullable=True),
    sa.Column("told_at", UtcDateTime(), nullable=True),
)
"""A sender's request to release their held message (issue 15), one per message (so the link is single use):
``pending`` → ``released`` | ``rejected``; ``told_at`` when the sender was emailed the outcome."""


def utcnow() -> datetime:
    return datetime.now(UTC)
