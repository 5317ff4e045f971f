"""Immediate potential-breach alerts (email + webhook), their retry, and the held-message notice to senders:
the store commits, the ``Notifier`` attached to it sends."""

from __future__ import annotations

import email
import email.policy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from gateway.notify.alerts import retry_alerts
from gateway.notify.notifier import Notifier
from gateway.policy.model import Action
from gateway.store import Store
from gateway.upstream import make_upstream
from tests.store_fixtures import (
    FrozenClock,
    RecordingUpstream,
    assert_no_secrets,
    free_port,
    load_config,
    make_scan,
    make_submission,
    monitor_decision,
    quarantine_decision,
    smtp_upstream,
    webhook,
    write_config,
)

__all__ = ["smtp_upstream", "webhook"]


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def body_text(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


@asynccontextmanager
async def open_store(tmp_path: Path, port: int, clock: FrozenClock,
                     **gateway: Any) -> AsyncIterator[tuple[Store, Notifier]]:
    """A store with a Notifier attached, as ``serve`` wires them; closed (notifier first) afterwards."""
    cfg = load_config(write_config(tmp_path, upstream_port=port, **gateway))
    store = await Store.open(cfg, clock=clock)
    notifier = Notifier(cfg, store, make_upstream(f"smtp://127.0.0.1:{port}", local_hostname="t", timeout=5))
    store.attach_listener(notifier)
    try:
        yield store, notifier
    finally:
        await notifier.close()
        await notifier.upstream.close()
        await store.close()


async def test_monitor_hit_raises_no_alert(tmp_path: Path, smtp_upstream: RecordingUpstream,
                                          webhook: tuple[str, list[dict[str, Any]]]) -> None:
    """Monitor mode changes nothing (issue 15): a monitor-mode hit is recorded for the trends page, as a ``new``
    incident with no clock, and neither emails nor posts an alert, now or on the scheduler's retry."""
    url, posts = webhook
    clock = FrozenClock()
    async with open_store(tmp_path, smtp_upstream.port, clock,
                          alerts={"email": True, "webhook_url": url}) as (store, notifier):
        sub = make_submission()
        ref = await store.record_incident(sub, make_scan(sub), monitor_decision(Action.REJECT), delivered=True,
                                          upstream_reply="250 ok")
        await notifier.drain()
        clock.advance(minutes=30)
        up = make_upstream(smtp_upstream.url, local_hostname="t", timeout=5)
        assert await retry_alerts(store.cfg, store, up) == 0
        await up.close()
        rec = await store.get_incident(ref)
        assert rec is not None and rec.status == "new" and rec.deadline_at is None
        assert [r["mode"] for r in rec.rules] == ["monitor"]
    assert smtp_upstream.messages == [] and posts == []


async def test_potential_breach_alerts_at_once(tmp_path: Path, smtp_upstream: RecordingUpstream,
                                               webhook: tuple[str, list[dict[str, Any]]]) -> None:
    """A potential breach emails the governance address and posts the webhook, with no values in either."""
    url, posts = webhook
    clock = FrozenClock()
    alerts = {"email": True, "webhook_url": url}
    async with open_store(tmp_path, smtp_upstream.port, clock, alerts=alerts) as (store, notifier):
        with capture_logs() as logs:
            sub = make_submission()
            ref = await store.record_incident(sub, make_scan(sub), monitor_decision(), delivered=True,
                                              upstream_reply="250 ok")
            await store.mark_incident(ref, "potential_breach", actor="gina", reason="sent to a personal address")
            await notifier.drain()
        assert len(smtp_upstream.messages) == 1
        sent = smtp_upstream.messages[0]
        assert sent.rcpt_tos == ["governance@cafcass.gov.uk"]
        msg = parse(sent.data)
        assert ref in str(msg["Subject"]) and msg["X-DLP-Incident"] == ref
        text = body_text(msg)
        assert "2026-03-11 09:00" in text  # deadline, London time (GMT in March)
        assert "someone@gmail.com (freemail)" in text and "NHS number: 1" in text
        assert_no_secrets(sent.data.decode(), "alert email")
        assert "NHS *** *** 5919" not in text
        assert len(posts) == 1 and posts[0]["reference"] == ref and posts[0]["hours_left"] == 24.0
        assert "recipients" not in posts[0] and "sender" not in posts[0]
        assert_no_secrets(str(posts[0]), "webhook")
        rec = await store.get_incident(ref)
        assert rec is not None and rec.alerted_at == clock.now
        assert_no_secrets(str(logs), "logs")
        assert "someone@gmail.com" not in str(logs) and "alice@cafcass.gov.uk" not in str(logs)


async def test_alert_failures_are_logged_then_retried(tmp_path: Path, smtp_upstream: RecordingUpstream) -> None:
    """Alerts that cannot go out never fail the caller; the scheduler's retry sends each one once."""
    clock = FrozenClock()
    dead = free_port()
    async with open_store(tmp_path, dead, clock,
                          alerts={"email": True, "webhook_url": f"http://127.0.0.1:{free_port()}/x",
                                  "webhook_timeout": 1}) as (store, notifier):
        with capture_logs() as logs:
            sub = make_submission()
            ref = await store.record_incident(sub, make_scan(sub), monitor_decision(Action.ENCRYPT), delivered=True)
            await store.mark_incident(ref, "potential_breach", actor="gina", reason="sent to a personal address")
            await notifier.drain()
        events = {e["event"] for e in logs}
        assert {"alert.email_failed", "alert.webhook_failed"} <= events
        assert all(e.get("reference") == ref for e in logs if e["event"].startswith("alert."))
        up = make_upstream(smtp_upstream.url, local_hostname="t", timeout=5)
        # too soon: the first attempt may still be in flight
        assert await retry_alerts(store.cfg, store, up) == 0
        clock.advance(minutes=6)
        assert await retry_alerts(store.cfg, store, up) == 1
        assert await retry_alerts(store.cfg, store, up) == 0
        clock.advance(minutes=6)
        assert await retry_alerts(store.cfg, store, up) == 0
        assert len(smtp_upstream.messages) == 1
        await up.close()


async def test_sender_is_told_the_message_is_held(tmp_path: Path, smtp_upstream: RecordingUpstream) -> None:
    """The sender gets types, clause and reference from a null envelope sender; never the values."""
    notifications = {"notify_sender_on_quarantine": True, "contact": "ia@cafcass.gov.uk"}
    async with open_store(tmp_path, smtp_upstream.port, FrozenClock(),
                          notifications=notifications) as (store, notifier):
        sub = make_submission()
        ref = await store.quarantine(sub, make_scan(sub), quarantine_decision())
        null = make_submission(mail_from="")
        await store.quarantine(null, make_scan(null), quarantine_decision())
        await notifier.drain()
        assert len(smtp_upstream.messages) == 1
        sent = smtp_upstream.messages[0]
        assert sent.mail_from in ("", "<>") and sent.rcpt_tos == ["alice@cafcass.gov.uk"]
        msg = parse(sent.data)
        assert msg["Auto-Submitted"] == "auto-generated" and msg["In-Reply-To"] == "<m1@dlpgate.test>"
        text = body_text(msg)
        assert ref in text and "IA 4.3" in text and "NHS number" in text and "ia@cafcass.gov.uk" in text
        assert f"reference {ref}" in text  # the policy's reason with {ref} filled in
        assert_no_secrets(sent.data.decode(), "sender notice")


async def test_no_notice_when_disabled(tmp_path: Path, smtp_upstream: RecordingUpstream) -> None:
    """notify_sender_on_quarantine: false sends nothing."""
    async with open_store(tmp_path, smtp_upstream.port, FrozenClock()) as (store, notifier):
        sub = make_submission()
        await store.quarantine(sub, make_scan(sub), quarantine_decision())
        await notifier.drain()
        assert smtp_upstream.messages == []
