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
