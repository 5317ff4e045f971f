"""SMTP AUTH users: a file of ``user:hash`` lines, argon2id or scrypt hashes only, never plain passwords."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
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
    def __init__(self, users: dict[str, str]) -> None:
        self.users = users

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
