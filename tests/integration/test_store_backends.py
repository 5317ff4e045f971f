"""The store on real SQLite and (when DLPGATE_TEST_POSTGRES_URL is set) real PostgreSQL: durability,
unique references, at-most-once release, audit, retention, encryption at rest and the schema check."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gateway.notify.release import release
from gateway.store import Conflict, ReleaseFailed, ReleaseUncertain, SchemaError, Store
from gateway.store.crypto import generate_key
from gateway.store.engine import make_engine
from gateway.store.schema import metadata
from gateway.upstream import Reply, Transaction, UpstreamError, make_upstream
from tests.store_fixtures import (
    FrozenClock,
    RecordingUpstream,
    assert_no_secrets,
    dump_tables,
    free_port,
    load_config,
    make_scan,
    make_submission,
    monitor_decision,
    quarantine_decision,
    reject_decision,
    smtp_upstream,
    sqlite_file_bytes,
    store_url,
    write_config,
)

__all__ = ["smtp_upstream", "store_url"]


async def open_store(tmp_path: Path, url: str | None, *, port: int | None = None, clock: FrozenClock | None = None,
                     node: str = "node-a", **gateway: Any) -> Store:
    cfg = load_config(write_config(tmp_path, upstream_port=port, store_url=url, node_name=node, **gateway))
    return await Store.open(cfg, clock=clock or FrozenClock(), upgrade=True if url else None)


async def held(store: Store, marker: str = "m1") -> tuple[str, bytes]:
    sub = make_submission(marker=marker)
    ref = await store.quarantine(sub, make_scan(sub), quarantine_decision())
    return ref, sub.raw


async def test_quarantine_is_committed_before_return(tmp_path: Path, store_url: str | None) -> None:
    """Once quarantine() returns, another connection sees the incident and the exact message bytes."""
    store = await open_store(tmp_path, store_url)
    ref, raw = await held(store)
    other = await Store.open(store.cfg)
    try:
        q = await other.get_quarantined(ref)
        assert q is not None and q.state == "held" and q.incident.status == "new"
        assert q.rcpt_tos == ["someone@gmail.com", "bob@cafcass.gov.uk"]
        assert await other.reveal_message(ref, actor="tester", reason="check") == raw
    finally:
        await other.close()
        await store.close()
    assert ref.startswith("INC-2026-")


async def test_references_unique_across_nodes(tmp_path: Path, store_url: str | None) -> None:
    """Two nodes writing at once never hand out the same reference."""
    a = await open_store(tmp_path / "a", store_url, node="node-a") if store_url else None
    if a is None:  # SQLite: two Store objects on one file stand in for two processes
        a = await open_store(tmp_path, None, node="node-a")
    b = await Store.open(a.cfg)
    try:
        async def many(store: Store) -> list[str]:
            out = []
            for _ in range(15):
                sub = make_submission()
                out.append(await store.record_incident(sub, make_scan(sub), reject_decision(), delivered=False))
            return out

        refs = [r for batch in await asyncio.gather(many(a), many(b)) for r in batch]
        assert len(set(refs)) == 30
    finally:
        await a.close()
        await b.close()


async def test_release_is_at_most_once_under_a_race(tmp_path: Path, store_url: str | None,
                                                    smtp_upstream: RecordingUpstream) -> None:
    """Several concurrent releases from two nodes deliver the message exactly once; the rest are refused."""
    a = await open_store(tmp_path, store_url, port=smtp_upstream.port)
    b = await Store.open(a.cfg)
    ref, raw = await held(a)
    up = make_upstream(smtp_upstream.url, local_hostname="t", timeout=5)
    try:
        results = await asyncio.gather(
            *(release(s, ref, up, actor=f"officer{i}", reason="ok") for i, s in enumerate([a, b, a, b, a])),
            return_exceptions=True,
        )
        assert sum(1 for r in results if not isinstance(r, BaseException)) == 1
        assert all(isinstance(r, Conflict) for r in results if isinstance(r, BaseException))
        assert len(smtp_upstream.messages) == 1
        got = smtp_upstream.messages[0]
        assert got.data == raw and got.mail_from == "alice@cafcass.gov.uk"
        assert got.rcpt_tos == ["someone@gmail.com", "bob@cafcass.gov.uk"]
        q = await a.get_quarantined(ref)
        assert q is not None and q.state == "released" and q.incident.status == "new" and q.incident.delivered
        events = [e.event for e in await a.audit_entries(reference=ref)]
        assert events == ["release_started", "release"]
    finally:
        await up.close()
        await a.close()
        await b.close()


async def test_refused_or_unreachable_upstream_keeps_it_held(tmp_path: Path, store_url: str | None,
                                                            smtp_upstream: RecordingUpstream) -> None:
    """A refusal or an unreachable upstream leaves the message held (and audited) so it can be released later."""
    store = await open_store(tmp_path, store_url, port=smtp_upstream.port)
    ref, _ = await held(store)
    smtp_upstream.handler.refuse_data = "554 5.7.1 no thanks"
    up = make_upstream(smtp_upstream.url, local_hostname="t", timeout=5)
    down = make_upstream(f"smtp://127.0.0.1:{free_port()}", local_hostname="t", timeout=2)
    try:
        with pytest.raises(ReleaseFailed, match="refused with 554"):
            await release(store, ref, up, actor="o", reason="r")
        with pytest.raises(ReleaseFailed, match="unreachable"):
            await release(store, ref, down, actor="o", reason="r")
        q = await store.get_quarantined(ref)
        assert q is not None and q.state == "held"
        smtp_upstream.handler.refuse_data = None
        await release(store, ref, up, actor="o", reason="r")
        assert len(smtp_upstream.messages) == 1
        events = [e.event for e in await store.audit_entries(reference=ref)]
        assert events.count("release_failed") == 2 and events[-1] == "release"
    finally:
        await up.close()
        await down.close()
        await store.close()


class DropsDuringData:
    """An upstream that accepts MAIL and RCPT, then loses the connection while the message is handed over."""

    description = "drops-during-data"

    async def begin(self) -> Transaction:
        return self

    async def mail(self, sender: str, options: Sequence[str]) -> Reply:
        return Reply(250, "2.1.0 Ok")

    async def rcpt(self, recipient: str, options: Sequence[str]) -> Reply:
        return Reply(250, "2.1.5 Ok")

    async def data(self, message: bytes) -> Reply:
        raise UpstreamError("connection lost during DATA")

    async def abort(self) -> None:
        return None

    async def probe(self) -> bool:
        return True

    async def close(self) -> None:
        return None


async def test_connection_lost_during_data_stays_releasing(tmp_path: Path, store_url: str | None,
                                                           smtp_upstream: RecordingUpstream) -> None:
    """A release whose connection fails during DATA may have delivered: it stays 'releasing' (audited) and
    only --force sends it again."""
    store = await open_store(tmp_path, store_url, port=smtp_upstream.port)
    ref, raw = await held(store)
    up = make_upstream(smtp_upstream.url, local_hostname="t", timeout=5)
    try:
        with pytest.raises(ReleaseUncertain, match="may have been delivered"):
            await release(store, ref, DropsDuringData(), actor="o", reason="r")
        q = await store.get_quarantined(ref)
        assert q is not None and q.state == "releasing"
        with pytest.raises(Conflict, match=r"releasing: cannot release .*--force"):
            await release(store, ref, up, actor="o", reason="again")
        await release(store, ref, up, actor="o", reason="checked with recipients", force=True)
        assert [m.data for m in smtp_upstream.messages] == [raw]
        events = [e.event for e in await store.audit_entries(reference=ref)]
        assert events == ["release_started", "release_uncertain", "release_started", "release"]
    finally:
        await up.close()
        await store.close()


class RaisingListener:
    """An after-commit listener that records what it was told, then fails."""

    sends_alerts = True

    def __init__(self) -> None:
        self.told: list[str] = []

    def potential_breach(self, ref: str) -> None:
        self.told.append(ref)
        raise RuntimeError("alert machinery broken")

    def quarantined(self, ref: str, *_: Any) -> None:
        self.told.append(ref)
        raise RuntimeError("notice machinery broken")


async def test_a_failing_listener_cannot_undo_a_commit(tmp_path: Path, store_url: str | None) -> None:
    """What follows a commit (alerts, notices) cannot turn a stored message into an error: the 250 stands, and
    a potential breach's alert is claimed for the listener in the same insert."""
    store = await open_store(tmp_path, store_url)
    listener = RaisingListener()
    store.attach_listener(listener)
    try:
        ref, _ = await held(store)
        sub = make_submission()
        breach = await store.record_incident(sub, make_scan(sub), monitor_decision(), delivered=True)
        assert listener.told == [ref]  # a monitor hit alerts nobody (issue 15)
        await store.mark_incident(breach, "potential_breach", actor="gina", reason="went to a personal address")
        assert listener.told == [ref, breach]
        q = await store.get_quarantined(ref)
        assert q is not None and q.state == "held"
        rec = await store.get_incident(breach)
        assert rec is not None and rec.status == "potential_breach" and rec.alert_attempt_at == store.clock()
    finally:
        await store.close()


async def test_reject_and_mark_are_audited(tmp_path: Path, store_url: str | None) -> None:
    """Rejection and status changes record who, when and why; a rejected message cannot be released."""
    clock = FrozenClock()
    store = await open_store(tmp_path, store_url, clock=clock)
    try:
        ref, _ = await held(store)
        await store.reject(ref, actor="gina", reason="personal data to gmail")
        with pytest.raises(Conflict, match="is rejected"):
            await store.reject(ref, actor="gina", reason="again")
        up = make_upstream("smtp://127.0.0.1:9", local_hostname="t", timeout=1)
        with pytest.raises(Conflict, match="rejected: cannot release"):
            await release(store, ref, up, actor="gina", reason="oops")
        sub = make_submission()
        other = await store.record_incident(sub, make_scan(sub), reject_decision(), delivered=False)
        clock.advance(hours=1)
        rec = await store.mark_incident(other, "potential_breach", actor="gina", reason="sent elsewhere too")
        assert rec.status == "potential_breach" and rec.deadline_at == clock.now + timedelta(hours=24)
        with pytest.raises(Conflict, match="can go to reported_internally"):
            await store.mark_incident(other, "false_positive", actor="hal", reason="test data")
        with pytest.raises(Conflict, match="needs a note"):
            await store.mark_incident(other, "reported_internally", actor="hal", reason=" ")
        rec = await store.mark_incident(other, "reported_internally", actor="hal", reason="told IA")
        assert rec.status == "reported_internally"
        with pytest.raises(Conflict):
            await store.mark_incident(other, "released", actor="hal", reason="no")
        trail = await store.audit_entries(reference=other)
        assert [(a.actor, a.old_status, a.new_status, a.reason) for a in trail] == [
            ("gina", "new", "potential_breach", "sent elsewhere too"),
            ("hal", "potential_breach", "reported_internally", "told IA"),
        ]
        assert trail[0].at == clock.now
        assert [a.event for a in await store.audit_entries(reference=ref)] == ["reject"]
    finally:
        await store.close()


async def test_retention_purges_message_bytes(tmp_path: Path, store_url: str | None,
                                              smtp_upstream: RecordingUpstream) -> None:
    """After retention_days the bytes go (held ones become expired), the records and audit stay."""
    clock = FrozenClock()
    store = await open_store(tmp_path, store_url, port=smtp_upstream.port, clock=clock,
                             store={"url": store_url, "retention_days": 30} if store_url else {"retention_days": 30})
    up = make_upstream(smtp_upstream.url, local_hostname="t", timeout=5)
    try:
        old_held, _ = await held(store)
        old_released, _ = await held(store, "m2")
        await release(store, old_released, up, actor="o", reason="fine")
        clock.advance(days=29)
        recent, _ = await held(store, "m3")
        clock.advance(days=2)
        assert sorted(await store.purge_expired(dry_run=True)) == sorted([old_held, old_released])
        assert sorted(await store.purge_expired()) == sorted([old_held, old_released])
        assert await store.purge_expired() == []
        q = await store.get_quarantined(old_held)
        assert q is not None and q.state == "expired" and not q.has_message
        q = await store.get_quarantined(old_released)
        assert q is not None and q.state == "released" and not q.has_message
        with pytest.raises(Conflict):
            await release(store, old_held, up, actor="o", reason="late")
        with pytest.raises(Conflict, match="purged"):
            await store.reveal_message(old_held, actor="o", reason="look")
        assert (await store.get_quarantined(recent)).has_message  # type: ignore[union-attr]
        assert [e.event for e in await store.audit_entries(reference=old_held)] == ["purge"]
    finally:
        await up.close()
        await store.close()


async def test_encryption_at_rest(tmp_path: Path, store_url: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a key in the environment no message content is readable in the database; reveal is audited."""
    monkeypatch.setenv("DLPGATE_TEST_STORE_KEY", generate_key())
    store_cfg: dict[str, Any] = {"encryption_key_env": "DLPGATE_TEST_STORE_KEY"}
    if store_url:
        store_cfg["url"] = store_url
    store = await open_store(tmp_path, store_url, store=store_cfg)
    try:
        ref, raw = await held(store)
        sub = make_submission()
        await store.record_incident(sub, make_scan(sub), monitor_decision(), delivered=True)
        async with store.engine.connect() as conn:
            blob = (await conn.execute(sa.text("SELECT raw, encryption FROM quarantine"))).one()
            chunks = (await conn.execute(sa.text("SELECT data FROM quarantine_chunks"))).scalars().all()
        assert blob.encryption == "fernet" and blob.raw is None and len(chunks) == 1
        assert_no_secrets(bytes(chunks[0]), "stored chunk")
        if store_url is None:
            assert_no_secrets(sqlite_file_bytes(store.cfg), "SQLite file")
        assert await store.reveal_message(ref, actor="ivy", reason="assessing") == raw
        trail = await store.audit_entries(reference=ref)
        assert [(a.event, a.actor, a.reason) for a in trail] == [("reveal", "ivy", "assessing")]
    finally:
        await store.close()
    monkeypatch.delenv("DLPGATE_TEST_STORE_KEY")
    with pytest.raises(Exception, match="empty or unset"):
        await Store.open(store.cfg)


async def test_no_personal_values_in_incident_tables(tmp_path: Path, store_url: str | None) -> None:
    """Incidents, audit and bookkeeping tables never hold a matched value or the subject."""
    store = await open_store(tmp_path, store_url)
    try:
        await held(store)
        sub = make_submission()
        await store.record_incident(sub, make_scan(sub), monitor_decision(), delivered=True)
        await store.record_incident(sub, make_scan(sub), reject_decision(), delivered=False)
        text = await dump_tables(store.cfg)
        assert "NHS *** *** 5919" in text and "someone@gmail.com" in text
        assert_no_secrets(text, "incident tables")
    finally:
        await store.close()


async def test_schema_matches_models(tmp_path: Path, store_url: str | None) -> None:
    """The migrations create exactly the tables the code describes."""
    store = await open_store(tmp_path, store_url)
    try:
        def diff(conn: sa.Connection) -> list[Any]:
            ctx = MigrationContext.configure(conn, opts={"version_table": "dlpgate_alembic_version",
                                                         "compare_type": False})
            return list(compare_metadata(ctx, metadata))

        async with store.engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await store.close()


async def test_schema_behind_refuses_to_start(tmp_path: Path, store_url: str | None) -> None:
    """An old schema stops start-up with a message naming `dlpgate db upgrade`, unless auto_upgrade."""
    store_cfg: dict[str, Any] = {"auto_upgrade": False}
    if store_url:
        store_cfg["url"] = store_url
    cfg = load_config(write_config(tmp_path, store=store_cfg))
    with pytest.raises(SchemaError, match="dlpgate db upgrade"):
        await Store.open(cfg)
    if store_url:
        default = load_config(write_config(tmp_path / "d", store={"url": store_url}))
        with pytest.raises(SchemaError, match="dlpgate db upgrade"):
            await Store.open(default)
    store = await Store.open(cfg, upgrade=True)
    assert (await store.schema_status()).up_to_date
    assert await store.ping()
    await store.close()


async def test_sqlite_is_durable_and_private(tmp_path: Path) -> None:
    """The embedded database runs with a rollback journal (no memory-mapped WAL index to SIGBUS on) and
    synchronous=FULL (the journal's truncation, the commit point, is synced too), and only its owner can read it."""
    store = await open_store(tmp_path, None)
    try:
        await held(store)
        async with store.engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "truncate"
            assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar() == 2
        mode = stat.S_IMODE(os.stat(store.cfg.state_dir / "dlpgate.db").st_mode)
        assert mode == 0o600
    finally:
        await store.close()


async def test_ping_reports_a_dead_database(tmp_path: Path) -> None:
    """/readyz sees False, not an exception, when the database is gone."""
    store = await open_store(tmp_path, None)
    await store.engine.dispose()
    engine = make_engine(store.cfg, "postgresql+asyncpg://nobody@127.0.0.1:1/none")
    store.engine = engine
    assert await store.ping() is False
    await store.close()
