"""Soak: 2,000 messages over 20 connections with the upstream stopped and restarted in the middle."""

from __future__ import annotations

import asyncio
import resource
import time

import aiosmtplib
import pytest

from tests.smtp_fixtures import Upstream

pytestmark = pytest.mark.soak

TOTAL = 2000
CONNECTIONS = 20


def _message(i: int) -> bytes:
    return (
        b"From: Sender <sender@cafcass.gov.uk>\r\nTo: r@cafcass.gov.uk\r\n"
        b"Subject: soak\r\nMessage-ID: <soak-%d@test>\r\n\r\nmessage number %d\r\n" % (i, i)
    )


def _rss_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def test_soak_upstream_restart_loses_nothing(gateway_factory, upstream: Upstream) -> None:
    """Every message is delivered exactly once or refused with a 4xx (client keeps it); memory stays bounded."""
    app = await gateway_factory({"upstream": {"url": upstream.url, "timeout": 5},
                                 "server": {"max_connections": 50}})
    accepted: list[int] = []
    tempfailed: list[int] = []
    other: list[tuple[int, str]] = []
    numbers = iter(range(TOTAL))
    started = time.monotonic()

    async def client() -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=app.port, timeout=30)
        await smtp.connect()
        for i in numbers:
            try:
                if not smtp.is_connected:
                    await smtp.connect()
                await smtp.sendmail("sender@cafcass.gov.uk", ["r@cafcass.gov.uk"], _message(i))
                accepted.append(i)
            except aiosmtplib.SMTPResponseException as exc:
                if 400 <= exc.code < 500:
                    tempfailed.append(i)
                else:
                    other.append((i, str(exc.code)))
                if exc.code == 421:
                    smtp.close()
            except aiosmtplib.SMTPRecipientsRefused as exc:
                codes = {r.code for r in exc.recipients}
                if all(400 <= c < 500 for c in codes):
                    tempfailed.append(i)
                else:
                    other.append((i, str(codes)))
            except (aiosmtplib.SMTPException, OSError) as exc:
                other.append((i, exc.__class__.__name__))
                smtp.close()
        if smtp.is_connected:
            await smtp.quit()

    async def chaos() -> None:
        while len(accepted) < TOTAL // 3:
            await asyncio.sleep(0.01)
        port = upstream.port
        await upstream.stop()
        await asyncio.sleep(1.0)
        await upstream.start(port)

    rss_before = _rss_kb()
    await asyncio.wait_for(asyncio.gather(chaos(), *(client() for _ in range(CONNECTIONS))), 60)
    elapsed = time.monotonic() - started
    rss_after = _rss_kb()

    delivered = [int(m.data.split(b"message number ")[1].split(b"\r\n")[0]) for m in upstream.handler.messages]
    assert other == [], other[:5]
    assert len(delivered) == len(set(delivered)), "a message was delivered twice"
    assert set(delivered) == set(accepted), "250 given for a message the upstream does not have (or vice versa)"
    assert set(accepted) | set(tempfailed) == set(range(TOTAL))
    assert not set(accepted) & set(tempfailed)
    assert tempfailed, "the upstream outage should have produced some 4xx replies"
    assert app.handler is not None and app.handler.stats.open_transactions == 0
    assert rss_after - rss_before < 150_000, f"RSS grew by {rss_after - rss_before} kB"
    assert elapsed < 60


DB_TOTAL = 150
DB_CONNECTIONS = 8
HELD_RCPT = "tom.jones@cafcas.gov.uk"  # a lookalike domain: held
ENCRYPT_RCPT = "n.okafor@okafor-law.co.uk"  # protected information to a solicitor: encrypted and recorded
PLAIN_RCPT = "r@cafcass.gov.uk"


def _db_message(i: int) -> tuple[str, bytes]:
    """(recipient, message): every third held, every third encrypted with an incident, the rest passed."""
    kind = i % 3
    rcpt = (HELD_RCPT, ENCRYPT_RCPT, PLAIN_RCPT)[kind]
    body = (b"Child: Amelia Rose Thompson\r\nDate of birth: 14/03/2017\r\nNHS number: 943 476 5919\r\n"
            if kind == 1 else b"See you at the meeting.\r\n")
    return rcpt, (
        b"From: Jane Smith <jane.smith@cafcass.gov.uk>\r\nTo: <" + rcpt.encode() + b">\r\n"
        b"Subject: soak %d\r\nMessage-ID: <soakdb-%d@test>\r\n\r\n" % (i, i) + body
        + b"message number %d\r\n" % i
    )


async def test_soak_database_locked_loses_nothing(gateway_factory, upstream: Upstream) -> None:
    """With the database locked by another process in the middle of the run: every message is delivered exactly
    once or answered 4xx, every "held" reference is in the store, and every relayed message that needed an
    incident has one once the spool is written (issue 13: never a false "held", never a lost incident)."""
    import sqlite3

    import sqlalchemy as sa

    from gateway.store.schema import incidents

    app = await gateway_factory({"upstream": {"url": upstream.url, "timeout": 5},
                                 "scan": {"enabled": True, "workers": 1, "queue_wait_seconds": 60},
                                 "store": {"busy_timeout_seconds": 0.3},
                                 "notifications": {"notify_sender_on_quarantine": False}})
    assert app.store is not None
    accepted: dict[int, str] = {}
    tempfailed: list[int] = []
    other: list[tuple[int, str]] = []
    numbers = iter(range(DB_TOTAL))
    locked = asyncio.Event()

    async def client() -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=app.port, timeout=60)
        await smtp.connect()
        for i in numbers:
            rcpt, raw = _db_message(i)
            try:
                _, text = await smtp.sendmail("jane.smith@cafcass.gov.uk", [rcpt], raw)
                accepted[i] = text
            except aiosmtplib.SMTPResponseException as exc:
                if 400 <= exc.code < 500:
                    tempfailed.append(i)
                else:
                    other.append((i, str(exc.code)))
            except aiosmtplib.SMTPRecipientsRefused as exc:
                codes = {r.code for r in exc.recipients}
                if all(400 <= c < 500 for c in codes):
                    tempfailed.append(i)
                else:
                    other.append((i, str(codes)))
            except (aiosmtplib.SMTPException, OSError) as exc:
                other.append((i, exc.__class__.__name__))
                smtp.close()
                await smtp.connect()
        if smtp.is_connected:
            await smtp.quit()

    async def chaos() -> None:
        while len(accepted) < DB_TOTAL // 3:
            await asyncio.sleep(0.01)
        locker = sqlite3.connect(app.cfg.state_dir / "dlpgate.db", isolation_level=None, timeout=60,
                                 check_same_thread=False)
        await asyncio.to_thread(locker.execute, "BEGIN EXCLUSIVE")  # waits for the gateway's write in flight
        locked.set()
        await asyncio.sleep(2.0)
        await asyncio.to_thread(locker.rollback)
        locker.close()

    await asyncio.wait_for(asyncio.gather(chaos(), *(client() for _ in range(DB_CONNECTIONS))), 240)
    assert locked.is_set()
    assert other == [], other[:5]
    assert set(accepted) | set(tempfailed) == set(range(DB_TOTAL)) and not set(accepted) & set(tempfailed)
    assert any(i % 3 == 0 for i in tempfailed), "the lock should have refused some held messages with 451"

    delivered = [int(m.data.split(b"message number ")[1].split(b"\r\n")[0]) for m in upstream.handler.messages]
    assert len(delivered) == len(set(delivered)), "a message was delivered twice"
    relayed = {i for i in accepted if i % 3 != 0}
    assert set(delivered) == relayed, "250 for a relayed message the upstream does not have (or vice versa)"

    held_refs = {text.split("reference ")[1].split()[0] for i, text in accepted.items() if i % 3 == 0}
    stored = {q.reference for q in await app.store.list_quarantine(states=None)}
    assert held_refs == stored, "a 250 'held' that is not in the store"

    await app.store.replay_spool()
    async with app.store.engine.connect() as conn:
        encrypt_incidents = (await conn.execute(
            sa.select(sa.func.count()).select_from(incidents).where(incidents.c.action == "encrypt"))).scalar_one()
    assert encrypt_incidents == len({i for i in accepted if i % 3 == 1}), "an encrypted message lost its incident"
