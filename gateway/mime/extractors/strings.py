"""Printable text runs from binary data: the fallback for formats with no dedicated reader.

Legacy Word/Excel/PowerPoint store their text as 8-bit or UTF-16 runs, so this recovers most of it; for unknown
binaries it finds embedded strings (metadata, identifiers) rather than claiming the file was read in full.
"""

from __future__ import annotations

import re

from gateway.mime.extractors.base import Context, Extractor, Item

_ASCII_RUN = re.compile(rb"[\t\r\n\x20-\x7e]{8,}")
_UTF16_RUN = re.compile(rb"(?:[\t\r\n\x20-\x7e\xa0-\xff]\x00){6,}")


def printable_runs(data: bytes) -> str:
    """ASCII runs of 8+ and UTF-16LE runs of 6+ characters, in file order."""
    found: list[tuple[int, str]] = []
    for match in _ASCII_RUN.finditer(data):
        found.append((match.start(), match.group().decode("ascii")))
    for match in _UTF16_RUN.finditer(data):
        found.append((match.start(), match.group().decode("utf-16-le")))
    found.sort(key=lambda pair: pair[0])
    return "\n".join(text.strip() for _, text in found if text.strip())


def _binary(item: Item, ctx: Context) -> None:
    ctx.sink.add_text(item.location, printable_runs(item.data), "attachment")


BINARY = Extractor("binary", frozenset({"binary"}), _binary)
