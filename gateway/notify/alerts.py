"""Immediate alert for each potential breach (IA 5.1/5.3: the Information Assurance team is told at once, and
the 24-hour internal reporting clock is already running).

``Notifier`` sends one after each potential breach the store commits; the scheduler's ``retry_alerts`` sends
those that could not go out. Failures are logged (by reference) and never raised: an alert must not turn a
delivered message into an SMTP error.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog

from gateway.notify.message import build_email, send_email
from gateway.notify.templates import render, split_subject
from gateway.store.records import entity_label
from gateway.upstream import Upstream, UpstreamError

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.store import IncidentRecord, Store

log = structlog.get_logger(__name__)

ALERT_RETRY_AFTER = timedelta(minutes=5)
"""An attempt younger than this may still be in flight (on this node or another), so a retry leaves it."""


def alerts_configured(cfg: Config) -> bool:
    alerts = cfg.gateway.alerts
    return alerts.email or alerts.webhook_url is not None


def alert_payload(cfg: Config, record: IncidentRecord, now: datetime) -> dict[str, Any]:
    """The webhook JSON: types, counts, rules and deadline. Addresses and attachment names only when
    ``alerts.webhook_include_addresses`` (a chat channel is a wider audience than the governance mailbox)."""
    left = (record.deadline_at - now).total_seconds() / 3600 if record.deadline_at else None
    payload: dict[str, Any] = {
        "event": "potential_breach",
        "reference": record.reference,
        "organisation": cfg.gateway.organisation.name,
        "node": record.node,
        "created_at": record.created_at.isoformat(),
        "deadline_at": record.deadline_at.isoformat() if record.deadline_at else None,
        "hours_left": round(left, 2) if left is not None else None,
        "action": record.action,
        "status": record.status,
        "rules": [{"rule_id": r["rule_id"], "clause": r["clause"], "action": r["action"], "mode": r["mode"]}
                  for r in record.rules],
        "clauses": record.clauses,
        "entities": [{"entity": e["entity"], "count": e["count"]} for e in record.entities],
        "recipient_classes": sorted({r["class"] for r in record.recipients}),
        "recipient_count": len(record.recipients),
        "sensitivity": record.sensitivity,
    }
    if cfg.gateway.alerts.webhook_include_addresses:
        payload["sender"] = record.sender
        payload["recipients"] = record.recipients
        payload["attachments"] = [a["name"] for a in record.attachments]
    return payload


def _post_json(url: str, payload: dict[str, Any], timeout: float) -> int:
    body = json.dumps(payload).encode("utf-8")
    req = urllib.request.Request(  # noqa: S310 - scheme checked by AlertSettings (http/https only)
        url, data=body, method="POST", headers={"Content-Type": "application/json", "User-Agent": "dlpgate"}
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
        return int(resp.status)


async def post_webhook(cfg: Config, record: IncidentRecord, now: datetime) -> bool:
    url = cfg.gateway.alerts.webhook_url
    if url is None:
        return False
    try:
        status = await asyncio.to_thread(
            _post_json, url, alert_payload(cfg, record, now), cfg.gateway.alerts.webhook_timeout
        )
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning("alert.webhook_failed", reference=record.reference, error=exc.__class__.__name__)
        return False
    if not 200 <= status < 300:
        log.warning("alert.webhook_failed", reference=record.reference, status=status)
        return False
    log.info("alert.webhook_sent", reference=record.reference)
    return True


async def email_alert(cfg: Config, upstream: Upstream | None, record: IncidentRecord, now: datetime) -> bool:
    if upstream is None:
        log.warning("alert.no_upstream", reference=record.reference)
        return False
    digest = cfg.gateway.digest
    tz = ZoneInfo(digest.timezone)
    context = {
        "incident": record,
        "now": now,
        "tz": tz,
        "hours_left": (record.deadline_at - now).total_seconds() / 3600 if record.deadline_at else None,
        "entity_label": entity_label,
        "organisation": cfg.gateway.organisation.name,
    }
    subject, body = split_subject(render(cfg, "alert.txt.j2", **context))
    msg = build_email(
        sender=digest.sender,
        to=[digest.to],
        subject=subject,
        text=body,
        now=now,
        domain=cfg.gateway.server.hostname,
        headers={"X-DLP-Incident": record.reference, "Importance": "high"},
    )
    try:
        reply = await send_email(upstream, digest.sender, [digest.to], msg)
    except UpstreamError as exc:
        log.warning("alert.email_failed", reference=record.reference, error=exc.__class__.__name__)
        return False
    if not reply.ok:
        log.warning("alert.email_failed", reference=record.reference, code=reply.code)
        return False
    log.info("alert.email_sent", reference=record.reference)
    return True


async def raise_alert(cfg: Config, upstream: Upstream | None, record: IncidentRecord, *, now: datetime) -> bool:
    """Email the governance address and POST the webhook, as configured. True when at least one channel got it
    (the incident is then marked alerted). Never raises."""
    alerts = cfg.gateway.alerts
    try:
        results = await asyncio.gather(
            email_alert(cfg, upstream, record, now) if alerts.email else _false(),
            post_webhook(cfg, record, now),
        )
    except Exception as exc:  # a broken template must not break the caller either
        log.error("alert.failed", reference=record.reference, error=exc.__class__.__name__)
        return False
    return any(results)


async def _false() -> bool:
    return False


async def send_alert(cfg: Config, store: Store, upstream: Upstream | None, ref: str) -> None:
    """Alert one committed potential breach and record that it went out (so no retry repeats it)."""
    record = await store.get_incident(ref)
    if record is None:
        return
    if await raise_alert(cfg, upstream, record, now=store.clock()):
        await store.mark_alerted(ref)


async def retry_alerts(cfg: Config, store: Store, upstream: Upstream | None, *, limit: int = 50) -> int:
    """Potential breaches whose alert never went out (the upstream was down, or the node died after the
    commit) are claimed and alerted again; the claim keeps two nodes from both sending. Returns how many
    were attempted."""
    if not alerts_configured(cfg):
        return 0
    sent = 0
    for ref in await store.alerts_due(retry_after=ALERT_RETRY_AFTER, limit=limit):
        if await store.claim_alert(ref, retry_after=ALERT_RETRY_AFTER):
            await send_alert(cfg, store, upstream, ref)
            sent += 1
    return sent
