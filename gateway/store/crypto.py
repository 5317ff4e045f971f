"""Encryption at rest of quarantined message bytes (Fernet: AES-128-CBC + HMAC-SHA256, authenticated).

The key never lives in config files: ``store.encryption_key_env`` names an environment variable. Several
comma-separated keys allow rotation (the first encrypts; any decrypts), as ``MultiFernet`` intends.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.hmac import HMAC

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
        self._primary: bytes | None = None
        """The first key's 32 bytes (signing half, then encryption half), for ``seal_blocks``."""
        if keys:
            try:
                self._fernet = MultiFernet([Fernet(k.strip().encode("ascii")) for k in keys])
                self._primary = base64.urlsafe_b64decode(keys[0].strip().encode("ascii"))
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

    def seal(self, raw: bytes) -> tuple[bytes, str]:
        if self._fernet is None:
            return raw, SCHEME_NONE
        return self._fernet.encrypt(raw), SCHEME_FERNET

    def sealed_size(self, size: int) -> int:
        """Bytes ``seal`` stores for a message of ``size`` bytes (the Fernet token's length is fixed by it)."""
        if self._primary is None:
            return size
        return 4 * ((1 + 8 + 16 + (size // 16 + 1) * 16 + 32 + 2) // 3)

    @property
    def scheme(self) -> str:
        return SCHEME_NONE if self._primary is None else SCHEME_FERNET

    def seal_chunks(self, blocks: Iterable[bytes], size: int, digest: Any) -> Iterator[bytes]:
        """What ``seal`` stores for the message given as ``blocks`` (``size`` bytes in all), in chunks, updating
        ``digest`` (a hashlib object) with the message itself: a Fernet token under the first key when there is
        one, built block by block (``Fernet.encrypt`` holds the message, the token and its base64 form at
        once). ``open`` reads it like any other token. A spooled message streams through this (issue 13)."""
        if self._primary is None:
            read = 0
            for block in blocks:
                digest.update(block)
                read += len(block)
                yield block
            _check_size(read, size)
            return
        yield from _fernet_chunks(self._primary, blocks, size, digest)

    def seal_blocks(self, blocks: Iterable[bytes], size: int) -> tuple[str, bytearray, str]:
        """(sha256 of the message, what to store, scheme): ``seal_chunks`` gathered into one buffer sized up
        front (for a database that takes the stored form only as one value)."""
        digest = hashlib.sha256()
        out = bytearray(self.sealed_size(size))
        at = 0
        for chunk in self.seal_chunks(blocks, size, digest):
            out[at:at + len(chunk)] = chunk
            at += len(chunk)
        if at != len(out):
            raise ValueError("sealed length does not match the message size")
        return digest.hexdigest(), out, self.scheme

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


def _check_size(read: int, size: int) -> None:
    if read != size:
        raise ValueError(f"message is {read} bytes, expected {size}")


_CHUNK = 3 * 64 * 1024
"""Token bytes base64-encoded at a time (a multiple of 3: the pieces join into one encoding)."""


def _fernet_chunks(key: bytes, blocks: Iterable[bytes], size: int, digest: Any) -> Iterator[bytes]:
    """A Fernet token (version, timestamp, IV, AES-128-CBC ciphertext with PKCS7 padding, HMAC-SHA256 of all
    that, the whole in URL-safe base64: the format ``Fernet.decrypt`` reads) made block by block."""
    iv = os.urandom(16)
    mac = HMAC(key[:16], hashes.SHA256())
    encryptor = Cipher(algorithms.AES(key[16:]), modes.CBC(iv)).encryptor()
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    pending = bytearray(b"\x80" + int(time.time()).to_bytes(8, "big") + iv)
    mac.update(bytes(pending))
    read = 0
    for block in blocks:
        digest.update(block)
        read += len(block)
        data = encryptor.update(padder.update(block))
        mac.update(data)
        pending += data
        if len(pending) >= _CHUNK:
            whole = len(pending) - len(pending) % 3
            yield base64.urlsafe_b64encode(bytes(pending[:whole]))
            del pending[:whole]
    _check_size(read, size)
    data = encryptor.update(padder.finalize()) + encryptor.finalize()
    mac.update(data)
    pending += data
    yield base64.urlsafe_b64encode(bytes(pending) + mac.finalize())
