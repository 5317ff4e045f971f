"""A scan worker killed mid-scan (OOM killer, operator) is a temporary failure: 451 to the client, and the log
line and the metrics say so instead of counting the message as a pass (issue 13)."""

from __future__ import annotations

import asyncio
import smtplib
import socket
import urllib.request

from structlog.testing import capture_logs

from tests.smtp_fixtures import Upstream, send


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _heavy() -> bytes:
    line = b"Report on Amelia Thompson, DOB 14/03/2017, NHS 943 476 5919, 12 Willow Crescent, Leeds LS6 2QT.\r\n"
    return (b"From: Jane Smith <jane.smith@cafcass.gov.uk>\r\nTo: n.okafor@okafor-law.co.uk\r\n"
            b"Subject: bundle\r\n\r\n") + line * 20000


async def test_worker_killed_mid_scan_is_logged_and_counted_as_tempfail(gateway_factory, upstream: Upstream) -> None:
    """SIGKILL on the worker scanning a message: the client gets 451, nothing goes upstream, and the transaction
    is logged and counted as decision=tempfail with its error, never decision=pass."""
    mport = _free_port()
    app = await gateway_factory({"upstream": {"url": upstream.url}, "scan": {"enabled": True, "workers": 1},
                                 "metrics": {"listen": f"127.0.0.1:{mport}"}})
    pool = app.runtime.pool
    assert pool is not None and pool._executor is not None
    workers = list(pool._executor._processes.values())

    async def killer() -> None:
        while pool.running == 0:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)
        for proc in workers:
            proc.kill()

    def attempt() -> int:
        try:
            send(app.port, "jane.smith@cafcass.gov.uk", ["n.okafor@okafor-law.co.uk"], _heavy(), timeout=120)
        except smtplib.SMTPDataError as exc:
            return exc.smtp_code
        return 250

    with capture_logs() as logs:
        code, _ = await asyncio.gather(asyncio.to_thread(attempt), killer())
    assert code == 451
    assert upstream.handler.messages == []
    [line] = [e for e in logs if e["event"] == "transaction"]
    assert line["decision"] == "tempfail" and line["reply"] == "451"
    assert line["error"] == "BrokenProcessPool"
    for _ in range(50):
        if app.metrics is not None and app.metrics.port:
            break
        await asyncio.sleep(0.02)
    body = await asyncio.to_thread(
        lambda: urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=5).read().decode())
    assert 'dlpgate_messages_total{decision="tempfail",reply="4xx"} 1.0' in body
    assert 'decision="pass"' not in body
    assert "dlpgate_internal_errors_total 1.0" in body
