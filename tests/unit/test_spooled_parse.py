"""A message read block by block from its spool (issue 13: worker memory) is parsed into exactly what the
whole-message parse gives, or handed back (None) to be parsed the ordinary way when that cannot be sure."""

from __future__ import annotations

import base64
import os
from email.message import Message
from pathlib import Path

import pytest

from gateway.mime.parse import parse_message
from gateway.mime.spooled import parse_skeletal, skeleton_from_blocks

SAMPLES = sorted((Path(__file__).resolve().parents[2] / "samples").rglob("*.eml"))


def parts(msg: Message) -> list[tuple[str, str, object, list[str]]]:
    """Every part's type, file name, decoded payload (what every reader gets) and defects."""
    return [
        (part.get_content_type(), str(part.get_filename() or ""),
         None if part.is_multipart() else part.get_payload(decode=True),
         sorted(type(d).__name__ for d in part.defects))
        for part in msg.walk()
    ]


def blocks(raw: bytes, size: int) -> list[bytes]:
    """``raw`` cut every ``size`` bytes: lines straddle blocks (the reader must carry them over)."""
    return [raw[i:i + size] for i in range(0, len(raw), size)]


def b64(n: int, eol: bytes = b"\r\n") -> bytes:
    return base64.encodebytes(os.urandom(n)).replace(b"\n", eol)


def multipart(*bodies: tuple[str, bytes], eol: bytes = b"\r\n") -> bytes:
    out = [b"From: a@example.org", b"Subject: big", b'Content-Type: multipart/mixed; boundary="zz"', b"",
           b"--zz", b"Content-Type: text/plain", b"", b"Hello, see attached.", b""]
    text = eol.join(out)
    for i, (ctype, body) in enumerate(bodies):
        text += (b"--zz" + eol + b"Content-Type: " + ctype.encode() + eol
                 + b'Content-Disposition: attachment; filename="f%d.bin"' % i + eol
                 + b"Content-Transfer-Encoding: base64" + eol + eol + body)
    return text + b"--zz--" + eol


CASES = {
    "one-attachment-crlf": multipart(("application/octet-stream", b64(2_000_000))),
    "one-attachment-lf": multipart(("application/octet-stream", b64(700_000, b"\n")), eol=b"\n"),
    "two-attachments-padded": multipart(("application/pdf", b64(600_001)), ("application/zip", b64(900_002))),
    "small-run-stays": multipart(("application/octet-stream", b64(10_000))),
    "no-final-newline": multipart(("application/octet-stream", b64(400_000)))[:-2],
}


@pytest.mark.parametrize("size", [1_000_003, 65_536, 4093])
@pytest.mark.parametrize("name", sorted(CASES))
def test_streamed_skeleton_parses_like_the_whole_message(name: str, size: int) -> None:
    """Streamed in blocks of any size, the big runs come out decoded and the tree is the whole parse's."""
    raw = CASES[name]
    sk = skeleton_from_blocks(blocks(raw, size))
    assert sk is not None and sk.size == len(raw)
    assert bool(sk.payloads) == (name != "small-run-stays")
    assert len(sk.data) < 100_000 if sk.payloads else sk.data == raw
    msg = parse_skeletal(sk)
    assert msg is not None
    assert parts(msg) == parts(parse_message(raw))


@pytest.mark.parametrize("raw", [p.read_bytes() for p in SAMPLES], ids=[p.name for p in SAMPLES])
def test_samples_parse_the_same_streamed(raw: bytes) -> None:
    """Every sample message parses to the same parts when read block by block."""
    sk = skeleton_from_blocks(blocks(raw, 8191))
    assert sk is not None and sk.data == raw and sk.payloads == {}
    msg = parse_skeletal(sk)
    assert msg is not None and parts(msg) == parts(parse_message(raw))


def test_padding_inside_a_long_run() -> None:
    """'=' before the run's last line: bigparts leaves such a run as text. Seen before the run is long enough to
    decode, the run stays in the skeleton as it is; seen after, the streamed reader gives up (None)."""
    lines = b64(400_000).split(b"\r\n")
    early, late = list(lines), list(lines)
    early[1000] = early[1000][:-2] + b"=="  # at ~78 KB
    late[6000] = late[6000][:-2] + b"=="  # at ~468 KB, well past MIN_RUN
    raw = multipart(("application/octet-stream", b"\r\n".join(early)))
    sk = skeleton_from_blocks(blocks(raw, 65_536))
    assert sk is not None and sk.payloads == {} and sk.data == raw
    assert skeleton_from_blocks(blocks(multipart(("application/octet-stream", b"\r\n".join(late))), 65_536)) is None


def test_run_of_partial_quads_falls_back() -> None:
    """A long run whose characters are not whole quads is not decoded here."""
    body = b64(400_002)[:-3] + b"\r\n"  # one character short of whole quads
    assert skeleton_from_blocks(blocks(multipart(("application/octet-stream", body)), 65_536)) is None


def test_token_in_a_text_part_falls_back() -> None:
    """A long run of letters-only lines in a text part is not an attachment: the tokens cannot be restored, the
    caller parses the whole message (and gets the text)."""
    raw = (b"Subject: t\r\nContent-Type: text/plain\r\n\r\n" + b"Abcdefgh" * 9 + b"\r\n") * 1
    raw += (b"Abcdefgh" * 9 + b"\r\n") * 5000
    sk = skeleton_from_blocks(blocks(raw, 65_536))
    assert sk is not None and sk.payloads
    assert parse_skeletal(sk) is None
