"""Raw bytes to an ``EmailMessage`` that never raises, plus header accessors that survive hostile values.

``email.policy.default`` parses headers lazily, so merely reading ``msg["To"]`` can raise on a malformed value;
every header read in the MIME package goes through the helpers here.
"""

from __future__ import annotations

import re
from email import errors, policy
from email.header import decode_header
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser, BytesParser

from gateway.mime.charset import decode_bytes, fix_surrogates

_FOLD = re.compile(r"\r?\n[ \t]*")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class UnparseableMessageDefect(errors.MessageDefect):
    """The parser itself failed; the message holds only its headers and the raw body as text."""


class MimeNestingTooDeepDefect(errors.MessageDefect):
    """The MIME tree nests deeper than the parser can follow; only headers and raw body were kept."""


def parse_message(raw: bytes) -> EmailMessage:
    """Parse one message; on parser failure keep headers and the body as raw text so nothing escapes scanning."""
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
    except RecursionError:
        return _fallback(raw, MimeNestingTooDeepDefect())
    except Exception:
        return _fallback(raw, UnparseableMessageDefect())
    if not isinstance(msg, EmailMessage):  # pragma: no cover - policy.default always builds EmailMessage
        return _fallback(raw, UnparseableMessageDefect())
    return msg


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


def _decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words by hand, with charset fallback, for values the header classes reject."""
    value = fix_surrogates(_FOLD.sub(" ", value))
    try:
        pieces = decode_header(value)
    except Exception:
        return value
    out: list[str] = []
    for piece, charset in pieces:
        if isinstance(piece, bytes):
            out.append(decode_bytes(piece, charset))
        else:
            out.append(piece)
    return "".join(out)


def header_text(msg: Message, name: str) -> str:
    """Decoded, unfolded value of one header, or "" when absent; never raises."""
    raw = _raw_header(msg, name)
    if raw is None:
        return ""
    text: str | None = None
    # 8-bit bytes arrive as surrogates; the header classes would turn them into U+FFFD, so decode them ourselves.
    if not any("\ud800" <= ch <= "\udfff" for ch in raw):
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
