"""The sender's release-request link (issue 15): signed, expiring, tied to one held message, and single use
(the store keeps one request per message; once it exists the link only says so).

``token`` is ``<reference>.<expiry, unix seconds>.<HMAC-SHA256>``, keyed by a key derived from the console's
session secret (``console.secret_key_env``, else ``state_dir/console-secret``), so every node that serves the
console can check what any node's notice sent. Nothing is in the token that the sender did not already have
(their own message's reference). No secret available: no link, and the notice says whom to contact instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.config import Config

LINK_DAYS = 7
"""How long a link works (the held message may be purged sooner by retention)."""


def link_secret(cfg: Config) -> bytes | None:
    settings = cfg.gateway.console
    value: str | None = None
    if settings.secret_key_env:
        value = os.environ.get(settings.secret_key_env) or None
    else:
        path = cfg.state_dir / "console-secret"
        value = path.read_text().strip() if path.is_file() else None
    if not value:
        return None
    return hmac.new(value.encode(), b"dlpgate release-request link v1", hashlib.sha256).digest()


def _mac(key: bytes, ref: str, expires: int) -> str:
    digest = hmac.new(key, f"{ref}\0{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_token(key: bytes, ref: str, *, now: float | None = None, days: float = LINK_DAYS) -> str:
    expires = int((time.time() if now is None else now) + days * 86400)
    return f"{ref}.{expires}.{_mac(key, ref, expires)}"


def check_token(key: bytes, token: str, *, now: float | None = None) -> str | None:
    """The reference the token is for, or None (forged, altered or expired)."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    ref, expires_text, mac = parts
    if not hmac.compare_digest(mac, _mac(key, ref, int(expires_text))):
        return None
    if int(expires_text) < (time.time() if now is None else now):
        return None
    return ref


def release_link(cfg: Config, ref: str, *, now: float | None = None) -> str | None:
    """The full link for the notice, or None when there is no public console address or no key."""
    base = cfg.gateway.console.public_url
    key = link_secret(cfg)
    if not base or key is None or not cfg.gateway.console.enabled:
        return None
    return f"{base.rstrip('/')}/release/{make_token(key, ref, now=now)}"
