"""Senders' release requests (issue 15): one per held message, made through the signed link in the notice; the
reviewers see it beside the message, and the sender is told the outcome once."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gateway.oneline import one_line
from gateway.store.base import StoreBase
from gateway.store.errors import Conflict, NotFound
from gateway.store.schema import quarantine as qtab
from gateway.store.schema import release_requests as rr


@dataclass(frozen=True)
class ReleaseRequest:
    id: int
    reference: str
    requested_at: datetime
    justification: str
    source: str | None
    state: str
    decided_at: datetime | None
    told_at: datetime | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> ReleaseRequest:
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})


class ReleaseRequestBook(StoreBase):
    """``Store``'s release-request part (see the module docstring)."""

    async def request_release(self, ref: str, *, justification: str, source: str | None = None) -> int:
        """Conflict when the message is not held or a request already exists (the link is single use)."""
        now = self.clock()
        try:
            async with self._write() as conn:
                row = (await conn.execute(sa.select(qtab.c.state, qtab.c.mail_from)
                                          .where(qtab.c.reference == ref))).first()
                if row is None:
                    raise NotFound(f"{ref}: no held message")
                if row.state != "held":
                    raise Conflict("this message is no longer held")
                new_id = (await conn.execute(sa.insert(rr).values(
                    reference=ref, requested_at=now, justification=justification, source=source,
                    state="pending").returning(rr.c.id))).scalar_one()
                await self._audit(conn, "release_requested", actor=one_line(row.mail_from or "<>", 255),
                                  reference=ref, reason=justification, now=now, source=source,
                                  detail={"by": "sender"})
        except IntegrityError as exc:
            raise Conflict("a release has already been requested for this message") from exc
        return int(new_id)

    async def get_release_request(self, ref: str) -> ReleaseRequest | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(rr).where(rr.c.reference == ref))).mappings().first()
        return ReleaseRequest.from_row(row) if row else None

    async def pending_release_requests(self, limit: int = 200) -> list[ReleaseRequest]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(rr).where(rr.c.state == "pending").order_by(rr.c.id)
                                       .limit(limit))).mappings().all()
        return [ReleaseRequest.from_row(r) for r in rows]

    async def settle_release_request(self, ref: str, outcome: str) -> bool:
        """Record the outcome of a pending request; True for the one caller that should tell the sender."""
        now = self.clock()
        async with self._write() as conn:
            res = await conn.execute(sa.update(rr).where(rr.c.reference == ref, rr.c.state == "pending")
                                     .values(state=outcome, decided_at=now))
        return bool(res.rowcount == 1)

    async def mark_sender_told(self, ref: str) -> None:
        async with self._write() as conn:
            await conn.execute(sa.update(rr).where(rr.c.reference == ref).values(told_at=self.clock()))
