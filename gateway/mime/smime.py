"""Just enough BER to open a CMS ContentInfo: tell encrypted from signed, and take a signed message's content.

Opaque-signed S/MIME (``smime-type=signed-data``) carries the readable message inside the signature blob; not
reading it would let any signed mail bypass scanning. Encrypted CMS is left to the encryption detector.
"""

from __future__ import annotations

from dataclasses import dataclass

SIGNED_DATA = "1.2.840.113549.1.7.2"
ENVELOPED_DATA = "1.2.840.113549.1.7.3"
AUTH_ENVELOPED_DATA = "1.2.840.113549.1.9.16.1.23"
ENCRYPTED_DATA = "1.2.840.113549.1.7.6"
ENCRYPTED_TYPES = frozenset({ENVELOPED_DATA, AUTH_ENVELOPED_DATA, ENCRYPTED_DATA})
_MAX_NESTING = 64


class BerError(ValueError):
    """Not (or not well-formed) BER."""


@dataclass(frozen=True, slots=True)
class _Tlv:
    tag: int
    constructed: bool
    start: int
    """Offset of the value."""
    end: int
    """Offset just past the value (excluding an end-of-contents marker)."""
    next: int
    """Offset of the following TLV."""


def _read_tlv(data: bytes, pos: int, depth: int = 0) -> _Tlv:
    if depth > _MAX_NESTING or pos + 2 > len(data):
        raise BerError("truncated")
    first = data[pos]
    constructed = bool(first & 0x20)
    tag = first
    pos += 1
    if first & 0x1F == 0x1F:  # high tag number form: only skip it
        while pos < len(data) and data[pos] & 0x80:
            pos += 1
        pos += 1
    if pos >= len(data):
        raise BerError("truncated")
    length_byte = data[pos]
    pos += 1
    if length_byte == 0x80:  # indefinite length: children until 00 00
        if not constructed:
            raise BerError("indefinite primitive")
        cursor = pos
        while True:
            if cursor + 2 > len(data):
                raise BerError("missing end-of-contents")
            if data[cursor] == 0 and data[cursor + 1] == 0:
                return _Tlv(tag, constructed, pos, cursor, cursor + 2)
            cursor = _read_tlv(data, cursor, depth + 1).next
    if length_byte & 0x80:
        count = length_byte & 0x7F
        if count > 8 or pos + count > len(data):
            raise BerError("bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    else:
        length = length_byte
    end = pos + length
    if end > len(data):
        raise BerError("value past end")
    return _Tlv(tag, constructed, pos, end, end)


def _children(data: bytes, tlv: _Tlv) -> list[_Tlv]:
    out: list[_Tlv] = []
    cursor = tlv.start
    while cursor < tlv.end:
        child = _read_tlv(data, cursor)
        out.append(child)
        cursor = child.next
    return out


def _oid(data: bytes, tlv: _Tlv) -> str:
    if tlv.tag != 0x06:
        raise BerError("expected OID")
    raw = data[tlv.start : tlv.end]
    if not raw:
        raise BerError("empty OID")
    parts = [raw[0] // 40, raw[0] % 40]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(p) for p in parts)


def _octets(data: bytes, tlv: _Tlv, depth: int = 0) -> bytes:
    """An OCTET STRING's bytes, joining the pieces of a constructed (chunked) one."""
    if not tlv.constructed:
        return data[tlv.start : tlv.end]
    if depth > _MAX_NESTING:
        raise BerError("nested too deep")
    return b"".join(_octets(data, child, depth + 1) for child in _children(data, tlv))


def content_type(data: bytes) -> str:
    """The ContentInfo's type OID (e.g. ``SIGNED_DATA``)."""
    outer = _read_tlv(data, 0)
    if outer.tag != 0x30:
        raise BerError("not a SEQUENCE")
    return _oid(data, _children(data, outer)[0])


def signed_content(data: bytes) -> bytes | None:
    """The encapsulated content of a SignedData, or None when detached (no content inside)."""
    outer = _read_tlv(data, 0)
    parts = _children(data, outer)
    if _oid(data, parts[0]) != SIGNED_DATA or len(parts) < 2:
        raise BerError("not signed-data")
    signed = _children(data, parts[1])[0]  # [0] EXPLICIT SignedData
    fields = _children(data, signed)
    encap = fields[2]  # version, digestAlgorithms, encapContentInfo
    encap_parts = _children(data, encap)
    if len(encap_parts) < 2:
        return None
    explicit = _children(data, encap_parts[1])
    if not explicit:
        return None
    return _octets(data, explicit[0])
