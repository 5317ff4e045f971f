"""Issue 12 section 6 over real SMTP: a forwarded third party's message is content; a reply quoting the
recipient's own message and signature passes unchanged."""

from __future__ import annotations

import asyncio

import pytest

from tests.smtp_fixtures import REPO, Upstream, send


@pytest.mark.parametrize(("sample", "tagged"), [("correspondent-forwarded-fire.eml", True),
                                                ("correspondent-signature-fire.eml", True),
                                                ("correspondent-reply-near-miss.eml", False)])
async def test_correspondent_exemption_in_the_relay(gateway_factory, upstream: Upstream, sample: str,
                                                    tagged: bool) -> None:
    """The envelope decides who the correspondents are: the fire samples are relayed with the encrypt tag, the
    reply to the recipient is relayed byte for byte."""
    app = await gateway_factory({"upstream": {"url": upstream.url}, "scan": {"enabled": True, "workers": 1},
                                 "notifications": {"notify_sender_on_quarantine": False}})
    raw = (REPO / "samples" / "policy" / sample).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    refused = await asyncio.to_thread(send, app.port, "jane.smith@cafcass.gov.uk", ["n.okafor@okafor-law.co.uk"],
                                      raw, timeout=120)
    assert refused == {}
    [msg] = upstream.handler.messages
    head = msg.data.split(b"\r\n\r\n", 1)[0]
    assert (b"\r\nSubject: [encrypt] " in head) is tagged
    if not tagged:
        assert msg.data.split(b"\r\n\r\n", 1)[1] == raw.split(b"\r\n\r\n", 1)[1]
