"""The sender hears the outcome of their release request (issue 15): released or not, with the reference and,
for a refusal, at most a reason from the fixed list (``notices.REJECT_REASONS``). Never the reviewer's own words:
a justification typed for the audit trail may name the child or the family, and must not leave the organisation
(a rejection with a notice goes through ``notices.notify_sender_rejected``, which has the same rule). Sent once
(``settle_release_request`` picks the one caller), with a null envelope sender like the held-message notice.
Failures are logged by reference, never raised."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from gateway.notify.message import build_email, send_email
from gateway.notify.notices import REJECT_REASONS
from gateway.upstream import UpstreamError, make_upstream

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.store import Store

log = structlog.get_logger(__name__)


async def tell_sender_outcome(cfg: Config, store: Store, ref: str, *, released: bool, reason: str = "") -> bool:
    """After a release or a rejection: when the sender asked for release, email them what happened.

    ``reason``: a ``REJECT_REASONS`` key, told to the sender as its fixed sentence. Anything else (a reviewer's
    free-text justification) is not sent: the sender is told only that the message will not be sent and whom
    to ask."""
    if not await store.settle_release_request(ref, "released" if released else "rejected"):
        return False
    record = await store.get_quarantined(ref)
    if record is None or not record.mail_from:
        return False
    org = cfg.gateway.organisation.name
    if released:
        subject = f"Your held email has been released ({ref})"
        text = (f"Your email held as {ref} has been reviewed and sent on to its recipients.\n\n"
                f"This is an automatic message from the {org} email gateway.\n")
    else:
        subject = f"Your held email will not be sent ({ref})"
        because = REJECT_REASONS.get(reason)
        text = (f"Your email held as {ref} has been reviewed and will not be sent.\n"
                + (f"\nWhy: {because}.\n" if because else "")
                + f"\nIf you have questions, contact {cfg.gateway.notifications.contact or cfg.gateway.digest.to} "
                f"quoting the reference.\n\nThis is an automatic message from the {org} email gateway.\n")
    sender = cfg.gateway.notifications.sender or cfg.gateway.digest.sender
    msg = build_email(sender=sender, to=[record.mail_from], subject=subject, text=text, now=store.clock(),
                      domain=cfg.gateway.server.hostname, headers={"X-DLP-Incident": ref})
    up = cfg.gateway.upstream
    hop = make_upstream(cfg.upstream_url(up.url), local_hostname=up.helo_name or cfg.gateway.server.hostname,
                        timeout=up.timeout, verify=up.tls_verify)
    try:
        reply = await send_email(hop, "", [record.mail_from], msg)
    except UpstreamError as exc:
        log.warning("outcome.failed", reference=ref, error=exc.__class__.__name__)
        return False
    finally:
        await hop.close()
    if not reply.ok:
        log.warning("outcome.failed", reference=ref, code=reply.code)
        return False
    await store.mark_sender_told(ref)
    log.info("outcome.sent", reference=ref)
    return True
