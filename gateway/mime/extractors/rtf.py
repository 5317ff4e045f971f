"""RTF documents (and RTF bodies of Outlook items) through striprtf."""

from __future__ import annotations

import re

from striprtf.striprtf import rtf_to_text

from gateway.mime.extractors.base import Context, Extractor, Item

_CODEPAGE = re.compile(rb"\\ansicpg(\d{3,5})")


def rtf_bytes_to_text(data: bytes) -> str:
    """RTF is 7-bit with escapes; ``\\ansicpgNNNN`` names the code page of its ``\\'xx`` escapes."""
    match = _CODEPAGE.search(data[:4096])
    encoding = f"cp{match.group(1).decode()}" if match else "cp1252"
    try:
        "".encode(encoding)
    except LookupError:
        encoding = "cp1252"
    return str(rtf_to_text(data.decode("latin-1"), encoding=encoding, errors="replace"))  # type: ignore[no-untyped-call]


def _rtf(item: Item, ctx: Context) -> None:
    ctx.sink.add_text(item.location, rtf_bytes_to_text(item.data), "attachment")


RTF = Extractor("rtf", frozenset({"rtf"}), _rtf)
