"""A spooled message sealed block by block for the quarantine (issue 13: memory) is stored exactly as ``seal``
would store it: a Fernet token under the first key that ``Fernet`` itself decrypts, or the bytes as they are,
with the message's sha256 and the length announced up front."""

from __future__ import annotations

import hashlib
import os

import pytest
from cryptography.fernet import Fernet, InvalidToken

from gateway.store.crypto import MessageCipher

SIZES = [0, 1, 15, 16, 17, 196_607, 196_608, 196_609, 1_000_003]


def blocks(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("n", SIZES)
def test_streamed_token_is_a_fernet_token_of_the_first_key(n: int) -> None:
    """Fernet (not our reader) decrypts it with the first key; the second key, kept for rotation, cannot."""
    first, second = Fernet.generate_key(), Fernet.generate_key()
    cipher = MessageCipher([first.decode(), second.decode()])
    message = os.urandom(n)
    sha, stored, scheme = cipher.seal_blocks(blocks(message, 70_001), n)
    assert scheme == "fernet" and len(stored) == cipher.sealed_size(n)
    assert sha == hashlib.sha256(message).hexdigest()
    assert Fernet(first).decrypt(bytes(stored)) == message
    assert cipher.open(bytes(stored), scheme) == message
    with pytest.raises(InvalidToken):
        Fernet(second).decrypt(bytes(stored))


@pytest.mark.parametrize("n", SIZES)
def test_streamed_without_a_key_stores_the_bytes(n: int) -> None:
    """No key: the stored form is the message itself, with its sha256."""
    cipher = MessageCipher(None)
    message = os.urandom(n)
    sha, stored, scheme = cipher.seal_blocks(blocks(message, 65_536), n)
    assert (scheme, bytes(stored), sha) == ("none", message, hashlib.sha256(message).hexdigest())


@pytest.mark.parametrize("key", [True, False])
def test_a_size_that_does_not_match_is_refused(key: bool) -> None:
    """Blocks that do not add up to the announced size (a spool file cut short) raise instead of storing."""
    cipher = MessageCipher([Fernet.generate_key().decode()] if key else None)
    with pytest.raises(ValueError):
        cipher.seal_blocks([b"x" * 100], 101)
