"""Turn bytes of unknown or lying charset into text, never failing: mail in the wild often declares the wrong one."""

from __future__ import annotations

import codecs
import re

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Labels that name no real charset: decoding with them must fall through to guessing.
_MEANINGLESS = frozenset({"unknown-8bit", "x-unknown", "unknown", "x-user-defined", "default", "8bit", "binary"})
# ASCII declared on 8-bit data is nearly always Windows-1252 (Outlook, old webmail).
_ASCII = frozenset({"ascii", "us-ascii", "ansi_x3.4-1968", "646"})
_SURROGATES = re.compile("[\ud800-\udfff]+")


def _text_codec(label: str | None) -> str | None:
    """Return a usable text codec name for a declared label, or None when it is absent, unknown or not text."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    if not name or name in _MEANINGLESS:
        return None
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    # bytes-to-bytes codecs (base64, zlib, rot13) are not text encodings and must never be used here.
    if getattr(info, "_is_text_encoding", True) is False:
        return None
    return info.name


def bom_codec(data: bytes) -> str | None:
    """Return the codec a byte-order mark announces, if any."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec
    return None


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Decode with the BOM, then the declared charset, then UTF-8, then Windows-1252; never raises."""
    candidates: list[str] = []
    bom = bom_codec(data)
    if bom:
        candidates.append(bom)
    codec = _text_codec(declared)
    if codec and codec not in _ASCII:
        candidates.append(codec)
    candidates += ["utf-8", "cp1252"]
    for name in candidates:
        try:
            return data.decode(name)
        except (UnicodeDecodeError, LookupError, ValueError):
            continue
    # cp1252 leaves five bytes undefined; latin-1 maps every byte, so this cannot fail.
    return data.decode("latin-1")


def fix_surrogates(text: str) -> str:
    """Recover raw 8-bit bytes the email package smuggles as lone surrogates (surrogateescape) into real text."""
    if not _SURROGATES.search(text):
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # Surrogates that are not escaped bytes (e.g. from a broken UTF-16 source): replace them.
        return _SURROGATES.sub("\ufffd", text)
    return decode_bytes(raw)
