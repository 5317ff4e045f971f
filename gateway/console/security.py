"""Passwords, sign-in back-off, sessions' timeouts, CSRF tokens and the security headers of every response."""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 12
MAX_LOCK = timedelta(days=1)

_hasher = PasswordHasher()  # argon2id with the library's current parameters
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class WeakPassword(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"a console password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def check_password(stored: str | None, password: str) -> bool:
    """Constant work whether or not the account exists (no timing oracle for account names)."""
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def lock_until(failed_before: int, now: datetime, *, after: int, first_seconds: float) -> datetime | None:
    """After ``after`` failures in a row the account locks for ``first_seconds``, doubling with every further
    failure (back-off), at most a day. ``failed_before`` is the count before this failure."""
    failures = failed_before + 1
    if failures < after:
        return None
    seconds = first_seconds * (2 ** min(failures - after, 20))
    return now + min(timedelta(seconds=seconds), MAX_LOCK)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(expected: object, given: object) -> bool:
    return isinstance(expected, str) and isinstance(given, str) and bool(expected) and hmac.compare_digest(
        expected.encode(), given.encode()
    )


def load_secret(env_name: str | None, state_dir: Path) -> str:
    """The session-signing key: from the environment (every node the same), else a random one kept in
    ``state_dir/console-secret`` (mode 0600)."""
    if env_name:
        value = os.environ.get(env_name, "")
        if len(value) < 32:
            raise ValueError(f"console.secret_key_env: ${env_name} must hold at least 32 characters")
        return value
    path = state_dir / "console-secret"
    if path.is_file():
        return path.read_text().strip()
    state_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret)
    return secret


CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class SecurityHeaders:
    """Pure ASGI middleware: every response carries the CSP (no inline script or style, no framing), no
    referrer, nosniff and no caching (pages show held mail's metadata); HSTS over TLS."""

    def __init__(self, app: ASGIApp, *, tls: bool) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", CSP.encode()),
            (b"referrer-policy", b"no-referrer"),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        ]
        if tls:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(self.headers)
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
