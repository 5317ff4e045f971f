"""The low-memory parse (issue 13) gives exactly what the standard library's whole-message parse gives: the
message fed in slices, capped headers found window by window, clean base64 decoded straight from the string."""

from __future__ import annotations

import base64
import os
from email import policy
from email.message import Message
from email.parser import BytesParser
from pathlib import Path

import pytest

from gateway.mime import parse
from gateway.mime.parse import _cap_content_headers, _clean_base64, parse_message, payload_bytes

SAMPLES = sorted((Path(__file__).resolve().parents[2] / "samples").rglob("*.eml"))


def shape(msg: Message) -> list[tuple[str, object, list[str]]]:
    return [
        (part.get_content_type(), None if part.is_multipart() else part.get_payload(),
         sorted(type(d).__name__ for d in part.defects))
        for part in msg.walk()
    ]


def awkward() -> list[bytes]:
    body = base64.encodebytes(os.urandom(300_000)).replace(b"\n", b"\r\n")
    return [
        b"Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n--b\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body + b"--b--\r\n",
        b"Subject: no body",
        b"\r\n\r\nbody only\r\n",
        b"Subject: bare\nContent-Type: text/plain\n\nline\rmore\r\n" * 3,
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n" + b"a" * 70_000 + b"\r\n\r\n--x--",
    ]


@pytest.mark.parametrize("raw", [p.read_bytes() for p in SAMPLES] + awkward(),
                         ids=[p.name for p in SAMPLES] + [f"awkward-{i}" for i in range(len(awkward()))])
def test_sliced_feed_parses_like_parsebytes(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fed in slices (small ones here, so lines and CRLFs straddle them), the parser builds the same tree."""
    monkeypatch.setattr(parse, "_FEED", 4093)
    expected = BytesParser(policy=policy.default).parsebytes(raw)
    assert shape(parse_message(raw)) == shape(expected)


@pytest.mark.parametrize("payload", [
    base64.encodebytes(b"x" * 1000).decode(),
    base64.encodebytes(b"xy").decode(),
    base64.encodebytes(b"xyz").decode().replace("\n", "\r\n"),
    "QQ=\r\n=\r\n",
    "QUJD\r\nRA",            # missing padding: the library's defect path
    "QUJD!RA==",            # a junk character
    "QUJD====",
    "QQ==QUJD",             # data after padding
    "",
    "=",
    "Q\udcffQ==",           # a surrogate-escaped byte
])
def test_clean_base64_decodes_as_the_library_or_not_at_all(payload: str) -> None:
    """Where the fast path answers, its bytes are the library's; everything else is left to the library."""
    part = Message()
    part["Content-Transfer-Encoding"] = "base64"
    part.set_payload(payload)
    fast = _clean_base64(part)
    assert fast is None or fast == part.get_payload(decode=True)
    assert payload_bytes(part) == part.get_payload(decode=True)


def test_clean_base64_is_taken_for_a_real_attachment() -> None:
    """A normal attachment goes the fast way."""
    data = os.urandom(10_000)
    part = Message()
    part["Content-Transfer-Encoding"] = "base64"
    part.set_payload(base64.encodebytes(data).decode().replace("\n", "\r\n"))
    assert _clean_base64(part) == data


def _reference_cap(raw: bytes) -> tuple[bytes, bool]:
    """The previous implementation (one lower() of the whole message), for comparison."""
    lower = raw.lower()
    cuts = []
    for name in parse._CAPPED_HEADERS:
        pos = lower.find(name)
        while pos != -1:
            if pos == 0 or raw[pos - 1] in (0x0A, 0x0D):
                start = pos + len(name)
                end = parse._header_end(raw, start)
                if end - start > parse._MAX_CONTENT_HEADER:
                    cuts.append((start, end))
            pos = lower.find(name, pos + 1)
    if not cuts:
        return raw, False
    out = bytearray()
    last = 0
    for start, end in sorted(cuts):
        if start < last:
            continue
        value = raw[start : start + parse._MAX_CONTENT_HEADER]
        semicolon = value.rfind(b";")
        if semicolon > 0:
            value = value[:semicolon]
        out += raw[last:start] + value.rstrip(b"\r\n \t") + b"\r"
        last = end
    out += raw[last:]
    return bytes(out), True


@pytest.mark.parametrize("offset", [-30, -20, -13, -5, -1, 0, 1, 7])
def test_capped_headers_found_across_window_edges(offset: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Content-Type name that straddles a window edge is still found and capped as before."""
    monkeypatch.setattr(parse, "_WINDOW", 4096)
    long_value = b" text/plain; " + b"; ".join(b"p%d=v" % i for i in range(600)) + b"\r\n"
    lead = b"X: " + b"a" * (4096 + offset - 5) + b"\r\n"
    raw = lead + b"CoNtEnT-TyPe:" + long_value + b"\r\nbody\r\n"
    assert _cap_content_headers(raw) == _reference_cap(raw)
    assert _cap_content_headers(raw)[1]


def _mime(parts: list[bytes], *, preamble: bytes = b"", boundary: bytes = b"zz") -> bytes:
    out = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: big\r\nMIME-Version: 1.0\r\n"
    out += b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n' + preamble
    for part in parts:
        out += b"--" + boundary + b"\r\n" + part
    return out + b"--" + boundary + b"--\r\n"


def _b64_part(data: bytes, ctype: bytes, name: bytes = b"f.bin", *, mangle: bytes | None = None) -> bytes:
    body = base64.encodebytes(data).replace(b"\n", b"\r\n")
    if mangle is not None:
        body = body[:1000] + mangle + body[1000:]
    return (b"Content-Type: " + ctype + b"\r\nContent-Disposition: attachment; filename=\"" + name + b"\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + body)


def _zip_with_text() -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("notes.txt", "NHS number 943 476 5919\n" * 10)
        zf.writestr("noise.bin", os.urandom(1_200_000))
    return buf.getvalue()


def big_messages() -> dict[str, tuple[bytes, bool]]:
    """name -> (message, whether the skeleton path must take it)."""
    text = b"Content-Type: text/plain\r\n\r\nHello\r\n"
    noise = os.urandom(1_100_000)
    inner = _mime([text, _b64_part(noise, b"application/octet-stream")], boundary=b"inner")
    return {
        "octet-stream": (_mime([text, _b64_part(noise, b"application/octet-stream")]), True),
        "zip": (_mime([text, _b64_part(_zip_with_text(), b"application/zip", b"a.zip")]), True),
        "text-base64": (_mime([_b64_part(b"word " * 300_000, b"text/plain", b"t.txt")]), False),
        "attached-message": (_mime([text, b"Content-Type: message/rfc822\r\n\r\n" + inner]), False),
        "in-preamble": (_mime([text], preamble=base64.encodebytes(noise).replace(b"\n", b"\r\n")), False),
        "padding-inside": (_mime([_b64_part(noise, b"application/octet-stream", mangle=b"QQ==\r\n")]), False),
        "not-quads": (_mime([_b64_part(noise, b"application/octet-stream", mangle=b"QUJ\r\n")]), False),
        "smime": (_mime([text, _b64_part(noise, b"application/pkcs7-mime", b"smime.p7m")]), False),
    }


@pytest.mark.parametrize("name", list(big_messages()))
def test_large_attachments_extract_the_same(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With big base64 attachments decoded straight from the raw bytes, extraction finds exactly what the
    ordinary parse finds; anything the skeleton cannot stand for exactly is parsed the ordinary way."""
    from gateway.mime import bigparts
    from gateway.mime.extract import extract
    from gateway.mime.limits import ExtractionLimits

    raw, skeleton_expected = big_messages()[name]
    limits = ExtractionLimits(ocr=False)
    assert (parse._parse_large(raw) is not None) == skeleton_expected
    fast = extract(parse_message(raw), limits)
    monkeypatch.setattr(bigparts, "MIN_MESSAGE", 1 << 40)
    ordinary = extract(parse_message(raw), limits)
    assert fast.chunks == ordinary.chunks
    assert fast.attachments == ordinary.attachments
    assert fast.unscannable == ordinary.unscannable
    assert fast.defects == ordinary.defects
