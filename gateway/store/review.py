"""The review console's reads (issue 14): the quarantine queue with filters and keyset paging, counts by rule,
the audit trail page by page, and the audit chain check.

Keyset paging (``WHERE quarantine.id < :after ORDER BY id DESC LIMIT n``, on the ``(state, id)`` index) costs
the same on the thousandth page as on the first, which is what keeps the queue fast at 100,000 held messages;
an OFFSET would read every row before the page. Rule filters and counts read the incident's ``rules`` JSON with
the backend's own JSON functions (SQLite ``json_each``, PostgreSQL ``jsonb_array_elements``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa

from gateway.store.auditchain import ChainReport, ChainWalker
from gateway.store.base import StoreBase
from gateway.store.records import IncidentRecord, QuarantineRecord
from gateway.store.schema import audit, incidents
from gateway.store.schema import quarantine as qtab

Sort = Literal["newest", "oldest"]

_HIT_MODES = ("enforce",)
"""Counts by rule count the rules that held the message (not the outranked or monitor-mode ones)."""


@dataclass(frozen=True)
class QueueFilter:
    """What the queue shows. ``older_than_hours``/``newer_than_hours`` bound the age; text filters are
    case-insensitive (``sender`` a part of the address, ``recipient_domain`` a whole domain)."""

    states: tuple[str, ...] = ("held", "releasing")
    rule: str | None = None
    sensitivity: str | None = None
    sender: str | None = None
    recipient_domain: str | None = None
    older_than_hours: float | None = None
    newer_than_hours: float | None = None


@dataclass(frozen=True)
class QueuePage:
    items: list[QuarantineRecord]
    next_after: int | None
    """The cursor for the next page (a row id, no personal data), or None on the last page."""
    ids: list[int]


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    node: str
    event: str
    reference: str | None
    old_status: str | None
    new_status: str | None
    reason: str | None
    detail: dict[str, Any] | None
    source: str | None
    row_hash: str | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> AuditRow:
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class ReviewBook(StoreBase):
    """``Store``'s console reads (see the module docstring)."""

    def _rule_exists(self, rule: str) -> Any:
        if self.backend == "postgresql":
            return sa.text(
                "EXISTS (SELECT 1 FROM jsonb_array_elements(incidents.rules) AS r "
                "WHERE r->>'rule_id' = :rule_f AND coalesce(r->>'mode', 'enforce') = 'enforce')"
            ).bindparams(rule_f=rule)
        return sa.text(
            "EXISTS (SELECT 1 FROM json_each(incidents.rules) AS r "
            "WHERE json_extract(r.value, '$.rule_id') = :rule_f "
            "AND coalesce(json_extract(r.value, '$.mode'), 'enforce') = 'enforce')"
        ).bindparams(rule_f=rule)

    def _conditions(self, f: QueueFilter) -> list[Any]:
        now = self.clock()
        where: list[Any] = []
        if f.states:
            where.append(qtab.c.state.in_(list(f.states)))
        if f.rule:
            where.append(self._rule_exists(f.rule))
        if f.sensitivity:
            where.append(incidents.c.sensitivity == f.sensitivity)
        if f.sender:
            where.append(sa.func.lower(qtab.c.mail_from).like(f"%{_like_escape(f.sender.lower())}%", escape="\\"))
        if f.recipient_domain:
            domain = _like_escape(f.recipient_domain.lower().lstrip("@"))
            where.append(sa.func.lower(sa.cast(qtab.c.rcpt_tos, sa.Text)).like(f'%@{domain}"%', escape="\\"))
        if f.older_than_hours is not None:
            where.append(qtab.c.stored_at <= now - timedelta(hours=f.older_than_hours))
        if f.newer_than_hours is not None:
            where.append(qtab.c.stored_at >= now - timedelta(hours=f.newer_than_hours))
        return where

    async def queue_page(
        self, f: QueueFilter, *, sort: Sort = "newest", after: int | None = None, limit: int = 50
    ) -> QueuePage:
        order = qtab.c.id.desc() if sort == "newest" else qtab.c.id.asc()
        where = self._conditions(f)
        if after is not None:
            where.append(qtab.c.id < after if sort == "newest" else qtab.c.id > after)
        cols = [qtab.c.id.label("q_id"), *(c for c in qtab.c if c.name not in ("id", "raw", "claim")),
                *(c.label(f"i_{c.name}") for c in incidents.c)]
        q = (
            sa.select(*cols)
            .select_from(qtab.join(incidents, incidents.c.id == qtab.c.incident_id))
            .where(*where)
            .order_by(order)
            .limit(limit + 1)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(q)).mappings().all()
        more = len(rows) > limit
        rows = rows[:limit]
        items = [_record(r) for r in rows]
        ids = [int(r["q_id"]) for r in rows]
        return QueuePage(items, ids[-1] if more and ids else None, ids)

    async def queue_count(self, f: QueueFilter) -> int:
        q = (
            sa.select(sa.func.count())
            .select_from(qtab.join(incidents, incidents.c.id == qtab.c.incident_id))
            .where(*self._conditions(f))
        )
        async with self.engine.connect() as conn:
            return int((await conn.execute(q)).scalar_one())

    async def queue_counts_by_rule(self, states: tuple[str, ...] = ("held", "releasing")) -> dict[str, int]:
        """Held messages per rule that held them, most first."""
        if self.backend == "postgresql":
            sql = (
                "SELECT r->>'rule_id' AS rule, count(*) AS n FROM quarantine q "
                "JOIN incidents i ON i.id = q.incident_id CROSS JOIN LATERAL jsonb_array_elements(i.rules) AS r "
                "WHERE q.state IN :states AND coalesce(r->>'mode', 'enforce') = 'enforce' "
                "GROUP BY 1 ORDER BY 2 DESC, 1"
            )
        else:
            sql = (
                "SELECT json_extract(r.value, '$.rule_id') AS rule, count(*) AS n FROM quarantine q "
                "JOIN incidents i ON i.id = q.incident_id, json_each(i.rules) AS r "
                "WHERE q.state IN :states AND coalesce(json_extract(r.value, '$.mode'), 'enforce') = 'enforce' "
                "GROUP BY 1 ORDER BY 2 DESC, 1"
            )
        stmt = sa.text(sql).bindparams(sa.bindparam("states", expanding=True))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt, {"states": list(states)})).all()
        return {str(r[0]): int(r[1]) for r in rows if r[0] is not None}

    # ---------------------------------------------------------------- audit trail

    async def audit_page(
        self, *, before: int | None = None, limit: int = 50, reference: str | None = None
    ) -> tuple[list[AuditRow], int | None]:
        """Newest first; the second value is the cursor for older rows (None at the start of the trail)."""
        q = sa.select(audit).order_by(audit.c.id.desc()).limit(limit + 1)
        if before is not None:
            q = q.where(audit.c.id < before)
        if reference is not None:
            q = q.where(audit.c.reference == reference)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(q)).mappings().all()
        more = len(rows) > limit
        out = [AuditRow.from_row(r) for r in rows[:limit]]
        return out, (out[-1].id if more and out else None)

    async def verify_audit_chain(self, batch: int = 2000) -> ChainReport:
        """Walk the whole trail in id order and check every link (``dlpgate audit verify``)."""
        walker = ChainWalker()
        last = 0
        async with self.engine.connect() as conn:
            while True:
                rows = (await conn.execute(
                    sa.select(audit).where(audit.c.id > last).order_by(audit.c.id).limit(batch)
                )).mappings().all()
                if not rows:
                    break
                for r in rows:
                    walker.feed(r)
                last = int(rows[-1]["id"])
        return walker.report()


def _record(r: Mapping[Any, Any]) -> QuarantineRecord:
    inc = IncidentRecord.from_row({f.name: r[f"i_{f.name}"] for f in dataclasses.fields(IncidentRecord)})
    names = {f.name for f in dataclasses.fields(QuarantineRecord)} - {"incident"}
    return QuarantineRecord(**{n: r[n] for n in names}, incident=inc)
