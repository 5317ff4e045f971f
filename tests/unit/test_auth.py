"""AUTH users file: argon2/scrypt only, and repeated logins do not pay the hash cost again."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gateway.config_errors import ConfigError
from gateway.smtp.auth import UserDatabase, hash_argon2, hash_scrypt


def test_plain_passwords_are_refused(tmp_path: Path) -> None:
    """A users file with a plain password is a config error naming the line."""
    f = tmp_path / "users"
    f.write_text("exchange:hunter2\n")
    with pytest.raises(ConfigError) as exc:
        UserDatabase.load(f)
    assert "line 1" in str(exc.value) and "argon2" in str(exc.value)


def test_verify_and_cache(tmp_path: Path) -> None:
    """Right passwords pass (argon2 and scrypt), wrong ones fail every time, a repeat success is fast."""
    f = tmp_path / "users"
    f.write_text(f"a:{hash_argon2('pw-a')}\nb:{hash_scrypt('pw-b')}\n")
    db = UserDatabase.load(f)
    assert db.verify("a", b"pw-a") and db.verify("b", b"pw-b")
    assert not db.verify("a", b"wrong") and not db.verify("nobody", b"pw-a")
    t0 = time.perf_counter()
    for _ in range(100):
        assert db.verify("a", b"pw-a")
    assert time.perf_counter() - t0 < 0.05  # 100 argon2 checks would take seconds
    assert not db.verify("a", b"pw-a-but-wrong")
