"""Encryption at rest of quarantined message bytes (Fernet: AES-128-CBC + HMAC-SHA256, authenticated).

The key never lives in config files: ``store.encryption_key_env`` names an environment variable. Several
comma-separated keys allow rotation (the first encrypts; any decrypts), as ``MultiFernet`` intends.
"""

from __future__ import annotations

import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from gateway.store.errors import EncryptionKeyError

SCHEME_NONE = "none"
SCHEME_FERNET = "fernet"


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


class MessageCipher:
    """Seals and opens stored messages; ``None`` key means messages are stored as received."""

    def __init__(self, keys: list[str] | None, env_name: str | None = None) -> None:
        self.env_name = env_name
        self._fernet: MultiFernet | None = None
        if keys:
            try:
                self._fernet = MultiFernet([Fernet(k.strip().encode("ascii")) for k in keys])
            except (ValueError, UnicodeEncodeError):
                raise EncryptionKeyError(
                    f"environment variable {env_name} does not hold a valid Fernet key "
                    "(32 url-safe base64 bytes; make one with `dlpgate db keygen`)"
                ) from None

    @classmethod
    def from_env(cls, env_name: str | None, *, required: bool) -> MessageCipher:
        """``required``: the config asks for encryption, so a missing key must stop the gateway, not silently
        store messages in clear."""
        if env_name is None:
            return cls(None)
        value = os.environ.get(env_name, "").strip()
        if not value:
            if required:
                raise EncryptionKeyError(
                    f"store.encryption_key_env names {env_name}, but that environment variable is empty or unset"
                )
            return cls(None, env_name)
        return cls([k for k in value.split(",") if k.strip()], env_name)

    @property
    def enabled(self) -> bool:
        return self._fernet is not None

    @property
    def scheme(self) -> str:
        """What ``seal`` records as its scheme (each stored chunk is sealed on its own)."""
        return SCHEME_NONE if self._fernet is None else SCHEME_FERNET

    def seal(self, raw: bytes) -> tuple[bytes, str]:
        if self._fernet is None:
            return raw, SCHEME_NONE
        return self._fernet.encrypt(raw), SCHEME_FERNET

    def open(self, blob: bytes, scheme: str) -> bytes:
        if scheme == SCHEME_NONE:
            return blob
        if scheme != SCHEME_FERNET:
            raise EncryptionKeyError(f"unknown storage scheme {scheme!r}")
        if self._fernet is None:
            raise EncryptionKeyError(
                f"the message is stored encrypted; set {self.env_name or 'the key environment variable'} "
                "(store.encryption_key_env) to the key it was stored with"
            )
        try:
            return self._fernet.decrypt(blob)
        except InvalidToken:
            raise EncryptionKeyError(
                "the stored message cannot be decrypted with the configured key(s) (wrong or rotated-out key, "
                "or the stored bytes were altered)"
            ) from None
