"""The note to a sender whose message is held: that it is held, why (entity types and the policy clause,
never the values), the reference, and whom to ask. Never to the null sender (bounces and auto-replies), and
sent with a null envelope sender itself, so a failing notice cannot start a mail loop (RFC 3834)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import structlog

from gateway.notify.message import build_email, send_email
from gateway.notify.releaselink import release_link
from gateway.notify.templates import render, split_subject
from gateway.store.records import entity_label
from gateway.upstream import Upstream, UpstreamError

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.facts import ScanResult
    from gateway.policy.model import Decision
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
