"""The digest's once-a-day bookkeeping: which day went out (``digests_sent``), and the PostgreSQL advisory lock
that keeps two nodes from building the same digest at once. Building and sending it is ``gateway.notify``'s."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gateway.store import migrate
from gateway.store.base import StoreBase
from gateway.store.schema import digests_sent

DIGEST_CLAIM_STALE = timedelta(minutes=15)


class DigestBook(StoreBase):
    """``Store``'s digest bookkeeping part (see the module docstring)."""

    async def digest_state(self, day: date) -> str | None:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(sa.select(digests_sent.c.state).where(digests_sent.c.day == day.isoformat()))
            ).scalar_one_or_none()

    async def claim_digest(self, day: date, *, force: bool = False) -> bool:
        """Take the day: True for exactly one caller across nodes and restarts. A claim older than
        ``DIGEST_CLAIM_STALE`` that never became ``sent`` (the node died mid-send) can be taken over."""
        now = self.clock()
        key = day.isoformat()
        try:
            async with self._write() as conn:
                row = (await conn.execute(sa.select(digests_sent).where(digests_sent.c.day == key))).first()
                if row is None:
                    await conn.execute(
                        sa.insert(digests_sent).values(day=key, state="sending", node=self.node, claimed_at=now)
                    )
                    return True
                stale = row.state == "sending" and row.claimed_at < now - DIGEST_CLAIM_STALE
                if not (force or stale):
                    return False
                res = await conn.execute(
                    sa.update(digests_sent)
                    .where(
                        digests_sent.c.day == key,
                        digests_sent.c.state == row.state,
                        digests_sent.c.claimed_at == row.claimed_at,
                    )
                    .values(state="sending", node=self.node, claimed_at=now, sent_at=None)
                )
                return bool(res.rowcount == 1)
        except IntegrityError:
            return False

    async def finish_digest(self, day: date, *, to: str, message_id: str) -> None:
        async with self._write() as conn:
            await conn.execute(
                sa.update(digests_sent)
                .where(digests_sent.c.day == day.isoformat(), digests_sent.c.node == self.node)
                .values(state="sent", sent_at=self.clock(), to_address=to, message_id=message_id[:255])
            )
            await self._audit(conn, "digest_sent", actor="digest", detail={"day": day.isoformat()})

    async def abandon_digest(self, day: date) -> None:
        """The send failed: free the day so the next attempt (this node or another) sends it."""
        async with self._write() as conn:
            await conn.execute(
                sa.delete(digests_sent).where(
                    digests_sent.c.day == day.isoformat(),
                    digests_sent.c.node == self.node,
                    digests_sent.c.state == "sending",
                )
            )

    @contextlib.asynccontextmanager
    async def digest_lock(self) -> AsyncIterator[bool]:
        """PostgreSQL: a session advisory lock on a dedicated connection, so only one node builds and sends at
        a time (the ``digests_sent`` row then says whether the day is done). SQLite has one node: always yes."""
        if self.backend != "postgresql":
            yield True
            return
        async with self.engine.connect() as conn:
            got = bool(
                (await conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": migrate.DIGEST_LOCK_KEY}))
                .scalar_one()
            )
            await conn.commit()
            try:
                yield got
            finally:
                if got:
                    await conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": migrate.DIGEST_LOCK_KEY})
                    await conn.commit()
