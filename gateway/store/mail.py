"""Outgoing mail the gateway writes itself (digest, alerts, sender notices) and the templates behind it.

Templates are the governance team's to edit (``config/templates``); any template missing from the configured
folder falls back to the packaged one. Header values are always single lines: nothing from a message or a
template can smuggle a CR/LF into a header.
"""

from __future__ import annotations

import email.policy
import email.utils
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from gateway.upstream import Reply, Upstream, deliver

if TYPE_CHECKING:
    from gateway.config import Config


def header_value(value: str, limit: int = 400) -> str:
    return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())[:limit]


def template_dirs(cfg: Config) -> list[Path]:
    from gateway.config import packaged_config_dir

    dirs = [cfg.resolve(cfg.gateway.digest.templates), packaged_config_dir() / "templates"]
    return [d for d in dict.fromkeys(dirs) if d.is_dir()]


def template_env(cfg: Config) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(d)) for d in template_dirs(cfg)]),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["local"] = _local_filter
    env.filters["hours"] = _hours_filter
    return env


def _local_filter(value: datetime | None, tz: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(tz).strftime(fmt)


def _hours_filter(value: float) -> str:
    sign = "-" if value < 0 else ""
    minutes = round(abs(value) * 60)
    return f"{sign}{minutes // 60}h{minutes % 60:02d}m"


def render(cfg: Config, name: str, **context: Any) -> str:
    return template_env(cfg).get_template(name).render(**context)


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
    msg["From"] = header_value(sender)
    msg["To"] = ", ".join(header_value(t) for t in to)
    msg["Subject"] = header_value(subject, 200)
    msg["Date"] = email.utils.format_datetime(now)
    msg["Message-ID"] = email.utils.make_msgid(domain=header_value(domain, 100) or None)
    msg["Auto-Submitted"] = "auto-generated"
    for key, value in (headers or {}).items():
        msg[key] = header_value(value)
    msg.set_content(text, charset="utf-8", cte="quoted-printable")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


async def send_email(upstream: Upstream, envelope_from: str, rcpts: Sequence[str], msg: EmailMessage) -> Reply:
    return await deliver(upstream, envelope_from, list(rcpts), msg.as_bytes(policy=email.policy.SMTP))
