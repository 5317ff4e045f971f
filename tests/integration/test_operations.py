"""Operating the gateway: reload on SIGHUP semantics, metrics, health and readiness endpoints."""

from __future__ import annotations

import asyncio
import smtplib
import socket
import urllib.error
import urllib.request

from tests.smtp_fixtures import MESSAGE, Upstream, send


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def test_reload_keeps_old_config_on_bad_file(gateway_factory, upstream: Upstream) -> None:
    """A broken policy file on reload keeps the running configuration; a good one replaces it."""
    app = await gateway_factory({"upstream": {"url": upstream.url}})
    policy = app.cfg.directory / "policy.yaml"
    good = policy.read_text()
    policy.write_text("rules: [\n  - id: broken\n")  # invalid YAML
    assert await app.reload() is False
    assert app.generation == 1
    policy.write_text(good)
    assert await app.reload() is True
    assert app.generation == 2
    await asyncio.to_thread(send, app.port, "a@cafcass.gov.uk", ["b@cafcass.gov.uk"], MESSAGE)
    assert len(upstream.handler.messages) == 1


async def test_transaction_in_flight_finishes_on_its_generation(gateway_factory, upstream: Upstream) -> None:
    """A reload during a transaction leaves that transaction on the configuration it started with."""
    app = await gateway_factory({"upstream": {"url": upstream.url}})
    first = app.runtime
    assert first is not None
    client = await asyncio.to_thread(smtplib.SMTP, "127.0.0.1", app.port, timeout=10)
    await asyncio.to_thread(client.ehlo, "c")
    await asyncio.to_thread(client.mail, "a@cafcass.gov.uk")
    await asyncio.to_thread(client.rcpt, "b@cafcass.gov.uk")
    assert await app.reload() is True
    assert app.runtime is not first and first.retired and first.in_flight == 1
    code, _ = await asyncio.to_thread(client.data, MESSAGE)
    assert code == 250
    await asyncio.to_thread(client.quit)
    for _ in range(50):
        if first.in_flight == 0:
            break
        await asyncio.sleep(0.02)
    assert first.in_flight == 0


async def test_metrics_health_and_readiness(gateway_factory, upstream: Upstream) -> None:
    """/metrics counts decisions, /healthz answers, /readyz fails when the upstream is unreachable."""
    mport = _free_port()
    app = await gateway_factory({"upstream": {"url": upstream.url}, "metrics": {"listen": f"127.0.0.1:{mport}"}})
    for _ in range(50):
        if app.metrics is not None and app.metrics.port:
            break
        await asyncio.sleep(0.02)
    await asyncio.to_thread(send, app.port, "a@cafcass.gov.uk", ["b@cafcass.gov.uk"], MESSAGE)
    status, body = await asyncio.to_thread(_get, f"http://127.0.0.1:{mport}/metrics")
    assert status == 200
    assert 'dlpgate_messages_total{decision="pass",reply="2xx"} 1.0' in body
    assert "dlpgate_transactions_in_flight" in body and "dlpgate_worker_queue" in body
    assert (await asyncio.to_thread(_get, f"http://127.0.0.1:{mport}/healthz"))[0] == 200
    status, body = await asyncio.to_thread(_get, f"http://127.0.0.1:{mport}/readyz")
    assert status == 200, body
    await upstream.stop()
    status, body = await asyncio.to_thread(_get, f"http://127.0.0.1:{mport}/readyz")
    assert status == 503 and "upstream FAIL" in body


async def test_logs_carry_no_addresses_or_subject(gateway_factory, upstream: Upstream) -> None:
    """Neither our transaction line nor aiosmtpd's own logger writes envelope addresses or the subject."""
    import io

    from gateway.logging import configure_logging

    buffer = io.StringIO()  # stays open after the test: later log lines have somewhere to go
    configure_logging(json=True, stream=buffer)
    app = await gateway_factory({"upstream": {"url": upstream.url}})
    await asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["bob@cafcass.gov.uk"], MESSAGE)
    await asyncio.sleep(0.1)
    text = buffer.getvalue()
    assert '"event": "transaction"' in text
    assert "alice@" not in text and "bob@" not in text and "Quarterly figures" not in text
