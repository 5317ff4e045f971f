"""The review console's reads (issue 14): the quarantine queue with filters and keyset paging, counts by rule,
the audit trail page by page, and the audit chain check.

Keyset paging (``WHERE quarantine.id < :after ORDER BY id DESC LIMIT n``, on the ``(state, id)`` index) costs
the same on the thousandth page as on the first, which is what keeps the queue fast at 100,000 held messages;
an OFFSET would read every row before the page. One query per state, merged here: ``state IN ('held',
'releasing') ORDER BY id`` cannot walk that index in order and sorted all 100,000 rows for each page.

What ``bench/console_queue.py`` measured at 100,000 held messages also shaped the rest: the rule filter and the
counts by rule read ``quarantine_rules`` (revision 0006, filled by a trigger) instead of every incident's ``rules``
JSON, and the incidents table (large rows) is joined only for the 50 rows shown and for a sensitivity filter, never
to count.
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
from gateway.store.schema import quarantine_rules as qrules

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

    def _conditions(self, f: QueueFilter, *, states: bool = True) -> list[Any]:
        """The filter's WHERE terms on ``quarantine`` (and ``incidents`` for the sensitivity only)."""
        now = self.clock()
        where: list[Any] = []
        if f.states and states:
            where.append(qtab.c.state.in_(list(f.states)))
        if f.rule:
            where.append(qtab.c.id.in_(sa.select(qrules.c.quarantine_id).where(qrules.c.rule_id == f.rule)))
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
        newest = sort == "newest"
        where = self._conditions(f, states=False)
        if after is not None:
            where.append(qtab.c.id < after if newest else qtab.c.id > after)
        base = qtab.join(incidents, incidents.c.id == qtab.c.incident_id) if f.sensitivity else qtab
        found: list[int] = []
        async with self.engine.connect() as conn:
            for state in f.states or (None,):  # one index walk per state (see the module docstring)
                q = (sa.select(qtab.c.id).select_from(base)
                     .where(*where, *([qtab.c.state == state] if state else []))
                     .order_by(qtab.c.id.desc() if newest else qtab.c.id.asc()).limit(limit + 1))
                found.extend(int(i) for i in (await conn.execute(q)).scalars())
            found = sorted(set(found), reverse=newest)[:limit + 1]
            more = len(found) > limit
            ids = found[:limit]
            cols = [qtab.c.id.label("q_id"), *(c for c in qtab.c if c.name not in ("id", "raw", "claim")),
                    *(c.label(f"i_{c.name}") for c in incidents.c)]
            rows = (await conn.execute(
                sa.select(*cols).select_from(qtab.join(incidents, incidents.c.id == qtab.c.incident_id))
                .where(qtab.c.id.in_(ids))
            )).mappings().all() if ids else []
        by_id = {int(r["q_id"]): r for r in rows}
        items = [_record(by_id[i]) for i in ids if i in by_id]
        return QueuePage(items, ids[-1] if more and ids else None, ids)

    async def queue_count(self, f: QueueFilter) -> int:
        base = qtab.join(incidents, incidents.c.id == qtab.c.incident_id) if f.sensitivity else qtab
        q = sa.select(sa.func.count()).select_from(base).where(*self._conditions(f))
        async with self.engine.connect() as conn:
            return int((await conn.execute(q)).scalar_one())

    async def queue_counts_by_rule(self, states: tuple[str, ...] = ("held", "releasing")) -> dict[str, int]:
        """Held messages per rule that held them, most first (from ``quarantine_rules``)."""
        n = sa.func.count().label("n")
        stmt = (sa.select(qrules.c.rule_id, n)
                .select_from(qrules.join(qtab, qtab.c.id == qrules.c.quarantine_id))
                .where(qtab.c.state.in_(list(states)))
                .group_by(qrules.c.rule_id).order_by(n.desc(), qrules.c.rule_id))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
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
