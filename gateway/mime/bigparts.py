"""Large base64 attachments parsed without ever becoming Python strings (issue 13: bounded memory).

The standard library's parser turns every body into a string: a 30 MB attachment costs a list of 400,000 line
strings, their join and a trimmed copy (80 MB at the peak) and stays in the message as a 30 MB string until the
scan ends; decoding it copies it three times more. Here a message over ``MIN_MESSAGE`` bytes is parsed as a
skeleton first: every run of base64 lines of at least ``MIN_RUN`` bytes is replaced by one line holding a
random token. The skeleton is parsed by the standard library as usual (a run never holds a header or a
boundary line, so the tree is the same), and then each token must be found as the whole body of an ordinary
attachment (a child of a multipart, base64-encoded, not text, not a message, not a signature or encryption
part). Its part then gets the run decoded straight from the raw bytes (a view, no copy) as its payload, with
``Content-Transfer-Encoding: binary`` so that every reader of the payload gets those decoded bytes, exactly
what decoding the base64 would have given. If any token is anywhere else, or a run is not whole base64
quads, the skeleton is dropped and the message parsed the ordinary way.
"""

from __future__ import annotations

import binascii
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage, Message

MIN_MESSAGE = 1024 * 1024
MIN_RUN = 256 * 1024
_OTHER_LINE = re.compile(rb"(?m)^(?![A-Za-z0-9+/]+={0,2}\r?\n)")
"""The start of every line that is not a base64 line (a blank line, a header, a boundary, text...). Runs of
base64 lines are the gaps between them: a regex repeating a whole line would keep a backtracking record per
line (70 MB for a 30 MB attachment)."""
_NOT_PLAIN = ("text/", "message/", "multipart/")
_SPECIAL = frozenset({
    "application/pkcs7-mime", "application/x-pkcs7-mime", "application/pkcs7-signature",
    "application/x-pkcs7-signature", "application/pgp-encrypted", "application/pgp-signature",
    "application/pgp-keys",
})
"""Parts other readers (encryption and signature detection) look at in their encoded form: left alone."""


@dataclass(frozen=True)
class Skeleton:
    data: bytes
    runs: dict[str, tuple[int, int]]
    """token -> (start, end) of the base64 run it stands for, in the raw message."""


def skeleton(raw: bytes) -> Skeleton | None:
    """The message with its large base64 runs replaced by tokens, or None when there is nothing to gain."""
    if len(raw) < MIN_MESSAGE:
        return None
    nonce = secrets.token_hex(16)
    pieces: list[bytes] = []
    runs: dict[str, tuple[int, int]] = {}
    last = 0
    for start, end in _runs(raw):
        token = f"DLPGATEPART{len(runs)}X{nonce}"
        eol = b"\r\n" if raw[end - 2 : end] == b"\r\n" else b"\n"
        pieces += (raw[last:start], token.encode("ascii") + eol)
        runs[token] = (start, end)
        last = end
    if not runs:
        return None
    pieces.append(raw[last:])
    return Skeleton(b"".join(pieces), runs)


def _runs(raw: bytes) -> list[tuple[int, int]]:
    """(start, end) of each run of base64 lines of at least ``MIN_RUN`` bytes with padding, if any, only on its
    last line."""
    out: list[tuple[int, int]] = []
    run_start = 0
    for match in _OTHER_LINE.finditer(raw):
        line = match.start()
        if line - run_start >= MIN_RUN:
            last_line = raw.rfind(b"\n", run_start, line - 1) + 1
            if raw.find(b"=", run_start, last_line) == -1:
                out.append((run_start, line))
        newline = raw.find(b"\n", line)
        if newline == -1:
            break
        run_start = newline + 1
    return out


def _children(msg: Message) -> list[Message]:
    """Every part reached from the top through multiparts only (never the top itself, never inside an attached
    message, whose bytes a reader may serialise again)."""
    out: list[Message] = []
    todo = [msg]
    while todo:
        part = todo.pop()
        payload = part.get_payload() if part.is_multipart() else None
        if not isinstance(payload, list) or not part.get_content_type().startswith("multipart/"):
            continue
        for child in payload:
            if isinstance(child, Message):
                out.append(child)
                todo.append(child)
    return out


def _plain_attachment(part: Message) -> bool:
    ctype = part.get_content_type()
    return (
        not part.is_multipart()
        and not ctype.startswith(_NOT_PLAIN)
        and ctype not in _SPECIAL
        and str(part.get("content-transfer-encoding", "")).lower() == "base64"
    )


def restore(msg: EmailMessage, raw: bytes, sk: Skeleton) -> bool:
    """Give each token's part its decoded run; False (nothing changed) unless every token is the whole body of
    a plain base64 attachment and every run is whole base64 quads."""
    try:
        found = _token_parts(msg, sk.runs.keys())
        if found is None:
            return False
        for start, end in sk.runs.values():
            if (end - start - raw.count(b"\n", start, end) - raw.count(b"\r", start, end)) % 4:
                return False
        view = memoryview(raw)
        for token, part in found.items():
            start, end = sk.runs[token]
            # Not set_payload(): it would turn the bytes back into a surrogate-escaped string (twice their size).
            part._payload = binascii.a2b_base64(view[start:end])  # type: ignore[attr-defined]
            part.replace_header("Content-Transfer-Encoding", "binary")
    except Exception:
        return False
    return True


def restore_decoded(msg: EmailMessage, payloads: dict[str, bytes]) -> bool:
    """``restore`` for runs already decoded while the message was read (``gateway.mime.spooled``): the same
    checks on where the tokens stand, then each part gets its bytes; False (nothing changed) otherwise."""
    try:
        found = _token_parts(msg, payloads.keys())
        if found is None:
            return False
        for token, part in found.items():
            part._payload = payloads[token]  # type: ignore[attr-defined]
            part.replace_header("Content-Transfer-Encoding", "binary")
    except Exception:
        return False
    return True


def _token_parts(msg: EmailMessage, tokens: Iterable[str]) -> dict[str, Message] | None:
    """Each token's part, or None unless every token is the whole body of a plain base64 attachment and stands
    nowhere else in the message."""
    wanted = set(tokens)
    found: dict[str, Message] = {}
    for part in _children(msg):
        payload = getattr(part, "_payload", None)
        if isinstance(payload, str) and payload.strip("\r\n") in wanted and _plain_attachment(part):
            found[payload.strip("\r\n")] = part
    if found.keys() != wanted or not wanted:
        return None
    nonce = next(iter(wanted))[-32:]
    seen = 0
    for part in msg.walk():
        for text in (getattr(part, "_payload", None), part.preamble, part.epilogue):
            if isinstance(text, str):
                seen += text.count(nonce)
    if seen != len(wanted):
        return None  # a token also stands somewhere else: the skeleton is not the message
    return found
