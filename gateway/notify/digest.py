"""Sending the daily digest: render it (``digest.txt.j2`` and ``digest.html.j2``), and send one day's digest
once across nodes and restarts (the store's advisory lock and ``digests_sent`` claim). What it says is
``gateway.digest``'s."""

from __future__ import annotations

import email.message
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

import jinja2
import structlog

from gateway.digest import DigestData, collect_digest, previous_day
from gateway.notify.message import build_email, send_email
from gateway.notify.templates import render
from gateway.upstream import Reply, Upstream, UpstreamError

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.store import Store

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    text: str
    html: str


def render_digest(cfg: Config, data: DigestData) -> RenderedDigest:
    """Templates ``digest.txt.j2`` (first line ``Subject: ...``) and ``digest.html.j2``."""
    public = cfg.gateway.console.public_url if cfg.gateway.console.enabled else None
    context: dict[str, Any] = {"d": data, "tz": data.tz, "organisation": data.organisation,
                               "console_url": public.rstrip("/") + "/" if public else None}
    text = render(cfg, "digest.txt.j2", **context)
    first, _, body = text.partition("\n")
    subject = first.removeprefix("Subject:").strip() if first.startswith("Subject:") else ""
    if not subject:
        subject, body = f"{data.organisation} DLP digest for {data.day.isoformat()}", text
    html = render(cfg, "digest.html.j2", subject=subject, **context)
    return RenderedDigest(subject=subject, text=body.lstrip("\n"), html=html)


def digest_email(cfg: Config, rendered: RenderedDigest, day: date, now: datetime) -> email.message.EmailMessage:
    dg = cfg.gateway.digest
    return build_email(
        sender=dg.sender,
        to=[dg.to],
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        now=now,
        domain=cfg.gateway.server.hostname,
        headers={"X-DLP-Digest": day.isoformat()},
    )


DigestStatus = Literal["sent", "dry_run", "already_sent", "busy", "failed"]


@dataclass(frozen=True)
class DigestOutcome:
    status: DigestStatus
    day: date
    message: email.message.EmailMessage | None = None
    reply: Reply | None = None
    error: str | None = None


async def send_digest(
    cfg: Config,
    store: Store,
    upstream: Upstream | None,
    *,
    day: date | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
    force: bool = False,
) -> DigestOutcome:
    """Build and send one day's digest, once: the advisory lock (PostgreSQL) keeps nodes from building it
    together, the ``digests_sent`` claim keeps a day from going out twice. ``force`` sends a day again;
    ``dry_run`` builds it and records nothing."""
    now = now or store.clock()
    tz = ZoneInfo(cfg.gateway.digest.timezone)
    day = day or previous_day(now, tz)
    if dry_run:
        data = await collect_digest(cfg, store, day, now)
        return DigestOutcome("dry_run", day, digest_email(cfg, render_digest(cfg, data), day, now))
    if upstream is None:
        return DigestOutcome("failed", day, error="no upstream to send through")
    async with store.digest_lock() as got:
        if not got:
            return DigestOutcome("busy", day)
        if not await store.claim_digest(day, force=force):
            return DigestOutcome("already_sent", day)
        try:
            data = await collect_digest(cfg, store, day, now)
            msg = digest_email(cfg, render_digest(cfg, data), day, now)
            reply = await send_email(upstream, cfg.gateway.digest.sender, [cfg.gateway.digest.to], msg)
        except Exception as exc:
            await store.abandon_digest(day)
            log.error("digest.failed", day=day.isoformat(), error=exc.__class__.__name__)
            # Upstream and template errors name hosts and template lines; others (database drivers) may quote
            # values, so only their class is shown.
            detail = f": {exc}" if isinstance(exc, UpstreamError | jinja2.TemplateError) else ""
            return DigestOutcome("failed", day, error=f"{exc.__class__.__name__}{detail}")
        if not reply.ok:
            await store.abandon_digest(day)
            log.error("digest.refused", day=day.isoformat(), code=reply.code)
            return DigestOutcome("failed", day, msg, reply, error=f"upstream replied {reply.code}")
        await store.finish_digest(day, to=cfg.gateway.digest.to, message_id=str(msg["Message-ID"]))
    log.info("digest.sent", day=day.isoformat(), incidents=data.total, held=len(data.held),
             potential_breaches=len(data.breaches))
    return DigestOutcome("sent", day, msg, reply)
