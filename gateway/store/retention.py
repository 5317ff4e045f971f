"""Retention: message bytes go after ``store.retention_days``; the incident, the quarantine row and the audit
trail stay (who, when, what kind), so the evidence of what happened outlives the content.

The bytes are the message's chunk rows (``quarantine_chunks``) or, for a message held before revision 0008, its
``raw`` column: both go, ``PURGE_BATCH`` messages per transaction, so a purge of many large messages never holds
SQLite's write lock (which the SMTP path's quarantine writes wait on) for the whole run."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
import structlog

from gateway.store.base import StoreBase
from gateway.store.chunks import purge_chunks
from gateway.store.schema import quarantine as qtab

log = structlog.get_logger(__name__)

PURGE_BATCH = 100
"""Messages purged per write transaction."""


class Retention(StoreBase):
    """``Store``'s retention part (see the module docstring)."""

    async def purge_expired(
        self,
        *,
        older_than_days: int | None = None,
        actor: str = "retention",
        dry_run: bool = False,
        note: str | None = None,
    ) -> list[str]:
        """Drop message bytes older than ``store.retention_days`` (a still-held message becomes ``expired``).
        One being released right now is left alone: its bytes may be on the wire."""
        days = older_than_days if older_than_days is not None else self.cfg.gateway.store.retention_days
        now = self.clock()
        cutoff = now - timedelta(days=days)
        where = sa.and_(
            qtab.c.stored_at < cutoff, qtab.c.purged_at.is_(None), qtab.c.state != "releasing"
        )
        async with self.engine.connect() as conn:
            found = (await conn.execute(sa.select(qtab.c.id, qtab.c.reference).where(where)
                                        .order_by(qtab.c.id))).all()
        if dry_run:
            return [r.reference for r in found]
        refs: list[str] = []
        for at in range(0, len(found), PURGE_BATCH):
            ids = [r.id for r in found[at:at + PURGE_BATCH]]
            async with self._write() as conn:
                # Conditional again: a message claimed for release since the look-up is left alone.
                done = (
                    await conn.execute(
                        sa.update(qtab)
                        .where(where, qtab.c.id.in_(ids))
                        .values(
                            raw=None,
                            purged_at=now,
                            state=sa.case((qtab.c.state == "held", "expired"), else_=qtab.c.state),
                            state_changed_at=now,
                        )
                        .returning(qtab.c.id, qtab.c.reference)
                    )
                ).all()
                if done:
                    await conn.execute(purge_chunks([r.id for r in done]))
                for r in done:
                    await self._audit(conn, "purge", actor=actor, reference=r.reference,
                                      detail={"retention_days": days}, now=now, note=note)
            refs.extend(r.reference for r in done)
        if refs:
            log.info("quarantine.purged", count=len(refs), retention_days=days)
        return refs
