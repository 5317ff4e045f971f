"""Raw bytes to an ``EmailMessage`` that never raises, plus header accessors that survive hostile values.

``email.policy.default`` parses headers lazily, so merely reading ``msg["To"]`` can raise on a malformed value;
every header read in the MIME package goes through the helpers here.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from collections.abc import Iterator
from email import errors, policy
from email.feedparser import BytesFeedParser
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser, BytesParser
from email.utils import getaddresses

from gateway.mime import bigparts
from gateway.mime.charset import decode_bytes, fix_surrogates

_FOLD = re.compile(r"\r?\n[ \t]*")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MAX_PARSED_HEADER = 4096
_MAX_CONTENT_HEADER = 2048
_CAPPED_HEADERS = (b"content-type:", b"content-disposition:", b"content-transfer-encoding:")
_WINDOW = 1 << 20
"""Bytes lowered at a time when looking for the capped headers (lowering a 30 MB message at once is a copy)."""
_FEED = 64 * 1024
"""Bytes handed to the parser at a time: ``BytesParser.parsebytes`` decodes the whole message to one string and
reads it through a ``StringIO`` (four bytes a character), six times a large message in all."""
_BASE64_CLEAN = re.compile(r"[A-Za-z0-9+/\r\n]*(?:=[\r\n]*){0,2}")
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,64})\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"(\?=)[ \t]+(=\?)")


class UnparseableMessageDefect(errors.MessageDefect):
    """The parser itself failed; the message holds only its headers and the raw body as text."""


class MimeNestingTooDeepDefect(errors.MessageDefect):
    """The MIME tree nests deeper than the parser can follow; only headers and raw body were kept."""


class OversizedHeaderDefect(errors.MessageDefect):
    """A Content-* header longer than any real one was cut before parsing (its parser is super-linear)."""


def parse_message(raw: bytes) -> EmailMessage:
    """Parse one message; on parser failure keep headers and the body as raw text so nothing escapes scanning."""
    raw, capped = _cap_content_headers(raw)
    msg = _parse_large(raw) or _parse(raw)
    if capped:
        msg.defects.append(OversizedHeaderDefect())
    return msg


def _parse_large(raw: bytes) -> EmailMessage | None:
    """A large message parsed as a skeleton with its big base64 attachments decoded from the raw bytes
    (``gateway.mime.bigparts``), or None to parse it the ordinary way."""
    sk = bigparts.skeleton(raw)
    if sk is None:
        return None
    msg = _parse(sk.data)
    return msg if bigparts.restore(msg, raw, sk) else None


def _parse(raw: bytes) -> EmailMessage:
    try:
        parser = BytesFeedParser(policy=policy.default)
        for start in range(0, len(raw), _FEED):
            parser.feed(raw[start : start + _FEED])
        msg = parser.close()
    except RecursionError:
        return _fallback(raw, MimeNestingTooDeepDefect())
    except Exception:
        return _fallback(raw, UnparseableMessageDefect())
    if not isinstance(msg, EmailMessage):  # pragma: no cover - policy.default always builds EmailMessage
        return _fallback(raw, UnparseableMessageDefect())
    return msg


def _header_end(raw: bytes, start: int) -> int:
    """Offset of the newline ending the (folded) header whose value starts at ``start``."""
    pos = start
    while True:
        newline = raw.find(b"\n", pos)
        if newline == -1:
            return len(raw)
        if newline + 1 < len(raw) and raw[newline + 1] in (0x20, 0x09):
            pos = newline + 1
            continue
        return newline


def _cap_content_headers(raw: bytes) -> tuple[bytes, bool]:
    """Cut Content-Type/-Disposition/-Transfer-Encoding values over ``_MAX_CONTENT_HEADER`` bytes.

    The standard library parses these during parsing itself, and 100 KB of parameters or encoded words
    takes it several seconds; no genuine header is anywhere near the cap. Only the scanned copy is changed.
    """
    cuts: list[tuple[int, int]] = []
    for pos, name in _find_capped(raw):
        if pos == 0 or raw[pos - 1] in (0x0A, 0x0D):
            start = pos + len(name)
            end = _header_end(raw, start)
            if end - start > _MAX_CONTENT_HEADER:
                cuts.append((start, end))
    if not cuts:
        return raw, False
    out = bytearray()
    last = 0
    for start, end in sorted(cuts):
        if start < last:
            continue
        value = raw[start : start + _MAX_CONTENT_HEADER]
        semicolon = value.rfind(b";")
        if semicolon > 0:
            value = value[:semicolon]
        out += raw[last:start] + value.rstrip(b"\r\n \t") + b"\r"
        last = end
    out += raw[last:]
    return bytes(out), True


def _find_capped(raw: bytes) -> Iterator[tuple[int, bytes]]:
    """Every case-insensitive occurrence of a capped header name, lowering one window of the message at a time
    (windows overlap by the longest name, and a match belongs to the window it starts in)."""
    longest = max(len(n) for n in _CAPPED_HEADERS)
    for base in range(0, len(raw), _WINDOW):
        window = raw[base : base + _WINDOW + longest].lower()
        for name in _CAPPED_HEADERS:
            pos = window.find(name)
            while pos != -1 and pos < _WINDOW:
                yield base + pos, name
                pos = window.find(name, pos + 1)


def _fallback(raw: bytes, defect: errors.MessageDefect) -> EmailMessage:
    """Headers parsed, body left unparsed (one text payload), and the reason recorded as a defect."""
    try:
        msg = BytesHeaderParser(policy=policy.default).parsebytes(raw)
        if not isinstance(msg, EmailMessage):  # pragma: no cover
            raise TypeError("unexpected message class")
    except Exception:
        msg = EmailMessage()
        msg.set_payload(raw.decode("latin-1"))
    msg.defects.append(defect)
    return msg


def _raw_header(msg: Message, name: str) -> str | None:
    """The unparsed value of the first header called ``name`` (case-insensitive), bypassing the header factory."""
    wanted = name.lower()
    try:
        for key, value in msg.raw_items():
            if str(key).lower() == wanted:
                return str(value)
    except Exception:
        return None
    return None


def _decode_word(match: re.Match[str]) -> str:
    charset, encoding, payload = match.group(1), match.group(2).lower(), match.group(3)
    charset = charset.split("*", 1)[0]  # RFC 2231 language suffix
    try:
        if encoding == "b":
            data = base64.b64decode(payload + "=" * (-len(payload) % 4))
        else:
            data = quopri.decodestring(payload.replace("_", " ").encode("ascii", "replace"), header=True)
    except (ValueError, binascii.Error):
        return match.group(0)
    return decode_bytes(data, charset)


def _decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words with charset fallback, in linear time, for values the header classes
    reject or would take too long over."""
    value = fix_surrogates(_FOLD.sub(" ", value))
    value = _BETWEEN_WORDS.sub(r"\1\2", value)  # whitespace between adjacent encoded words is not text
    return _ENCODED_WORD.sub(_decode_word, value)


def decode_header_value(raw: str) -> str:
    """One raw (unparsed) header value decoded: unfolded, RFC 2047 words decoded with charset fallback, control
    characters as spaces; linear time, never raises."""
    return _CONTROL.sub(" ", _decode_words(raw)).strip()


def header_text(msg: Message, name: str) -> str:
    """Decoded, unfolded value of one header, or "" when absent; never raises."""
    raw = _raw_header(msg, name)
    if raw is None:
        return ""
    text: str | None = None
    # 8-bit bytes arrive as surrogates; the header classes would turn them into U+FFFD, so decode them ourselves.
    # Long values skip the header classes too: their parser is super-linear (20,000 encoded words take seconds).
    if len(raw) <= _MAX_PARSED_HEADER and not any("\ud800" <= ch <= "\udfff" for ch in raw):
        try:
            value = msg.get(name)
            text = None if value is None else str(value)
        except Exception:
            text = None
    if text is None:
        text = _decode_words(raw)
    return _CONTROL.sub(" ", fix_surrogates(text)).strip()


def content_type(part: Message) -> str:
    """Lower-case ``maintype/subtype``; ``text/plain`` (the RFC default) when missing or unreadable."""
    try:
        ctype = part.get_content_type()
    except Exception:
        raw = _raw_header(part, "content-type") or ""
        ctype = raw.split(";", 1)[0].strip().lower()
    return ctype if "/" in ctype else "text/plain"


def param(part: Message, name: str, header: str = "content-type") -> str | None:
    """One header parameter (RFC 2231 decoded), or None; never raises."""
    try:
        value = part.get_param(name, header=header)
    except Exception:
        return None
    if value is None:
        return None
    if isinstance(value, tuple):
        try:
            from email.utils import collapse_rfc2231_value

            value = collapse_rfc2231_value(value)
        except Exception:
            return None
    return fix_surrogates(str(value))


def filename(part: Message) -> str | None:
    """Attachment filename from Content-Disposition, else the Content-Type ``name``; decoded, never raises."""
    name: str | None = None
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not name:
        name = param(part, "name")
    if not name:
        return None
    name = _decode_words(str(name)) if "=?" in str(name) else fix_surrogates(str(name))
    name = _CONTROL.sub(" ", name).strip()
    return name or None


def disposition(part: Message) -> str | None:
    """``inline``, ``attachment`` or None; never raises."""
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def charset(part: Message) -> str | None:
    """Declared charset of a text part, or None; never raises."""
    try:
        value = part.get_content_charset()
    except Exception:
        value = param(part, "charset")
    return str(value) if value else None


def payload_bytes(part: Message) -> bytes:
    """Transfer-decoded body of a leaf part (broken base64/QP are decoded as far as possible)."""
    clean = _clean_base64(part)
    if clean is not None:
        return clean
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


def _clean_base64(part: Message) -> bytes | None:
    """Well-formed base64 (the alphabet, line breaks, padding only at the end, whole quads) decoded straight from
    the parsed string, or None for anything else (the standard library then decodes it, defects and all). The
    result is the same bytes; the standard library's way copies a large attachment three more times (to ASCII
    bytes, to a list of lines, to their join) before decoding it."""
    try:
        if str(part.get("content-transfer-encoding", "")).lower() != "base64":
            return None
        payload = getattr(part, "_payload", None)  # the parsed string: get_payload() copies it (surrogate check)
    except Exception:
        return None
    if not isinstance(payload, str) or not payload.isascii() or not _BASE64_CLEAN.fullmatch(payload):
        return None
    if (len(payload) - payload.count("\n") - payload.count("\r")) % 4:
        return None
    try:
        return binascii.a2b_base64(payload)
    except (binascii.Error, ValueError):
        return None


def defect_names(part: Message) -> list[str]:
    """Class names of the defects the parser recorded on this part."""
    try:
        return [type(defect).__name__ for defect in part.defects]
    except Exception:
        return []


_BOUNDARY_LINE = re.compile(r"^--([0-9A-Za-z'()+_,\-./:=?]{1,70})[ \t]*\r?$", re.M)


def recover_multipart(part: Message) -> EmailMessage | None:
    """Re-parse a multipart whose boundary is missing or wrong, using the first ``--boundary`` line found."""
    raw = part.get_payload()
    if not isinstance(raw, str):
        return None
    match = _BOUNDARY_LINE.search(raw)
    if match is None:
        return None
    boundary = match.group(1)
    if boundary.endswith("--"):
        boundary = boundary[:-2]
    header = f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
    try:
        rebuilt = BytesParser(policy=policy.default).parsebytes(
            header.encode("ascii") + raw.encode("utf-8", "surrogateescape")
        )
    except Exception:
        return None
    if not isinstance(rebuilt, EmailMessage) or not isinstance(rebuilt.get_payload(), list):
        return None
    return rebuilt


def header_addresses(msg: EmailMessage, *names: str) -> list[str]:
    """Addresses in the named header fields; a field too malformed to read yields none."""
    values: list[str] = []
    for name in names:
        for v in msg.get_all(name, []) or []:
            try:
                values.append(str(v))
            except Exception:  # noqa: S112 - skip the unreadable field, keep the rest
                continue
    return [addr for _, addr in getaddresses(values) if "@" in addr]
