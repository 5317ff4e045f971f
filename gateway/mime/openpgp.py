"""OpenPGP (RFC 9580, RFC 4880): armour and packets, enough to prove an encrypted message or read a plain one.

An armour block saying ``BEGIN PGP MESSAGE`` proves nothing: anyone can type those lines around readable text.
Here a block counts as encrypted only when

* the armour decodes: optional ``Key: value`` headers, a blank line, base64 lines, the optional ``=XXXX``
  CRC-24 line (checked when present), the matching END line;
* the decoded bytes are a packet stream (new-format and old-format packet headers, partial body lengths
  only where the standard allows them) that starts with one or more session-key packets (PKESK tag 1 or
  SKESK tag 3; marker packets before them are ignored, as the standard says) followed by exactly one
  encrypted data packet (SEIPD tag 18 v1 or v2, the old SED tag 9, or LibrePGP's OCB/EAX tag 20), with only
  padding after it;
* the encrypted packet's ciphertext looks like ciphertext (``gateway.mime.ciphertext.looks_random``).

Anything else that is OpenPGP is classified for the walker: detached signatures, key blocks, and signed or
compressed messages whose literal data is readable by anyone (returned as payloads so they are scanned).
"""

from __future__ import annotations

import base64
import binascii
import bz2
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from gateway.mime.ciphertext import looks_random, readable_form
from gateway.mime.guards import LimitExceeded
from gateway.mime.names import clean_name

PKESK, SIGNATURE, SKESK, ONE_PASS, SECRET_KEY, PUBLIC_KEY = 1, 2, 3, 4, 5, 6
COMPRESSED, SED, MARKER, LITERAL, USER_ID, PUBLIC_SUBKEY = 8, 9, 10, 11, 13, 14
SEIPD, AEAD, PADDING = 18, 20, 21
_ENCRYPTED = {SEIPD: "SEIPD", AEAD: "AEAD", SED: "SED"}
_SESSION_KEYS = frozenset({PKESK, SKESK})
_PARTIAL_ALLOWED = frozenset({COMPRESSED, SED, LITERAL, SEIPD, AEAD})
_READABLE = frozenset({SIGNATURE, ONE_PASS, COMPRESSED, LITERAL, MARKER, PADDING})
_KEY_PACKETS = frozenset({SECRET_KEY, PUBLIC_KEY, 7, USER_ID, PUBLIC_SUBKEY, 17, SIGNATURE, 12, PADDING})
_MAX_PACKETS = 10_000
_MAX_NESTING = 4
# First bytes of a stream that starts with a session-key or marker packet (old format, length types 0-2,
# and new format): enough to look at a part that has no name or type saying OpenPGP.
SESSION_KEY_STARTS = frozenset({0x84, 0x85, 0x86, 0x8C, 0x8D, 0x8E, 0xA8, 0xC1, 0xC3, 0xCA})

_HEADER_LINE = re.compile(r"^[A-Za-z][A-Za-z0-9-]*: ?.*$")
_BEGIN = re.compile(r"^[ \t]*-----BEGIN PGP ([A-Z0-9 ,/]{1,40})-----[ \t]*\r?\n?$")

Kind = Literal["encrypted", "fake", "signature", "readable", "keys"]


class PgpError(ValueError):
    """Not (well-formed) OpenPGP."""


@dataclass(frozen=True, slots=True)
class Packet:
    tag: int
    body: bytes


@dataclass(frozen=True, slots=True)
class PgpVerdict:
    kind: Kind
    """``encrypted`` (proven), ``fake`` (the shape of an encrypted message without ciphertext), ``signature``,
    ``readable`` (signed or compressed, readable by anyone) or ``keys``."""
    detail: str
    payloads: tuple[tuple[str, bytes], ...] = field(default=())
    """Readable content found inside: literal data, or the bytes of a fake ciphertext field."""


@dataclass(frozen=True, slots=True)
class ArmourBlock:
    """One ``-----BEGIN PGP <label>-----`` ... ``-----END PGP <label>-----`` block in a text."""

    label: str
    start: int
    """Offset of the BEGIN line in the text."""
    end: int
    """Offset just past the END line (the end of the text when the END line is missing)."""
    lines: tuple[str, ...]
    complete: bool


# --- armour --------------------------------------------------------------------------------------------------


def crc24(data: bytes) -> int:
    """The armour checksum (RFC 9580 section 6.1)."""
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def armour_blocks(text: str) -> Iterator[ArmourBlock]:
    """Every armour block in ``text``, with the offsets of its first and last line."""
    lines = text.splitlines(keepends=True)
    offset = 0
    index = 0
    while index < len(lines):
        line = lines[index]
        begin = _BEGIN.match(line)
        if begin is None:
            offset += len(line)
            index += 1
            continue
        label = begin.group(1)
        end_line = f"-----END PGP {label}-----"
        start = offset
        offset += len(line)
        index += 1
        inner: list[str] = []
        complete = False
        while index < len(lines):
            current = lines[index]
            offset += len(current)
            index += 1
            if current.strip() == end_line:
                complete = True
                break
            inner.append(current)
        yield ArmourBlock(label, start, offset, tuple(inner), complete)


def dearmour(lines: tuple[str, ...] | list[str]) -> bytes:
    """The bytes inside an armour block's lines (headers, blank line, base64, optional CRC-24)."""
    stripped = [line.strip() for line in lines]
    index = 0
    if stripped and _HEADER_LINE.match(stripped[0]):
        while index < len(stripped) and stripped[index]:
            if not _HEADER_LINE.match(stripped[index]):
                raise PgpError("bad armour header")
            index += 1
    while index < len(stripped) and not stripped[index]:
        index += 1
    body = [line for line in stripped[index:]]
    while body and not body[-1]:
        body.pop()
    checksum: str | None = None
    if body and body[-1].startswith("=") and len(body[-1]) == 5:
        checksum = body.pop()[1:]
    if any(not line for line in body):
        raise PgpError("blank line inside armour")
    try:
        data = base64.b64decode("".join(body), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PgpError("armour is not base64") from exc
    if not data:
        raise PgpError("empty armour")
    if checksum is not None:
        try:
            expected = int.from_bytes(base64.b64decode(checksum, validate=True), "big")
        except (binascii.Error, ValueError) as exc:
            raise PgpError("bad armour checksum line") from exc
        if crc24(data) != expected:
            raise PgpError("armour checksum mismatch")
    return data


# --- packets -------------------------------------------------------------------------------------------------


def _new_length(data: bytes, pos: int) -> tuple[int, int, bool]:
    """(length, position after the length octets, partial) for a new-format length at ``pos``."""
    if pos >= len(data):
        raise PgpError("truncated length")
    first = data[pos]
    if first < 192:
        return first, pos + 1, False
    if first < 224:
        if pos + 1 >= len(data):
            raise PgpError("truncated length")
        return ((first - 192) << 8) + data[pos + 1] + 192, pos + 2, False
    if first == 255:
        if pos + 5 > len(data):
            raise PgpError("truncated length")
        return int.from_bytes(data[pos + 1 : pos + 5], "big"), pos + 5, False
    return 1 << (first & 0x1F), pos + 1, True


def _take(data: bytes, pos: int, length: int) -> bytes:
    if pos + length > len(data):
        raise PgpError("packet past end of data")
    return data[pos : pos + length]


def packets(data: bytes) -> list[Packet]:
    """Split a binary OpenPGP stream into packets; raises ``PgpError`` unless every byte belongs to one."""
    out: list[Packet] = []
    pos = 0
    while pos < len(data):
        if len(out) >= _MAX_PACKETS:
            raise PgpError("too many packets")
        header = data[pos]
        if not header & 0x80:
            raise PgpError("not a packet header")
        if header & 0x40:  # new format
            tag = header & 0x3F
            length, pos, partial = _new_length(data, pos + 1)
            if partial and (tag not in _PARTIAL_ALLOWED or length < 512):
                raise PgpError("partial length not allowed here")
            pieces = [_take(data, pos, length)]
            pos += length
            while partial:
                length, pos, partial = _new_length(data, pos)
                pieces.append(_take(data, pos, length))
                pos += length
            body = b"".join(pieces)
        else:  # old format
            tag = (header >> 2) & 0x0F
            kind = header & 0x03
            if kind == 3:  # indeterminate: to the end of the data
                body = data[pos + 1 :]
                pos = len(data)
            else:
                size = (1, 2, 4)[kind]
                length = int.from_bytes(_take(data, pos + 1, size), "big")
                body = _take(data, pos + 1 + size, length)
                pos += 1 + size + length
        if tag == 0:
            raise PgpError("reserved packet tag 0")
        out.append(Packet(tag, body))
    return out


def _check_session_key(packet: Packet) -> None:
    body = packet.body
    if packet.tag == PKESK:
        if not body or body[0] not in (3, 6) or len(body) < 12:
            raise PgpError("malformed public-key session key packet")
    elif not body or body[0] not in (4, 5, 6) or len(body) < 4:
        raise PgpError("malformed symmetric-key session key packet")


def _ciphertext(packet: Packet) -> bytes:
    """The encrypted bytes of an encrypted data packet (after its version and parameter fields)."""
    body = packet.body
    if packet.tag == SED:
        return body
    if packet.tag == SEIPD:
        if body[:1] == b"\x01":
            return body[1:]
        if body[:1] == b"\x02" and len(body) > 36:
            return body[36:]  # version, cipher, AEAD mode, chunk size, 32-byte salt
        raise PgpError("unknown SEIPD version")
    if body[:1] == b"\x01" and len(body) > 4:  # LibrePGP AEAD: version, cipher, mode, chunk size, IV
        iv = {1: 16, 2: 15, 3: 12}.get(body[2], 16)
        return body[4 + iv :]
    raise PgpError("unknown AEAD packet version")


def _encrypted_message(found: list[Packet], budget: int) -> PgpVerdict:
    index = 0
    while index < len(found) and found[index].tag in _SESSION_KEYS:
        _check_session_key(found[index])
        index += 1
    rest = [p for p in found[index:] if p.tag != PADDING]
    if len(rest) != 1 or rest[0].tag not in _ENCRYPTED or found[-1].tag not in (*_ENCRYPTED, PADDING):
        raise PgpError("session keys not followed by one encrypted data packet")
    data_packet = rest[0]
    cipher = _ciphertext(data_packet)
    name = _ENCRYPTED[data_packet.tag]
    if not looks_random(cipher):
        readable = readable_form(cipher, budget)
        return PgpVerdict("fake", f"OpenPGP {name} packet without ciphertext", (("encrypted-data.bin", readable),))
    keys = sorted({"PKESK" if p.tag == PKESK else "SKESK" for p in found[:index]})
    return PgpVerdict("encrypted", f"OpenPGP encrypted message ({'+'.join(keys)}, {name})")


def _inflate(body: bytes, budget: int) -> bytes:
    algorithm, data = body[:1], body[1:]
    if algorithm == b"\x00":
        out = data
    elif algorithm in (b"\x01", b"\x02"):
        inflater = zlib.decompressobj(-zlib.MAX_WBITS if algorithm == b"\x01" else zlib.MAX_WBITS)
        try:
            out = inflater.decompress(data, budget + 1)
        except zlib.error as exc:
            raise PgpError("compressed packet unreadable") from exc
    elif algorithm == b"\x03":
        try:
            out = bz2.BZ2Decompressor().decompress(data, budget + 1)
        except (OSError, ValueError) as exc:
            raise PgpError("compressed packet unreadable") from exc
    else:
        raise PgpError("unknown compression algorithm")
    if len(out) > budget:
        raise LimitExceeded(f"OpenPGP compressed data > {budget} bytes")
    return out


def _literals(found: list[Packet], budget: int, depth: int = 0) -> list[tuple[str, bytes]]:
    """The literal data packets' (file name, content), opening compressed packets on the way."""
    if depth > _MAX_NESTING:
        raise LimitExceeded("OpenPGP compression nested too deep")
    out: list[tuple[str, bytes]] = []
    for packet in found:
        if packet.tag == COMPRESSED:
            inner = _inflate(packet.body, budget)
            budget -= len(inner)
            out += _literals(packets(inner), budget, depth + 1)
        elif packet.tag == LITERAL:
            body = packet.body
            if len(body) < 6:
                raise PgpError("literal packet too short")
            name_length = body[1]
            name = clean_name(body[2 : 2 + name_length].decode("utf-8", "replace")) or "literal-data"
            out.append((name, body[2 + name_length + 4 :]))
        elif packet.tag in _ENCRYPTED or packet.tag in _SESSION_KEYS:
            raise PgpError("encrypted packet inside a signed message")
    return out


def examine(data: bytes, budget: int) -> PgpVerdict:
    """Classify binary OpenPGP ``data``; raises ``PgpError`` when it is not OpenPGP at all."""
    found = [p for p in packets(data) if not (p.tag == MARKER and p.body == b"PGP")]
    if not found:
        raise PgpError("no packets")
    tags = {p.tag for p in found}
    if found[0].tag in _SESSION_KEYS or tags & set(_ENCRYPTED):
        try:
            return _encrypted_message(found, budget)
        except PgpError as exc:  # the shape of an encrypted message, but not one: read what can be read
            readable = [p for p in found if p.tag in _READABLE]
            return PgpVerdict("fake", f"OpenPGP session key without encrypted data ({exc})",
                              tuple(_literals(readable, budget)))
    if tags == {SIGNATURE}:
        return PgpVerdict("signature", "OpenPGP signature")
    if tags <= _READABLE and tags & {COMPRESSED, LITERAL}:
        return PgpVerdict("readable", "OpenPGP signed or compressed message", tuple(_literals(found, budget)))
    if found[0].tag in (PUBLIC_KEY, SECRET_KEY) and tags <= _KEY_PACKETS:
        return PgpVerdict("keys", "OpenPGP key block")
    raise PgpError("not an OpenPGP message")


def examine_armour(label: str, lines: tuple[str, ...] | list[str], budget: int) -> PgpVerdict:
    """Classify one armour block; ``fake`` when it says MESSAGE but holds no proven ciphertext."""
    try:
        data = dearmour(lines)
    except PgpError as exc:
        return PgpVerdict("fake", f"PGP {label} armour that does not decode ({exc})")
    try:
        verdict = examine(data, budget)
    except PgpError as exc:
        return PgpVerdict("fake", f"PGP {label} armour without OpenPGP packets ({exc})", (("armour.bin", data),))
    if label == "SIGNATURE" and verdict.kind != "signature":
        return PgpVerdict("fake", "PGP SIGNATURE armour that is not a signature", verdict.payloads)
    if label == "MESSAGE" and verdict.kind in ("readable", "keys", "signature"):
        # Looks encrypted to a person and to a filter reading labels; anyone with gpg reads it.
        return PgpVerdict("fake", f"PGP MESSAGE armour holding an unencrypted message ({verdict.detail})",
                          verdict.payloads)
    return verdict
