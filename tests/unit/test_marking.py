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
from gateway.mime.extract import extract
from gateway.mime.limits import ExtractionLimits
from gateway.mime.model import TextChunk
from gateway.policy.config import load_policy
from gateway.scan import marking_rules

ROOT = Path(__file__).resolve().parents[2]
RULES = marking_rules(load_policy(ROOT / "config" / "policy.yaml"))
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


def chunks(msg: EmailMessage) -> tuple[TextChunk, ...]:
    """The message's texts as the scan extracts them (what content findings' offsets point into)."""
    return extract(msg, ExtractionLimits()).chunks


def body_text(msg: EmailMessage, location: str = "body") -> str:
    return next(c.text for c in chunks(msg) if c.location == location)


def marked(findings: tuple[Finding, ...], msg: EmailMessage) -> bool:
    return protective_marking(findings, chunks(msg), msg, RULES)


def finding(location: str, start: int) -> Finding:
    return Finding("PROTECTIVE_MARKING", 0.9, location, start, start + 18, "marking", "OFFICIAL-S*******")


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
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
def test_marking_table(subject: str, body: str, expected: bool) -> None:
    """A marking counts in the subject or as a marking line near the top; a sentence or a footer does not."""
    assert marked((), parse(subject, body)) is expected


def test_html_body_first_lines() -> None:
    """In HTML bodies the first block lines count as lines."""
    html = "<html><body><p><b>OFFICIAL-SENSITIVE</b></p><p>Dear Sir,</p></body></html>"
    assert marked((), parse("Report", html, ctype="text/html"))
    footer = "<p>Hi Tom</p><p>Thanks</p><p style='font-size:8pt'>This email may contain OFFICIAL-SENSITIVE data.</p>"
    assert not marked((), parse("Hi", footer, ctype="text/html"))


def test_label_header_marks() -> None:
    """A Purview label named Official-Sensitive counts even with no words in the text."""
    guid = "12345678-1234-1234-1234-123456789abc"
    label = f"msip_labels: MSIP_Label_{guid}_Enabled=true; MSIP_Label_{guid}_Name=Official Sensitive - Personal\r\n"
    assert marked((), parse("Report", "Hi\r\n", extra=label))
    assert not marked((), parse("Report", "Hi\r\n", extra=label.replace("Sensitive - ", "")))


def test_findings_from_recognizer() -> None:
    """Recognizer findings count in the subject, and in the body only within the first lines."""
    msg = parse("Report", "Dear Sir,\r\nOS marking here\r\n" + "word " * 200 + "\r\n")
    assert marked((finding("subject", 0),), msg)
    assert marked((finding("body", body_text(msg).index("OS marking")),), msg)
    assert not marked((finding("body", 900),), msg)
    assert not marked((finding("attachment:a.pdf", 0),), msg)


def test_footer_finding_not_counted() -> None:
    """A recognizer finding inside a disclaimer sentence near the top is still not a marking."""
    body = "Hi Tom,\r\nThanks.\r\n" + FOOTER
    msg = parse("Lunch", body)
    start = body_text(msg).index("OFFICIAL")
    assert not marked((finding("body", start),), msg)


PRETTY_HTML = """<html>
<body>
  <p>
    Dear Tom,
  </p>
  <p>
    Thanks for the notes from Tuesday's meeting.
  </p>
  <p>
    I will send the report later today.
  </p>
  <p>
    Regards,
  </p>
  <p>
    Jane Smith
  </p>
  <p>
    Family Court Adviser
  </p>
  <p>
    Please never forward TOP SECRET material to this address.
  </p>
</body>
</html>
"""


def test_html_body_marking_judged_on_the_extracted_text() -> None:
    """On an HTML-only body a recognizer finding is judged on the text its offsets point into (the extracted
    ``body.html`` chunk): a disclaimer line at the bottom of a pretty-printed page is not a first-lines marking."""
    msg = parse("Notes", PRETTY_HTML, ctype="text/html")
    start = body_text(msg, "body.html").index("TOP SECRET")
    found = Finding("PROTECTIVE_MARKING", 0.95, "body.html", start, start + 10, "ProtectiveMarkingRecognizer", "")
    assert not marked((found,), msg)
    # the same form on a line of its own at the top of the page is a marking
    top = parse("Notes", PRETTY_HTML.replace("<body>", "<body>\n  <p>\n    TOP SECRET\n  </p>"), ctype="text/html")
    start = body_text(top, "body.html").index("TOP SECRET")
    found = Finding("PROTECTIVE_MARKING", 0.95, "body.html", start, start + 10, "ProtectiveMarkingRecognizer", "")
    assert marked((found,), top)
