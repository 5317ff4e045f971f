"""Prepending header fields to a message: the one byte edit the relay and a quarantine release share.

Fields go on top of the original header block (and outside an S/MIME envelope), so every byte of the message
itself stays as it was. Values are made single-line and bounded, so a field can never be split or overlong.
"""

from __future__ import annotations

from gateway.oneline import one_line


def prepend_fields(data: bytes, fields: list[tuple[str, str]]) -> bytes:
    lines = b"".join(f"{name}: {one_line(value, 900)}\r\n".encode() for name, value in fields)
    return lines + data
