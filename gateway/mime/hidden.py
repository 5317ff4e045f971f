"""Hidden text in a visible run: moved out of the flow, still scanned.

A sender can split a number with text the reader never sees: ``943 476 59<span style="font-size:0">x</span>19``
in HTML, a hidden or 1-point run in Word. The reader sees ``943 476 5919``; that is what is scanned in place, and
the hidden text is scanned too, after the document. Hidden text that does not sit inside a word or a run of
digits stays where it is (hidden paragraphs, preheaders), so layout is kept for everything else.

Extractors put a ``Hidden`` placeholder into their list of output pieces and fill its ``parts``; ``flatten``
resolves the placeholders once the text on both sides is known.
"""

from __future__ import annotations

MAX_MOVED = 10_000
"""Most hidden pieces moved to the end of one document (more stay in place)."""


class Hidden:
    """A placeholder for hidden text among output pieces (strings and nested placeholders)."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[object] = []


def flatten(parts: list[object], moved: list[str]) -> str:
    """Join output pieces: hidden text inside a word or digit run goes to ``moved``, the rest stays in place."""
    pieces: list[str] = []
    pending: list[str] = []
    for part in parts:
        if isinstance(part, Hidden):
            pending.append(flatten(part.parts, moved))
            continue
        text = str(part)
        if pending and text:
            _place(pieces, pending, text, moved)
            pending = []
        pieces.append(text)
    if pending:
        _place(pieces, pending, "", moved)
    return "".join(pieces)


def with_moved(text: str, moved: list[str]) -> str:
    """The document's text followed by the hidden text moved out of it."""
    return f"{text}\n\n" + "\n".join(moved) if moved else text


def _place(pieces: list[str], pending: list[str], following: str, moved: list[str]) -> None:
    """Hidden text between two letters or digits, or between digits across spaces, moves out of the flow."""
    before = next((p for p in reversed(pieces) if p), "")
    prev, nxt = before[-1:], following[:1]
    joined = (prev.isalnum() and nxt.isalnum()) or (before.rstrip()[-1:].isdigit() and following.lstrip()[:1].isdigit())
    hidden = "".join(pending)
    if joined and len(moved) < MAX_MOVED:
        if hidden.strip():
            moved.append(hidden)
    else:
        pieces.append(hidden)
