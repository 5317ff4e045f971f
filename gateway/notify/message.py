"""Building and sending one message of our own.

Header values are always single lines (``gateway.oneline``): nothing from a message or a template can smuggle
a CR/LF into a header. Every message is marked ``Auto-Submitted`` so that auto-responders leave it alone.
"""

from __future__ import annotations

import email.policy
import email.utils
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage

from gateway.oneline import one_line
from gateway.upstream import Reply, Upstream, deliver

HEADER_LIMIT = 400


def build_email(
    *,
    sender: str,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    now: datetime,
    domain: str,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = one_line(sender, HEADER_LIMIT)
    msg["To"] = ", ".join(one_line(t, HEADER_LIMIT) for t in to)
    msg["Subject"] = one_line(subject, 200)
    msg["Date"] = email.utils.format_datetime(now)
    msg["Message-ID"] = email.utils.make_msgid(domain=one_line(domain, 100) or None)
    msg["Auto-Submitted"] = "auto-generated"
    for key, value in (headers or {}).items():
        msg[key] = one_line(value, HEADER_LIMIT)
    msg.set_content(text, charset="utf-8", cte="quoted-printable")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


async def send_email(upstream: Upstream, envelope_from: str, rcpts: Sequence[str], msg: EmailMessage) -> Reply:
    return await deliver(upstream, envelope_from, list(rcpts), msg.as_bytes(policy=email.policy.SMTP))
