"""Encryption at rest of quarantined messages."""

from __future__ import annotations

import pytest

from gateway.store.crypto import MessageCipher, generate_key
from gateway.store.errors import EncryptionKeyError
from tests.store_fixtures import assert_no_secrets, message_bytes


def test_round_trip_and_no_plaintext() -> None:
    """Sealed bytes contain nothing of the message and open back to the exact original bytes."""
    raw = message_bytes()
    cipher = MessageCipher([generate_key()], "K")
    blob, scheme = cipher.seal(raw)
    assert scheme == "fernet"
    assert_no_secrets(blob, "sealed message")
    assert cipher.open(blob, scheme) == raw


def test_key_rotation_decrypts_old_messages() -> None:
    """With NEW,OLD in the variable, new messages use NEW and old ones still open."""
    old, new = generate_key(), generate_key()
    blob, scheme = MessageCipher([old], "K").seal(b"x")
    rotated = MessageCipher([new, old], "K")
    assert rotated.open(blob, scheme) == b"x"
    blob2, _ = rotated.seal(b"y")
    assert MessageCipher([new], "K").open(blob2, scheme) == b"y"


def test_wrong_key_is_a_clear_error() -> None:
    """A wrong or missing key says so; it never returns garbage."""
    blob, scheme = MessageCipher([generate_key()], "K").seal(b"x")
    with pytest.raises(EncryptionKeyError, match="cannot be decrypted"):
        MessageCipher([generate_key()], "K").open(blob, scheme)
    with pytest.raises(EncryptionKeyError, match="stored encrypted"):
        MessageCipher(None, "K").open(blob, scheme)


def test_missing_or_invalid_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Asking for encryption without a usable key stops start-up instead of storing in clear."""
    monkeypatch.delenv("DLPGATE_TEST_KEY", raising=False)
    with pytest.raises(EncryptionKeyError, match="empty or unset"):
        MessageCipher.from_env("DLPGATE_TEST_KEY", required=True)
    monkeypatch.setenv("DLPGATE_TEST_KEY", "not-a-key")
    with pytest.raises(EncryptionKeyError, match="valid Fernet key"):
        MessageCipher.from_env("DLPGATE_TEST_KEY", required=True)
    assert not MessageCipher.from_env(None, required=False).enabled
