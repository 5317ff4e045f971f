"""Protective marking: subject, label headers and the first lines count; footer boilerplate does not."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import pytest

from detectors.findings import Finding
from detectors.marking import protective_marking
from gateway.policy.config import load_policy

ROOT = Path(__file__).resolve().parents[2]
POLICY = load_policy(ROOT / "config" / "policy.yaml")
FOOTER = (
    "\r\n-- \r\nJane Smith | Family Court Adviser | Cafcass\r\n"
    "This email may contain OFFICIAL-SENSITIVE information and is intended only for the addressee.\r\n"
)


def parse(subject: str, body: str, extra: str = "", ctype: str = "text/plain") -> EmailMessage:
    raw = (
        "From: Jane Smith <jane.smith@cafcass.gov.uk>\r\nTo: a@example.org\r\n"
        f"Subject: {subject}\r\n{extra}Content-Type: {ctype}; charset=utf-8\r\n\r\n{body}"
    ).encode()
    return cast(EmailMessage, email.message_from_bytes(raw, policy=email.policy.default))


def finding(location: str, start: int) -> Finding:
    return Finding("PROTECTIVE_MARKING", 0.9, location, start, start + 18, "marking", "OFFICIAL-S*******")


@pytest.mark.parametrize(
    ("subject", "body", "marked"),
    [
        ("OFFICIAL-SENSITIVE: court report", "Hi\r\n", True),
        ("Report [Official Sensitive]", "Hi\r\n", True),
        ("Report", "OFFICIAL-SENSITIVE\r\n\r\nDear Sir,\r\nPlease find...\r\n", True),
        ("Report", "Classification: OFFICIAL - SENSITIVE: PERSONAL\r\nDear Sir,\r\n", True),
        ("Report", "Dear Sir,\r\n\r\nPlease see below.\r\n\r\nOFFICIAL-SENSITIVE\r\nDetails...\r\n", True),
        ("Lunch", "Hi Tom,\r\nSee you Tuesday.\r\nJane\r\n" + FOOTER, False),
        ("Lunch", "Hi Tom,\r\nThis email may contain OFFICIAL-SENSITIVE information for you.\r\n", False),
        ("Lunch", "a\r\nb\r\nc\r\nd\r\ne\r\nf\r\nOFFICIAL-SENSITIVE\r\n", False),
        ("Lunch", ("x" * 600) + "\r\nOFFICIAL-SENSITIVE\r\n", False),
        ("Official guidance", "Sensitive matters are discussed at the meeting.\r\n", False),
    ],
)
def test_marking_table(subject: str, body: str, marked: bool) -> None:
    """A marking counts in the subject or as a marking line near the top; a sentence or a footer does not."""
    assert protective_marking((), parse(subject, body), POLICY) is marked


def test_html_body_first_lines() -> None:
    """In HTML bodies the first block lines count as lines."""
    html = "<html><body><p><b>OFFICIAL-SENSITIVE</b></p><p>Dear Sir,</p></body></html>"
    assert protective_marking((), parse("Report", html, ctype="text/html"), POLICY)
    footer = "<p>Hi Tom</p><p>Thanks</p><p style='font-size:8pt'>This email may contain OFFICIAL-SENSITIVE data.</p>"
    assert not protective_marking((), parse("Hi", footer, ctype="text/html"), POLICY)


def test_label_header_marks() -> None:
    """A Purview label named Official-Sensitive counts even with no words in the text."""
    guid = "12345678-1234-1234-1234-123456789abc"
    label = f"msip_labels: MSIP_Label_{guid}_Enabled=true; MSIP_Label_{guid}_Name=Official Sensitive - Personal\r\n"
    assert protective_marking((), parse("Report", "Hi\r\n", extra=label), POLICY)
    assert not protective_marking((), parse("Report", "Hi\r\n", extra=label.replace("Sensitive - ", "")), POLICY)


def test_findings_from_recognizer() -> None:
    """Recognizer findings count in the subject, and in the body only within the first lines."""
    msg = parse("Report", "Dear Sir,\r\nOS marking here\r\n" + "word " * 200 + "\r\n")
    assert protective_marking((finding("subject", 0),), msg, POLICY)
    assert protective_marking((finding("body", 11),), msg, POLICY)
    assert not protective_marking((finding("body", 900),), msg, POLICY)
    assert not protective_marking((finding("attachment:a.pdf", 0),), msg, POLICY)


def test_footer_finding_not_counted() -> None:
    """A recognizer finding inside a disclaimer sentence near the top is still not a marking."""
    body = "Hi Tom,\r\nThanks.\r\n" + FOOTER
    msg = parse("Lunch", body)
    start = body.index("OFFICIAL")
    assert not protective_marking((finding("body", start),), msg, POLICY)
