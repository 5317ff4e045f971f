"""One cleaner for every value that leaves us on one line: a header, an SMTP reply, a column, a terminal.

Values from a message or from a peer may carry CR/LF (header or reply splitting), other control characters
(terminal escapes) or invisible format characters; all become spaces, runs of white space collapse to one,
and the length is bounded.
"""

from __future__ import annotations


def one_line(value: str, limit: int = 512) -> str:
    return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())[:limit]
