"""Mail is never lost and "held" is always true when the database misbehaves (issue 13): a database file deleted or
replaced under a running gateway answers 451 and /readyz says not ready; an incident that cannot be written while
the message is relayed is spooled to a local file and written once the database is back."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import smtplib
import socket
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.store import Store, StoreError
from gateway.store.schema import incidents
from tests.smtp_fixtures import REPO, Upstream
from tests.store_fixtures import (
    NHS_NUMBER,
    SUBJECT,
    FrozenClock,
    load_config,
    make_scan,
    make_submission,
    monitor_decision,
    quarantine_decision,
    write_config,
)

SAMPLES = REPO / "samples" / "policy"
SENDER = "jane.smith@cafcass.gov.uk"
HELD = ("lookalike-typo-fire.eml", "tom.jones@cafcas.gov.uk")
ENCRYPTED = ("protected-info-fire.eml", "n.okafor@okafor-law.co.uk")


def _sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _send(port: int, which: tuple[str, str]) -> tuple[int, str]:
    """One message over real SMTP: (code, text) of the DATA reply."""
    name, rcpt = which
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
        client.ehlo("client.test")
        client.mail(SENDER)
        client.rcpt(rcpt)
        code, text = client.data(_sample(name))
    return code, text.decode()


def _ready(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


# ------------------------------------------------------------------ the store on its own


@pytest.mark.parametrize("fault", ["deleted", "replaced"])
async def test_store_refuses_writes_to_a_file_that_is_no_longer_configured(tmp_path: Path, fault: str) -> None:
    """After the database file is deleted or replaced, quarantine() and record_incident() raise instead of
    writing into the old file, and ping() reports the store not ready."""
    cfg = load_config(write_config(tmp_path))
    store = await Store.open(cfg, clock=FrozenClock())
    try:
        sub = make_submission()
        await store.quarantine(sub, make_scan(sub), quarantine_decision())
        assert await store.ping()
        assert await store.write_probe() == {}
        store._probe_cache = None  # the next probe must look again, not reuse this answer
        db = cfg.state_dir / "dlpgate.db"
        if fault == "deleted":
            _remove_database(db)
        else:
            copy = tmp_path / "restored.db"
            shutil.copy(db, copy)
            os.replace(copy, db)
        with pytest.raises(StoreError):
            await store.quarantine(sub, make_scan(sub), quarantine_decision())
        with pytest.raises(StoreError):
            await store.record_incident(sub, make_scan(sub), monitor_decision(), delivered=True)
        assert await store.ping() is False
        failed = await store.write_probe()
        assert list(failed) == ["database_write"] and failed["database_write"].startswith("StoreChanged: ")
    finally:
        await store.close()
    if fault == "replaced":  # the file at the path holds exactly what was there before the swap
        reopened = await Store.open(cfg)
        try:
            assert len(await reopened.list_quarantine()) == 1
        finally:
            await reopened.close()


# ------------------------------------------------------------------ through the running gateway


async def test_deleted_database_answers_451_and_readyz_fails(gateway_factory, upstream: Upstream) -> None:
    """Delete the database under a running gateway: the next held message gets 451 (never "250 ... held"),
    /readyz answers 503 naming the database, and nothing was delivered."""
    mport = _free_port()
    app = await gateway_factory({"upstream": {"url": upstream.url}, "scan": {"enabled": True, "workers": 1},
                                 "metrics": {"listen": f"127.0.0.1:{mport}"},
                                 "notifications": {"notify_sender_on_quarantine": False}})
    code, text = await asyncio.to_thread(_send, app.port, HELD)
    assert code == 250 and "held for review" in text
    for _ in range(100):
        if app.metrics is not None and app.metrics.port:
            break
        await asyncio.sleep(0.02)
    status, body = await asyncio.to_thread(_ready, mport)
    assert "database ok" in body, body

    _remove_database(app.cfg.state_dir / "dlpgate.db")
    code, text = await asyncio.to_thread(_send, app.port, HELD)
    assert code == 451, text
    assert "held" not in text
    status, body = await asyncio.to_thread(_ready, mport)
    assert status == 503 and "database FAIL" in body
    assert upstream.handler.messages == []


async def test_incident_is_spooled_while_the_database_is_locked(gateway_factory, upstream: Upstream,
                                                                 tmp_path: Path) -> None:
    """With the database locked by another process: an encrypted message is relayed (250) and its incident
    spooled to one fsynced file holding no message content; a held message gets 451. Once the database is free,
    the next start of the scheduler writes the spooled incident and removes the file."""
    app = await gateway_factory({"upstream": {"url": upstream.url}, "scan": {"enabled": True, "workers": 1},
                                 "store": {"busy_timeout_seconds": 0.3},
                                 "notifications": {"notify_sender_on_quarantine": False}})
    db = app.cfg.state_dir / "dlpgate.db"
    spool = app.cfg.state_dir / "spool" / "incidents"
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        code, text = await asyncio.to_thread(_send, app.port, ENCRYPTED)
        assert code == 250 and "relayed" in text
        assert b"Subject: [encrypt] " in upstream.handler.messages[0].data
        files = sorted(spool.iterdir())
        assert len(files) == 1
        assert oct(files[0].stat().st_mode & 0o777) == "0o600"
        record = files[0].read_text()
        assert "Amelia Rose Thompson" not in record and "943 476 5919" not in record
        assert json.loads(record)["incident"]["action"] == "encrypt"

        code, text = await asyncio.to_thread(_send, app.port, HELD)
        assert code == 451 and "held" not in text
        assert len(upstream.handler.messages) == 1
    finally:
        locker.rollback()
        locker.close()
    await app.stop(grace=2)

    second = await gateway_factory({"upstream": {"url": upstream.url}, "store": {"busy_timeout_seconds": 0.3}})
    assert second.store is not None
    rows: list[sa.Row[tuple[str, str, bool]]] = []
    for _ in range(100):
        async with second.store.engine.connect() as conn:
            rows = list((await conn.execute(
                sa.select(incidents.c.action, incidents.c.status, incidents.c.delivered))).all())
        if rows:
            break
        await asyncio.sleep(0.05)
    assert [tuple(r) for r in rows] == [("encrypt", "new", True)]
    assert list(spool.iterdir()) == []


async def test_spooled_incident_written_once(tmp_path: Path) -> None:
    """Replaying the spool twice (two scheduler ticks, or a crash after the commit but before the file was
    removed) writes the incident once; the spool file holds the incident record only."""
    cfg = load_config(write_config(tmp_path))
    store = await Store.open(cfg, clock=FrozenClock())
    try:
        sub = make_submission()
        path = await store.spool_incident(sub, make_scan(sub), monitor_decision(), delivered=True,
                                          upstream_reply="250 ok")
        text = path.read_text()
        assert NHS_NUMBER not in text and SUBJECT not in text
        keep = path.read_bytes()
        assert await store.replay_spool() == 1
        path.write_bytes(keep)  # as if the process died before unlinking the file
        assert await store.replay_spool() == 0
        assert not path.exists()
        records = await store.list_incidents()
        assert [(r.status, r.delivered, r.created_at) for r in records] == [
            ("new", True, FrozenClock().now)]
    finally:
        await store.close()
