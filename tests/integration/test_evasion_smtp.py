"""Evasion routes of issue 12 over real SMTP: routing addresses refused at RCPT, readable places scanned in the relay."""

from __future__ import annotations

import asyncio
import smtplib

import pytest

from tests.smtp_fixtures import REPO, Upstream, send

ROUTED = [
    "n.okafor%okafor-law.co.uk@cafcass.gov.uk",
    "okafor-law.co.uk!n.okafor@cafcass.gov.uk",
    '"n.okafor@okafor-law.co.uk"@cafcass.gov.uk',
    '"n.okafor%okafor-law.co.uk"@cafcass.gov.uk',
    '"hop.example!n.okafor"@cafcass.gov.uk',
]
MESSAGE = b"From: Jane Smith <jane.smith@cafcass.gov.uk>\r\nTo: colleague@cafcass.gov.uk\r\nSubject: hi\r\n\r\nhello\r\n"


def _rcpt_replies(port: int, rcpts: list[str]) -> list[tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("client.test")
        client.mail("jane.smith@cafcass.gov.uk")
        replies = [client.rcpt(f"<{r}>" if not r.startswith("<") else r) for r in rcpts]
        client.rset()
        return replies


async def test_routing_addresses_are_refused_at_rcpt(gateway_factory, upstream: Upstream) -> None:
    """Each routing form gets a permanent 553 naming the characters; ordinary recipients still pass through."""
    app = await gateway_factory({"upstream": {"url": upstream.url}})
    replies = await asyncio.to_thread(_rcpt_replies, app.port, [*ROUTED, "colleague@cafcass.gov.uk"])
    for address, (code, text) in zip(ROUTED, replies[:-1], strict=True):
        assert code == 553, (address, code, text)
        assert b"5.1.3" in text and b"%" in text
    assert replies[-1][0] == 250
    # a message to an ordinary recipient is still relayed
    refused = await asyncio.to_thread(send, app.port, "jane.smith@cafcass.gov.uk", ["colleague@cafcass.gov.uk"],
                                      MESSAGE)
    assert refused == {}
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        await asyncio.to_thread(send, app.port, "jane.smith@cafcass.gov.uk", [ROUTED[0]], MESSAGE)
    assert [m.rcpt_tos for m in upstream.handler.messages] == [["colleague@cafcass.gov.uk"]]


@pytest.mark.parametrize("sample", ["readable-header-fire.eml", "attachment-name-fire.eml", "link-query-fire.eml",
                                    "unicode-evasion-fire.eml"])
async def test_readable_places_are_scanned_in_the_relay(gateway_factory, upstream: Upstream, sample: str) -> None:
    """Child data only in a header, a file name, a link or behind Unicode tricks: relayed with the encrypt tag."""
    app = await gateway_factory({"upstream": {"url": upstream.url}, "scan": {"enabled": True, "workers": 1},
                                 "notifications": {"notify_sender_on_quarantine": False}})
    raw = (REPO / "samples" / "policy" / sample).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    await asyncio.to_thread(send, app.port, "jane.smith@cafcass.gov.uk", ["n.okafor@okafor-law.co.uk"], raw,
                            timeout=120)
    [msg] = upstream.handler.messages
    head = msg.data.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nSubject: [encrypt] " in head
