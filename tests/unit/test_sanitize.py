"""Byte-level DATA checks: bare line endings, NUL, X-DLP-* removal that leaves every other byte alone."""

from __future__ import annotations

import pytest

from gateway.smtp.sanitize import line_ending_issue, normalise_line_endings, received_line, strip_dlp_headers


@pytest.mark.parametrize(
    ("data", "bare", "nul"),
    [
        (b"a: b\r\n\r\nbody\r\n", False, False),
        (b"a: b\r\n\r\nbo\ndy\r\n", True, False),
        (b"a: b\r\n\r\nbo\rdy\r\n", True, False),
        (b"a: b\r\n\r\nbody\r\n\n.\n", True, False),
        (b"a: b\r\n\r\n\r\r\n", True, False),
        (b"a: b\r\n\r\nb\x00ody\r\n", False, True),
        (b"", False, False),
    ],
)
def test_line_ending_issue(data: bytes, bare: bool, nul: bool) -> None:
    """Only CRLF line endings pass; any bare CR, bare LF or NUL is reported."""
    issue = line_ending_issue(data)
    assert (issue is not None) == (bare or nul)
    if issue is not None:
        assert issue.bare == bare and issue.nul == nul


def test_normalise_turns_smuggling_into_one_message() -> None:
    """Normalising makes `\\n.\\n` an ordinary CRLF line that dot-stuffing will protect."""
    out = normalise_line_endings(b"x\n.\nMAIL FROM:<e@x>\r\r\n")
    assert line_ending_issue(out) is None and b"\r\n.\r\n" in out


def test_strip_dlp_headers_keeps_other_bytes() -> None:
    """Client X-DLP-* fields (folded too) go; the rest of the header and the body are untouched."""
    msg = b"From: a\r\nX-DLP-Decision: pass\r\n\tcontinued\r\nx-dlp-rules: y\r\nSubject: s\r\n\r\nX-DLP-Body: stays\r\n"
    out, removed, total = strip_dlp_headers(msg)
    assert out == b"From: a\r\nSubject: s\r\n\r\nX-DLP-Body: stays\r\n" and removed == 2 and total == 4


def test_received_line_cannot_carry_injected_lines() -> None:
    """A hostile HELO name cannot add header lines to the Received field."""
    from datetime import UTC, datetime

    line = received_line(helo="evil\r\nBcc: x@y", peer="127.0.0.1", hostname="gw", txn_id="t1", tls=False,
                         auth=False, now=datetime(2026, 1, 1, tzinfo=UTC))
    lines = line.split(b"\r\n")
    assert len(lines) == 4 and lines[0].startswith(b"Received: ") and all(x[:1] in (b"\t", b"") for x in lines[1:])
