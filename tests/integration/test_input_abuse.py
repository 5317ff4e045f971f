"""Hostile input at the SMTP edge, over real SMTP on loopback (issue 13, "Input abuse").

A malformed command must get a permanent answer at that command (a 451 makes Exchange retry for two days),
and one client address must not be able to hold every connection slot before it has authenticated.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from tests.smtp_fixtures import MESSAGE, Upstream, send


def dialogue(port: int, lines: list[bytes], *, source: str | None = None) -> list[bytes]:
    """Send each command line, collect each (multi-line) reply; the banner comes first."""
    with socket.create_connection(("127.0.0.1", port), timeout=10,
                                  source_address=(source, 0) if source else None) as s:
        f = s.makefile("rb")
        replies = [f.readline()]
        for line in lines:
            s.sendall(line + b"\r\n")
            reply = f.readline()
            while reply[3:4] == b"-":
                reply = f.readline()
            replies.append(reply)
        return replies


CONTROL = [b"\x00", b"\x01", b"\x08", b"\x1b", b"\x7f", "\u0085".encode()]


@pytest.mark.parametrize("ctl", CONTROL, ids=lambda b: b.hex())
async def test_control_byte_in_mail_from_is_refused_at_mail(gateway_factory, upstream: Upstream, ctl: bytes) -> None:
    """A NUL or other control character in MAIL FROM gets 501 5.5.4 at MAIL, not a 451, and opens nothing."""
    app = await gateway_factory({"upstream": {"url": upstream.url}})
    replies = await asyncio.to_thread(
        dialogue, app.port, [b"EHLO client.test", b"MAIL FROM:<al" + ctl + b"ice@cafcass.gov.uk> SMTPUTF8"]
    )
    assert replies[-1].startswith(b"501 5.5.4"), replies[-1]
    assert upstream.handler.transactions == 0


@pytest.mark.parametrize("ctl", CONTROL, ids=lambda b: b.hex())
async def test_control_byte_in_rcpt_to_is_refused_at_rcpt(gateway_factory, upstream: Upstream, ctl: bytes) -> None:
    """A control character in RCPT TO gets 553 5.1.3 at RCPT; the transaction goes on with good recipients."""
    app = await gateway_factory({"upstream": {"url": upstream.url}})
    data = MESSAGE.replace(b"\r\n.", b"\r\n..")
    replies = await asyncio.to_thread(dialogue, app.port, [
        b"EHLO client.test", b"MAIL FROM:<alice@cafcass.gov.uk> SMTPUTF8", b"RCPT TO:<b" + ctl + b"ob@cafcass.gov.uk>",
        b"RCPT TO:<bob@cafcass.gov.uk>", b"DATA", data + b".", b"QUIT",
    ])
    assert replies[3].startswith(b"553 5.1.3"), replies[3]
    assert replies[4].startswith(b"250") and replies[6].startswith(b"250"), replies
    assert [m.rcpt_tos for m in upstream.handler.messages] == [["bob@cafcass.gov.uk"]]


async def test_control_byte_in_parameters_is_refused(gateway_factory, upstream: Upstream) -> None:
    """A control character in a MAIL or RCPT parameter gets a permanent 5xx at that command (aiosmtpd refuses
    parameters it cannot parse or does not know before our hooks; the hooks check what does reach them)."""
    app = await gateway_factory({"upstream": {"url": upstream.url}})
    replies = await asyncio.to_thread(dialogue, app.port, [
        b"EHLO client.test", b"MAIL FROM:<alice@cafcass.gov.uk> SIZE=10\x01", b"MAIL FROM:<alice@cafcass.gov.uk>",
        b"RCPT TO:<bob@cafcass.gov.uk> NOTIFY=\x00NEVER",
    ])
    assert replies[2].startswith(b"5"), replies
    assert replies[3].startswith(b"250") and replies[4].startswith(b"5"), replies
    assert upstream.handler.messages == []


async def test_clean_addresses_still_relay(gateway_factory, upstream: Upstream) -> None:
    """The control-character check leaves ordinary and UTF-8 addresses alone."""
    app = await gateway_factory({"upstream": {"url": upstream.url}})
    await asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["bob@cafcass.gov.uk"], MESSAGE)
    assert len(upstream.handler.messages) == 1


def _greetings(port: int, sources: list[str]) -> list[bytes]:
    """Open one connection per source address, all held open together; return each greeting line."""
    socks = []
    try:
        out = []
        for source in sources:
            s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
            socks.append(s)
            out.append(s.makefile("rb").readline())
        return out
    finally:
        for s in socks:
            s.close()


async def test_one_outside_address_cannot_hold_every_slot(gateway_factory, upstream: Upstream) -> None:
    """Past max_connections_per_client unauthenticated connections from one outside address, the next from
    that address gets 421 4.7.0; other addresses, and hosts in allowed_networks, are not affected."""
    app = await gateway_factory({"upstream": {"url": upstream.url},
                                 "server": {"max_connections": 50, "max_connections_per_client": 2}})
    greetings = await asyncio.to_thread(
        _greetings, app.port, ["127.0.0.2", "127.0.0.2", "127.0.0.2", "127.0.0.3", *["127.0.0.1"] * 5]
    )
    assert [g[:3] for g in greetings] == [b"220", b"220", b"421", b"220", *[b"220"] * 5], greetings
    assert greetings[2].startswith(b"421 4.7.0")
    for _ in range(100):  # the closed connections are counted down
        if app.handler is not None and app.handler.stats.connections == 0:
            break
        await asyncio.sleep(0.02)
    again = await asyncio.to_thread(_greetings, app.port, ["127.0.0.2", "127.0.0.2"])
    assert [g[:3] for g in again] == [b"220", b"220"]


async def test_authenticated_connections_do_not_count(gateway_factory, upstream: Upstream, tmp_path) -> None:
    """A connection that has authenticated stops counting against its address's pre-AUTH limit."""
    from gateway.smtp.auth import hash_scrypt

    users = tmp_path / "users"
    users.write_text(f"remote:{hash_scrypt('pw')}\n")
    app = await gateway_factory({"upstream": {"url": upstream.url},
                                 "server": {"max_connections_per_client": 1,
                                            "auth": {"users_file": str(users), "require_tls": False}}})

    def run() -> list[bytes]:
        import smtplib

        with smtplib.SMTP("127.0.0.1", app.port, source_address=("127.0.0.2", 0), timeout=10) as c:
            c.ehlo("client.test")
            c.login("remote", "pw")
            second = _greetings(app.port, ["127.0.0.2"])
            c.sendmail("a@cafcass.gov.uk", ["b@cafcass.gov.uk"], MESSAGE)
        with smtplib.SMTP("127.0.0.1", app.port, source_address=("127.0.0.2", 0), timeout=10) as c:
            third = _greetings(app.port, ["127.0.0.2"])  # this one has not authenticated: the limit applies
        return second + third

    second, third = await asyncio.to_thread(run)
    assert second.startswith(b"220") and third.startswith(b"421 4.7.0")
    assert len(upstream.handler.messages) == 1
