"""Policy exceptions (issue 15): requested by a reviewer, approved by an approver who did not ask for it, applied
until they expire, and every message they let through recorded against them.

``decide_exception`` is a conditional UPDATE (``state = 'pending' AND requested_by <> approver``), like four-eyes
approvals: the requester can never approve their own. ``active_exemptions`` is what the gateway process loads
(approved, unexpired, as ``gateway.policy.exemptions.Exemption`` values for the engine).

``revoke_exception`` ends one early (an admin's decision, audited). So that it stops applying at once in this
process (``dlpgate serve`` runs the console beside the relay), every decision bumps ``exemptions_version``, which
the gateway's ``ExemptionCache`` compares before trusting its copy; other nodes re-read within its TTL.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gateway.oneline import one_line
from gateway.policy.exemptions import Exemption
from gateway.store.base import StoreBase
from gateway.store.errors import Conflict, NotFound
from gateway.store.schema import exception_uses as uses
from gateway.store.schema import policy_exceptions as px


@dataclass(frozen=True)
class ExceptionRecord:
    id: int
    sender: str
    recipient: str
    rules: list[str]
    reason: str
    expires_at: datetime
    state: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    uses: int
    last_used_at: datetime | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> ExceptionRecord:
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})

    def in_force(self, now: datetime) -> bool:
        return self.state == "approved" and self.expires_at > now

    def as_exemption(self) -> Exemption:
        return Exemption(self.id, self.sender, self.recipient, frozenset(self.rules), self.expires_at)


class ExemptionBook(StoreBase):
    """``Store``'s exceptions part (see the module docstring)."""

    async def request_exception(
        self, *, sender: str, recipient: str, rules: Sequence[str], reason: str, expires_at: datetime, actor: str
    ) -> int:
        """Validation of what may be asked (exemptable rules, the longest expiry) is the console's, which knows
        the policy; the store keeps what it is given and audits it."""
        now = self.clock()
        if expires_at <= now:
            raise Conflict("the expiry must be in the future")
        values = {
            "sender": one_line(sender, 512), "recipient": one_line(recipient, 512), "rules": sorted(set(rules)),
            "reason": reason, "expires_at": expires_at, "state": "pending", "requested_by": one_line(actor, 255),
            "requested_at": now, "uses": 0,
        }
        async with self._write() as conn:
            new_id = (await conn.execute(sa.insert(px).values(**values).returning(px.c.id))).scalar_one()
            await self._audit(conn, "exception_requested", actor=actor, reason=reason, now=now,
                              detail={"exception": int(new_id), "sender": values["sender"],
                                      "recipient": values["recipient"], "rules": values["rules"],
                                      "expires_at": expires_at.isoformat()})
        return int(new_id)

    async def decide_exception(
        self, exception_id: int, *, approver: str, approve: bool, reason: str
    ) -> ExceptionRecord:
        now = self.clock()
        state = "approved" if approve else "denied"
        async with self._write() as conn:
            row = (await conn.execute(sa.select(px).where(px.c.id == exception_id))).mappings().first()
            if row is None:
                raise NotFound(f"exception {exception_id}: no such exception")
            if row["requested_by"] == approver:
                raise Conflict("four eyes: the person who asked for an exception cannot decide it")
            res = await conn.execute(
                sa.update(px)
                .where(px.c.id == exception_id, px.c.state == "pending", px.c.requested_by != approver)
                .values(state=state, decided_by=one_line(approver, 255), decided_at=now, decision_reason=reason)
            )
            if res.rowcount != 1:
                raise Conflict(f"exception {exception_id} is {row['state']}: only a pending one can be decided")
            await self._audit(conn, f"exception_{state}", actor=approver, reason=reason, now=now,
                              detail={"exception": exception_id})
        self._exemptions_changed()
        record = await self.get_exception(exception_id)
        assert record is not None
        return record

    @property
    def exemptions_version(self) -> int:
        """Bumped by every decision on an exception in this process (see the module docstring)."""
        return int(getattr(self, "_exemptions_version", 0))

    def _exemptions_changed(self) -> None:
        self._exemptions_version = self.exemptions_version + 1

    async def revoke_exception(self, exception_id: int, *, actor: str, reason: str) -> ExceptionRecord:
        """End an approved (or still pending) exception now; ``Conflict`` when it is no longer in force."""
        now = self.clock()
        async with self._write() as conn:
            row = (await conn.execute(sa.select(px).where(px.c.id == exception_id))).mappings().first()
            if row is None:
                raise NotFound(f"exception {exception_id}: no such exception")
            res = await conn.execute(
                sa.update(px)
                .where(px.c.id == exception_id,
                       sa.or_(px.c.state == "pending", sa.and_(px.c.state == "approved", px.c.expires_at > now)))
                .values(state="revoked", decided_by=one_line(actor, 255), decided_at=now, decision_reason=reason)
            )
            if res.rowcount != 1:
                state = "expired" if row["state"] == "approved" else row["state"]
                raise Conflict(f"exception {exception_id} is {state}: only one in force or pending can be revoked")
            await self._audit(conn, "exception_revoked", actor=actor, reason=reason, now=now, old=row["state"],
                              new="revoked", detail={"exception": exception_id, "uses": int(row["uses"])})
        self._exemptions_changed()
        record = await self.get_exception(exception_id)
        assert record is not None
        return record

    async def get_exception(self, exception_id: int) -> ExceptionRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(px).where(px.c.id == exception_id))).mappings().first()
        return ExceptionRecord.from_row(row) if row else None

    async def list_exceptions(self, *, limit: int = 200) -> list[ExceptionRecord]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(px).order_by(px.c.id.desc()).limit(limit))).mappings().all()
        return [ExceptionRecord.from_row(r) for r in rows]

    async def active_exemptions(self) -> tuple[Exemption, ...]:
        """Approved and not yet expired, as the engine takes them."""
        now = self.clock()
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(sa.select(px).where(px.c.state == "approved", px.c.expires_at > now))
            ).mappings().all()
        return tuple(ExceptionRecord.from_row(r).as_exemption() for r in rows)

    async def record_exception_use(self, exception_ids: Sequence[int], *, txn_id: str, rules: Sequence[str]) -> None:
        """A message one or more exceptions let through: counted on each and kept as a row (no addresses)."""
        now = self.clock()
        async with self._write() as conn:
            for exception_id in exception_ids:
                await conn.execute(sa.insert(uses).values(exception_id=exception_id, at=now,
                                                          txn_id=one_line(txn_id, 64), rules=sorted(set(rules))))
                await conn.execute(sa.update(px).where(px.c.id == exception_id)
                                   .values(uses=px.c.uses + 1, last_used_at=now))

    async def exception_uses_since(self, since: datetime, until: datetime | None = None) -> dict[int, int]:
        """Uses per exception in ``[since, until)``: the digest for a past day must count that day only."""
        where = [uses.c.at >= since] + ([uses.c.at < until] if until is not None else [])
        async with self.engine.connect() as conn:
            rows = (await conn.execute(
                sa.select(uses.c.exception_id, sa.func.count()).where(*where)
                .group_by(uses.c.exception_id))).all()
        return {int(r[0]): int(r[1]) for r in rows}
