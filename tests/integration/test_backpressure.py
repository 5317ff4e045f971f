"""Back-pressure: a saturated worker pool makes new messages wait a bounded time, then answers 451 4.3.2."""

from __future__ import annotations

import asyncio
import smtplib

from tests.smtp_fixtures import Upstream, send


def _heavy(i: int) -> bytes:
    line = b"Report on Amelia Thompson, DOB 14/03/2017, NHS 943 476 5919, 12 Willow Crescent, Leeds LS6 2QT.\r\n"
    return (b"From: Jane Smith <jane.smith@cafcass.gov.uk>\r\nTo: n.okafor@okafor-law.co.uk\r\n"
            b"Subject: bundle %d\r\n\r\n" % i) + line * 6000


async def test_saturated_pool_gives_451_and_loses_nothing(gateway_factory, upstream: Upstream) -> None:
    """With one worker, one queue slot and a short wait, a burst gets some 451 4.3.2; every message is either
    delivered once or refused temporarily."""
    app = await gateway_factory({"upstream": {"url": upstream.url},
                                 "scan": {"enabled": True, "workers": 1, "max_queue": 1, "queue_wait_seconds": 0.2}})

    async def one(i: int) -> str:
        try:
            await asyncio.to_thread(send, app.port, "jane.smith@cafcass.gov.uk", ["n.okafor@okafor-law.co.uk"],
                                    _heavy(i))
            return "ok"
        except smtplib.SMTPDataError as exc:
            return f"{exc.smtp_code} {exc.smtp_error.decode()[:5]}"

    results = await asyncio.gather(*(one(i) for i in range(6)))
    assert results.count("ok") == len(upstream.handler.messages) >= 1
    busy = [r for r in results if r != "ok"]
    assert busy and all(r == "451 4.3.2" for r in busy), results
    assert app.runtime is not None and app.runtime.pool is not None and app.runtime.pool.waiting == 0
