"""Quarantined message bytes as chunk rows (issue 13, "Memory"; revision 0008), on real SQLite and (with
DLPGATE_TEST_POSTGRES_URL) real PostgreSQL: written piece by piece, read back byte for byte by reveal and
release, gone with retention, checked as a whole (a lost or swapped chunk is refused), and messages held in the
old single-blob layout before the upgrade still readable, releasable and purgeable."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from gateway.notify.release import release
from gateway.store import Store, StoreError, migrate
from gateway.store.chunks import PIECE
from gateway.store.crypto import MessageCipher, generate_key
from gateway.store.engine import make_engine
from gateway.store.records import incident_values
from gateway.store.schema import incidents, quarantine
from gateway.store.schema import quarantine_chunks as ctab
from gateway.upstream import make_upstream
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

KEY_ENV = "DLPGATE_TEST_CHUNK_KEY"


def large_submission(size: int, marker: str = "big") -> Any:
    """A real message of about ``size`` bytes (the fixture's message, then lines of random base64)."""
    sub = make_submission(marker=marker)
    filler = (os.urandom(size * 3 // 4).hex().encode()[:size])
    lines = b"\r\n".join(filler[i:i + 76] for i in range(0, len(filler), 76)) + b"\r\n"
    return dataclasses.replace(sub, raw=sub.raw + lines)


async def open_store(tmp_path: Path, url: str | None, *, keyed: bool, port: int | None = None,
                     clock: FrozenClock | None = None, monkeypatch: pytest.MonkeyPatch) -> Store:
    store_cfg: dict[str, Any] = {"retention_days": 30}
    if url:
        store_cfg["url"] = url
    if keyed:
        monkeypatch.setenv(KEY_ENV, generate_key())
        store_cfg["encryption_key_env"] = KEY_ENV
    cfg = load_config(write_config(tmp_path, upstream_port=port, store_url=url, store=store_cfg))
    return await Store.open(cfg, clock=clock or FrozenClock(), upgrade=True if url else None)


async def chunk_rows(store: Store, ref: str | None = None) -> list[Any]:
    q = sa.select(ctab.c.quarantine_id, ctab.c.seq, ctab.c.data).order_by(ctab.c.quarantine_id, ctab.c.seq)
    if ref is not None:
        q = q.join(quarantine, quarantine.c.id == ctab.c.quarantine_id).where(quarantine.c.reference == ref)
    async with store.engine.connect() as conn:
        return list((await conn.execute(q)).all())


@pytest.mark.parametrize("keyed", [False, True], ids=["clear", "encrypted"])
async def test_held_message_round_trips_through_chunks(tmp_path: Path, store_url: str | None, keyed: bool,
                                                       smtp_upstream: RecordingUpstream,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A message of several pieces is stored as consecutive chunk rows of at most 1 MiB (sealed ones when a key
    is set: no plaintext in any of them), ``raw`` stays NULL, and reveal and release give it back byte for
    byte."""
    store = await open_store(tmp_path, store_url, keyed=keyed, port=smtp_upstream.port, monkeypatch=monkeypatch)
    up = make_upstream(smtp_upstream.url, local_hostname="t", timeout=10)
    try:
        sub = large_submission(int(2.3 * PIECE))
        ref = await store.quarantine(sub, make_scan(sub), quarantine_decision())
        rows = await chunk_rows(store, ref)
        assert [r.seq for r in rows] == list(range(math.ceil(len(sub.raw) / PIECE))) and len(rows) == 3
        assert all(len(r.data) <= 1024 * 1024 for r in rows)
        if keyed:
            assert all(b"Peregrine" not in bytes(r.data) for r in rows)
        else:
            assert b"".join(bytes(r.data) for r in rows) == sub.raw
        async with store.engine.connect() as conn:
            held = (await conn.execute(sa.select(quarantine.c.raw, quarantine.c.sha256, quarantine.c.encryption)
                                       .where(quarantine.c.reference == ref))).one()
        assert held.raw is None and held.sha256 == hashlib.sha256(sub.raw).hexdigest()
        assert held.encryption == ("fernet" if keyed else "none")
        assert await store.reveal_message(ref, actor="ivy", reason="check") == sub.raw
        reply = await release(store, ref, up, actor="ivy", reason="fine")
        assert reply.ok
        assert smtp_upstream.messages[-1].data == sub.raw
        small = make_submission(marker="small")
        ref2 = await store.quarantine(small, make_scan(small), quarantine_decision())
        assert len(await chunk_rows(store, ref2)) == 1
        assert await store.reveal_message(ref2, actor="ivy", reason="check") == small.raw
    finally:
        await up.close()
        await store.close()


async def test_a_lost_or_swapped_chunk_is_refused(tmp_path: Path, store_url: str | None,
                                                  smtp_upstream: RecordingUpstream,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Each chunk is authenticated on its own, so the whole is checked too: with two chunks swapped, or one
    deleted, reveal refuses and a release sends nothing and leaves the message held."""
    store = await open_store(tmp_path, store_url, keyed=True, port=smtp_upstream.port, monkeypatch=monkeypatch)
    up = make_upstream(smtp_upstream.url, local_hostname="t", timeout=10)
    try:
        sub = large_submission(int(2.5 * PIECE))
        ref = await store.quarantine(sub, make_scan(sub), quarantine_decision())
        rows = await chunk_rows(store, ref)
        qid = rows[0].quarantine_id
        async with store.engine.begin() as conn:
            for seq, data in ((0, rows[1].data), (1, rows[0].data)):
                await conn.execute(sa.update(ctab).where(ctab.c.quarantine_id == qid, ctab.c.seq == seq)
                                   .values(data=data))
        with pytest.raises(StoreError, match="checksum"):
            await store.reveal_message(ref, actor="ivy", reason="check")
        async with store.engine.begin() as conn:
            await conn.execute(sa.delete(ctab).where(ctab.c.quarantine_id == qid, ctab.c.seq == 1))
        with pytest.raises(StoreError, match="missing"):
            await release(store, ref, up, actor="ivy", reason="fine")
        assert smtp_upstream.messages == []
        record = await store.get_quarantined(ref)
        assert record is not None and record.state == "held"
    finally:
        await up.close()
        await store.close()


async def test_a_spool_cut_short_is_never_held(tmp_path: Path, store_url: str | None,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A spool file that breaks off after some chunks were written is not stored: the quarantine write fails
    (the SMTP layer answers 4xx, never "held") and its rollback leaves no incident, row or chunk."""
    from gateway.message_spool import MessageSpool

    store = await open_store(tmp_path, store_url, keyed=False, monkeypatch=monkeypatch)
    spool = MessageSpool(tmp_path / "spool", memory_limit=1024)
    try:
        data = large_submission(3 * PIECE).raw
        head, _, body = data.partition(b"\r\n\r\n")
        for line in (head + b"\r\n").splitlines(keepends=True):
            spool.write_head(line)
        for line in (b"\r\n" + body).splitlines(keepends=True):
            spool.write(line)
        spool.finish()
        assert spool.path is not None
        with open(spool.path, "r+b") as fh:  # the end of the last record gone, after a few pieces' worth
            fh.truncate(os.path.getsize(spool.path) - 10)
        sub = dataclasses.replace(make_submission(), raw=b"", source=spool)
        with pytest.raises(OSError, match="truncated"):
            await store.quarantine(sub, make_scan(make_submission()), quarantine_decision())
        assert await store.list_quarantine() == [] and await chunk_rows(store) == []
        async with store.engine.connect() as conn:
            assert (await conn.execute(sa.select(sa.func.count()).select_from(incidents))).scalar_one() == 0
    finally:
        spool.close()
        await store.close()


async def test_retention_deletes_the_chunks(tmp_path: Path, store_url: str | None,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Purging an expired message removes every chunk row of it (and only of it); a dry run removes none."""
    clock = FrozenClock()
    store = await open_store(tmp_path, store_url, keyed=True, clock=clock, monkeypatch=monkeypatch)
    try:
        old = large_submission(2 * PIECE, "old")
        old_ref = await store.quarantine(old, make_scan(old), quarantine_decision())
        clock.advance(days=29)
        new = large_submission(PIECE + 10, "new")
        new_ref = await store.quarantine(new, make_scan(new), quarantine_decision())
        clock.advance(days=2)
        assert len(await chunk_rows(store, old_ref)) == 3 and len(await chunk_rows(store, new_ref)) == 2
        assert await store.purge_expired(dry_run=True) == [old_ref]
        assert len(await chunk_rows(store, old_ref)) == 3
        assert await store.purge_expired() == [old_ref]
        assert await chunk_rows(store, old_ref) == [] and len(await chunk_rows(store, new_ref)) == 2
        record = await store.get_quarantined(old_ref)
        assert record is not None and record.state == "expired" and not record.has_message
        assert await store.reveal_message(new_ref, actor="o", reason="look") == new.raw
    finally:
        await store.close()


async def _old_layout_database(tmp_path: Path, url: str | None, monkeypatch: pytest.MonkeyPatch,
                               raws: list[bytes]) -> tuple[Any, list[str]]:
    """A database at revision 0006 holding ``raws`` as quarantined messages the way dlpgate stored them then:
    the whole Fernet token in ``quarantine.raw``. Returns the config and their references."""
    monkeypatch.setenv(KEY_ENV, generate_key())
    store_cfg: dict[str, Any] = {"encryption_key_env": KEY_ENV, "retention_days": 30}
    if url:
        store_cfg["url"] = url
    cfg = load_config(write_config(tmp_path, store_url=url, store=store_cfg))
    cipher = MessageCipher.from_env(KEY_ENV, required=True)
    engine = make_engine(cfg)
    refs = []
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: migrate.upgrade(c, "0006"))
            for i, raw in enumerate(raws, 1):
                sub = dataclasses.replace(make_submission(marker=f"old{i}"), raw=raw)
                ref = f"INC-2025-00000{i}"  # another year: no clash with the numbers handed out later
                values = incident_values(sub, make_scan(sub), quarantine_decision(), reference=ref, node="a",
                                         now=sub.received_at, delivered=False, quarantined=True,
                                         upstream_reply=None)
                inc = (await conn.execute(sa.insert(incidents).values(**values).returning(incidents.c.id))
                       ).scalar_one()
                blob, scheme = cipher.seal(raw)
                await conn.execute(sa.insert(quarantine).values(
                    incident_id=inc, reference=ref, stored_at=sub.received_at, mail_from=sub.mail_from,
                    rcpt_tos=list(sub.rcpt_tos), raw=blob, encryption=scheme,
                    sha256=hashlib.sha256(raw).hexdigest(), size=len(raw), state="held",
                    state_changed_at=sub.received_at))
                refs.append(ref)
    finally:
        await engine.dispose()
    return cfg, refs


async def test_upgrade_keeps_old_single_blob_messages(tmp_path: Path, store_url: str | None,
                                                      smtp_upstream: RecordingUpstream,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Upgrading a 0006 database that holds messages in the old layout (one encrypted blob in ``raw``) leaves
    them where they are (no chunk rows made, no blob rewritten): reveal and release read them byte for byte,
    retention purges them, and a message held after the upgrade goes into chunks beside them."""
    raws = [large_submission(int(1.5 * PIECE), "a").raw, make_submission(marker="b").raw,
            make_submission(marker="c").raw]
    cfg, refs = await _old_layout_database(tmp_path, store_url, monkeypatch, raws)
    engine = make_engine(cfg)
    try:
        async with engine.connect() as conn:
            before = (await conn.execute(sa.select(quarantine.c.raw).order_by(quarantine.c.id))).scalars().all()
    finally:
        await engine.dispose()
    clock = FrozenClock()
    store = await Store.open(cfg, clock=clock, upgrade=True)
    up = make_upstream(smtp_upstream.url, local_hostname="t", timeout=10)
    try:
        assert (await store.schema_status()).current == migrate.head_revision() == "0008"
        assert await chunk_rows(store) == []
        async with store.engine.connect() as conn:
            after = (await conn.execute(sa.select(quarantine.c.raw).order_by(quarantine.c.id))).scalars().all()
        assert [bytes(b) for b in after] == [bytes(b) for b in before]
        assert await store.reveal_message(refs[0], actor="ivy", reason="check") == raws[0]
        assert (await release(store, refs[1], up, actor="ivy", reason="fine")).ok
        assert smtp_upstream.messages[-1].data == raws[1]
        clock.advance(days=20)
        new = large_submission(PIECE + 1, "new")
        new_ref = await store.quarantine(new, make_scan(new), quarantine_decision())
        assert len(await chunk_rows(store, new_ref)) == 2
        clock.advance(days=11)
        assert sorted(await store.purge_expired()) == sorted(refs)
        async with store.engine.connect() as conn:
            left = (await conn.execute(sa.select(quarantine.c.reference).where(quarantine.c.raw.is_not(None)))
                    ).scalars().all()
        assert left == []
        assert await store.reveal_message(new_ref, actor="ivy", reason="check") == new.raw
    finally:
        await up.close()
        await store.close()


async def test_downgrade_refuses_to_drop_chunked_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Going back below 0008 would lose messages held as chunks: the downgrade refuses while any exist."""
    store = await open_store(tmp_path, None, keyed=False, monkeypatch=monkeypatch)
    try:
        sub = make_submission()
        await store.quarantine(sub, make_scan(sub), quarantine_decision())
        with pytest.raises(RuntimeError, match="chunk rows"):
            async with store.engine.begin() as conn:
                await conn.run_sync(lambda c: command.downgrade(_alembic(c), "0007"))
        assert (await store.schema_status()).current == "0008"
    finally:
        await store.close()


def _alembic(conn: sa.Connection) -> Any:
    cfg = migrate.alembic_config()
    cfg.attributes["connection"] = conn
    return cfg
