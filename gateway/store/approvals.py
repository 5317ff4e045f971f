"""Four eyes (issue 14): a release that needs a second person is first a request, decided by someone else.

``decide_approval`` is a conditional UPDATE (``state = 'pending' AND requested_by <> approver``): the requester
can never approve their own request, and two approvers clicking at once give one decision.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gateway.oneline import one_line
from gateway.store.base import StoreBase
from gateway.store.errors import Conflict, NotFound
from gateway.store.schema import approvals as ap
from gateway.store.schema import quarantine as qtab

KINDS = ("release", "release_as_is")


@dataclass(frozen=True)
class ApprovalRecord:
    id: int
    reference: str
    kind: str
    state: str
    requested_by: str
    requested_at: datetime
    reason: str
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    detail: dict[str, Any] | None = None
    """A release to chosen recipients: ``{"recipients": [...], "rest": "hold" | "reject"}`` (revision 0006)."""

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> ApprovalRecord:
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})


class ApprovalBook(StoreBase):
    """``Store``'s approvals part (see the module docstring)."""

    async def request_approval(
        self, ref: str, kind: str, *, actor: str, reason: str, client: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> int:
        """A pending request for someone else to approve; ``detail`` keeps a release's chosen recipients so the
        approver sees, and releases, exactly what was asked."""
        if kind not in KINDS:
            raise ValueError(f"unknown approval kind {kind!r}")
        now = self.clock()
        async with self._write() as conn:
            state = (await conn.execute(sa.select(qtab.c.state).where(qtab.c.reference == ref))).scalar_one_or_none()
            if state is None:
                raise NotFound(f"{ref}: no quarantined message with that reference")
            if state != "held":
                raise Conflict(f"{ref} is {state}: only a held message can be released")
            pending = (await conn.execute(sa.select(ap.c.id).where(
                ap.c.reference == ref, ap.c.state == "pending"))).first()
            if pending:
                raise Conflict(f"{ref}: a release is already waiting for approval")
            res = await conn.execute(sa.insert(ap).values(
                reference=ref, kind=kind, state="pending", requested_by=one_line(actor, 255), requested_at=now,
                reason=reason, detail=detail,
            ))
            approval_id = int(res.inserted_primary_key[0]) if res.inserted_primary_key else 0
            await self._audit(conn, "approval_requested", actor=actor, reference=ref, reason=reason,
                              detail={"approval": approval_id, "kind": kind} | (detail or {}), now=now,
                              source=client)
        return approval_id

    async def decide_approval(
        self, approval_id: int, *, approver: str, approve: bool, reason: str, client: str | None = None
    ) -> ApprovalRecord:
        """``approved`` or ``denied`` by someone other than the requester; ``Conflict`` otherwise."""
        now = self.clock()
        state = "approved" if approve else "denied"
        async with self._write() as conn:
            res = await conn.execute(
                sa.update(ap)
                .where(ap.c.id == approval_id, ap.c.state == "pending", ap.c.requested_by != approver)
                .values(state=state, decided_by=one_line(approver, 255), decided_at=now, decision_reason=reason)
            )
            row = (await conn.execute(sa.select(ap).where(ap.c.id == approval_id))).mappings().first()
            if row is None:
                raise NotFound(f"no approval request {approval_id}")
            if res.rowcount != 1:
                if row["requested_by"] == approver and row["state"] == "pending":
                    raise Conflict("you asked for this release: another person must approve it (four eyes)")
                raise Conflict(f"this request is {row['state']} already")
            await self._audit(conn, "approval_" + state, actor=approver, reference=row["reference"],
                              reason=reason, detail={"approval": approval_id, "requested_by": row["requested_by"]},
                              now=now, source=client)
        return ApprovalRecord.from_row(row)

    async def approvals_for(self, ref: str) -> list[ApprovalRecord]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(ap).where(ap.c.reference == ref).order_by(ap.c.id))).mappings().all()
        return [ApprovalRecord.from_row(r) for r in rows]

    async def pending_approvals(self, limit: int = 200) -> list[ApprovalRecord]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(
                sa.select(ap).where(ap.c.state == "pending").order_by(ap.c.id).limit(limit))).mappings().all()
        return [ApprovalRecord.from_row(r) for r in rows]
