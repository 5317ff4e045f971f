"""Incident records: written on the SMTP path, read and marked by the governance team, and the bookkeeping that
makes each potential-breach alert go out once across nodes (the ``alert_attempt_at`` claim, ``alerted_at``).

Status changes are conditional UPDATEs (``... WHERE status = <the one we read>``) whose row count says who won,
so two officers marking the same incident at once cannot both succeed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import structlog

from gateway.store.base import StoreBase
from gateway.store.errors import Conflict, NotFound
from gateway.store.records import MARKABLE, REPORTING_WINDOW, IncidentRecord, allowed_next, incident_values
from gateway.store.schema import audit, incidents

if TYPE_CHECKING:
    from gateway.facts import ScanResult
    from gateway.policy.model import Decision
    from gateway.submission import Submission

log = structlog.get_logger(__name__)


class IncidentBook(StoreBase):
    """``Store``'s incident part (see the module docstring)."""

    async def record_incident(
        self,
        sub: Submission,
        scan: ScanResult,
        decision: Decision,
        *,
        delivered: bool,
        upstream_reply: str | None = None,
    ) -> str:
        """For reject/encrypt/tag decisions and for passed messages with monitor hits. A delivered message that
        a monitor rule would have encrypted or stopped becomes a ``potential_breach`` with a 24-hour deadline;
        after the commit the listener is told, so the caller need not raise the alert itself."""
        values = incident_values(
            sub, scan, decision, reference="", node=self.node, now=self.clock(),
            delivered=delivered, quarantined=False, upstream_reply=upstream_reply,
        )
        ref = await self._insert_incident(values)
        assert ref is not None
        return ref

    async def _insert_incident(self, values: dict[str, Any], *, once: bool = False) -> str | None:
        """Insert an incident row built by ``incident_values`` (its ``reference`` is assigned here, from the
        database sequence, in the row's own year). ``once`` (a spooled record written again) first looks for
        the same transaction's incident from this node and returns None when it is already there."""
        now: datetime = values["created_at"]
        claim = values["status"] == "potential_breach" and self._claims_alerts
        async with self._write() as conn:
            if once:
                existing = (
                    await conn.execute(
                        sa.select(incidents.c.reference).where(
                            incidents.c.txn_id == values["txn_id"],
                            incidents.c.node == values["node"],
                            incidents.c.created_at == now,
                        )
                    )
                ).first()
                if existing is not None:
                    return None
            ref = await self._next_reference(conn, now)
            row = values | {"reference": ref} | ({"alert_attempt_at": self.clock()} if claim else {})
            await conn.execute(sa.insert(incidents).values(**row))
        log.info("incident.recorded", reference=ref, status=values["status"], action=values["action"])
        self._after_commit("incident_event", ref, lambda listener: listener.incident_recorded(ref, values))
        if claim:
            self._after_commit("alert", ref, lambda listener: listener.potential_breach(ref))
        return ref

    async def get_incident(self, ref: str) -> IncidentRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(incidents).where(incidents.c.reference == ref))).mappings().first()
        return IncidentRecord.from_row(row) if row else None

    async def list_incidents(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        statuses: Sequence[str] | None = None,
        actions: Sequence[str] | None = None,
        limit: int | None = None,
        newest_first: bool = True,
    ) -> list[IncidentRecord]:
        q = sa.select(incidents)
        if since is not None:
            q = q.where(incidents.c.created_at >= since)
        if until is not None:
            q = q.where(incidents.c.created_at < until)
        if statuses:
            q = q.where(incidents.c.status.in_(list(statuses)))
        if actions:
            q = q.where(incidents.c.action.in_(list(actions)))
        q = q.order_by(incidents.c.id.desc() if newest_first else incidents.c.id.asc())
        if limit is not None:
            q = q.limit(limit)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(q)).mappings().all()
        return [IncidentRecord.from_row(r) for r in rows]

    async def mark_incident(
        self, ref: str, status: str, *, actor: str, reason: str, note: str | None = None
    ) -> IncidentRecord:
        """One step of triage (``records.TRANSITIONS``), with a note (``reason``) that goes in the audit trail.
        Marking a potential breach starts its clocks (24 hours internal, 72 hours ICO, from now: a person has
        just become aware) and alerts the governance team after the commit."""
        if status not in MARKABLE:
            raise Conflict(f"status must be one of {', '.join(MARKABLE)}")
        if not reason or not reason.strip():
            raise Conflict("every status change needs a note")
        now = self.clock()
        claim = status == "potential_breach" and self._claims_alerts
        async with self._write() as conn:
            row = (
                await conn.execute(
                    sa.select(incidents.c.status, incidents.c.deadline_at).where(incidents.c.reference == ref)
                )
            ).first()
            if row is None:
                raise NotFound(f"{ref}: no such incident")
            if row.status == status:
                raise Conflict(f"{ref} is already {status}")
            nexts = allowed_next(row.status)
            if status not in nexts:
                raise Conflict(f"{ref} is {row.status}: it can go to " + (", ".join(nexts) or "nothing further"))
            values: dict[str, Any] = {"status": status, "status_changed_at": now}
            if status == "potential_breach" and row.deadline_at is None:
                values["deadline_at"] = now + REPORTING_WINDOW
                values |= {"alert_attempt_at": now} if claim else {"alerted_at": now}
            res = await conn.execute(
                sa.update(incidents)
                .where(incidents.c.reference == ref, incidents.c.status == row.status)
                .values(**values)
            )
            if res.rowcount != 1:
                raise Conflict(f"{ref} changed while being marked; try again")
            await self._audit(conn, "status", actor=actor, reference=ref, old=row.status, new=status,
                              reason=reason, now=now, note=note)
        log.info("incident.marked", reference=ref, old=row.status, new=status)
        if claim and "deadline_at" in values:
            self._after_commit("alert", ref, lambda listener: listener.potential_breach(ref))
        record = await self.get_incident(ref)
        assert record is not None
        return record

    async def references_marked(self, status: str, *, since: datetime) -> set[str]:
        """Incidents a person ever marked ``status`` (a false positive stays one after it is closed)."""
        async with self.engine.connect() as conn:
            refs = (await conn.execute(
                sa.select(audit.c.reference).distinct()
                .where(audit.c.event == "status", audit.c.new_status == status, audit.c.at >= since)
            )).scalars().all()
        return {r for r in refs if r}

    # ---------------------------------------------------------------- alert bookkeeping

    @staticmethod
    def _alert_pending(cutoff: datetime) -> sa.ColumnElement[bool]:
        """A potential breach not yet alerted, whose last attempt (if any) is older than ``cutoff``."""
        return sa.and_(
            incidents.c.status == "potential_breach",
            incidents.c.alerted_at.is_(None),
            sa.or_(incidents.c.alert_attempt_at.is_(None), incidents.c.alert_attempt_at < cutoff),
        )

    async def alerts_due(self, *, retry_after: timedelta, limit: int = 50) -> list[str]:
        """Potential breaches whose alert never went out (the upstream was down, or the node died after the
        commit), oldest first; an attempt younger than ``retry_after`` may still be in flight, so it waits."""
        cutoff = self.clock() - retry_after
        async with self.engine.connect() as conn:
            refs = (
                await conn.execute(
                    sa.select(incidents.c.reference)
                    .where(self._alert_pending(cutoff))
                    .order_by(incidents.c.id)
                    .limit(limit)
                )
            ).scalars().all()
        return list(refs)

    async def claim_alert(self, ref: str, *, retry_after: timedelta) -> bool:
        """Take one due alert: True for exactly one caller across nodes, until ``retry_after`` has passed."""
        now = self.clock()
        async with self._write() as conn:
            res = await conn.execute(
                sa.update(incidents)
                .where(incidents.c.reference == ref, self._alert_pending(now - retry_after))
                .values(alert_attempt_at=now)
            )
        return bool(res.rowcount == 1)

    async def mark_alerted(self, ref: str) -> None:
        async with self._write() as conn:
            await conn.execute(
                sa.update(incidents).where(incidents.c.reference == ref).values(alerted_at=self.clock())
            )
