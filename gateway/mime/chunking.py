"""Split long texts into bounded chunks on line boundaries, so chunk sizes (and detection cache keys) are stable."""

from __future__ import annotations

CHUNK_CHARS = 20_000


def split_text(text: str, max_chars: int = CHUNK_CHARS) -> list[str]:
    """Pieces of at most ``max_chars``, cut after a newline where possible, else after a space, else anywhere."""
    if len(text) <= max_chars:
        return [text]
    pieces: list[str] = []
    start = 0
    end_of_text = len(text)
    while end_of_text - start > max_chars:
        window_end = start + max_chars
        cut = text.rfind("\n", start, window_end)
        if cut <= start:
            cut = text.rfind(" ", start, window_end)
        cut = window_end if cut <= start else cut + 1
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return pieces


def chunk_location(location: str, index: int) -> str:
    """``loc`` for the first piece, then ``loc#2``, ``loc#3``..."""
    return location if index == 0 else f"{location}#{index + 1}"
