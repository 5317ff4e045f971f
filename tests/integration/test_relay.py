"""The relay over real SMTP on loopback: a client (smtplib) → dlpgate → a recording aiosmtpd upstream."""

from __future__ import annotations

import asyncio
import datetime
import smtplib
import socket
import ssl
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.smtp.auth import hash_argon2, hash_scrypt
from tests.smtp_fixtures import MESSAGE, Upstream, send


def _received_prefix_then(original: bytes, got: bytes) -> bytes:
    """Return what was added in front of the original bytes (asserting the original is intact at the end)."""
    assert got.endswith(original), "relayed bytes differ from the original"
    return got[: len(got) - len(original)]


async def test_relay_is_byte_identical_apart_from_received(gateway_factory, upstream: Upstream) -> None:
    """Bytes reach the upstream unchanged: 8-bit text, leading dots, trailing spaces, a 5,000-byte line."""
    long_line = b"x" * 5000 + b"\r\n"
    data = MESSAGE + long_line
    app = await gateway_factory({"upstream": {"url": upstream.url}})
    refused = await asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["bob@cafcass.gov.uk"], data)
    assert refused == {}
    assert len(upstream.handler.messages) == 1
    msg = upstream.handler.messages[0]
    assert msg.mail_from == "alice@cafcass.gov.uk" and msg.rcpt_tos == ["bob@cafcass.gov.uk"]
    added = _received_prefix_then(data, msg.data)
    assert added.startswith(b"Received: from client.test ([127.0.0.1])\r\n")
    assert added.count(b"\r\n") == 3  # one folded Received field, nothing else


async def test_client_x_dlp_headers_are_removed(gateway_factory, upstream: Upstream) -> None:
    """A client cannot pre-set X-DLP-* verdict headers; everything else stays byte for byte."""
    data = b"X-DLP-Decision: pass\r\nX-Dlp-Rules: none\r\n  folded\r\n" + MESSAGE
    app = await gateway_factory({"upstream": {"url": upstream.url}})
    await asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["bob@cafcass.gov.uk"], data)
    got = upstream.handler.messages[0].data
    assert b"x-dlp-decision" not in got.lower() and b"folded" not in got
    _received_prefix_then(MESSAGE, got)


async def test_upstream_down_gives_451_then_retry_delivers_once(gateway_factory) -> None:
    """Upstream unreachable → 451 and nothing is accepted; once it is back the retry is delivered exactly once."""
    up = Upstream()
    await up.start()
    port = up.port
    await up.stop()
    app = await gateway_factory({"upstream": {"url": f"smtp://127.0.0.1:{port}", "timeout": 5}})
    with pytest.raises(smtplib.SMTPSenderRefused) as exc:
        await asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["bob@cafcass.gov.uk"], MESSAGE)
    assert exc.value.smtp_code == 451
    await up.start(port)
    try:
        await asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["bob@cafcass.gov.uk"], MESSAGE)
        assert len(up.handler.messages) == 1
    finally:
        await up.stop()


async def test_upstream_tempfail_at_data_gives_451(gateway_factory, upstream: Upstream) -> None:
    """An upstream 4xx at end of DATA becomes our 451 4.4.x: the client keeps the message."""
    upstream.handler.data_reply = "452 4.3.1 Insufficient system storage"
    app = await gateway_factory({"upstream": {"url": upstream.url}})
    with pytest.raises(smtplib.SMTPDataError) as exc:
        await asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["bob@cafcass.gov.uk"], MESSAGE)
    assert exc.value.smtp_code == 451
    assert b"4.4." in exc.value.smtp_error


async def test_upstream_permanent_refusal_is_passed_on(gateway_factory, upstream: Upstream) -> None:
    """An upstream 5xx at DATA is passed on as 5xx (a 451 would make Exchange retry for days)."""
    upstream.handler.data_reply = "554 5.7.1 Spam message rejected"
    app = await gateway_factory({"upstream": {"url": upstream.url}})
    with pytest.raises(smtplib.SMTPDataError) as exc:
        await asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["bob@cafcass.gov.uk"], MESSAGE)
    assert exc.value.smtp_code == 554
    assert b"Spam message rejected" in exc.value.smtp_error


async def test_refused_recipient_reaches_client_at_rcpt(gateway_factory, upstream: Upstream) -> None:
    """One recipient refused upstream is refused to the client at RCPT; the others are delivered."""
    upstream.handler.refuse_rcpt["gone@example.org"] = "550 5.1.1 No such user"
    app = await gateway_factory({"upstream": {"url": upstream.url}})
    refused = await asyncio.to_thread(
        send, app.port, "alice@cafcass.gov.uk", ["bob@cafcass.gov.uk", "gone@example.org"], MESSAGE
    )
    assert refused == {"gone@example.org": (550, b"5.1.1 No such user")}
    assert upstream.handler.messages[0].rcpt_tos == ["bob@cafcass.gov.uk"]


async def test_relay_denied_outside_allowed_networks(gateway_factory, upstream: Upstream) -> None:
    """A client outside allowed_networks (127.0.0.2 with the default 127.0.0.1/32) gets 554 5.7.1 at RCPT."""
    app = await gateway_factory({"upstream": {"url": upstream.url}, "server": {"listen_host": "127.0.0.1"}})
    with pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
        await asyncio.to_thread(
            send, app.port, "x@example.org", ["bob@cafcass.gov.uk"], MESSAGE, source="127.0.0.2"
        )
    code, text = exc.value.recipients["bob@cafcass.gov.uk"]
    assert code == 554 and b"5.7.1" in text
    assert upstream.handler.messages == [] and upstream.handler.transactions == 0


async def test_null_sender_and_outside_mail_from_accepted_from_allowed_client(gateway_factory, upstream) -> None:
    """Bounces (<>) and forwarded mail with an outside MAIL FROM are relayed for allowed clients."""
    app = await gateway_factory({"upstream": {"url": upstream.url}})
    await asyncio.to_thread(send, app.port, "", ["bob@cafcass.gov.uk"], MESSAGE)
    await asyncio.to_thread(send, app.port, "someone@example.org", ["bob@cafcass.gov.uk"], MESSAGE)
    senders = [m.mail_from for m in upstream.handler.messages]
    assert senders[0] in ("", "<>") and senders[1] == "someone@example.org"


async def test_size_limit(gateway_factory, upstream: Upstream) -> None:
    """A message over max_message_size gets a clear 552 and is not relayed."""
    app = await gateway_factory({"upstream": {"url": upstream.url}, "server": {"max_message_size": 2048}})
    big = MESSAGE + b"y" * 70 + b"\r\n"
    big = big * 40
    with pytest.raises(smtplib.SMTPException) as exc:
        await asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["bob@cafcass.gov.uk"], big)
    assert "552" in str(exc.value)
    assert upstream.handler.messages == []


BARE_LF = b"\n.\nMAIL FROM:<evil@example.org>\nRCPT TO:<victim@example.org>\nDATA\nsmuggled\n"
BARE_CR = b"\r.\rMAIL FROM:<evil@example.org>\rRCPT TO:<victim@example.org>\rDATA\rsmuggled\r"
CRLF_DOT_LF = b"\r\n.\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nsmuggled\r\n"


@pytest.mark.parametrize(
    ("payload", "mode"),
    [(BARE_LF, "reject"), (BARE_CR, "reject"), (BARE_CR, None), (CRLF_DOT_LF, "reject")],
    ids=["bare-lf-reject", "bare-cr-reject", "bare-cr-default", "crlf-dot-lf-reject"],
)
async def test_smuggling_payload_is_refused(gateway_factory, upstream: Upstream, payload: bytes,
                                            mode: str | None) -> None:
    """Bare CR is refused in every mode, bare LF with `bare_line_endings: reject`; upstream receives nothing."""
    server = {"bare_line_endings": mode} if mode else {}
    app = await gateway_factory({"upstream": {"url": upstream.url}, "server": server})
    data = MESSAGE + payload + b"end\r\n"
    with pytest.raises(smtplib.SMTPDataError) as exc:
        await asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["bob@cafcass.gov.uk"], data)
    assert exc.value.smtp_code == 554
    await asyncio.sleep(0.2)
    assert upstream.handler.messages == []


@pytest.mark.parametrize("payload", [BARE_LF, CRLF_DOT_LF], ids=["bare-lf", "crlf-dot-lf"])
async def test_smuggling_payload_normalised_arrives_as_one_message(gateway_factory, upstream: Upstream,
                                                                   payload: bytes) -> None:
    """By default (bare_line_endings: normalise, issue 17) a bare-LF smuggling payload arrives upstream inside one
    single message, with CRLF line endings only and its `.` line dot-stuffed on the wire, never ending DATA."""
    app = await gateway_factory({"upstream": {"url": upstream.url}})
    data = MESSAGE + payload
    await asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["bob@cafcass.gov.uk"], data)
    await asyncio.sleep(0.2)
    assert len(upstream.handler.messages) == 1 and upstream.handler.transactions == 1
    got = upstream.handler.messages[0]
    assert got.rcpt_tos == ["bob@cafcass.gov.uk"] and b"smuggled" in got.data
    assert b"\r\n.\r\nMAIL FROM:<evil@example.org>\r\n" in got.data
    assert b"\n" not in got.data.replace(b"\r\n", b"")


async def test_nul_in_data_is_refused(gateway_factory, upstream: Upstream) -> None:
    """NUL bytes in DATA get a 554, not a relay."""
    app = await gateway_factory({"upstream": {"url": upstream.url}})
    with pytest.raises(smtplib.SMTPDataError) as exc:
        await asyncio.to_thread(send, app.port, "a@cafcass.gov.uk", ["b@cafcass.gov.uk"], MESSAGE + b"\x00\r\n")
    assert exc.value.smtp_code == 554


async def test_too_many_headers(gateway_factory, upstream: Upstream) -> None:
    """More header fields than max_header_count gets a clear 552."""
    app = await gateway_factory({"upstream": {"url": upstream.url}, "server": {"max_header_count": 20}})
    data = b"".join(b"X-Filler-%d: x\r\n" % i for i in range(30)) + MESSAGE
    with pytest.raises(smtplib.SMTPDataError) as exc:
        await asyncio.to_thread(send, app.port, "a@cafcass.gov.uk", ["b@cafcass.gov.uk"], data)
    assert exc.value.smtp_code == 552


async def test_too_many_recipients(gateway_factory, upstream: Upstream) -> None:
    """RCPT beyond max_recipients gets 452 4.5.3; the accepted ones are delivered."""
    app = await gateway_factory({"upstream": {"url": upstream.url}, "server": {"max_recipients": 2}})
    refused = await asyncio.to_thread(
        send, app.port, "a@cafcass.gov.uk", ["b@cafcass.gov.uk", "c@cafcass.gov.uk", "d@cafcass.gov.uk"], MESSAGE
    )
    assert refused["d@cafcass.gov.uk"][0] == 452
    assert upstream.handler.messages[0].rcpt_tos == ["b@cafcass.gov.uk", "c@cafcass.gov.uk"]


async def test_maildir_upstream_delivers_to_disk(gateway_factory, tmp_path: Path) -> None:
    """The embedded default upstream (maildir:) lands the message in new/ with the original bytes."""
    md = tmp_path / "maildir"
    app = await gateway_factory({"upstream": {"url": f"maildir:{md}"}})
    await asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["bob@cafcass.gov.uk"], MESSAGE)
    files = list((md / "new").iterdir())
    assert len(files) == 1
    assert files[0].read_bytes().endswith(MESSAGE)


async def test_slow_trickling_client_is_cut_off(gateway_factory, upstream: Upstream) -> None:
    """A client that keeps a transaction open past transaction_timeout is disconnected with 421."""
    app = await gateway_factory({"upstream": {"url": upstream.url}, "server": {"transaction_timeout": 1.0}})

    def trickle() -> bytes:
        with socket.create_connection(("127.0.0.1", app.port), timeout=10) as s:
            f = s.makefile("rb")
            f.readline()
            s.sendall(b"EHLO slow\r\n")
            while not f.readline().startswith(b"250 "):
                pass
            s.sendall(b"MAIL FROM:<a@cafcass.gov.uk>\r\n")
            f.readline()
            s.sendall(b"RCPT TO:<b@cafcass.gov.uk>\r\n")
            f.readline()
            s.sendall(b"DATA\r\n")
            f.readline()
            got = b""
            for _ in range(30):  # one byte every 0.1 s: never idle, never finished
                try:
                    s.sendall(b"x")
                except OSError:
                    break
                time.sleep(0.1)
            try:
                got = f.read()
            except OSError:
                pass
            return got

    got = await asyncio.to_thread(trickle)
    assert b"421" in got
    assert upstream.handler.messages == []


async def test_connection_cap(gateway_factory, upstream: Upstream) -> None:
    """Connections beyond max_connections are greeted with 421 and closed."""
    app = await gateway_factory({"upstream": {"url": upstream.url}, "server": {"max_connections": 1}})

    def two() -> bytes:
        with socket.create_connection(("127.0.0.1", app.port), timeout=5) as a:
            assert a.makefile("rb").readline().startswith(b"220")
            with socket.create_connection(("127.0.0.1", app.port), timeout=5) as b:
                return b.makefile("rb").readline()

    assert (await asyncio.to_thread(two)).startswith(b"421")


async def test_graceful_shutdown_finishes_message_in_flight(gateway_factory, upstream: Upstream) -> None:
    """SIGTERM-style stop while a message is in flight: it is still delivered and the client gets 250."""
    upstream.handler.data_delay = 1.0
    app = await gateway_factory({"upstream": {"url": upstream.url}})
    port = app.port
    sending = asyncio.create_task(
        asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["bob@cafcass.gov.uk"], MESSAGE)
    )
    for _ in range(100):
        if app.handler and app.handler.stats.in_flight:
            break
        await asyncio.sleep(0.02)
    assert app.handler and app.handler.stats.in_flight == 1
    await app.stop(grace=10)
    assert await sending == {}
    assert len(upstream.handler.messages) == 1
    with pytest.raises(OSError):
        await asyncio.to_thread(socket.create_connection, ("127.0.0.1", port), 1)


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dlpgate.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("dlpgate.test")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
    )
    return cert_path, key_path


async def test_starttls_and_auth_allow_relay_from_outside(gateway_factory, upstream: Upstream, tmp_path) -> None:
    """With STARTTLS required and AUTH users (argon2 and scrypt), an outside client relays only after both."""
    cert, key = _self_signed(tmp_path)
    users = tmp_path / "users"
    users.write_text(f"exchange:{hash_argon2('s3cret')}\nother:{hash_scrypt('pw2')}\n")
    app = await gateway_factory({
        "upstream": {"url": upstream.url},
        "server": {"tls": {"cert": str(cert), "key": str(key), "required": True},
                   "auth": {"users_file": str(users)}},
    })

    def run() -> tuple[int, int, dict]:
        ctx = ssl.create_default_context(cafile=str(cert))
        ctx.check_hostname = False
        with smtplib.SMTP("127.0.0.1", app.port, source_address=("127.0.0.2", 0), timeout=10) as c:
            c.ehlo("client.test")
            code_before, _ = c.mail("a@cafcass.gov.uk")  # TLS required: refused
            c.starttls(context=ctx)
            c.ehlo("client.test")
            with pytest.raises(smtplib.SMTPAuthenticationError):
                c.login("exchange", "wrong")
            c.login("exchange", "s3cret")
            refused = c.sendmail("a@cafcass.gov.uk", ["b@cafcass.gov.uk"], MESSAGE)
        with smtplib.SMTP("127.0.0.1", app.port, source_address=("127.0.0.2", 0), timeout=10) as c:
            c.ehlo("client.test")
            c.starttls(context=ctx)
            c.ehlo("client.test")
            c.login("other", "pw2")
            c.sendmail("a@cafcass.gov.uk", ["b@cafcass.gov.uk"], MESSAGE)
        return code_before, 0, refused

    code_before, _, refused = await asyncio.to_thread(run)
    assert code_before == 530
    assert refused == {}
    assert len(upstream.handler.messages) == 2
    assert upstream.handler.messages[0].data.startswith(b"Received: from client.test ([127.0.0.2])")
    assert b"ESMTPSA" in upstream.handler.messages[0].data.split(b"\r\n\r\n")[0]


async def test_starttls_without_auth_still_denies_outside_client(gateway_factory, upstream, tmp_path) -> None:
    """TLS alone is not a licence to relay: an unauthenticated outside client still gets 554 at RCPT."""
    cert, key = _self_signed(tmp_path)
    app = await gateway_factory({
        "upstream": {"url": upstream.url},
        "server": {"tls": {"cert": str(cert), "key": str(key)}},
    })

    def run() -> None:
        ctx = ssl.create_default_context(cafile=str(cert))
        ctx.check_hostname = False
        with smtplib.SMTP("127.0.0.1", app.port, source_address=("127.0.0.2", 0), timeout=10) as c:
            c.ehlo("x")
            c.starttls(context=ctx)
            c.ehlo("x")
            c.sendmail("a@example.org", ["b@cafcass.gov.uk"], MESSAGE)

    with pytest.raises(smtplib.SMTPRecipientsRefused):
        await asyncio.to_thread(run)
    assert upstream.handler.messages == []


async def test_overlong_command_gets_clear_5xx(gateway_factory, upstream: Upstream) -> None:
    """A command longer than max_command_length is answered 500 and the session goes on."""
    app = await gateway_factory({"upstream": {"url": upstream.url}, "server": {"max_command_length": 600}})

    def run() -> tuple[int, int]:
        with smtplib.SMTP("127.0.0.1", app.port, timeout=10) as c:
            c.ehlo("x")
            code, _ = c.docmd("MAIL FROM:<" + "a" * 3000 + "@cafcass.gov.uk>")
            ok, _ = c.docmd("NOOP")
            return code, ok

    code, ok = await asyncio.to_thread(run)
    assert code == 500 and ok == 250


async def test_upstream_client_cannot_inject_commands(upstream: Upstream) -> None:
    """The pinned aiosmtplib never puts CR/LF from an address on the wire: no injected command reaches upstream."""
    import aiosmtplib

    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=upstream.port, timeout=5)
    await client.connect()
    try:
        await client.mail("a@cafcass.gov.uk\r\nRCPT TO:<victim@example.org>")
        await client.rcpt("b@example.org\r\nRCPT TO:<victim2@example.org>")
        with pytest.raises(ValueError):
            await client.execute_command(b"NOOP", b"x\r\nRSET")
        await client.data(b"Subject: x\r\n\r\nbody\r\n")
    finally:
        client.close()
    assert len(upstream.handler.messages) == 1
    got = upstream.handler.messages[0]
    assert got.mail_from == "a@cafcass.gov.uk" and got.rcpt_tos == ["b@example.org"]
