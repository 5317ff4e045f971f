"""Email layout: where quoted messages start, and which lines are greetings, signatures and quoted headers.

Correspondents' own names and contact details are not findings (DESIGN.md: sensitivity ``none`` covers
"only the correspondents' own names and contact details, signatures included"). The cheapest reliable way to
honour that is structural: the name after ``Dear``, the lines under ``Kind regards``, and the ``From:/To:`` block
of each quoted message. Quote boundaries also cut text into blocks that are identical from one message of a
thread to the next, which is what makes the analysis cache pay off on reply chains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import regex

ZoneKind = Literal["signature", "greeting", "header"]

_QUOTE_START = regex.compile(
    r"^[ \t]*(?:"
    r"On\b[^\n]{0,200}(?:\n[^\n]{0,120})?\bwrote:[ \t]*$"
    r"|-{2,}[ \t]*(?:Original|Forwarded)[ \t]+Message[ \t]*-{2,}.*$"
    r"|Begin forwarded message:[ \t]*$"
    r"|_{8,}[ \t]*$"
    r"|From:[ \t]+[^\n]+\n(?:[ \t]*[^\n]*\n){0,1}[ \t]*(?:Sent|Date|To):"
    r")",
    regex.MULTILINE | regex.IGNORECASE,
)
_HEADER_LINE = regex.compile(
    r"^[ \t]*(?:From|Sent|To|Cc|Bcc|Date|Subject|Reply-To)[ \t]*:[^\n]*$", regex.MULTILINE | regex.IGNORECASE
)
_WROTE_LINE = regex.compile(r"^[ \t]*On\b[^\n]{0,200}(?:\n[^\n]{0,120})?\bwrote:[ \t]*$", regex.MULTILINE)
_GREETING = regex.compile(
    r"^[ \t]*(?:dear|hi|hiya|hello|hey|good[ \t]+(?:morning|afternoon|evening|day)|morning|afternoon|evening"
    r"|greetings|to)\b[^\n]{0,80}$",
    regex.IGNORECASE,
)
_VALEDICTION = regex.compile(
    r"^[ \t]*(?:(?:with[ \t]+)?(?:kind|kindest|best|warm|warmest|many|much|all[ \t]+the)[ \t]+)?"
    r"(?:regards|wishes|thanks|thank[ \t]+you|cheers|sincerely|best|respectfully|take[ \t]+care|speak[ \t]+soon"
    r"|yours(?:[ \t]+(?:sincerely|faithfully|truly))?|thanks[ \t]+again|thanks[ \t]+and[ \t]+regards"
    r"|regards[ \t]+and[ \t]+thanks|with[ \t]+thanks|ta)"
    r"[ \t]*[,.!]*(?:[ \t]+[^\n]{1,40})?[ \t]*$",
    regex.IGNORECASE,
)
_SEPARATOR = regex.compile(
    r"^[ \t]*(?:-{2,}[ \t]*(?:Original|Forwarded)[ \t]+Message[ \t]*-{2,}.*"
    r"|Begin forwarded message:[ \t]*|_{8,}[ \t]*)$",
    regex.IGNORECASE,
)
_SIG_DASHES = regex.compile(r"^[ \t]*--[ \t]*$")
_PS = regex.compile(r"^[ \t]*p\.?[ \t]?s\b", regex.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Zone:
    start: int
    end: int
    kind: ZoneKind


def segment_starts(text: str) -> list[int]:
    """Offsets where a quoted or forwarded message begins (always including 0)."""
    starts = [0]
    for m in _QUOTE_START.finditer(text):
        line_start = text.rfind("\n", 0, m.start()) + 1
        if line_start > starts[-1]:
            starts.append(line_start)
    return starts


def blocks(text: str, max_chars: int) -> list[tuple[int, int]]:
    """Quoted segments, with long ones cut at paragraph (else line, else space) breaks into <= max_chars."""
    starts = segment_starts(text)
    bounds = [*starts[1:], len(text)]
    out: list[tuple[int, int]] = []
    for s, e in zip(starts, bounds, strict=True):
        pos = s
        while e - pos > max_chars:
            limit = pos + max_chars
            cut = text.rfind("\n\n", pos + max_chars // 4, limit)
            if cut < 0:
                cut = text.rfind("\n", pos + max_chars // 4, limit)
            if cut < 0:
                cut = text.rfind(" ", pos + max_chars // 4, limit)
            cut = limit if cut < 0 else cut + 1
            out.append((pos, cut))
            pos = cut
        if e > pos:
            out.append((pos, e))
    return out


def _lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    out = []
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl < 0 else nl
        out.append((pos, stop))
        pos = stop + 1
    return out


def _looks_like_prose(line: str) -> bool:
    """A sentence ends a signature block; "Name | Role | Organisation" or address lines do not."""
    words = line.split()
    stripped = line.strip()
    if _PS.match(line):
        return True
    if "|" in stripped:
        return False
    if stripped.endswith((".", "!", "?")) and len(words) >= 5:
        return True
    return len(line) > 90 or (len(words) >= 11 and ". " in stripped)


def zones(
    text: str,
    *,
    signatures: bool = True,
    greetings: bool = True,
    quoted_headers: bool = True,
    signature_max_lines: int = 10,
) -> list[Zone]:
    """Greeting lines, signature blocks and quoted header blocks, in text order."""
    out: list[Zone] = []
    starts = segment_starts(text)
    bounds = [*starts[1:], len(text)]
    for seg_start, seg_end in zip(starts, bounds, strict=True):
        lines = _lines(text, seg_start, seg_end)
        i = 0
        # quoted header block at the top of a segment
        while i < len(lines) and not text[lines[i][0] : lines[i][1]].strip():
            i += 1
        header_from = i
        prev_header = False
        while i < len(lines):
            line = text[lines[i][0] : lines[i][1]]
            wrote = _WROTE_LINE.match(text, lines[i][0])
            if wrote:
                while i < len(lines) and lines[i][1] < wrote.end():
                    i += 1
                i += 1
                prev_header = True
                continue
            if _HEADER_LINE.match(line) or _SEPARATOR.match(line) or (
                prev_header and line[:1] in (" ", "\t") and line.strip()
            ):
                i += 1
                prev_header = True
                continue
            break
        if quoted_headers and i > header_from:
            out.append(Zone(lines[header_from][0], lines[i - 1][1], "header"))
        # greeting: first non-empty line after the header block
        while i < len(lines) and not text[lines[i][0] : lines[i][1]].strip():
            i += 1
        if greetings and i < len(lines) and _GREETING.match(text[lines[i][0] : lines[i][1]]):
            out.append(Zone(lines[i][0], lines[i][1], "greeting"))
        # signature blocks: a sign-off line, then short lines up to the limit or the first line of prose
        if not signatures:
            continue
        j = i
        while j < len(lines):
            line = text[lines[j][0] : lines[j][1]]
            if (_VALEDICTION.match(line) and len(line) < 60) or _SIG_DASHES.match(line):
                k = j + 1
                taken = 0
                while k < len(lines) and taken < signature_max_lines:
                    body = text[lines[k][0] : lines[k][1]]
                    if body.strip():
                        if _looks_like_prose(body):
                            break
                        taken += 1
                    k += 1
                end = lines[k - 1][1] if k - 1 >= j else lines[j][1]
                out.append(Zone(lines[j][0], end, "signature"))
                j = k
                continue
            j += 1
    return out
