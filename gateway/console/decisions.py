"""One reviewer decision on one held message, shared by the message page and the queue's bulk actions, so a bulk
release or reject makes exactly the checks and audit lines a single one makes: four eyes turns a release into an
approval request, the store's conditional claim sends it at most once, an unknown delivery outcome is reported
and never retried, a rejection may tell the sender why (a reason picked from a fixed list).

Every call returns a ``Outcome`` rather than raising, so that a bulk action reports each message's result and a
failure on one never hides, or stops, the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from gateway.notify.notices import REJECT_REASONS, notify_sender_rejected
from gateway.notify.outcome import tell_sender_outcome
from gateway.notify.release import release_held
from gateway.store import (
    Conflict,
    NotFound,
    ReleaseFailed,
    ReleaseRefused,
    ReleaseUncertain,
    StoreError,
    acting_from,
)

if TYPE_CHECKING:
    from gateway.console.web import Console
    from gateway.store import QuarantineRecord

log = structlog.get_logger("dlpgate.console")

ACTIONS = ("release", "release_as_is", "reject")
RESTS = ("hold", "reject")


@dataclass(frozen=True)
class Outcome:
    """What happened to one message: ``kind`` is ``released``, ``partly_released``, ``rejected``,
    ``approval`` (four eyes: now a request), ``uncertain`` (delivery outcome unknown) or ``failed``."""

    reference: str
    kind: str
    text: str

    @property
    def ok(self) -> bool:
        return self.kind in ("released", "partly_released", "rejected", "approval")


def four_eyes_reasons(console: Console, record: QuarantineRecord) -> list[str]:
    """Why a release of ``record`` needs a second person (empty: it does not)."""
    reasons = []
    if record.incident.sensitivity == "special_category":
        reasons.append("the message is special-category")
    flagged = {r.id for r in console.cfg.policy.rules if r.four_eyes}
    held_by = {str(r["rule_id"]) for r in record.incident.rules if r.get("mode", "enforce") == "enforce"}
    for rule in sorted(held_by & flagged):
        reasons.append(f"rule {rule} asks for four eyes")
    return reasons


async def decide_one(
    console: Console,
    ref: str,
    action: str,
    *,
    actor: str,
    reason: str,
    client: str | None,
    recipients: Sequence[str] | None = None,
    rest: str = "hold",
    notify: str | None = None,
) -> Outcome:
    """``action`` (one of ``ACTIONS``) on ``ref`` by ``actor``. ``recipients``: a release to these only (the
    others kept held or rejected as ``rest`` says); ``notify``: a ``REJECT_REASONS`` key to tell the sender."""
    if action not in ACTIONS or rest not in RESTS or (notify and notify not in REJECT_REASONS):
        return Outcome(ref, "failed", "unknown action")
    store = console.store
    try:
        record = await store.get_quarantined(ref)
    except StoreError as exc:
        return Outcome(ref, "failed", str(exc))
    if record is None:
        return Outcome(ref, "failed", "no held message has that reference")
    with acting_from(client):
        if action == "reject":
            return await _reject(console, ref, actor=actor, reason=reason, notify=notify)
        if four_eyes_reasons(console, record):
            detail = {"recipients": list(recipients), "rest": rest} if recipients is not None else None
            try:
                await store.request_approval(ref, action, actor=actor, reason=reason, detail=detail)
            except (Conflict, NotFound, StoreError) as exc:
                return Outcome(ref, "failed", str(exc))
            return Outcome(ref, "approval", "four eyes: the release now waits for an approver (not you)")
        return await release_one(console, ref, actor=actor, reason=reason, as_is=action == "release_as_is",
                                 recipients=recipients, rest=rest)


async def release_one(
    console: Console, ref: str, *, actor: str, reason: str, as_is: bool,
    recipients: Sequence[str] | None = None, rest: str = "hold",
) -> Outcome:
    """``gateway.notify.release``: planned (the actions the policy still requires, unless as is), claimed once,
    sent once. An unknown outcome is reported as such and never retried here."""
    try:
        reply, target = await release_held(console.store, console.cfg, ref, actor=actor, reason=reason,
                                           as_is=as_is, recipients=recipients, rest=rest)
    except ReleaseUncertain as exc:
        return Outcome(ref, "uncertain", f"delivery outcome unknown: {exc}")
    except (ReleaseFailed, ReleaseRefused, Conflict, NotFound, StoreError) as exc:
        return Outcome(ref, "failed", str(exc))
    applied = ", ".join(target.applied) or "as stored"
    after = await console.store.get_quarantined(ref)
    if after is not None and after.state == "held":
        left = len(after.undecided)
        return Outcome(ref, "partly_released", f"released to {len(recipients or ())} chosen recipient(s) "
                       f"({applied}); {left} still held; the next hop said {reply.code}")
    await tell_sender(console, ref, released=True)
    kept = f"; the other {len(after.rejected_to or ())} rejected" if after and after.rejected_to else ""
    return Outcome(ref, "released", f"released ({applied}){kept}; the next hop said {reply.code}")


async def _reject(console: Console, ref: str, *, actor: str, reason: str, notify: str | None) -> Outcome:
    try:
        await console.store.reject(ref, actor=actor, reason=reason)
    except (Conflict, NotFound, StoreError) as exc:
        return Outcome(ref, "failed", str(exc))
    if not notify:
        await tell_sender(console, ref, released=False)  # never the justification: it may name people
        return Outcome(ref, "rejected", "rejected: it will not be sent")
    try:
        told = await notify_sender_rejected(console.cfg, console.store, ref, notify, actor=actor)
    except Exception as exc:  # the rejection stands; the trail and the log say the notice failed
        log.warning("notice.rejected_failed", reference=ref, error=exc.__class__.__name__)
        told = False
    if told:
        return Outcome(ref, "rejected", "rejected: it will not be sent; the sender was told why")
    return Outcome(ref, "rejected", "rejected: it will not be sent; the notice to the sender could NOT be sent")


async def tell_sender(console: Console, ref: str, *, released: bool, reason: str = "") -> None:
    """A sender who asked for release (issue 15) hears the outcome; a failure never undoes the decision."""
    try:
        await tell_sender_outcome(console.cfg, console.store, ref, released=released, reason=reason)
    except Exception as exc:  # logged by reference; the decision stands
        log.warning("outcome.failed", reference=ref, error=exc.__class__.__name__)
