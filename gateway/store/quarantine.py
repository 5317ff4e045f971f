"""Quarantined messages: the write the SMTP 250 waits for, the governance team's reads, and the states of a
release (the sending itself is ``gateway.notify.release``).

Durability is the point. ``quarantine()`` returns only after the incident row and the message bytes are
committed in one transaction, which is what lets the SMTP layer answer 250 and lets a crash right after that
lose nothing. Every state change is a conditional UPDATE (``... WHERE state = 'held'``) whose row count says
who won, so two officers, or two gateway nodes, can never release the same message twice.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.oneline import one_line
from gateway.store.base import StoreBase
from gateway.store.chunks import pieces, read_message, split, write_chunks
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
    qtab.c.released_to,
    qtab.c.rejected_to,
    qtab.c.incident_id,
)

_BYTES = (qtab.c.id, qtab.c.raw, qtab.c.encryption, qtab.c.sha256, qtab.c.size, qtab.c.purged_at)
"""What ``chunks.read_message`` needs of a row (``raw``: the stored form of a message held before 0008)."""


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
    rest: str | None = None
    """A release to chosen recipients: what happens to the others, ``hold`` or ``reject`` (None: all of them)."""


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
        ``route`` the gateway delivers through and the ``release_plan`` (see ``schema.quarantine``). The bytes
        go in as chunk rows, sealed one piece at a time (``gateway.store.chunks``), from memory or from the
        spool file: a large message is never bound to the driver whole (issue 13: bounded memory)."""
        now = self.clock()
        source = sub.source
        # In memory: the checksum goes in with the row; from the spool it is known once every piece was read.
        known = hashlib.sha256(sub.raw).hexdigest() if source is None else ""
        async with self._write() as conn:
            ref = await self._next_reference(conn, now)
            values = incident_values(
                sub, scan, decision, reference=ref, node=self.node, now=now,
                delivered=False, quarantined=True, upstream_reply=None,
            )
            res = await conn.execute(sa.insert(incidents).values(**values))
            incident_id = res.inserted_primary_key[0] if res.inserted_primary_key else None
            held = await conn.execute(
                sa.insert(qtab).values(
                    incident_id=incident_id,
                    reference=ref,
                    stored_at=now,
                    mail_from=one_line(sub.mail_from),
                    rcpt_tos=list(sub.rcpt_tos),
                    raw=None,
                    encryption=self.cipher.scheme,
                    sha256=known,
                    size=sub.size,
                    state="held",
                    state_changed_at=now,
                    route=route,
                    release_plan=release_plan,
                )
            )
            assert held.inserted_primary_key is not None
            qid = int(held.inserted_primary_key[0])
            blocks = (split(sub.raw) if source is None
                      else pieces(itertools.chain((source.head,), source.body_blocks())))
            sha = await write_chunks(conn, qid, self.cipher, blocks, sub.size)
            if sha != known:
                await conn.execute(sa.update(qtab).where(qtab.c.id == qid).values(sha256=sha))
        log.info("quarantine.stored", reference=ref, size=sub.size, action=decision.action.label)
        self._after_commit("incident_event", ref, lambda listener: listener.incident_recorded(ref, values))
        self._after_commit("notice", ref, lambda listener: listener.quarantined(ref, sub, scan, decision))
        return ref

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
            row = (await conn.execute(sa.select(*_BYTES).where(qtab.c.reference == ref))).first()
            if row is None:
                raise NotFound(f"{ref}: no quarantined message with that reference")
            if row.purged_at is not None:
                raise Conflict(f"{ref}: the message was purged")
            await self._audit(conn, "reveal", actor=actor, reference=ref, reason=reason, note=note)
            # Read in the same transaction: retention cannot take the chunks between the check and the read.
            return await read_message(conn, self.cipher, ref, row)

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
        recipients: Sequence[str] | None = None,
        rest: str = "hold",
    ) -> ReleaseClaim:
        """The conditional claim (held → releasing) has exactly one winner; the others get ``Conflict``.
        ``force`` re-claims a message stuck in ``releasing``. A message that cannot be read is returned to
        ``held`` (and the ``StoreError`` raised) before anything is sent. ``detail`` (the route, the actions
        applied or skipped) is recorded with every audit line of this release. ``recipients`` (a release to
        chosen recipients) must be among those not yet released or refused, and the others are then kept held or
        refused (``rest``); without it the release goes to every recipient not yet decided."""
        if rest not in ("hold", "reject"):
            raise ValueError(f"rest must be 'hold' or 'reject', not {rest!r}")
        now = self.clock()
        token = uuid.uuid4().hex
        from_states = ["held", "releasing"] if force else ["held"]
        async with self._write() as conn:
            res = await conn.execute(
                sa.update(qtab)
                .where(
                    qtab.c.reference == ref,
                    qtab.c.state.in_(from_states),
                    qtab.c.purged_at.is_(None),
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
                        *_BYTES, qtab.c.mail_from, qtab.c.rcpt_tos, qtab.c.released_to, qtab.c.rejected_to,
                    ).where(qtab.c.reference == ref)
                )
            ).one()
            # Read after the claim: nobody else can change who is still undecided while we hold it.
            to, detail = _chosen(ref, row, recipients, rest, detail)  # Conflict rolls the claim back
            extra = dict(detail or {}) | ({"force": True} if force else {})
            await self._audit(conn, "release_started", actor=actor, reference=ref, reason=reason, now=now,
                              detail=extra or None, note=note)
        claim = ReleaseClaim(ref, token, actor, reason, row.mail_from, to, note=note,
                             detail=dict(detail or {}), rest=rest if recipients is not None else None)
        try:
            # After the claim's commit: a 'releasing' row is left alone by retention, and nobody else may send it,
            # so its bytes are read without holding the write lock (SQLite) for the whole message.
            async with self.engine.connect() as conn:
                raw = await read_message(conn, self.cipher, ref, row)
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
                .values(state_changed_at=done, release_reply=one_line(reply),
                        **await _after_release(conn, claim))
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


def _chosen(ref: str, row: Any, recipients: Sequence[str] | None, rest: str, detail: dict[str, Any] | None
            ) -> tuple[list[str], dict[str, Any] | None]:
    """Whom a claimed release goes to: every recipient not yet decided, or the chosen ones among them (their
    choice and what happens to the others go into the audit detail)."""
    done = set(row.released_to or ()) | set(row.rejected_to or ())
    undecided = [r for r in row.rcpt_tos if r not in done]
    if recipients is None:
        if not undecided:
            raise Conflict(f"{ref}: every recipient has been released to or refused already")
        return undecided, detail
    wanted = set(recipients)
    unknown = wanted - set(undecided)
    if unknown or not wanted:
        raise Conflict(f"{ref}: choose recipients among the {len(undecided)} not yet released to or refused")
    to = [r for r in undecided if r in wanted]
    others = [r for r in undecided if r not in wanted]
    return to, dict(detail or {}) | {"recipients": to, "others": others, "others_are": (
        "held" if rest == "hold" else "rejected") if others else None}


async def _after_release(conn: AsyncConnection, claim: ReleaseClaim) -> dict[str, Any]:
    """The row's new state once the upstream took ``claim``: ``released``, or back to ``held`` for the recipients
    a release to chosen ones kept (``released_to`` then lists who already has it)."""
    if claim.rest is None:
        prior = (await conn.execute(sa.select(qtab.c.released_to).where(qtab.c.reference == claim.reference))
                 ).scalar_one_or_none()
        if prior is None:
            return {"state": "released"}
        return {"state": "released", "released_to": list(prior) + claim.rcpt_tos}
    row = (await conn.execute(sa.select(qtab.c.rcpt_tos, qtab.c.released_to, qtab.c.rejected_to)
                              .where(qtab.c.reference == claim.reference))).one()
    released = list(row.released_to or ()) + claim.rcpt_tos
    rejected = list(row.rejected_to or ())
    others = [r for r in row.rcpt_tos if r not in set(released) | set(rejected)]
    if others and claim.rest == "hold":
        return {"state": "held", "claim": None, "released_to": released}
    return {"state": "released", "released_to": released, "rejected_to": rejected + others}
