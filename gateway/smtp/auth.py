"""SMTP AUTH users: a file of ``user:hash`` lines, argon2id or scrypt hashes only, never plain passwords."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gateway.config_errors import ConfigError

_argon2 = PasswordHasher()


def hash_scrypt(password: str, *, n: int = 2**14, r: int = 8, p: int = 1) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    b64 = base64.b64encode
    return f"$scrypt$n={n},r={r},p={p}${b64(salt).decode()}${b64(digest).decode()}"


def hash_argon2(password: str) -> str:
    return _argon2.hash(password)


def _verify_scrypt(stored: str, password: bytes) -> bool:
    try:
        _, _, params, salt_b64, digest_b64 = stored.split("$")
        kv = dict(item.split("=") for item in params.split(","))
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(digest_b64)
        got = hashlib.scrypt(
            password, salt=salt, n=int(kv["n"]), r=int(kv["r"]), p=int(kv["p"]), dklen=len(expected)
        )
    except (ValueError, KeyError):
        return False
    return hmac.compare_digest(got, expected)


class UserDatabase:
    """Verifies AUTH passwords. aiosmtpd calls the authenticator synchronously on the event loop, and an argon2
    check costs about 100 ms here, so a recent success is remembered (as an HMAC under a per-process random
    key, never the password) for ``cache_seconds``: Exchange re-authenticating every connection then costs
    microseconds, and a wrong password always takes the slow path."""

    def __init__(self, users: dict[str, str], *, cache_seconds: float = 600.0) -> None:
        self.users = users
        self.cache_seconds = cache_seconds
        self._key = os.urandom(32)
        self._recent: dict[str, tuple[bytes, float]] = {}

    @classmethod
    def load(cls, path: Path) -> UserDatabase:
        users: dict[str, str] = {}
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError.one(path, "", f"cannot read users file ({exc.__class__.__name__})") from None
        for n, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, stored = line.partition(":")
            if not sep or not user:
                raise ConfigError.one(path, f"line {n}", "expected user:hash")
            if not (stored.startswith("$argon2") or stored.startswith("$scrypt$")):
                raise ConfigError.one(
                    path, f"line {n} ({user})", "hash must be argon2 ($argon2id$...) or scrypt ($scrypt$...)"
                )
            users[user] = stored
        return cls(users)

    def verify(self, user: str, password: bytes) -> bool:
        tag = hmac.new(self._key, user.encode("utf-8", "surrogateescape") + b"\0" + password, "sha256").digest()
        recent = self._recent.get(user)
        if recent is not None and time.monotonic() - recent[1] < self.cache_seconds:
            if hmac.compare_digest(recent[0], tag):
                return True
        ok = self._verify_slow(user, password)
        if ok:
            self._recent[user] = (tag, time.monotonic())
        return ok

    def _verify_slow(self, user: str, password: bytes) -> bool:
        stored = self.users.get(user)
        if stored is None:
            _verify_scrypt("$scrypt$n=16384,r=8,p=1$AAAA$AAAA", password)  # same cost for unknown users
            return False
        if stored.startswith("$scrypt$"):
            return _verify_scrypt(stored, password)
        try:
            return _argon2.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
