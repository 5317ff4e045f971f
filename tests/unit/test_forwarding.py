"""Auto-forward evidence from headers, and auto-replies kept apart from forwards."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from typing import cast

import pytest

from detectors.forwarding import forwarding_evidence

BASE = "From: Jane Smith <jane.smith@cafcass.gov.uk>\r\nTo: someone@gmail.com\r\nSubject: hello\r\n"


def msg(extra: str) -> EmailMessage:
    raw = (BASE + extra + "\r\nbody\r\n").encode()
    return cast(EmailMessage, email.message_from_bytes(raw, policy=email.policy.default))


@pytest.mark.parametrize(
    ("headers", "forwarded", "auto_reply"),
    [
        ("", False, False),
        ("X-MS-Exchange-Inbox-Rules-Loop: jane.smith@cafcass.gov.uk\r\n", True, False),
        ("X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent\r\n", True, False),
        ("X-MS-Exchange-Generated-Message-Source: Web Outlook\r\n", False, False),
        ("X-MS-Exchange-Organization-AutoForwarded: true\r\n", True, False),
        ("X-MS-Exchange-Organization-AutoForwarded: false\r\n", False, False),
        ("Auto-Submitted: auto-forwarded\r\n", True, False),
        ("Auto-Submitted: Auto-Forwarded; owner-email=x\r\n", True, False),
        ("Resent-From: jane.smith@cafcass.gov.uk\r\nResent-Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n", True, False),
        ("X-Forwarded-To: someone@gmail.com\r\n", True, False),
        ("X-Forwarded-For: jane.smith@cafcass.gov.uk someone@gmail.com\r\n", True, False),
        ("Auto-Submitted: auto-replied\r\n", False, True),
        ("X-Auto-Response-Suppress: All\r\n", False, True),
        ("Auto-Submitted: auto-replied\r\nX-MS-Exchange-Inbox-Rules-Loop: a@cafcass.gov.uk\r\n", False, True),
        ("Auto-Submitted: auto-generated\r\n", False, False),
        # A weak reply marker cannot clear a rule-forward mark (fail safe).
        ("X-Auto-Response-Suppress: All\r\nX-MS-Exchange-Inbox-Rules-Loop: a@cafcass.gov.uk\r\n", True, False),
    ],
)
def test_forwarding_table(headers: str, forwarded: bool, auto_reply: bool) -> None:
    """Each forward mark counts; explicit auto-replies are replies, not forwards."""
    ev = forwarding_evidence(msg(headers))
    assert (ev.forwarded, ev.auto_reply) == (forwarded, auto_reply)
    assert bool(ev.evidence) == (forwarded or auto_reply)


def test_evidence_is_header_names_not_values() -> None:
    """Evidence names headers; the forwarding target address never appears in it."""
    ev = forwarding_evidence(msg("X-Forwarded-To: secret.person@gmail.com\r\nResent-To: other@gmail.com\r\n"))
    joined = " ".join(ev.evidence)
    assert "X-Forwarded-To" in joined and "Resent-To" in joined
    assert "@" not in joined


def test_malformed_headers_do_not_raise() -> None:
    """Broken header values degrade to no evidence rather than an exception."""
    raw = b"From: =?utf-8?q?broken\r\nAuto-Submitted: =?x?q?=FF?=\r\nX-Forwarded-To: \xff\xfe\r\n\r\nbody\r\n"
    m = cast(EmailMessage, email.message_from_bytes(raw, policy=email.policy.default))
    ev = forwarding_evidence(m)
    assert ev.forwarded
