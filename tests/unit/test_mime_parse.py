"""Parsing hostile and broken mail: parse_message never raises, headers decode, charsets fall back."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from gateway.mime.charset import decode_bytes, fix_surrogates
from gateway.mime.extract import extract
from gateway.mime.limits import ExtractionLimits
from gateway.mime.parse import (
    MimeNestingTooDeepDefect,
    content_type,
    filename,
    header_text,
    parse_message,
)

LIMITS = ExtractionLimits(ocr=False)


def chunks(raw: bytes) -> dict[str, str]:
    return {c.location: c.text for c in extract(parse_message(raw), LIMITS).chunks}


@pytest.mark.parametrize(
    ("data", "declared", "expected"),
    [
        ("café £5".encode("cp1252"), "us-ascii", "café £5"),
        ("café".encode(), "no-such-charset", "café"),
        ("café".encode(), None, "café"),
        ("naïve".encode("cp1252"), "utf-8", "naïve"),
        (b"\x81\x8d", "utf-8", "\x81\x8d"),
        ("x".encode("utf-16"), None, "x"),
        (b"abc", "base64", "abc"),
    ],
)
def test_decode_bytes_falls_back(data: bytes, declared: str | None, expected: str) -> None:
    """Declared charset, then UTF-8, then cp1252, then latin-1: decoding never fails and bytes codecs are ignored."""
    assert decode_bytes(data, declared) == expected


def test_fix_surrogates_recovers_8bit() -> None:
    """Raw 8-bit header bytes smuggled as surrogates come back as the characters they encode."""
    assert fix_surrogates("caf\udcc3\udca9") == "café"
    assert fix_surrogates("plain") == "plain"


def test_wrong_charset_body_is_decoded() -> None:
    """A body declared us-ascii but written in Windows-1252 still yields the pound sign and accents."""
    raw = b"Subject: x\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nFee \xa3200 caf\xe9\r\n"
    assert chunks(raw)["body"].strip() == "Fee £200 café"


def test_unknown_charset_body_is_decoded() -> None:
    """An unknown charset label falls back to UTF-8 instead of raising LookupError."""
    raw = b"Subject: x\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\n" + "Zoë".encode() + b"\r\n"
    assert chunks(raw)["body"].strip() == "Zoë"


def test_eight_bit_subject_is_decoded() -> None:
    """A raw UTF-8 Subject (no RFC 2047) is read as UTF-8, not replaced with U+FFFD."""
    raw = "Subject: Zoë's case\r\n\r\nbody\r\n".encode()
    msg = parse_message(raw)
    assert header_text(msg, "Subject") == "Zoë's case"


def test_rfc2047_subject_and_fold() -> None:
    """Encoded words and folded lines are decoded and unfolded."""
    raw = b"Subject: =?utf-8?q?Caf=C3=A9?=\r\n =?iso-8859-1?q?_na=EFve?=\r\n\r\nbody\r\n"
    assert header_text(parse_message(raw), "Subject") == "Café naïve"


def test_malformed_address_header_does_not_raise() -> None:
    """Reading a header the policy's parser chokes on (To: ;;;,<) returns text instead of raising."""
    raw = b'Subject: x\r\nTo: ;;;,<\r\nFrom: "a" <@@@>, =?x?q?bad\r\n\r\nbody\r\n'
    msg = parse_message(raw)
    assert header_text(msg, "To") == ";;;,<"
    assert "a" in header_text(msg, "From")
    assert header_text(msg, "Missing") == ""


def test_smtputf8_addresses() -> None:
    """Internationalised (SMTPUTF8) addresses in headers are kept as Unicode text."""
    raw = "From: José <josé@exämple.org>\r\nTo: zoë@例え.jp\r\nSubject: hi\r\n\r\nbody\r\n".encode()
    msg = parse_message(raw)
    assert "josé@exämple.org" in header_text(msg, "From")
    assert header_text(msg, "To") == "zoë@例え.jp"


def test_rfc2231_filename() -> None:
    """RFC 2231 continuations and charsets in filenames are decoded into the attachment location."""
    raw = (
        b"Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        b"Content-Type: text/plain\r\nContent-Disposition: attachment;\r\n filename*0*=utf-8''na%C3%AFve;\r\n"
        b' filename*1="-notes.txt"\r\n\r\nfile text\r\n--b--\r\n'
    )
    msg = parse_message(raw)
    part = msg.get_payload()[0]  # type: ignore[index]
    assert filename(part) == "naïve-notes.txt"
    assert chunks(raw)["attachment:naïve-notes.txt"].strip() == "file text"


def test_rfc2047_filename() -> None:
    """Outlook's (non-standard) RFC 2047 encoded filenames are decoded too."""
    raw = (
        b"Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        b'Content-Type: text/plain; name="=?utf-8?b?w6l0w6kudHh0?="\r\nContent-Disposition: attachment\r\n\r\n'
        b"summer\r\n--b--\r\n"
    )
    assert "attachment:été.txt" in chunks(raw)


def test_broken_base64_is_decoded_as_far_as_possible() -> None:
    """Base64 with missing padding and junk characters still yields the text instead of an exception."""
    raw = (
        b"Subject: x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"SGVsbG8gd29ybGQgZnJvbSBKYW5l\r\n!!!\r\n"
    )
    assert "Hello world from Jane" in chunks(raw)["body"]


def test_broken_quoted_printable() -> None:
    """Invalid QP escapes are left as they are rather than failing the part."""
    raw = b"Subject: x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nA=ZZ=\r\nB=3D\r\n"
    assert chunks(raw)["body"].startswith("A=ZZB=")


def test_missing_boundary_parameter_still_scans_body() -> None:
    """A multipart without a boundary parameter is recovered from its '--' lines and its parts are read."""
    raw = (
        b"Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\n--zz\r\n"
        b"Content-Type: text/plain\r\n\r\nfirst part text\r\n--zz\r\nContent-Type: text/plain\r\n"
        b"Content-Disposition: attachment; filename=a.txt\r\n\r\nsecond part text\r\n--zz--\r\n"
    )
    result = extract(parse_message(raw), LIMITS)
    texts = {c.location: c.text.strip() for c in result.chunks}
    assert texts["body"] == "first part text"
    assert texts["attachment:a.txt"] == "second part text"
    assert "MissingBoundaryInMultipartDefect" in result.defects or "NoBoundaryInMultipartDefect" in result.defects


def test_unfindable_boundary_reads_raw_body() -> None:
    """A multipart whose boundary never appears is read as one text body, so nothing escapes scanning."""
    raw = b"Subject: x\r\nContent-Type: multipart/mixed; boundary=nothere\r\n\r\nloose text only\r\n"
    assert "loose text only" in chunks(raw)["body"]


def test_content_type_defaults_and_garbage() -> None:
    """Missing or garbage Content-Type values read as text/plain, as RFC 2045 says."""
    assert content_type(parse_message(b"Subject: x\r\n\r\nbody")) == "text/plain"
    assert content_type(parse_message(b"Content-Type: ;;;\r\n\r\nbody")) == "text/plain"


def test_garbage_bytes_parse() -> None:
    """Arbitrary binary input parses to a message without raising."""
    msg = parse_message(bytes(range(256)) * 4)
    assert isinstance(msg, EmailMessage)
    extract(msg, LIMITS)


def test_nesting_beyond_parser_is_limit() -> None:
    """MIME nested deeper than the stdlib parser can recurse becomes a defect and an unscannable limit item."""
    body = b"Content-Type: text/plain\r\n\r\ndeep text\r\n"
    for level in range(1200):
        b = b"b%d" % level
        body = (
            b"Content-Type: multipart/mixed; boundary="
            + b
            + b"\r\n\r\n--"
            + b
            + b"\r\n"
            + body
            + b"\r\n--"
            + b
            + b"--\r\n"
        )
    msg = parse_message(b"Subject: deep\r\n" + body)
    assert any(isinstance(d, MimeNestingTooDeepDefect) for d in msg.defects)
    result = extract(msg, LIMITS)
    assert any(u.location == "message" and u.reason == "limit" for u in result.unscannable)
    assert "MimeNestingTooDeepDefect" in result.defects


def test_oversized_content_headers_are_cut_fast() -> None:
    """100 KB of Content-Type parameters or encoded-word filenames cannot cost seconds of parsing."""
    import time

    params = b"Content-Type: text/plain; " + b"a=b; " * 20000 + b"\r\n\r\nbody one\r\n"
    words = (
        b'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="'
        + b"=?utf-8?q?abc?= " * 20000
        + b'"\r\n\r\nbody two\r\n'
    )
    long_subject = b"Subject: " + b"=?utf-8?q?abc?= " * 20000 + b"\r\n\r\nbody\r\n"
    for raw in (params, words, long_subject):
        start = time.monotonic()
        msg = parse_message(raw)
        result = extract(msg, LIMITS)
        assert time.monotonic() - start < 1.5
        assert result.chunks
    assert "OversizedHeaderDefect" in extract(parse_message(params), LIMITS).defects
