"""Outlook items (``.msg``) through extract-msg, and TNEF (``winmail.dat``) through tnefparse.

Both are containers for a whole message, so their parts get message-style locations:
``attachment:x.msg/headers``, ``.../body``, ``.../body.html``, ``.../attachment:report.pdf``.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from gateway.mime.charset import decode_bytes
from gateway.mime.extractors.base import Context, Extractor, Item
from gateway.mime.extractors.rtf import rtf_bytes_to_text
from gateway.mime.guards import CorruptContent
from gateway.mime.html_text import html_to_text
from gateway.mime.names import clean_name

# Both libraries log warnings about malformed input; the gateway's own log must stay free of their chatter.
for _name in ("extract_msg", "tnefparse", "RTFDE"):
    logging.getLogger(_name).setLevel(logging.ERROR)


def _attr(obj: Any, *names: str) -> Any:
    """First non-empty of several lazily-decoded properties; a broken one must not lose the rest of the item."""
    for name in names:
        try:
            value = getattr(obj, name)
        except Exception:  # noqa: S112 - libraries raise anything on malformed properties
            continue
        if value:
            return value
    return None


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return decode_bytes(value)
    return str(value)


def _bodies(prefix: str, plain: str, html: str, rtf: bytes | None, ctx: Context) -> None:
    if plain.strip():
        ctx.sink.add_text(f"{prefix}body", plain, "body")
    html_text = html_to_text(html, ctx.deadline.check) if html.strip() else ""
    # Outlook items often carry an HTML body generated from the plain one; scanning it twice adds nothing.
    if html_text and html_text != plain.strip():
        ctx.sink.add_text(f"{prefix}body.html", html_text, "body")
    if not plain.strip() and not html.strip() and rtf:
        ctx.sink.add_text(f"{prefix}body", rtf_bytes_to_text(rtf), "body")


def _headers(prefix: str, fields: list[tuple[str, str]], ctx: Context) -> None:
    lines = [f"{label}: {value}" for label, value in fields if value.strip()]
    if lines:
        ctx.sink.add_text(f"{prefix}headers", "\n".join(lines), "header")


# Outlook .msg -----------------------------------------------------------------------------------------------
def _msg(item: Item, ctx: Context) -> None:
    import extract_msg
    from extract_msg.enums import AttachmentType, ErrorBehavior

    try:
        msg: Any = extract_msg.openMsg(item.data, strict=False, errorBehavior=ErrorBehavior.SUPPRESS_ALL)
    except Exception as exc:
        raise CorruptContent("msg unreadable") from exc
    prefix = f"{item.location}/"
    try:
        fields = [("Subject", "subject"), ("From", "sender"), ("To", "to"), ("Cc", "cc")]
        _headers(prefix, [(label, _as_text(_attr(msg, attr))) for label, attr in fields], ctx)
        ctx.deadline.check()
        rtf = _attr(msg, "rtfBody")
        plain = _as_text(_attr(msg, "body"))
        html = _as_text(_attr(msg, "htmlBody"))
        _bodies(prefix, plain, html, rtf if isinstance(rtf, bytes) else None, ctx)
        for index, attachment in enumerate(_attr(msg, "attachments") or [], start=1):
            ctx.deadline.check()
            _msg_attachment(attachment, index, prefix, item, ctx, AttachmentType)
    finally:
        with contextlib.suppress(Exception):
            msg.close()


def _msg_attachment(attachment: Any, index: int, prefix: str, item: Item, ctx: Context, types: Any) -> None:
    kind = _attr(attachment, "type")
    if kind == types.WEB:
        return  # a link to a cloud file, not content; the link text is in the body
    name = clean_name(_as_text(_attr(attachment, "longFilename", "shortFilename", "name")))
    data: Any
    if kind in (types.MSG, types.SIGNED_EMBEDDED):
        name = name or f"part-{index}.msg"
        embedded = _attr(attachment, "data")
        try:
            data = embedded.exportBytes()
        except Exception:
            data = None
    else:
        name = name or f"part-{index}.bin"
        data = _attr(attachment, "data")
    location = f"{prefix}attachment:{name}"
    if not isinstance(data, bytes):
        ctx.walker.unreadable_member(
            location=location, name=name, size=0, reason="corrupt", detail="msg attachment unreadable"
        )
        return
    ctx.sink.take_bytes(len(data))
    mimetype = _as_text(_attr(attachment, "mimetype"))
    ctx.walker.extract_member(data, location=location, name=name, declared_type=mimetype, depth=item.depth + 1)


# TNEF winmail.dat -------------------------------------------------------------------------------------------
def _tnef(item: Item, ctx: Context) -> None:
    from tnefparse.tnef import TNEF

    try:
        tnef = TNEF(item.data, do_checksum=False)
    except Exception as exc:
        raise CorruptContent("tnef unreadable") from exc
    prefix = f"{item.location}/"
    subject = ""
    for obj in getattr(tnef, "msgprops", []):
        if getattr(obj, "name", None) == TNEF.ATTSUBJECT:
            subject = _as_text(obj.data)
    _headers(prefix, [("Subject", subject)], ctx)
    rtf = _attr(tnef, "rtfbody")
    _bodies(
        prefix,
        _as_text(tnef.body),
        _as_text(tnef.htmlbody),
        rtf if isinstance(rtf, bytes) else None,
        ctx,
    )
    for index, attachment in enumerate(tnef.attachments, start=1):
        ctx.deadline.check()
        try:
            long_name = _as_text(attachment.long_filename())
        except Exception:
            long_name = ""
        name = clean_name(long_name) or f"part-{index}.bin"
        data = attachment.data if isinstance(attachment.data, bytes) else b""
        ctx.sink.take_bytes(len(data))
        ctx.walker.extract_member(
            data, location=f"{prefix}attachment:{name}", name=name, declared_type="", depth=item.depth + 1
        )


MSG = Extractor("msg", frozenset({"msg"}), _msg)
TNEF = Extractor("tnef", frozenset({"tnef"}), _tnef)
