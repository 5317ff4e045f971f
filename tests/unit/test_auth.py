"""AUTH users file: argon2/scrypt only, and repeated logins do not pay the hash cost again."""

from __future__ import annotations

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


def test_verify_and_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Right passwords pass (argon2 and scrypt), wrong ones fail every time, a repeat success skips argon2."""
    f = tmp_path / "users"
    f.write_text(f"a:{hash_argon2('pw-a')}\nb:{hash_scrypt('pw-b')}\n")
    db = UserDatabase.load(f)
    slow_checks = 0
    real = db._verify_slow

    def counting(user: str, password: bytes) -> bool:
        nonlocal slow_checks
        slow_checks += 1
        return real(user, password)

    monkeypatch.setattr(db, "_verify_slow", counting)
    assert db.verify("a", b"pw-a") and db.verify("b", b"pw-b")
    assert not db.verify("a", b"wrong") and not db.verify("nobody", b"pw-a")
    assert not db.verify("a", b"wrong")
    assert slow_checks == 5  # every first success and every failure pays the full hash
    for _ in range(100):
        assert db.verify("a", b"pw-a")
    assert slow_checks == 5  # the repeats were answered from the cache, not by 100 argon2 checks
    assert not db.verify("a", b"pw-a-but-wrong")
