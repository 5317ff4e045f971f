"""The review console's store and release code on SQLite and PostgreSQL (issues 14, 15, 17): release to chosen
recipients (the rest kept held or refused, never sent twice), exception revocation that applies at once, the
digest's per-day exception uses, and DKIM signing of a release that changes the message."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.digest import collect_digest
from gateway.exemptcache import ExemptionCache
from gateway.notify.release import release_held
from gateway.store import Conflict, Store
from tests.store_fixtures import (
    FrozenClock,
    RecordingUpstream,
    load_config,
    make_scan,
    make_submission,
    quarantine_decision,
    smtp_upstream,
    store_url,
    write_config,
)

__all__ = ["smtp_upstream", "store_url"]

GMAIL, BOB = "someone@gmail.com", "bob@cafcass.gov.uk"


async def open_store(tmp_path: Path, url: str | None, *, port: int | None = None,
                     clock: FrozenClock | None = None, **gateway: Any) -> Store:
    cfg = load_config(write_config(tmp_path, upstream_port=port, store_url=url, **gateway))
    return await Store.open(cfg, clock=clock or FrozenClock(), upgrade=True if url else None)


async def hold(store: Store, up: RecordingUpstream, marker: str = "m1",
               plan: dict[str, Any] | None = None) -> str:
    sub = make_submission(marker=marker)
    return await store.quarantine(sub, make_scan(sub), quarantine_decision(), route={"upstream": up.url},
                                  release_plan=plan or {"action": "pass", "headers": []})


async def test_release_to_chosen_recipients_keeps_the_rest_held(
        tmp_path: Path, store_url: str | None, smtp_upstream: RecordingUpstream) -> None:
    """Released to one recipient, the message stays held for the other; a later release reaches only the other;
    nobody gets it twice; the trail names who got it at each step."""
    store = await open_store(tmp_path, store_url, port=smtp_upstream.port)
    try:
        ref = await hold(store, smtp_upstream)
        await release_held(store, store.cfg, ref, actor="rita", reason="bob is internal", recipients=[BOB])
        assert [m.rcpt_tos for m in smtp_upstream.messages] == [[BOB]]
        q = await store.get_quarantined(ref)
        assert q is not None and q.state == "held" and q.released_to == [BOB] and q.undecided == [GMAIL]
        with pytest.raises(Conflict):  # already has it
            await release_held(store, store.cfg, ref, actor="rita", reason="again", recipients=[BOB])
        await release_held(store, store.cfg, ref, actor="rita", reason="solicitor confirmed")
        assert [m.rcpt_tos for m in smtp_upstream.messages] == [[BOB], [GMAIL]]
        q = await store.get_quarantined(ref)
        assert q is not None and q.state == "released" and q.released_to == [BOB, GMAIL]
        with pytest.raises(Conflict):
            await release_held(store, store.cfg, ref, actor="rita", reason="third time")
        assert len(smtp_upstream.messages) == 2
        trail = [a for a in await store.audit_entries(reference=ref) if a.event == "release"]
        assert trail[0].detail is not None and trail[0].detail["recipients"] == [BOB]
        assert trail[0].detail["others"] == [GMAIL] and trail[0].detail["others_are"] == "held"
        assert (await store.verify_audit_chain()).ok
    finally:
        await store.close()


async def test_release_to_chosen_recipients_refuses_the_rest(
        tmp_path: Path, store_url: str | None, smtp_upstream: RecordingUpstream) -> None:
    """With the rest refused the message is done: released to the chosen one, recorded as refused for the other."""
    store = await open_store(tmp_path, store_url, port=smtp_upstream.port)
    try:
        ref = await hold(store, smtp_upstream)
        await release_held(store, store.cfg, ref, actor="rita", reason="internal only", recipients=[BOB],
                           rest="reject")
        q = await store.get_quarantined(ref)
        assert q is not None and q.state == "released" and q.released_to == [BOB] and q.rejected_to == [GMAIL]
        assert [m.rcpt_tos for m in smtp_upstream.messages] == [[BOB]]
        with pytest.raises(Conflict):
            await release_held(store, store.cfg, ref, actor="rita", reason="the other one too")
    finally:
        await store.close()


async def test_choosing_a_stranger_changes_nothing(
        tmp_path: Path, store_url: str | None, smtp_upstream: RecordingUpstream) -> None:
    """A recipient who is not on the envelope is refused before anything is sent, and the claim is rolled back."""
    store = await open_store(tmp_path, store_url, port=smtp_upstream.port)
    try:
        ref = await hold(store, smtp_upstream)
        with pytest.raises(Conflict, match="choose recipients"):
            await release_held(store, store.cfg, ref, actor="rita", reason="x", recipients=["evil@example.net"])
        q = await store.get_quarantined(ref)
        assert q is not None and q.state == "held" and q.released_to is None
        assert smtp_upstream.messages == []
    finally:
        await store.close()


async def test_revoked_exception_stops_at_once(tmp_path: Path, store_url: str | None) -> None:
    """An admin revokes an approved exception: the gateway's cache (fresh a moment ago) drops it on the next
    message, the revocation is audited, and a second revocation is refused."""
    clock = FrozenClock()
    store = await open_store(tmp_path, store_url, clock=clock)
    try:
        exc_id = await store.request_exception(sender="@cafcass.gov.uk", recipient="okafor-law.co.uk",
                                               rules=["personal-data-freemail"], reason="court bundle this week",
                                               expires_at=clock.now + timedelta(days=7), actor="rita")
        await store.decide_exception(exc_id, approver="ann", approve=True, reason="agreed with IA")
        cache = ExemptionCache(ttl=3600)  # a long TTL: only the revocation signal can make it re-read
        assert [e.id for e in await cache.current(store)] == [exc_id]
        await store.revoke_exception(exc_id, actor="adam", reason="the case closed early")
        assert await cache.current(store) == ()
        assert await store.active_exemptions() == ()
        record = await store.get_exception(exc_id)
        assert record is not None and record.state == "revoked" and record.decided_by == "adam"
        with pytest.raises(Conflict):
            await store.revoke_exception(exc_id, actor="adam", reason="again")
        events = [(a.event, a.actor, a.reason) for a in await store.audit_entries()]
        assert ("exception_revoked", "adam", "the case closed early") in events
    finally:
        await store.close()


async def test_digest_counts_only_that_days_exception_uses(tmp_path: Path, store_url: str | None) -> None:
    """The digest for a past day counts that day's uses, not every use since (two on the day, three the day
    after: the day's digest says two)."""
    clock = FrozenClock(datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    store = await open_store(tmp_path, store_url, clock=clock)
    try:
        exc_id = await store.request_exception(sender="@cafcass.gov.uk", recipient="okafor-law.co.uk",
                                               rules=["personal-data-freemail"], reason="court bundle this week",
                                               expires_at=clock.now + timedelta(days=30), actor="rita")
        await store.decide_exception(exc_id, approver="ann", approve=True, reason="agreed")
        for n in range(2):
            await store.record_exception_use([exc_id], txn_id=f"d{n}", rules=["personal-data-freemail"])
        clock.advance(days=1)
        for n in range(3):
            await store.record_exception_use([exc_id], txn_id=f"e{n}", rules=["personal-data-freemail"])
        clock.advance(days=1)
        data = await collect_digest(store.cfg, store, date(2026, 3, 10), clock.now)
        assert [(e.id, e.uses_day, e.uses_total) for e in data.exceptions] == [(exc_id, 2, 5)]
        data = await collect_digest(store.cfg, store, date(2026, 3, 11), clock.now)
        assert [(e.id, e.uses_day) for e in data.exceptions] == [(exc_id, 3)]
    finally:
        await store.close()


def _dkim_key(tmp_path: Path) -> tuple[Path, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "dkim.key"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return path, b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


async def test_released_mail_that_changed_is_dkim_signed(
        tmp_path: Path, store_url: str | None, smtp_upstream: RecordingUpstream) -> None:
    """A release that tags the subject (the encryption the policy still required) is DKIM-signed and verifies
    with the test's public key; a release as is keeps the bytes as stored and is not re-signed."""
    key_file, record = _dkim_key(tmp_path)
    store = await open_store(tmp_path, store_url, port=smtp_upstream.port, dkim={
        "enabled": True, "domain": "cafcass.gov.uk", "selector": "dlp2026", "key_file": str(key_file)})
    plan = {"action": "encrypt", "encrypt_mode": "subject_tag", "subject_tag": "[encrypt]",
            "triggers": ["[encrypt]"], "rules": ["protected-info-unencrypted"], "headers": []}
    try:
        ref = await hold(store, smtp_upstream, "m1", plan)
        _, target = await release_held(store, store.cfg, ref, actor="rita", reason="solicitor on the case")
        assert "dkim" in target.applied
        got = smtp_upstream.messages[0].data
        assert got.startswith(b"DKIM-Signature:") and b"[encrypt]" in got.split(b"\r\n\r\n", 1)[0]

        def dns(name: bytes, timeout: int = 5) -> bytes | None:
            return record if name.decode().rstrip(".") == "dlp2026._domainkey.cafcass.gov.uk" else None

        assert dkim.verify(got, dnsfunc=dns)
        assert not dkim.verify(got.replace(b"\r\n\r\n", b"\r\n\r\nX", 1), dnsfunc=dns)
        other = await hold(store, smtp_upstream, "m2", plan)
        await release_held(store, store.cfg, other, actor="rita", reason="as is, checked", as_is=True)
        assert b"DKIM-Signature:" not in smtp_upstream.messages[1].data
    finally:
        await store.close()


async def test_queue_filters_counts_and_paging(tmp_path: Path, store_url: str | None,
                                               smtp_upstream: RecordingUpstream) -> None:
    """The queue's reads as the console uses them: rule filter and counts by rule (from the trigger-filled
    ``quarantine_rules``), sender, recipient domain, sensitivity and age filters, held and releasing merged in id
    order, and keyset paging that visits every message once in either order."""
    from gateway.policy.model import Action, Decision
    from gateway.store import QueueFilter
    from tests.store_fixtures import hit

    clock = FrozenClock()
    store = await open_store(tmp_path, store_url, port=smtp_upstream.port, clock=clock)
    try:
        refs = []
        for n in range(7):
            sub = make_submission(marker=f"q{n}", mail_from=f"user{n % 2}@cafcass.gov.uk",
                                  rcpt_tos=(f"x{n}@domain{n % 3}.example",))
            rules = (hit("rule-a", Action.QUARANTINE),) + ((hit("rule-b", Action.QUARANTINE),) if n % 2 else ())
            rules += (hit("rule-m", Action.QUARANTINE, mode="monitor"),)
            refs.append(await store.quarantine(sub, make_scan(sub, with_findings=n < 3),
                                               Decision(Action.QUARANTINE, hits=rules)))
            clock.advance(hours=10)
        await store.reject(refs[6], actor="rita", reason="gone")
        await store.claim_release(refs[2], actor="rita", reason="stuck")  # 'releasing' still shows
        everything = QueueFilter()
        assert await store.queue_count(everything) == 6
        assert await store.queue_counts_by_rule() == {"rule-a": 6, "rule-b": 3}
        for sort, expected in (("newest", refs[5::-1]), ("oldest", refs[:6])):
            seen, after = [], None
            while True:
                page = await store.queue_page(everything, sort=sort, after=after, limit=4)  # type: ignore[arg-type]
                seen += [q.reference for q in page.items]
                if page.next_after is None:
                    break
                after = page.next_after
            assert seen == expected
        cases = {
            QueueFilter(rule="rule-b"): [refs[5], refs[3], refs[1]],
            QueueFilter(rule="rule-m"): [],  # monitor-mode hits never count as holding
            QueueFilter(sender="USER1@"): [refs[5], refs[3], refs[1]],
            QueueFilter(recipient_domain="@Domain0.example"): [refs[3], refs[0]],
            QueueFilter(sensitivity="special_category"): [refs[2], refs[1], refs[0]],
            QueueFilter(older_than_hours=45): [refs[2], refs[1], refs[0]],
            QueueFilter(rule="rule-a", sensitivity="none", newer_than_hours=45): [refs[5], refs[4], refs[3]],
        }
        for flt, want in cases.items():
            page = await store.queue_page(flt, limit=50)
            assert [q.reference for q in page.items] == want, flt
            assert await store.queue_count(flt) == len(want), flt
    finally:
        await store.close()


async def test_migration_0006_fills_the_rules_of_messages_already_held(tmp_path: Path, store_url: str | None) -> None:
    """Messages held before revision 0006 get their holding rules in ``quarantine_rules`` (enforce mode only),
    so the rule filter and the counts by rule see them after the upgrade."""
    import sqlalchemy as sa

    from gateway.policy.model import Action, Decision
    from gateway.store import QueueFilter, migrate
    from gateway.store.engine import make_engine
    from gateway.store.records import incident_values
    from gateway.store.schema import incidents, quarantine
    from tests.store_fixtures import hit

    cfg = load_config(write_config(tmp_path, store_url=store_url))
    engine = make_engine(cfg)
    sub = make_submission()
    decision = Decision(Action.QUARANTINE, hits=(hit("rule-a", Action.QUARANTINE),
                                                 hit("rule-m", Action.QUARANTINE, mode="monitor")))
    values = incident_values(sub, make_scan(sub), decision, reference="INC-2026-000001", node="a",
                             now=sub.received_at, delivered=False, quarantined=True, upstream_reply=None)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: migrate.upgrade(c, "0005"))
            inc_id = (await conn.execute(sa.insert(incidents).values(**values).returning(incidents.c.id))).scalar_one()
            await conn.execute(sa.insert(quarantine).values(
                incident_id=inc_id, reference="INC-2026-000001", stored_at=sub.received_at, mail_from=sub.mail_from,
                rcpt_tos=list(sub.rcpt_tos), raw=sub.raw, encryption="none", sha256="0" * 64, size=len(sub.raw),
                state="held", state_changed_at=sub.received_at))
            await conn.run_sync(migrate.upgrade)
    finally:
        await engine.dispose()
    store = await Store.open(cfg)
    try:
        assert await store.queue_counts_by_rule() == {"rule-a": 1}
        assert await store.queue_count(QueueFilter(rule="rule-a")) == 1
        assert await store.queue_count(QueueFilter(rule="rule-m")) == 0
    finally:
        await store.close()
