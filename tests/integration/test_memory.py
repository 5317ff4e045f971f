"""Large messages in flight (issue 13, "Memory"): spooled to disk as they arrive, encrypted there with the
quarantine's key, removed after the transaction, streamed to the next hop byte for byte, read by the scan
worker from the spool, and bounded in total (451 4.3.1 beyond ``server.max_in_flight_bytes``).

Real SMTP on loopback (smtplib client, aiosmtpd upstream), real files, real scan workers. The memory figure
itself is measured by ``bench/memory.py``, not here.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import smtplib
import socket
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.smtp_fixtures import Upstream, send
from tests.store_fixtures import store_url

__all__ = ["store_url"]

MARKER = b"UNIQUE-PLAINTEXT-MARKER-5c1d"


def big_message(size: int, *, subject: bytes = b"Big one", extra_header: bytes = b"", tail: bytes = b"") -> bytes:
    """A message of about ``size`` bytes: a text body with the awkward lines (leading dots, a lone dot, 8-bit,
    trailing spaces, a 5,000-byte line), then a base64 attachment of random bytes, then ``tail``."""
    payload = base64.encodebytes(os.urandom(size * 3 // 4)).replace(b"\n", b"\r\n")
    return (
        b"From: Alice <alice@cafcass.gov.uk>\r\nTo: Bob <bob@example.org>\r\nSubject: " + subject + b"\r\n"
        + extra_header + b"Message-ID: <big@test>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b".leading dot\r\n..two dots\r\n.\r\ncaf\xc3\xa9 \r\n" + b"x" * 5000 + b"\r\n" + MARKER + b"\r\n"
        b"--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"d.bin\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + payload + tail + b"--b1--\r\n"
    )


def spool_files(app) -> list[Path]:
    folder = app.cfg.state_dir / "spool" / "messages"
    return sorted(folder.glob("*.spool")) if folder.is_dir() else []


async def wait_for_spool(app, timeout: float = 20) -> list[Path]:
    for _ in range(int(timeout / 0.02)):
        files = spool_files(app)
        if files:
            return files
        await asyncio.sleep(0.02)
    return []


async def test_large_message_is_spooled_and_relayed_byte_exact(gateway_factory, upstream: Upstream) -> None:
    """A message over spool_threshold is kept in a file while in flight (not in memory), relayed to the next hop
    byte for byte after our Received field, and its file is gone once the client has its 250."""
    upstream.handler.data_delay = 1.0  # keep the message in flight long enough to look at the spool
    app = await gateway_factory({"upstream": {"url": upstream.url}})
    data = big_message(3_000_000)
    sending = asyncio.create_task(
        asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["bob@example.org"], data)
    )
    files = await wait_for_spool(app)
    assert len(files) == 1 and files[0].stat().st_mode & 0o777 == 0o600
    assert await sending == {}
    got = upstream.handler.messages[0].data
    assert got.endswith(data) and got[: len(got) - len(data)].startswith(b"Received: from client.test")
    assert got[: len(got) - len(data)].count(b"\r\n") == 3
    assert spool_files(app) == []


async def test_spool_is_encrypted_with_the_store_key(gateway_factory, upstream: Upstream,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """With store.encryption_key_env set, the spool file holds no plaintext; the relay is still exact."""
    monkeypatch.setenv("DLPGATE_TEST_SPOOL_KEY", Fernet.generate_key().decode())
    upstream.handler.data_delay = 1.0
    app = await gateway_factory({"upstream": {"url": upstream.url},
                                 "store": {"encryption_key_env": "DLPGATE_TEST_SPOOL_KEY"}})
    data = big_message(2_000_000)
    sending = asyncio.create_task(
        asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["bob@example.org"], data)
    )
    files = await wait_for_spool(app)
    assert files, "no spool file while the message was in flight"
    stored = files[0].read_bytes()
    assert MARKER not in stored and b"--b1" not in stored and b"caf\xc3\xa9" not in stored
    assert await sending == {}
    assert upstream.handler.messages[0].data.endswith(data)
    assert spool_files(app) == []


async def test_large_message_to_maildir_upstream(gateway_factory, tmp_path: Path) -> None:
    """The Maildir next hop writes a spooled message from its file, byte for byte."""
    maildir = tmp_path / "maildir"
    app = await gateway_factory({"upstream": {"url": f"maildir:{maildir}"}})
    data = big_message(2_000_000)
    await asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["bob@example.org"], data)
    files = list((maildir / "new").iterdir())
    assert len(files) == 1 and files[0].read_bytes().endswith(data)
    assert spool_files(app) == []


def _dialogue_data(port: int, data: bytes, *, size_param: int | None = None) -> list[bytes]:
    """MAIL/RCPT/DATA by hand (smtplib would stop at a MAIL refusal): the reply to MAIL, then to the end of DATA."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        f = s.makefile("rb")

        def reply() -> bytes:
            line = f.readline()
            while line[3:4] == b"-":
                line = f.readline()
            return line

        reply()
        s.sendall(b"EHLO client.test\r\n")
        reply()
        mail = b"MAIL FROM:<alice@cafcass.gov.uk>" + (b" SIZE=%d" % size_param if size_param else b"")
        s.sendall(mail + b"\r\n")
        first = reply()
        if not first.startswith(b"250"):
            return [first]
        s.sendall(b"RCPT TO:<bob@example.org>\r\nDATA\r\n")
        reply()
        reply()
        s.sendall(data.replace(b"\r\n.", b"\r\n..") + b".\r\n")
        return [first, reply()]


async def test_in_flight_budget_answers_451_431(gateway_factory, upstream: Upstream) -> None:
    """Past server.max_in_flight_bytes a message gets 451 4.3.1 (at MAIL when its SIZE says so, else at the end
    of DATA) and is not relayed; once the first message is through, the same message is accepted."""
    upstream.handler.data_delay = 1.5
    app = await gateway_factory({"upstream": {"url": upstream.url},
                                 "server": {"max_message_size": 2_500_000, "max_in_flight_bytes": 3_000_000}})
    data = big_message(2_000_000)
    first = asyncio.create_task(
        asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["bob@example.org"], data)
    )
    await wait_for_spool(app)
    at_mail = await asyncio.to_thread(_dialogue_data, app.port, data, size_param=len(data))
    at_data = await asyncio.to_thread(_dialogue_data, app.port, data)
    assert at_mail[0].startswith(b"451 4.3.1"), at_mail
    assert at_data[0].startswith(b"250") and at_data[1].startswith(b"451 4.3.1"), at_data
    assert await first == {}
    again = await asyncio.to_thread(_dialogue_data, app.port, data, size_param=len(data))
    assert again[1].startswith(b"250"), again
    assert len(upstream.handler.messages) == 2
    assert app.handler is not None and app.handler.budget.used == 0


ROUTES = {
    "rules": [
        {"id": "route-encrypt", "clause": "T 1", "when": {"headers": [{"name": "X-Test-Route", "pattern": "^enc$"}]},
         "action": "encrypt", "reason": "Test rule."},
        {"id": "nhs-hold", "clause": "T 2", "when": {"entities": [{"type": "UK_NHS"}]},
         "action": "quarantine", "reason": "Test rule."},
    ]
}


async def test_scan_and_act_on_spooled_messages(gateway_factory, upstream: Upstream) -> None:
    """The scan worker reads a spooled message from its file (an NHS number at its very end holds it, and the
    quarantine keeps every byte); the subject tag rewrites only the header of a spooled message."""
    app = await gateway_factory(
        {"upstream": {"url": upstream.url}, "scan": {"enabled": True, "workers": 1},
         "alerts": {"email": False}, "notifications": {"notify_sender_on_quarantine": False}},
        ROUTES,
    )
    tagged = big_message(2_000_000, extra_header=b"X-Test-Route: enc\r\n")
    await asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["bob@example.org"], tagged)
    got = upstream.handler.messages[0].data
    assert b"\r\nSubject: [encrypt] Big one\r\n" in got
    assert got.endswith(tagged.replace(b"Subject: Big one", b"Subject: [encrypt] Big one"))

    held = big_message(2_000_000, tail=b"--b1\r\nContent-Type: text/plain\r\n\r\nNHS 943 476 5919\r\n")

    def send_held() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", app.port, timeout=60) as client:
            client.ehlo("client.test")
            client.mail("alice@cafcass.gov.uk")
            client.rcpt("bob@example.org")
            return client.data(held)

    code, text = await asyncio.to_thread(send_held)
    assert code == 250 and b"held for review" in text, text
    assert len(upstream.handler.messages) == 1
    ref = text.decode().rsplit(" ", 1)[-1]
    assert app.store is not None
    stored = await app.store.reveal_message(ref, actor="test", reason="test")
    assert stored == held
    assert spool_files(app) == []


async def test_dropped_connection_mid_data_leaves_nothing(gateway_factory, upstream: Upstream) -> None:
    """A client that goes away in the middle of a large DATA leaves no spool file and no bytes counted against
    the in-flight budget, and nothing is relayed."""
    app = await gateway_factory({"upstream": {"url": upstream.url}})
    data = big_message(3_000_000).replace(b"\r\n.", b"\r\n..")  # as a client sends it: dot-stuffed

    def half() -> None:
        with socket.create_connection(("127.0.0.1", app.port), timeout=30) as s:
            f = s.makefile("rb")
            f.readline()
            s.sendall(b"EHLO client.test\r\nMAIL FROM:<alice@cafcass.gov.uk>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n")
            while not f.readline().startswith(b"354"):
                pass
            s.sendall(data[: len(data) // 2])

    await asyncio.to_thread(half)
    assert app.handler is not None
    for _ in range(200):
        if not spool_files(app) and app.handler.budget.used == 0 and app.handler.stats.connections == 0:
            break
        await asyncio.sleep(0.05)
    assert spool_files(app) == [] and app.handler.budget.used == 0
    assert upstream.handler.messages == []


async def test_quarantine_streams_an_encrypted_spool(gateway_factory, upstream: Upstream,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """With the store key set, a large held message goes from its encrypted spool file into the quarantine as
    chunk rows, each a Fernet token under that key of at most 1 MiB (sealed piece by piece, never loaded whole):
    they decrypt with the key alone and, in order, are the message byte for byte."""
    key = Fernet.generate_key()
    monkeypatch.setenv("DLPGATE_TEST_SPOOL_KEY", key.decode())
    app = await gateway_factory(
        {"upstream": {"url": upstream.url}, "scan": {"enabled": True, "workers": 1},
         "store": {"encryption_key_env": "DLPGATE_TEST_SPOOL_KEY"},
         "alerts": {"email": False}, "notifications": {"notify_sender_on_quarantine": False}},
        ROUTES,
    )
    held = big_message(2_500_000, tail=b"--b1\r\nContent-Type: text/plain\r\n\r\nNHS 943 476 5919\r\n")

    def send_held() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", app.port, timeout=60) as client:
            client.ehlo("client.test")
            client.mail("alice@cafcass.gov.uk")
            client.rcpt("bob@example.org")
            return client.data(held)

    code, text = await asyncio.to_thread(send_held)
    assert code == 250 and b"held for review" in text, text
    ref = text.decode().rsplit(" ", 1)[-1]
    assert app.store is not None
    import sqlalchemy as sa

    from gateway.store.schema import quarantine as qtab
    from gateway.store.schema import quarantine_chunks as ctab

    async with app.store.engine.connect() as conn:
        row = (await conn.execute(sa.select(qtab.c.id, qtab.c.raw, qtab.c.encryption, qtab.c.size)
                                  .where(qtab.c.reference == ref))).one()
        chunks = (await conn.execute(sa.select(ctab.c.seq, ctab.c.data).where(ctab.c.quarantine_id == row.id)
                                     .order_by(ctab.c.seq))).all()
    assert row.encryption == "fernet" and row.size == len(held) and row.raw is None
    assert [c.seq for c in chunks] == list(range(len(chunks))) and len(chunks) >= 3
    assert all(len(c.data) <= 1024 * 1024 and MARKER not in c.data for c in chunks)
    assert b"".join(Fernet(key).decrypt(bytes(c.data)) for c in chunks) == held
    assert await app.store.reveal_message(ref, actor="test", reason="test") == held
    assert upstream.handler.messages == [] and spool_files(app) == []


async def test_spooled_text_attachment_is_read_whole(gateway_factory, upstream: Upstream) -> None:
    """A large base64 attachment that is text is not decoded on the streamed read (its text is scanned from the
    whole message instead): an NHS number at its very end still holds the message."""
    app = await gateway_factory(
        {"upstream": {"url": upstream.url}, "scan": {"enabled": True, "workers": 1},
         "alerts": {"email": False}, "notifications": {"notify_sender_on_quarantine": False}},
        ROUTES,
    )
    text = (b"Nothing to see here, just words on a line.\n" * 30_000) + b"NHS 943 476 5919\n"
    payload = base64.encodebytes(text).replace(b"\n", b"\r\n")
    held = (b"From: Alice <alice@cafcass.gov.uk>\r\nTo: Bob <bob@example.org>\r\nSubject: notes\r\n"
            b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n'
            b"--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
            b'--b1\r\nContent-Type: text/plain; name="notes.txt"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            + payload + b"--b1--\r\n")
    assert len(held) > 1_500_000  # over spool_threshold (1 MiB), text under max_text_chars
    result = await asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["bob@example.org"], held)
    assert result == {}
    assert upstream.handler.messages == []
    assert app.store is not None
    records = await app.store.list_quarantine()
    assert len(records) == 1 and [r["rule_id"] for r in records[0].incident.rules] == ["nhs-hold"]


async def test_concurrent_large_messages_scanned_and_relayed_byte_exact(gateway_factory, upstream: Upstream) -> None:
    """Two large messages in flight at once through scanning workers (the benchmark's case) both pass and reach
    the next hop byte for byte after our Received field, each its own."""
    app = await gateway_factory(
        {"upstream": {"url": upstream.url}, "scan": {"enabled": True, "workers": 2}}, ROUTES)
    first, second = big_message(2_500_000, subject=b"One"), big_message(2_500_000, subject=b"Two")
    results = await asyncio.gather(
        asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["bob@example.org"], first),
        asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["bob@example.org"], second),
    )
    assert results == [{}, {}]
    got = sorted((m.data for m in upstream.handler.messages), key=lambda d: b"Subject: Two" in d)
    assert len(got) == 2 and got[0].endswith(first) and got[1].endswith(second)
    for data, sent in zip(got, (first, second), strict=True):
        assert data[: len(data) - len(sent)].startswith(b"Received: from client.test")
    assert spool_files(app) == []


@pytest.mark.parametrize("keyed", [False, True], ids=["clear", "encrypted"])
async def test_store_takes_a_spooled_message_on_each_backend(tmp_path: Path, store_url: str | None, keyed: bool,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Store.quarantine() with a message on disk (SQLite: written into its row chunk by chunk; PostgreSQL:
    built once in its stored form): the message read back is the one spooled, byte for byte, and the stored size
    and checksum are the message's."""
    import dataclasses

    from gateway.message_spool import MessageSpool, fernet_from_env
    from gateway.store import Store
    from tests.store_fixtures import load_config, make_scan, make_submission, quarantine_decision, write_config

    store_cfg: dict[str, object] = {"auto_upgrade": True}
    if store_url:
        store_cfg["url"] = store_url
    if keyed:
        monkeypatch.setenv("DLPGATE_TEST_SPOOL_KEY", Fernet.generate_key().decode())
        store_cfg["encryption_key_env"] = "DLPGATE_TEST_SPOOL_KEY"
    cfg = load_config(write_config(tmp_path, store_url=store_url, store=store_cfg))
    data = big_message(1_500_000)
    key_env = "DLPGATE_TEST_SPOOL_KEY" if keyed else None
    spool = MessageSpool(tmp_path / "spool", memory_limit=64 * 1024, fernet=fernet_from_env(key_env),
                         key_env=key_env)
    head, _, body = data.partition(b"\r\n\r\n")
    for line in (head + b"\r\n").splitlines(keepends=True):
        spool.write_head(line)
    for line in (b"\r\n" + body).splitlines(keepends=True):
        spool.write(line)
    spool.finish()
    assert spool.on_disk and spool.size == len(data)
    assert spool.read() == data and spool.ref().read() == data and b"".join(spool.ref().blocks()) == data
    store = await Store.open(cfg)
    try:
        sub = dataclasses.replace(make_submission(), raw=b"", source=spool)
        ref = await store.quarantine(sub, make_scan(make_submission()), quarantine_decision())
        record = await store.get_quarantined(ref)
        assert record is not None and record.size == len(data)
        assert record.sha256 == hashlib.sha256(data).hexdigest()
        assert record.encryption == ("fernet" if keyed else "none")
        assert await store.reveal_message(ref, actor="test", reason="test") == data
    finally:
        await store.close()
        spool.close()


HOLD_PROBE = r"""
import asyncio, base64, dataclasses, hashlib, json, os, sys, threading, time
from pathlib import Path

from gateway.config import load
from gateway.message_spool import MessageSpool, fernet_from_env
from gateway.store import Store
from tests.store_fixtures import make_scan, make_submission, quarantine_decision

cfg_dir, size, key_env = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] or None


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class Peak(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak, self.done = rss(), threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, rss())
            time.sleep(0.001)


async def main() -> None:
    # The message goes into the spool line by line, made on the fly: no large buffer exists before the baseline.
    spool = MessageSpool(cfg_dir.parent / "spool", memory_limit=64 * 1024, fernet=fernet_from_env(key_env),
                         key_env=key_env)
    digest = hashlib.sha256()
    head = (b"From: <alice@cafcass.gov.uk>\r\nTo: <bob@example.org>\r\nSubject: big\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n")
    for line in head.splitlines(keepends=True):
        spool.write_head(line)
        digest.update(line)
    spool.write(b"\r\n")
    digest.update(b"\r\n")
    while spool.size < size:
        line = base64.b64encode(os.urandom(57)) + b"\r\n"
        spool.write(line)
        digest.update(line)
    spool.finish()
    store = await Store.open(load(cfg_dir))
    small = make_submission()
    await store.quarantine(small, make_scan(small), quarantine_decision())  # warm: statements compiled, pool up
    await store.reveal_message(await store.quarantine(small, make_scan(small), quarantine_decision()),
                               actor="probe", reason="warm")
    sub = dataclasses.replace(make_submission(), raw=b"", source=spool)
    out = {"size": spool.size}
    base = rss()
    peak = Peak()
    peak.start()
    ref = await store.quarantine(sub, make_scan(small), quarantine_decision())
    peak.done.set()
    peak.join()
    out["write"] = peak.peak - base
    base = rss()
    peak = Peak()
    peak.start()
    raw = await store.reveal_message(ref, actor="probe", reason="probe")
    peak.done.set()
    peak.join()
    out["read"] = peak.peak - base
    out["exact"] = hashlib.sha256(raw).hexdigest() == digest.hexdigest() and len(raw) == spool.size
    del raw
    await store.close()
    spool.close()
    print(json.dumps(out))


asyncio.run(main())
"""


@pytest.mark.parametrize("keyed", [False, True], ids=["clear", "encrypted"])
async def test_holding_one_large_message_stays_within_twice_its_size(tmp_path: Path, store_url: str | None,
                                                                      keyed: bool) -> None:
    """Issue 13's target (peak RSS added per large message <= 2x its size), for the quarantine write itself:
    one 30 MB spooled message held (stored as chunk rows, a piece at a time) adds less than its size to the
    process, on SQLite and PostgreSQL, clear or encrypted; reading it back (reveal, release) holds the message
    once plus a few chunks. Measured in a fresh process (the test runner's own heap would hide a copy) by
    sampling VmRSS. The whole gateway's figure is ``bench/memory.py --hold``."""
    import subprocess
    import sys

    from tests.store_fixtures import REPO, load_config, write_config

    store_cfg: dict[str, object] = {"auto_upgrade": True}
    if store_url:
        store_cfg["url"] = store_url
    env = dict(os.environ, PYTHONPATH=str(REPO))
    if keyed:
        env["DLPGATE_TEST_PROBE_KEY"] = Fernet.generate_key().decode()
        store_cfg["encryption_key_env"] = "DLPGATE_TEST_PROBE_KEY"
    cfg = load_config(write_config(tmp_path, store_url=store_url, store=store_cfg))
    size = 30_000_000
    proc = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", HOLD_PROBE, str(cfg.directory), str(size),
                         "DLPGATE_TEST_PROBE_KEY" if keyed else ""],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["exact"] and got["size"] >= size
    assert got["write"] <= 2 * got["size"], got
    # What chunking buys: not even one whole copy of the message. Measured on SQLite (30 MB): 5 MB clear, 12 MB
    # encrypted, about the same from 10 to 60 MB messages (a few pieces, their sealed forms, allocator slack);
    # the single-blob write before revision 0008 added 62 MB and 83 MB.
    assert got["write"] <= 0.8 * got["size"], got
    assert got["read"] <= 1.5 * got["size"], got  # the message once, plus a few chunks
