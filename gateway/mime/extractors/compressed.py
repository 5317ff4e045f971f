"""Single-stream compression (gzip, bzip2, xz): decompressed with a hard output cap, never trusting headers.

A ``.tar.gz`` is read as one archive (``attachment:logs.tar.gz/dir/file.txt``); any other payload becomes one
member named after the attachment without its compression suffix.
"""

from __future__ import annotations

import bz2
import lzma
import zlib

from gateway.mime.extractors.base import Context, Extractor, Item
from gateway.mime.extractors.tar_archive import read_tar
from gateway.mime.filetype import sniff
from gateway.mime.guards import CorruptContent, LimitExceeded, expansion_cap, ratio_detail
from gateway.mime.names import basename

_SUFFIXES = {".tgz": ".tar", ".tbz2": ".tar", ".tbz": ".tar", ".txz": ".tar", ".gz": "", ".bz2": "", ".xz": ""}
_STEP = 1 << 20


def _new(kind: str) -> zlib._Decompress | bz2.BZ2Decompressor | lzma.LZMADecompressor:
    if kind == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if kind == "bzip2":
        return bz2.BZ2Decompressor()
    return lzma.LZMADecompressor()


def decompress(data: bytes, kind: str, cap: int, ctx: Context) -> bytes:
    """All concatenated streams of ``data``; more than ``cap`` output bytes raises ``LimitExceeded``."""
    out = bytearray()
    pending = data
    while pending:
        engine = _new(kind)
        feed = pending
        while True:
            ctx.deadline.check()
            room = cap - len(out) + 1
            try:
                if isinstance(engine, (bz2.BZ2Decompressor, lzma.LZMADecompressor)):
                    piece = engine.decompress(feed, max_length=min(room, _STEP))
                    feed = b""
                else:
                    piece = engine.decompress(feed, min(room, _STEP))
                    feed = engine.unconsumed_tail
            except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
                if out:
                    return bytes(out)  # trailing garbage after good streams is common (padding)
                raise CorruptContent(f"{kind} stream unreadable") from exc
            out += piece
            if len(out) > cap:
                raise LimitExceeded("decompressed size over limit")
            if engine.eof:
                break
            stalled = not piece and not feed
            if isinstance(engine, (bz2.BZ2Decompressor, lzma.LZMADecompressor)):
                stalled = not piece and engine.needs_input
            if stalled:
                if not out:
                    raise CorruptContent(f"{kind} stream truncated")
                return bytes(out)
        pending = engine.unused_data.lstrip(b"\x00")
    return bytes(out)


def _compressed(item: Item, ctx: Context) -> None:
    limits = ctx.limits
    cap = expansion_cap(len(item.data), ctx.sink.remaining_bytes(), limits)
    try:
        payload = decompress(item.data, item.filetype.kind, cap, ctx)
    except LimitExceeded as exc:
        by_ratio = cap < ctx.sink.remaining_bytes()
        detail = ratio_detail(limits) if by_ratio else f"extracted bytes > {limits.max_total_bytes}"
        raise LimitExceeded(detail) from exc
    ctx.sink.take_bytes(len(payload))
    inner_name = _inner_name(item.name)
    inner_type = sniff(payload, inner_name)
    if inner_type.kind == "tar":
        read_tar(payload, item.location, item.depth + 1, ctx)
        return
    ctx.walker.extract_member(
        payload, location=f"{item.location}/{inner_name}", name=inner_name, declared_type="", depth=item.depth + 1
    )


def _inner_name(name: str) -> str:
    base = basename(name) or "content"
    lower = base.lower()
    for suffix, replacement in _SUFFIXES.items():
        if lower.endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)] + replacement
    return base + ".out" if "." not in base else base.rsplit(".", 1)[0]


COMPRESSED = Extractor("compressed", frozenset({"gzip", "bzip2", "xz"}), _compressed)
