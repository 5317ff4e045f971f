"""The quarantine queue, a held message's page, reveal, and the decisions (release, to every recipient or to chosen
ones; release as is; reject, optionally telling the sender why), with four eyes where the message is
special-category or a rule that held it says ``four_eyes: true``. One decision is ``decisions.decide_one``, which
the queue's bulk actions (``bulk.py``) run for each message too.

Filters live in the session, not the address: an address in a URL ends up in logs and browser history.
"""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.console import bulk
from gateway.console.decisions import ACTIONS, decide_one, four_eyes_reasons, release_one
from gateway.console.web import Console, Viewer, client_of, redirect
from gateway.notify.notices import REJECT_LABELS
from gateway.notify.release import required_actions
from gateway.store import Conflict, NotFound, QueueFilter, StoreError, acting_from

if TYPE_CHECKING:
    from gateway.store import QuarantineRecord

SENSITIVITIES = ("none", "personal", "special_category")
PAGE_SIZE = 50
MAX_REVEAL_CHARS = 200_000
STATE_LABELS = {
    "held": "Held",
    "releasing": "Delivery outcome unknown",
    "released": "Released",
    "rejected": "Rejected",
    "expired": "Expired",
}


def _filter_from(session: dict[str, Any]) -> QueueFilter:
    f = session.get("queue_filter") or {}

    def num(key: str) -> float | None:
        try:
            return float(f[key]) if f.get(key) not in (None, "") else None
        except (TypeError, ValueError):
            return None

    return QueueFilter(
        rule=f.get("rule") or None,
        sensitivity=f.get("sensitivity") if f.get("sensitivity") in SENSITIVITIES else None,
        sender=f.get("sender") or None,
        recipient_domain=f.get("recipient_domain") or None,
        older_than_hours=num("older_than_hours"),
        newer_than_hours=num("newer_than_hours"),
    )


def routes(console: Console) -> list[Route]:
    store = console.store

    async def queue(request: Request) -> Response:
        viewer = await console.require(request)
        sort: Literal["newest", "oldest"] = "oldest" if request.query_params.get("sort") == "oldest" else "newest"
        after_text = request.query_params.get("after", "")
        after = int(after_text) if after_text.isdigit() else None
        flt = _filter_from(request.session)
        page = await store.queue_page(flt, sort=sort, after=after, limit=PAGE_SIZE)
        return console.page(
            request, "queue.html", viewer, page=page, sort=sort, after=after, flt=flt,
            total=await store.queue_count(flt), by_rule=await store.queue_counts_by_rule(),
            rules=sorted(r.id for r in console.cfg.policy.rules), sensitivities=SENSITIVITIES,
            states=STATE_LABELS, now=store.clock(), sender_requests=await store.pending_release_requests(),
            reject_reasons=REJECT_LABELS, bulk_max=bulk.BULK_MAX,
        )

    async def set_filter(request: Request) -> Response:
        await console.require(request)
        form = await console.form(request)
        if form.get("clear"):
            request.session.pop("queue_filter", None)
        else:
            keys = ("rule", "sensitivity", "sender", "recipient_domain", "older_than_hours", "newer_than_hours")
            request.session["queue_filter"] = {k: form.get(k, "").strip()[:200] for k in keys}
        return redirect("/queue")

    async def load(ref: str) -> QuarantineRecord:
        record = await store.get_quarantined(ref)
        if record is None:
            raise HTTPException(404, "No held message has that reference.")
        return record

    async def message(request: Request) -> Response:
        viewer = await console.require(request)
        ref = request.path_params["ref"]
        record = await load(ref)
        return await _message_page(console, request, viewer, record, revealed=None)

    async def reveal(request: Request) -> Response:
        viewer = await console.require(request)
        form = await console.form(request)
        ref = request.path_params["ref"]
        record = await load(ref)
        if not viewer.can("reviewer"):
            raise HTTPException(403, "Auditors see metadata only: revealing content needs the reviewer role.")
        why = form.get("reason", "").strip()
        if len(why) < 5:
            console.flash(request, "Say why you need to see the content (at least a few words).", "error")
            return redirect(f"/messages/{ref}")
        try:
            with acting_from(client_of(request)):
                raw = await store.reveal_message(ref, actor=viewer.name, reason=why)
        except (Conflict, NotFound, StoreError) as exc:
            console.flash(request, str(exc), "error")
            return redirect(f"/messages/{ref}")
        return await _message_page(console, request, viewer, record, revealed=_readable(raw))

    async def decide(request: Request) -> Response:
        viewer = await console.require(request, "reviewer")
        form = await console.form(request)
        ref = request.path_params["ref"]
        record = await load(ref)
        action = form.get("action", "")
        why = form.get("justification", "").strip()
        if len(why) < 5:
            console.flash(request, "Give a justification (at least a few words): it goes in the audit trail.", "error")
            return redirect(f"/messages/{ref}")
        if action not in ACTIONS:
            raise HTTPException(400, "Unknown action.")
        chosen = [str(v) for v in (await request.form()).getlist("rcpt")]
        recipients = None  # a form without the recipient choice (``choose``) releases to every one undecided
        if action != "reject" and form.get("choose") == "1" and set(chosen) != set(record.undecided):
            if not chosen:
                console.flash(request, "Choose at least one recipient to release to.", "error")
                return redirect(f"/messages/{ref}")
            recipients = chosen
        outcome = await decide_one(
            console, ref, action, actor=viewer.name, reason=why, client=client_of(request), recipients=recipients,
            rest="reject" if form.get("rest") == "reject" else "hold", notify=form.get("notify") or None,
        )
        console.flash(request, f"{ref}: {outcome.text}.", "info" if outcome.ok else "error")
        return redirect(f"/messages/{ref}")

    async def approvals(request: Request) -> Response:
        viewer = await console.require(request)
        return console.page(request, "approvals.html", viewer, pending=await store.pending_approvals())

    async def decide_approval(request: Request) -> Response:
        viewer = await console.require(request, "approver")
        form = await console.form(request)
        approval_id = int(request.path_params["approval"])
        approve = form.get("decision") == "approve"
        why = form.get("justification", "").strip()
        back = form.get("back", "/approvals")
        back = back if back.startswith("/messages/") or back == "/approvals" else "/approvals"
        if len(why) < 5:
            console.flash(request, "Give a justification (at least a few words).", "error")
            return redirect(back)
        with acting_from(client_of(request)):
            try:
                decided = await store.decide_approval(approval_id, approver=viewer.name, approve=approve,
                                                      reason=why)
            except (Conflict, NotFound) as exc:
                console.flash(request, str(exc), "error")
                return redirect(back)
            if approve:
                reason = f"{decided.reason} (requested by {decided.requested_by}; approved: {why})"
                chosen = (decided.detail or {}).get("recipients")
                outcome = await release_one(
                    console, decided.reference, actor=viewer.name, reason=reason,
                    as_is=decided.kind == "release_as_is", recipients=chosen,
                    rest=str((decided.detail or {}).get("rest", "hold")),
                )
                console.flash(request, f"{decided.reference}: {outcome.text}.", "info" if outcome.ok else "error")
            else:
                console.flash(request, "Release request refused; the message stays held.")
        return redirect(back)

    return [
        Route("/queue", queue, methods=["GET"]),
        Route("/queue/filter", set_filter, methods=["POST"]),
        Route("/messages/{ref:str}", message, methods=["GET"]),
        Route("/messages/{ref:str}/reveal", reveal, methods=["POST"]),
        Route("/messages/{ref:str}/decide", decide, methods=["POST"]),
        Route("/approvals", approvals, methods=["GET"]),
        Route("/approvals/{approval:int}/decide", decide_approval, methods=["POST"]),
        *bulk.routes(console, _filter_from),
    ]


def _readable(raw: bytes) -> dict[str, Any]:
    """The revealed message for a person: a few header fields and the text parts (escaped by the template)."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    headers = [(k, str(msg.get(k, ""))) for k in ("From", "To", "Cc", "Subject", "Date") if msg.get(k)]
    texts: list[str] = []
    attachments: list[str] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        if part.get_content_disposition() == "attachment" or part.get_filename():
            attachments.append(f"{part.get_filename() or 'unnamed'} ({part.get_content_type()})")
        elif part.get_content_type() == "text/plain":
            try:
                texts.append(str(part.get_content()))
            except (LookupError, ValueError):
                texts.append(part.get_payload(decode=True).decode("utf-8", "replace"))  # type: ignore[union-attr]
    body = "\n\n".join(texts) or raw.decode("utf-8", "replace")
    return {"headers": headers, "body": body[:MAX_REVEAL_CHARS], "attachments": attachments}


async def _message_page(console: Console, request: Request, viewer: Viewer, record: QuarantineRecord,
                        revealed: dict[str, Any] | None) -> Response:
    store = console.store
    ref = record.reference
    trail, _ = await store.audit_page(reference=ref, limit=100)
    uncertain = [a for a in trail if a.event == "release_uncertain"] if record.state == "releasing" else []
    return console.page(
        request, "message.html", viewer, q=record, inc=record.incident, revealed=revealed, states=STATE_LABELS,
        required=required_actions(record), four_eyes=four_eyes_reasons(console, record),
        keep_until=record.stored_at + timedelta(days=console.cfg.gateway.store.retention_days),
        approvals=await store.approvals_for(ref), audit=list(reversed(trail)), uncertain=uncertain,
        sender_request=await store.get_release_request(ref), reject_reasons=REJECT_LABELS,
    )
