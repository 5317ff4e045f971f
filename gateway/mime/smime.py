"""Just enough BER to open a CMS ContentInfo: tell encrypted from signed, take a signed message's content, and
prove an enveloped one.

Opaque-signed S/MIME (``smime-type=signed-data``) carries the readable message inside the signature blob; not
reading it would let any signed mail bypass scanning. An enveloped message counts as encrypted only when its
EnvelopedData parses down to recipient infos and encrypted content (``enveloped_ciphertext``); a detached
signature part is only skipped when it is a SignedData with signers and no content (``detached_signature``).
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


_RECIPIENT_INFO_TAGS = frozenset({0x30, 0xA1, 0xA2, 0xA3, 0xA4})
"""ktri (SEQUENCE), kari [1], kekri [2], pwri [3], ori [4] (RFC 5652 section 6.2)."""


def _check_recipient(data: bytes, tlv: _Tlv) -> None:
    if tlv.tag not in _RECIPIENT_INFO_TAGS or not tlv.constructed:
        raise BerError("not a RecipientInfo")
    fields = _children(data, tlv)
    if len(fields) < (2 if tlv.tag == 0xA4 else 3):
        raise BerError("RecipientInfo too short")
    if tlv.tag == 0x30 and (fields[0].tag != 0x02 or fields[-1].tag != 0x04 or fields[-1].end <= fields[-1].start):
        raise BerError("KeyTransRecipientInfo without a version or an encrypted key")


def enveloped_ciphertext(data: bytes) -> tuple[str, int, bytes]:
    """(content type OID, number of recipients, encrypted content) of an EnvelopedData or
    AuthEnvelopedData; raises ``BerError`` unless it has recipient infos and encrypted content.

    RFC 5652 section 6.1 / RFC 5083: version, optional [0] originatorInfo, the recipientInfos SET (each a
    RecipientInfo choice), then an EncryptedContentInfo with content type, algorithm and the [0] encrypted
    content; AuthEnvelopedData adds the MAC after it."""
    outer = _read_tlv(data, 0)
    if outer.tag != 0x30:
        raise BerError("not a SEQUENCE")
    parts = _children(data, outer)
    kind = _oid(data, parts[0])
    if kind not in (ENVELOPED_DATA, AUTH_ENVELOPED_DATA) or len(parts) < 2 or parts[1].tag != 0xA0:
        raise BerError("not enveloped-data")
    envelope = _children(data, parts[1])[0]
    fields = _children(data, envelope)
    if not fields or fields[0].tag != 0x02:
        raise BerError("no version")
    index = 1
    if index < len(fields) and fields[index].tag == 0xA0:  # originatorInfo
        index += 1
    if index + 1 >= len(fields) or fields[index].tag != 0x31:
        raise BerError("no recipientInfos")
    recipients = _children(data, fields[index])
    if not recipients:
        raise BerError("empty recipientInfos")
    for recipient in recipients:
        _check_recipient(data, recipient)
    content_info = fields[index + 1]
    if content_info.tag != 0x30:
        raise BerError("no EncryptedContentInfo")
    info = _children(data, content_info)
    if len(info) < 3 or info[0].tag != 0x06 or info[1].tag != 0x30 or info[2].tag not in (0x80, 0xA0):
        raise BerError("no encrypted content")
    _oid(data, _children(data, info[1])[0])  # the content-encryption algorithm is an OID
    return kind, len(recipients), _octets(data, info[2])


def detached_signature(data: bytes) -> bool:
    """A SignedData with signer infos and no encapsulated content: what ``application/pkcs7-signature`` holds."""
    outer = _read_tlv(data, 0)
    parts = _children(data, outer)
    if _oid(data, parts[0]) != SIGNED_DATA or len(parts) < 2:
        return False
    fields = _children(data, _children(data, parts[1])[0])
    if len(fields) < 4 or fields[0].tag != 0x02 or fields[1].tag != 0x31 or fields[-1].tag != 0x31:
        return False
    if not _children(data, fields[-1]):  # no SignerInfo
        return False
    return signed_content(data) is None
