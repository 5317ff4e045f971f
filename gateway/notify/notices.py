"""The notes to a sender: that their message is held, and (``notify_sender_rejected``) that a reviewer rejected
it and why. Each says why in the policy's words (entity types and the policy clause, never the values, never
the subject: the reference, when it was sent and to how many recipients identify it), and whom to ask. Never to
the null sender (bounces and auto-replies), and sent with a null envelope sender itself, so a failing notice
cannot start a mail loop (RFC 3834).

A rejection's reason is one the reviewer picks from ``REJECT_REASONS``, never their free text: a justification
typed for the audit trail may name the child or the family, and must not leave the organisation."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import structlog

from gateway.notify.formats import fmt_local
from gateway.notify.message import build_email, send_email
from gateway.notify.releaselink import release_link
from gateway.notify.templates import render, split_subject
from gateway.store.records import entity_label
from gateway.upstream import Upstream, UpstreamError, make_upstream

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.facts import ScanResult
    from gateway.policy.model import Decision
    from gateway.store import Store
    from gateway.submission import Submission

log = structlog.get_logger(__name__)


def notice_context(
    cfg: Config, ref: str, sub: Submission, scan: ScanResult, decision: Decision, now: datetime
) -> dict[str, object]:
    entities = sorted({f.entity for f in scan.findings})
    return {
        "reference": ref,
        "received_at": sub.received_at,
        "tz": ZoneInfo(cfg.gateway.digest.timezone),
        "recipient_count": len(sub.rcpt_tos),
        "types": [entity_label(e) for e in entities],
        "unscannable": sorted({u.reason for u in scan.unscannable}),
        "clauses": decision.clauses,
        "reasons": list(dict.fromkeys(decision.reasons(ref))),
        "contact": cfg.gateway.notifications.contact or cfg.gateway.digest.to,
        "organisation": cfg.gateway.organisation.name,
        "now": now,
        "release_link": release_link(cfg, ref, now=now.timestamp()),
    }


async def notify_sender(
    cfg: Config,
    upstream: Upstream,
    ref: str,
    sub: Submission,
    scan: ScanResult,
    decision: Decision,
    *,
    now: datetime,
) -> bool:
    if not sub.mail_from:
        return False
    subject, body = split_subject(
        render(cfg, "sender_notice.txt.j2", **notice_context(cfg, ref, sub, scan, decision, now))
    )
    sender = cfg.gateway.notifications.sender or cfg.gateway.digest.sender
    headers = {"X-DLP-Incident": ref}
    if scan.message_id and "\n" not in scan.message_id and "\r" not in scan.message_id:
        headers["In-Reply-To"] = scan.message_id
        headers["References"] = scan.message_id
    msg = build_email(
        sender=sender,
        to=[sub.mail_from],
        subject=subject,
        text=body,
        now=now,
        domain=cfg.gateway.server.hostname,
        headers=headers,
    )
    try:
        reply = await send_email(upstream, "", [sub.mail_from], msg)
    except UpstreamError as exc:
        log.warning("notice.failed", reference=ref, error=exc.__class__.__name__)
        return False
    if not reply.ok:
        log.warning("notice.failed", reference=ref, code=reply.code)
        return False
    log.info("notice.sent", reference=ref)
    return True


REJECT_REASONS: dict[str, str] = {
    "protected_information": "it contains personal or sensitive information that may not be sent to these "
                             "recipients by ordinary email",
    "secure_route": "it must go by a secure route (encrypted email or secure file transfer), not ordinary email",
    "wrong_recipient": "it appears to be addressed to the wrong recipient",
    "not_permitted": "sending it is not permitted by the Information Assurance policy",
    "sent_in_error": "it was reported as sent in error",
}
"""What a reviewer may tell the sender about a rejection (code -> the sentence's ending)."""

REJECT_LABELS: dict[str, str] = {
    "protected_information": "Personal information, not for these recipients",
    "secure_route": "Must go by a secure route",
    "wrong_recipient": "Wrong recipient",
    "not_permitted": "Not permitted by the policy",
    "sent_in_error": "Sent in error",
}
"""The same reasons, short, for the reviewer's choice in the console."""


async def notify_sender_rejected(cfg: Config, store: Store, ref: str, reason: str, *, actor: str) -> bool:
    """After a rejection: tell the sender it will not be sent and the reason the reviewer picked (a key of
    ``REJECT_REASONS``). A sender who had asked for release gets this note instead of the bare outcome. The note
    (or its failure) is an audit line; a failure is logged by reference and never raised."""
    because = REJECT_REASONS.get(reason)
    if because is None:
        raise ValueError(f"unknown rejection reason {reason!r}")
    record = await store.get_quarantined(ref)
    if record is None or not record.mail_from:
        return False
    await store.settle_release_request(ref, "rejected")
    tz = ZoneInfo(cfg.gateway.digest.timezone)
    count = len(record.rcpt_tos)
    org = cfg.gateway.organisation.name
    contact = cfg.gateway.notifications.contact or cfg.gateway.digest.to
    clauses = ", ".join(record.incident.clauses)
    text = (
        f"Your email sent at {fmt_local(record.incident.received_at, tz)} to {count} "
        f"recipient{'s' if count != 1 else ''} has been reviewed by the Information Assurance team and will not "
        f"be sent.\n\nWhy: {because}.\n"
        + (f"Policy: Information Assurance Policy {clauses}\n" if clauses else "")
        + f"\nReference: {ref}\n\nIf you need to share this information, contact {contact} quoting the "
        f"reference.\n\nThis is an automatic message from the {org} email gateway.\n"
    )
    sender = cfg.gateway.notifications.sender or cfg.gateway.digest.sender
    headers = {"X-DLP-Incident": ref}
    mid = record.incident.message_id
    if mid and "\n" not in mid and "\r" not in mid:
        headers |= {"In-Reply-To": mid, "References": mid}
    msg = build_email(sender=sender, to=[record.mail_from], subject=f"Your email will not be sent ({ref})",
                      text=text, now=store.clock(), domain=cfg.gateway.server.hostname, headers=headers)
    up = cfg.gateway.upstream
    hop = make_upstream(cfg.upstream_url(up.url), local_hostname=up.helo_name or cfg.gateway.server.hostname,
                        timeout=up.timeout, verify=up.tls_verify)
    outcome: dict[str, object] = {"reason": reason}
    try:
        reply = await send_email(hop, "", [record.mail_from], msg)
        outcome["reply_code"] = reply.code
    except UpstreamError as exc:
        outcome["error"] = exc.__class__.__name__
        reply = None
    finally:
        await hop.close()
    sent = reply is not None and reply.ok
    await store.record_access("sender_notified" if sent else "sender_notice_failed", actor=actor,
                              reason=because, detail=outcome, reference=ref)
    if sent:
        await store.mark_sender_told(ref)
        log.info("notice.rejected_sent", reference=ref)
    else:
        log.warning("notice.rejected_failed", reference=ref, **outcome)
    return sent
