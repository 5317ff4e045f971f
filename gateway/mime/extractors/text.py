"""Plain-text formats (TXT, CSV, JSON, XML, iCalendar, vCard...) and HTML files."""

from __future__ import annotations

from gateway.mime.charset import decode_bytes
from gateway.mime.extractors.base import Context, Extractor, Item
from gateway.mime.html_text import html_to_text


def _text(item: Item, ctx: Context) -> None:
    # Structured text (JSON, XML, CSV) is kept verbatim: markup costs detectors nothing and parsing it
    # would invite entity-expansion tricks.
    ctx.sink.add_text(item.location, decode_bytes(item.data, item.charset), "attachment")


def _html(item: Item, ctx: Context) -> None:
    text = html_to_text(decode_bytes(item.data, item.charset), ctx.deadline.check)
    ctx.sink.add_text(item.location, text, "attachment")


def _empty(item: Item, ctx: Context) -> None:
    """Nothing to read in an empty file; its AttachmentInfo still records it."""


TEXT = Extractor("text", frozenset({"text"}), _text)
HTML = Extractor("html", frozenset({"html"}), _html)
EMPTY = Extractor("empty", frozenset({"empty"}), _empty)
