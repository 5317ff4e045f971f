"""Attachment names as incident records keep them: masked like a person's name, the file type kept.

A file name often holds a child's name and a case number (``Amelia Thompson ZW12C00345.pdf``), and incident
records are read by people and tools (CLI, export, digest, alerts) that must not see more than the masked
evidence of the findings. Every word keeps its first character (``A***** T******* Z*********.pdf``), which is
enough to tell the attachments of one message apart; the raw name stays only inside the quarantined message,
for a revealed view. Locations name files too (``attachment:a.zip/dir/b.pdf#2``), so they are masked the same
way, segment by segment, keeping the structural words the scan itself adds (``body``, ``headers``...).

Records written before this masking keep their raw names (no migration rewrites them); they age out with the
retention period.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+")
_EXTENSION = re.compile(r"^(?P<stem>.+?)(?P<ext>\.[A-Za-z0-9]{1,5})$")
_CHUNK = re.compile(r"#\d+$")
_FILE_PREFIXES = ("attachment:", "attachment-name:")
_STRUCTURAL = re.compile(
    r"^(subject|headers|message|ocr|preamble|epilogue|header:[!-9;-~]+|body(\.html)?(\.\d+)?(:link)?)$"
)
"""Location segments the scan writes itself (gateway/mime/extract.py), not taken from the message."""


def _mask_word(match: re.Match[str]) -> str:
    word = match.group(0)
    return word[0] + "*" * max(len(word) - 1, 1)


def _mask_segment(segment: str) -> str:
    m = _EXTENSION.match(segment)
    stem, ext = (m.group("stem"), m.group("ext")) if m else (segment, "")
    return _WORD.sub(_mask_word, stem) + ext


def redact_filename(name: str) -> str:
    """``Thompson family/Amelia notes.txt`` -> ``T******* f*****/A***** n****.txt``."""
    return "/".join(_mask_segment(part) for part in name.split("/"))


def redact_location(location: str) -> str:
    """``attachment:a.zip/dir/Amelia.pdf#2`` -> ``attachment:a.zip/d**/A*****.pdf#2``; structural words stay."""
    chunk = _CHUNK.search(location)
    suffix = chunk.group(0) if chunk else ""
    body = location[: len(location) - len(suffix)]
    out = []
    for segment in body.split("/"):
        prefix = next((p for p in _FILE_PREFIXES if segment.startswith(p)), "")
        rest = segment[len(prefix):]
        if not prefix and _STRUCTURAL.match(rest):
            out.append(rest)
        else:
            out.append(prefix + _mask_segment(rest))
    return "/".join(out) + suffix


def redact_names_in(text: str, names: list[str]) -> str:
    """``text`` (an unscannable item's detail, written by a parser) with every given name masked in it. Names
    under four characters are left: they would mask ordinary words of the detail and identify nobody."""
    for name in sorted({n for n in names if len(n) >= 4}, key=len, reverse=True):
        if name in text:
            text = text.replace(name, redact_filename(name))
    return text
