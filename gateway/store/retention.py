"""Retention: message bytes go after ``store.retention_days``; the incident, the quarantine row and the audit
trail stay (who, when, what kind), so the evidence of what happened outlives the content."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
import structlog

from gateway.store.base import StoreBase
from gateway.store.schema import quarantine as qtab

log = structlog.get_logger(__name__)


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
            qtab.c.stored_at < cutoff, qtab.c.raw.is_not(None), qtab.c.state != "releasing"
        )
        if dry_run:
            async with self.engine.connect() as conn:
                return list((await conn.execute(sa.select(qtab.c.reference).where(where))).scalars())
        async with self._write() as conn:
            refs = list(
                (
                    await conn.execute(
                        sa.update(qtab)
                        .where(where)
                        .values(
                            raw=None,
                            purged_at=now,
                            state=sa.case((qtab.c.state == "held", "expired"), else_=qtab.c.state),
                            state_changed_at=now,
                        )
                        .returning(qtab.c.reference)
                    )
                ).scalars()
            )
            for ref in refs:
                await self._audit(conn, "purge", actor=actor, reference=ref,
                                  detail={"retention_days": days}, now=now, note=note)
        if refs:
            log.info("quarantine.purged", count=len(refs), retention_days=days)
        return refs
