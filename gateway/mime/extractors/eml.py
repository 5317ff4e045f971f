"""Attached messages as files (``.eml``, ``message/rfc822`` members of archives): walked like the outer mail."""

from __future__ import annotations

from gateway.mime.extractors.base import Context, Extractor, Item
from gateway.mime.parse import parse_message


def _eml(item: Item, ctx: Context) -> None:
    msg = parse_message(item.data)
    ctx.walker.extract_message(msg, prefix=f"{item.location}/", depth=item.depth + 1)


EML = Extractor("eml", frozenset({"eml"}), _eml)
