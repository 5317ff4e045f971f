"""Byte-level checks and edits of DATA before anything else sees it.

SMTP smuggling relies on a next hop reading ``\\n.\\n`` or ``\\r.\\r`` as end of data; a message with a bare
CR is refused and one with a bare LF refused or normalised (``gateway.smtp.collect``), so the upstream can only
ever receive one message. The only edits we make to a relayed message are removing client-supplied ``X-DLP-*``
fields and prepending our own fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email._header_value_parser import get_addr_spec, get_angle_addr
from email.errors import HeaderParseError
from email.utils import format_datetime

_LINE_END = re.compile(rb"\r\n|\n|\r")
_HEADER_NAME = re.compile(rb"^([!-9;-~]+)[ \t]*:")
_UNSAFE_TOKEN = re.compile(r"[^A-Za-z0-9.\-_:\[\]@]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class LineEndingIssue:
    nul: bool
    bare: bool


def line_ending_issue(data: bytes) -> LineEndingIssue | None:
    """Bare CR/LF found by counting (C-speed passes over the bytes; a look-behind regex cost 10x more)."""
    nul = b"\x00" in data
    crlf = data.count(b"\r\n")
    bare = data.count(b"\n") != crlf or data.count(b"\r") != crlf
    return LineEndingIssue(nul, bare) if (nul or bare) else None


def normalise_line_endings(data: bytes) -> bytes:
    """Every line ending (CRLF, bare LF, bare CR) as CRLF: the reference the line-by-line collector is tested
    against (it normalises bare LF only; a bare CR refuses the message there)."""
    return _LINE_END.sub(b"\r\n", data)


def split_header(data: bytes) -> tuple[bytes, bytes]:
    """Header block (ending with its CRLF) and the rest (starting with the blank line), or the whole
    message as header when there is no body."""
    if data.startswith(b"\r\n"):
        return b"", data
    idx = data.find(b"\r\n\r\n")
    if idx < 0:
        return data, b""
    return data[: idx + 2], data[idx + 2 :]


def header_fields(header: bytes) -> list[bytes]:
    """Raw header fields, each with its folded continuation lines and CRLFs."""
    fields: list[bytes] = []
    for line in header.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def field_name(line: bytes) -> bytes:
    """The lower-cased name of the header field this line starts, or b"" when it starts none."""
    m = _HEADER_NAME.match(line)
    return m.group(1).lower() if m else b""


def dlp_field_name(line: bytes) -> bool:
    """The line starts a header field named X-DLP-* (any case)."""
    return field_name(line).startswith(b"x-dlp-")


def strip_dlp_headers(data: bytes) -> tuple[bytes, int, int]:
    """Remove client-supplied X-DLP-* fields (they must never steer us or the next hop).

    Returns the new bytes, how many fields were removed and how many header fields there are in all.
    Other bytes are untouched.
    """
    header, rest = split_header(data)
    fields = header_fields(header)
    kept = []
    removed = 0
    for f in fields:
        if dlp_field_name(f):
            removed += 1
            continue
        kept.append(f)
    if not removed:
        return data, 0, len(fields)
    return b"".join(kept) + rest, removed, len(fields)


def has_control(*values: str) -> bool:
    """A C0/C1 control character or DEL in an envelope address or parameter: no mail system produces one, and
    letting it through would make the next hop's client library raise (a 451 the client retries for days)."""
    return any(_CONTROL.search(v) for v in values)


def safe_token(value: str, limit: int = 100) -> str:
    """A client-supplied word (HELO name) made safe to put in a header: no CR/LF, no spaces, bounded."""
    return _UNSAFE_TOKEN.sub("_", value)[:limit] or "unknown"


_stamp: tuple[tuple[float, object], str] = ((0.0, None), "")


def _date(now: datetime) -> str:
    """RFC 5322 date of ``now``, formatted once per second (it shows whole seconds): a relay busy enough for it
    to matter writes hundreds of Received fields in the same second."""
    global _stamp
    key = (float(int(now.timestamp())), now.tzinfo)
    if _stamp[0] != key:
        _stamp = (key, format_datetime(now.replace(microsecond=0)))
    return _stamp[1]


def received_line(
    *, helo: str, peer: str, hostname: str, txn_id: str, tls: bool, auth: bool, now: datetime
) -> bytes:
    proto = "ESMTP" + ("S" if tls else "") + ("A" if auth else "")
    return (
        f"Received: from {safe_token(helo)} ([{safe_token(peer)}])\r\n"
        f"\tby {safe_token(hostname)} (dlpgate) with {proto} id {safe_token(txn_id)};\r\n"
        f"\t{_date(now)}\r\n"
    ).encode("ascii")


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_SIMPLE_PATH = re.compile(rf"<({_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>[ \t]*+(?!\()")
"""``<local@domain>`` with a dot-atom local part and a plain domain, and the blanks after it (the parser takes them
as folding white space): what nearly every MAIL and RCPT carries, and what the stdlib header parser would return
unchanged (tests/unit/test_smtp_fastpath.py compares them)."""


def smtp_path(arg: str, local_part_limit: int) -> tuple[str | None, str | None]:
    """aiosmtpd's ``SMTP._getaddr`` (the address of MAIL FROM / RCPT TO and the rest of the line), without the
    ``typing.Protocol`` class it defines on every call and, for a plain ``<local@domain>``, without the header
    parser: together the largest cost of the pass-through in issue 17's profile. Anything else is parsed exactly
    as aiosmtpd does; (None, None) when it does not parse or the local part is over ``local_part_limit``."""
    if not arg:
        return "", ""
    m = _SIMPLE_PATH.match(arg)
    if m is not None:
        addr, rest = m.group(1), arg[m.end():]
    else:
        try:
            if arg.lstrip().startswith("<"):
                angle, rest = get_angle_addr(arg)
                addr = angle.addr_spec
            else:
                spec, rest = get_addr_spec(arg)
                addr = spec.addr_spec
        except HeaderParseError:
            return None, None
    if local_part_limit and len(addr.rpartition("@")[0]) > local_part_limit:
        return None, None
    return addr, rest
