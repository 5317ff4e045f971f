"""Console accounts, four eyes and the hash-chained audit trail in the store, and their CLI verbs (issue 14), on
SQLite and (with ``DLPGATE_TEST_POSTGRES_URL``) PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.config import Config, load
from gateway.console.security import WeakPassword, check_password, hash_password, lock_until
from gateway.store import Conflict, Store
from gateway.store.engine import make_engine
from tests.store_fixtures import store_url, write_config

__all__ = ["store_url"]

DLPGATE = [sys.executable, "-m", "gateway.cli"]


async def _sql(cfg: Config, *statements: str) -> None:
    """Tamper with the database behind the store's back, as someone with database access could."""
    engine = make_engine(cfg)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


async def test_chain_detects_edits_and_removals(tmp_path: Path, store_url: str | None) -> None:
    cfg = load(write_config(tmp_path, store_url=store_url))
    store = await Store.open(cfg, upgrade=True if store_url else None)
    try:
        for n in range(5):
            await store.record_access("export", actor=f"user{n}", reason="test", detail={"n": n}, source="10.0.0.1")
        report = await store.verify_audit_chain()
        assert report.ok and report.rows == 5
    finally:
        await store.close()
    await _sql(cfg, "UPDATE audit SET reason = 'edited' WHERE id = 3")
    rc = subprocess.run([*DLPGATE, "audit", "verify", "--config", str(tmp_path / "config")],
                        capture_output=True, text=True)
    assert rc.returncode == 1 and "BROKEN at row 3" in rc.stdout and "edited" in rc.stdout
    await _sql(cfg, "UPDATE audit SET reason = 'test' WHERE id = 3", "DELETE FROM audit WHERE id = 2")
    store = await Store.open(cfg)
    try:
        report = await store.verify_audit_chain()
        assert not report.ok and report.broken_at == 3 and "removed" in (report.problem or "")
    finally:
        await store.close()


async def test_four_eyes_requester_never_approves(tmp_path: Path, store_url: str | None) -> None:
    from tests.store_fixtures import make_scan, make_submission, quarantine_decision

    store = await Store.open(load(write_config(tmp_path, store_url=store_url)), upgrade=True if store_url else None)
    try:
        sub = make_submission()
        ref = await store.quarantine(sub, make_scan(sub), quarantine_decision())
        approval = await store.request_approval(ref, "release", actor="ann", reason="both parties")
        with pytest.raises(Conflict, match="another person"):
            await store.decide_approval(approval, approver="ann", approve=True, reason="me")
        with pytest.raises(Conflict):
            await store.request_approval(ref, "release", actor="bob", reason="again")
        done = await store.decide_approval(approval, approver="bob", approve=True, reason="agreed")
        assert done.state == "approved" and done.decided_by == "bob"
        with pytest.raises(Conflict):
            await store.decide_approval(approval, approver="carol", approve=False, reason="late")
        assert (await store.verify_audit_chain()).ok
    finally:
        await store.close()


def test_passwords_and_backoff() -> None:
    with pytest.raises(WeakPassword):
        hash_password("short")
    h = hash_password("twelve chars ok")
    assert h.startswith("$argon2id$") and check_password(h, "twelve chars ok")
    assert not check_password(h, "twelve chars no") and not check_password(None, "anything at all")
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert lock_until(0, now, after=3, first_seconds=60) is None
    assert lock_until(2, now, after=3, first_seconds=60) == now + timedelta(seconds=60)
    assert lock_until(3, now, after=3, first_seconds=60) == now + timedelta(seconds=120)
    assert lock_until(40, now, after=3, first_seconds=60) == now + timedelta(days=1)


def test_users_cli(tmp_path: Path, store_url: str | None) -> None:
    cfg = write_config(tmp_path, store_url=store_url)
    subprocess.run([*DLPGATE, "db", "upgrade", "--config", str(cfg)], capture_output=True, check=False)
    add = [*DLPGATE, "users", "add", "rita", "--role", "reviewer", "--password-stdin", "--config", str(cfg)]
    weak = subprocess.run(add, input="short\n", capture_output=True, text=True)
    assert weak.returncode == 2 and "12 characters" in weak.stderr
    ok = subprocess.run(add, input="a long enough password\n", capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    role = subprocess.run([*DLPGATE, "users", "role", "rita", "approver", "--config", str(cfg)],
                          capture_output=True, text=True)
    assert role.returncode == 0, role.stderr
    listed = subprocess.run([*DLPGATE, "users", "list", "--config", str(cfg)], capture_output=True, text=True)
    assert "rita" in listed.stdout and "approver" in listed.stdout
    verify = subprocess.run([*DLPGATE, "audit", "verify", "--config", str(cfg)], capture_output=True, text=True)
    assert verify.returncode == 0 and "intact: 2 rows" in verify.stdout
