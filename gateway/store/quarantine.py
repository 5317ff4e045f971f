"""Quarantined messages: the write the SMTP 250 waits for, the governance team's reads, and the states of a
release (the sending itself is ``gateway.notify.release``).

Durability is the point. ``quarantine()`` returns only after the incident row and the message bytes are
committed in one transaction, which is what lets the SMTP layer answer 250 and lets a crash right after that
lose nothing. Every state change is a conditional UPDATE (``... WHERE state = 'held'``) whose row count says
who won, so two officers, or two gateway nodes, can never release the same message twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.oneline import one_line
from gateway.store.base import StoreBase
from gateway.store.errors import Conflict, NotFound, StoreError
from gateway.store.records import IncidentRecord, QuarantineRecord, incident_values
from gateway.store.schema import incidents
from gateway.store.schema import quarantine as qtab

if TYPE_CHECKING:
    from gateway.facts import ScanResult
    from gateway.policy.model import Decision
    from gateway.submission import Submission

log = structlog.get_logger(__name__)

_QCOLS = (
    qtab.c.reference,
    qtab.c.stored_at,
    qtab.c.state,
    qtab.c.state_changed_at,
    qtab.c.state_by,
    qtab.c.mail_from,
    qtab.c.rcpt_tos,
    qtab.c.size,
    qtab.c.sha256,
    qtab.c.encryption,
    qtab.c.release_reply,
    qtab.c.purged_at,
    qtab.c.route,
    qtab.c.release_plan,
    qtab.c.incident_id,
)


@dataclass(frozen=True)
class ReleaseClaim:
    """A message this caller alone may now send (its state is ``releasing``): the original envelope and the
    stored bytes, decrypted and checked against their checksum. Hand it back to ``finish_release``,
    ``unclaim_release`` or ``release_uncertain``. ``note`` (``--by``) and ``detail`` (route, what was applied)
    go into each audit line of the release."""

    reference: str
    token: str
    actor: str
    reason: str
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes = field(default=b"", repr=False)
    note: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def _verify(ref: str, raw: bytes, sha: str) -> None:
    if hashlib.sha256(raw).hexdigest() != sha:
        raise StoreError(f"{ref}: stored message does not match its checksum; not using it")


class QuarantineBook(StoreBase):
    """``Store``'s quarantine part (see the module docstring)."""

    # ---------------------------------------------------------------- the SMTP path

    async def quarantine(
        self,
        sub: Submission,
        scan: ScanResult,
        decision: Decision,
        *,
        route: dict[str, Any] | None = None,
        release_plan: dict[str, Any] | None = None,
    ) -> str:
        """Incident (``new``) and message bytes in ONE transaction, committed before this returns, with the
        ``route`` the gateway delivers through and the ``release_plan`` (see ``schema.quarantine``)."""
        now = self.clock()
        sha, (blob, scheme) = await asyncio.to_thread(self._seal, sub.raw)
        async with self._write() as conn:
            ref = await self._next_reference(conn, now)
            values = incident_values(
                sub, scan, decision, reference=ref, node=self.node, now=now,
                delivered=False, quarantined=True, upstream_reply=None,
            )
            res = await conn.execute(sa.insert(incidents).values(**values))
            incident_id = res.inserted_primary_key[0] if res.inserted_primary_key else None
            await conn.execute(
                sa.insert(qtab).values(
                    incident_id=incident_id,
                    reference=ref,
                    stored_at=now,
                    mail_from=one_line(sub.mail_from),
                    rcpt_tos=list(sub.rcpt_tos),
                    raw=blob,
                    encryption=scheme,
                    sha256=sha,
                    size=len(sub.raw),
                    state="held",
                    state_changed_at=now,
                    route=route,
                    release_plan=release_plan,
                )
            )
        log.info("quarantine.stored", reference=ref, size=len(sub.raw), action=decision.action.label)
        self._after_commit("incident_event", ref, lambda listener: listener.incident_recorded(ref, values))
        self._after_commit("notice", ref, lambda listener: listener.quarantined(ref, sub, scan, decision))
        return ref

    def _seal(self, raw: bytes) -> tuple[str, tuple[bytes, str]]:
        return hashlib.sha256(raw).hexdigest(), self.cipher.seal(raw)

    # ---------------------------------------------------------------- reading

    async def _quarantine_records(self, where: Any, limit: int | None = None) -> list[QuarantineRecord]:
        q = sa.select(*_QCOLS).where(where).order_by(qtab.c.id.desc())
        if limit is not None:
            q = q.limit(limit)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(q)).mappings().all()
            ids = [r["incident_id"] for r in rows]
            inc_rows = (
                (await conn.execute(sa.select(incidents).where(incidents.c.id.in_(ids)))).mappings().all()
                if ids
                else []
            )
        by_id = {r["id"]: IncidentRecord.from_row(r) for r in inc_rows}
        out = []
        for r in rows:
            fields = {k: r[k] for k in r.keys() if k != "incident_id"}
            out.append(QuarantineRecord(**fields, incident=by_id[r["incident_id"]]))
        return out

    async def get_quarantined(self, ref: str) -> QuarantineRecord | None:
        found = await self._quarantine_records(qtab.c.reference == ref)
        return found[0] if found else None

    async def list_quarantine(
        self, *, states: Sequence[str] | None = ("held", "releasing"), limit: int | None = None
    ) -> list[QuarantineRecord]:
        where = qtab.c.state.in_(list(states)) if states else sa.true()
        return await self._quarantine_records(where, limit)

    async def reveal_message(self, ref: str, *, actor: str, reason: str, note: str | None = None) -> bytes:
        """The stored message, decrypted. The access is recorded (same transaction) before the bytes leave."""
        async with self._write() as conn:
            row = (
                await conn.execute(
                    sa.select(qtab.c.raw, qtab.c.encryption, qtab.c.sha256).where(
                        qtab.c.reference == ref
                    )
                )
            ).first()
            if row is None:
                raise NotFound(f"{ref}: no quarantined message with that reference")
            if row.raw is None:
                raise Conflict(f"{ref}: the message was purged")
            await self._audit(conn, "reveal", actor=actor, reference=ref, reason=reason, note=note)
        raw = self.cipher.open(row.raw, row.encryption)
        _verify(ref, raw, row.sha256)
        return raw

    # ---------------------------------------------------------------- decisions

    async def _state_of(self, conn: AsyncConnection, ref: str) -> str:
        row = (
            await conn.execute(
                sa.select(qtab.c.state, qtab.c.purged_at).where(qtab.c.reference == ref)
            )
        ).first()
        if row is None:
            raise NotFound(f"{ref}: no quarantined message with that reference")
        return "purged" if row.purged_at is not None and row.state == "held" else str(row.state)

    async def reject(self, ref: str, *, actor: str, reason: str, note: str | None = None) -> None:
        """Decide not to send. The bytes stay until retention (evidence), but can no longer be released."""
        now = self.clock()
        async with self._write() as conn:
            res = await conn.execute(
                sa.update(qtab)
                .where(qtab.c.reference == ref, qtab.c.state == "held")
                .values(state="rejected", state_changed_at=now, state_by=one_line(actor, 255))
            )
            if res.rowcount != 1:
                state = await self._state_of(conn, ref)
                raise Conflict(f"{ref} is {state}: only a held message can be rejected")
            await self._audit(conn, "reject", actor=actor, reference=ref, old="held", new="rejected",
                              reason=reason, now=now, note=note)
        log.info("quarantine.rejected", reference=ref)

    # ---------------------------------------------------------------- release states (held → releasing → released)

    async def claim_release(
        self,
        ref: str,
        *,
        actor: str,
        reason: str,
        force: bool = False,
        note: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> ReleaseClaim:
        """The conditional claim (held → releasing) has exactly one winner; the others get ``Conflict``.
        ``force`` re-claims a message stuck in ``releasing``. A message that cannot be read is returned to
        ``held`` (and the ``StoreError`` raised) before anything is sent. ``detail`` (the route, the actions
        applied or skipped) is recorded with every audit line of this release."""
        now = self.clock()
        token = uuid.uuid4().hex
        from_states = ["held", "releasing"] if force else ["held"]
        async with self._write() as conn:
            res = await conn.execute(
                sa.update(qtab)
                .where(
                    qtab.c.reference == ref,
                    qtab.c.state.in_(from_states),
                    qtab.c.raw.is_not(None),
                )
                .values(state="releasing", claim=token, state_changed_at=now, state_by=one_line(actor, 255))
            )
            if res.rowcount != 1:
                state = await self._state_of(conn, ref)
                hint = " (it may have gone out: check, then use --force)" if state == "releasing" else ""
                raise Conflict(f"{ref} is {state}: cannot release{hint}")
            row = (
                await conn.execute(
                    sa.select(
                        qtab.c.raw, qtab.c.encryption, qtab.c.sha256,
                        qtab.c.mail_from, qtab.c.rcpt_tos,
                    ).where(qtab.c.reference == ref)
                )
            ).one()
            extra = dict(detail or {}) | ({"force": True} if force else {})
            await self._audit(conn, "release_started", actor=actor, reference=ref, reason=reason, now=now,
                              detail=extra or None, note=note)
        claim = ReleaseClaim(ref, token, actor, reason, row.mail_from, list(row.rcpt_tos), note=note,
                             detail=dict(detail or {}))
        try:
            raw = self.cipher.open(row.raw, row.encryption)
            _verify(ref, raw, row.sha256)
        except StoreError:
            await self.unclaim_release(claim, {"error": "cannot read stored message"})
            raise
        return replace(claim, raw=raw)

    async def unclaim_release(self, claim: ReleaseClaim, detail: dict[str, Any]) -> None:
        """Certainly not delivered (refused, or unreachable before DATA): back to ``held``, safe to retry."""
        async with self._write() as conn:
            await conn.execute(
                sa.update(qtab)
                .where(qtab.c.reference == claim.reference, qtab.c.claim == claim.token)
                .values(state="held", claim=None, state_changed_at=self.clock())
            )
            await self._audit(conn, "release_failed", actor=claim.actor, reference=claim.reference,
                              detail=claim.detail | detail, note=claim.note)
        log.warning("quarantine.release_failed", reference=claim.reference)

    async def release_uncertain(self, claim: ReleaseClaim, detail: str) -> None:
        """Perhaps delivered (the connection failed during DATA): it stays ``releasing`` so nobody sends it
        again by accident; the trail says why."""
        async with self._write() as conn:
            await self._audit(conn, "release_uncertain", actor=claim.actor, reference=claim.reference,
                              detail=claim.detail | {"error": detail}, note=claim.note)
        log.error("quarantine.release_uncertain", reference=claim.reference)

    async def finish_release(self, claim: ReleaseClaim, *, reply: str, reply_code: int) -> None:
        """The upstream accepted it: the message is ``released``; its incident is marked delivered and keeps its
        triage status (issue 15: a release is not a judgement on whether it was a breach)."""
        ref = claim.reference
        done = self.clock()
        async with self._write() as conn:
            await conn.execute(
                sa.update(qtab)
                .where(qtab.c.reference == ref, qtab.c.claim == claim.token)
                .values(state="released", state_changed_at=done, release_reply=one_line(reply))
            )
            old = (
                await conn.execute(sa.select(incidents.c.status).where(incidents.c.reference == ref))
            ).scalar_one()
            await conn.execute(
                sa.update(incidents)
                .where(incidents.c.reference == ref)
                .values(delivered=True, upstream_reply=reply[:512])
            )
            await self._audit(conn, "release", actor=claim.actor, reference=ref, old=old, new="released",
                              reason=claim.reason, detail=claim.detail | {"reply_code": reply_code}, now=done,
                              note=claim.note)
        log.info("quarantine.released", reference=ref, reply_code=reply_code)
