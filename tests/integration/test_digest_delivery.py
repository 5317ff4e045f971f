"""The daily digest delivered to a real SMTP upstream on loopback: counts for a seeded day, no personal values
anywhere (digest, incident tables, logs), sent once per day across nodes and restarts, and on schedule."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from gateway.cli import main
from gateway.notify.digest import send_digest
from gateway.notify.scheduler import run_digest_scheduler
from gateway.policy.model import Action, Decision
from gateway.store import Store
from gateway.upstream import make_upstream
from tests.store_fixtures import (
    FrozenClock,
    RecordingUpstream,
    assert_no_secrets,
    dump_tables,
    hit,
    load_config,
    make_scan,
    make_submission,
    monitor_decision,
    quarantine_decision,
    reject_decision,
    run_cli,
    smtp_upstream,
    store_url,
    write_config,
)

__all__ = ["smtp_upstream", "store_url"]

DAY = date(2026, 3, 10)


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    """In-process CLI runs configure structlog for stderr; put the defaults back for other tests."""
    yield
    structlog.reset_defaults()


async def seed_day(store: Store, clock: FrozenClock) -> dict[str, str]:
    """Six incidents on 10 March 2026 (London), one the evening before, one each of the 7 days before that."""
    refs: dict[str, str] = {}
    for i in range(7):
        clock.now = datetime(2026, 3, 3 + i, 12, 0, tzinfo=UTC)
        sub = make_submission(mail_from="dave@cafcass.gov.uk")
        await store.record_incident(sub, make_scan(sub), reject_decision(), delivered=False)

    async def at(hour: int, minute: int = 0) -> None:
        clock.now = datetime(2026, 3, 10, hour, minute, tzinfo=UTC)

    await at(9)
    sub = make_submission()
    refs["q1"] = await store.quarantine(sub, make_scan(sub), quarantine_decision())
    await at(10)
    sub = make_submission(mail_from="carol@cafcass.gov.uk", marker="m2")
    refs["q2"] = await store.quarantine(sub, make_scan(sub), quarantine_decision())
    await at(11)
    sub = make_submission()
    refs["r1"] = await store.record_incident(sub, make_scan(sub), reject_decision(), delivered=False)
    await at(16)
    sub = make_submission()
    refs["pb"] = await store.record_incident(sub, make_scan(sub), monitor_decision(), delivered=True,
                                             upstream_reply="250 2.0.0 queued")
    await store.mark_incident(refs["pb"], "potential_breach", actor="gina", reason="went to a personal address")
    await at(17)
    sub = make_submission()
    tag = Decision(Action.TAG, hits=(hit("bcc-reminder", Action.TAG, clause="IA 4.6"),))
    refs["tag"] = await store.record_incident(sub, make_scan(sub, with_findings=False), tag, delivered=True)
    await at(23, 30)  # still 10 March in London (GMT)
    sub = make_submission(mail_from="dave@cafcass.gov.uk")
    refs["r2"] = await store.record_incident(sub, make_scan(sub), reject_decision(), delivered=False)
    return refs


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def part(msg: EmailMessage, subtype: str) -> str:
    p = msg.get_body((subtype,))
    assert p is not None
    return str(p.get_content())  # type: ignore[attr-defined]


def config(tmp_path: Path, url: str | None, port: int, **gateway: Any) -> Any:
    store: dict[str, Any] = {"url": url, "auto_upgrade": True} if url else {}
    return load_config(write_config(tmp_path, upstream_port=port, store=store, alerts={"email": False},
                                    **gateway))


def test_digest_for_a_seeded_day(tmp_path: Path, smtp_upstream: RecordingUpstream) -> None:
    """`dlpgate digest send --date` delivers the day's counts to governance, once, with no personal values
    in the digest, the incident tables or the logs."""
    cfg = config(tmp_path, None, smtp_upstream.port)

    async def seed() -> tuple[dict[str, str], str]:
        store = await Store.open(cfg, clock=FrozenClock())
        try:
            refs = await seed_day(store, store.clock)  # type: ignore[arg-type]
            return refs, await dump_tables(cfg)
        finally:
            await store.close()

    with capture_logs() as logs:
        refs, tables = asyncio.run(seed())
    proc = run_cli("digest", "send", "--date", "2026-03-10", "--config", str(cfg.directory), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "digest for 2026-03-10 sent to governance@cafcass.gov.uk" in proc.stdout
    assert len(smtp_upstream.messages) == 1
    sent = smtp_upstream.messages[0]
    assert sent.rcpt_tos == ["governance@cafcass.gov.uk"] and sent.mail_from == "dlpgate@cafcass.gov.uk"
    msg = parse(sent.data)
    assert str(msg["Subject"]).strip() == "Cafcass DLP digest for Tue 10 Mar 2026 - 1 potential breach open"
    assert msg["X-DLP-Digest"] == "2026-03-10"
    text, html = part(msg, "plain"), part(msg, "html")
    assert "Totals for the day: 6 incidents" in text
    for line in ("pass             1", "tag              1", "encrypt          0", "quarantine       2",
                 "reject           2", "potential_breach       1", "new                    5"):
        assert line in text, line
    assert "personal-data-freemail           IA 4.3     enforce  quarantine     2" in text
    assert "special-category-external        IA 4.5     monitor  quarantine     1" in text
    assert "IA 4.9           2" in text
    assert "person's name                    in 5 messages (10 findings)" in text
    assert "NhsRecognizer                        5" in text
    assert "freemail           6" in text and "internal           6" in text
    assert refs["q1"] in text and refs["q2"] in text and refs["pb"] in text
    assert "carol@cafcass.gov.uk" in text and "r*****.pdf" in text  # names masked (issue 13)
    assert "dave@cafcass.gov.uk: 1 on the day, 8 in the last 8 days" in text
    assert "7-day average 1.0; this day 6 (+500%)" in text
    assert refs["pb"] in html and "Totals for the day: 6 incidents" in html
    assert_no_secrets(sent.data, "digest email")
    assert_no_secrets(text + html, "digest parts")
    assert_no_secrets(tables, "incident tables")
    assert_no_secrets(str(logs), "seeding logs")
    assert_no_secrets(proc.stdout + proc.stderr, "CLI output and logs")
    for address in ("someone@gmail.com", "alice@cafcass.gov.uk"):
        assert address not in str(logs) and address not in proc.stderr
    again = run_cli("digest", "send", "--date", "2026-03-10", "--config", str(cfg.directory), cwd=tmp_path)
    assert again.returncode == 1 and "already sent" in again.stderr
    assert len(smtp_upstream.messages) == 1


async def test_one_digest_per_day_across_nodes(tmp_path: Path, store_url: str | None,
                                               smtp_upstream: RecordingUpstream) -> None:
    """Two nodes sending the same day's digest at once produce one email; a later attempt sends nothing."""
    cfg = config(tmp_path, store_url, smtp_upstream.port)
    clock = FrozenClock()
    a = await Store.open(cfg, clock=clock)
    b = await Store.open(cfg.__class__(cfg.directory, cfg.gateway.model_copy(update={"node_name": "node-b"}),
                                       cfg.policy, cfg.detectors), clock=clock)
    up = make_upstream(smtp_upstream.url, local_hostname="t", timeout=5)
    try:
        await seed_day(a, clock)
        clock.now = datetime(2026, 3, 11, 7, 0, tzinfo=UTC)
        outcomes = await asyncio.gather(*(send_digest(cfg, s, up, day=DAY) for s in (a, b, a, b)))
        statuses = sorted(o.status for o in outcomes)
        assert statuses.count("sent") == 1
        assert set(statuses) <= {"sent", "already_sent", "busy"}
        assert len(smtp_upstream.messages) == 1
        assert await a.digest_state(DAY) == "sent"
        assert (await send_digest(cfg, b, up, day=DAY)).status == "already_sent"
        assert (await send_digest(cfg, b, up, day=DAY, force=True)).status == "sent"
        assert len(smtp_upstream.messages) == 2
    finally:
        await up.close()
        await a.close()
        await b.close()


async def test_failed_send_is_not_marked_sent(tmp_path: Path, smtp_upstream: RecordingUpstream) -> None:
    """If the upstream refuses the digest the day stays open, so the next attempt sends it."""
    cfg = config(tmp_path, None, smtp_upstream.port)
    store = await Store.open(cfg, clock=FrozenClock(datetime(2026, 3, 11, 7, 0, tzinfo=UTC)))
    up = make_upstream(smtp_upstream.url, local_hostname="t", timeout=5)
    try:
        smtp_upstream.handler.refuse_data = "451 4.3.0 try later"
        failed = await send_digest(cfg, store, up, day=DAY)
        assert failed.status == "failed" and await store.digest_state(DAY) is None
        smtp_upstream.handler.refuse_data = None
        assert (await send_digest(cfg, store, up, day=DAY)).status == "sent"
    finally:
        await up.close()
        await store.close()


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def test_scheduler_sends_at_the_configured_time_once(tmp_path: Path, store_url: str | None,
                                                           smtp_upstream: RecordingUpstream) -> None:
    """`serve`'s scheduler sends yesterday's digest once after send_at, not before, and not again after a
    restart or from a second node."""
    cfg = config(tmp_path, store_url, smtp_upstream.port)
    clock = FrozenClock(datetime(2026, 7, 11, 5, 59, tzinfo=UTC))  # 06:59 in London (BST)
    a = await Store.open(cfg, clock=clock)
    b = await Store.open(cfg, clock=clock)
    up = make_upstream(smtp_upstream.url, local_hostname="t", timeout=5)
    stop = asyncio.Event()
    try:
        task_a = asyncio.create_task(run_digest_scheduler(cfg, a, up, stop, tick=0.02))
        await asyncio.sleep(0.3)
        assert smtp_upstream.messages == []
        clock.advance(minutes=2)
        task_b = asyncio.create_task(run_digest_scheduler(cfg, b, up, stop, tick=0.02))
        await wait_for(lambda: len(smtp_upstream.messages) == 1)
        assert parse(smtp_upstream.messages[0].data)["X-DLP-Digest"] == "2026-07-10"
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.gather(task_a, task_b)
        restarted = asyncio.Event()
        task_c = asyncio.create_task(run_digest_scheduler(cfg, a, up, restarted, tick=0.02))
        await asyncio.sleep(0.3)
        restarted.set()
        await task_c
        assert len(smtp_upstream.messages) == 1
    finally:
        stop.set()
        await up.close()
        await a.close()
        await b.close()


def test_dry_run_prints_and_records_nothing(tmp_path: Path, smtp_upstream: RecordingUpstream,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`digest send --dry-run` prints the digest and neither sends nor marks the day."""
    cfg = config(tmp_path, None, smtp_upstream.port)

    async def state() -> str | None:
        store = await Store.open(cfg)
        try:
            return await store.digest_state(DAY)
        finally:
            await store.close()

    assert asyncio.run(state()) is None  # creates the (empty) store, as `serve` would: the CLI never does
    capsys.readouterr()
    rc = main(["digest", "send", "--date", "2026-03-10", "--dry-run", "--config", str(cfg.directory)])
    out = capsys.readouterr().out
    assert rc == 0 and out.startswith("Subject: Cafcass DLP digest for Tue 10 Mar 2026")
    assert "Totals for the day: 0 incidents" in out
    rc = main(["digest", "send", "--date", "2026-03-10", "--dry-run", "--format", "html",
               "--config", str(cfg.directory)])
    assert rc == 0 and capsys.readouterr().out.startswith("<!DOCTYPE html>")
    assert smtp_upstream.messages == []
    assert asyncio.run(state()) is None
