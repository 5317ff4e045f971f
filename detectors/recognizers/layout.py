"""Email layout: where quoted messages start, and which lines are greetings, signatures and quoted headers.

Correspondents' own names and contact details are not findings (DESIGN.md: sensitivity ``none`` covers
"only the correspondents' own names and contact details, signatures included"). The cheapest reliable way to
honour that is structural: the name after ``Dear``, the lines under ``Kind regards``, and the ``From:/To:`` block
of each quoted message. Quote boundaries also cut text into blocks that are identical from one message of a
thread to the next, which is what makes the analysis cache pay off on reply chains.

HTML parts reach this module as text with a blank line between most lines (every ``<p>`` and ``<br>`` is a
block), table cells joined by tabs, and image ``alt`` texts and ``tel:``/``mailto:`` targets on their own.
The same structure is found in them: a quoted header block may have blank lines between its fields, a
signature may run through blank lines, logo and link lines do not use up its line budget, and a row of cells
is prose only if one of its cells is. A signature without a sign-off is recognised too when it is the
closing block of a message and looks like one: a name line, then short lines that give a job title, or an
organisation (or premises) together with contact details (a phone number, an email address, a website, fax or
switchboard line). A block of someone's home details has no organisation and no job title.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import regex

from detectors.recognizers.business import CONTACT_LINE, ORG_NAME, PREMISES

ZoneKind = Literal["signature", "greeting", "header"]

_QUOTE_START = regex.compile(
    r"^[ \t]*(?:"
    r"On\b[^\n]{0,200}(?:\n[^\n]{0,120}){0,2}\bwrote:[ \t]*$"
    r"|-{2,}[ \t]*(?:Original|Forwarded)[ \t]+Message[ \t]*-{2,}.*$"
    r"|Begin forwarded message:[ \t]*$"
    r"|_{8,}[ \t]*$"
    r"|From:[ \t]+[^\n]+\n(?:[ \t]*[^\n]*\n){0,1}[ \t]*(?:Sent|Date|To):"
    r")",
    regex.MULTILINE | regex.IGNORECASE,
)
# Lines where a quote can start (after blanks: "On", "-", "Begin", "_" or "From", in any case; any non-ASCII
# character stands in for the ``regex`` module's case folding), found by stdlib re's fast scan; the quote pattern
# is then tried only there (tests/unit/test_pattern_rewrites.py checks this finds what a scan finds).
_QUOTE_SPOT = re.compile(r"^[ \t]*[OoBbFf\-_\x80-\U0010ffff]", re.MULTILINE)
_HEADER_LINE = regex.compile(
    r"^[ \t]*(?:From|Sent|To|Cc|Bcc|Date|Subject|Reply-To)[ \t]*:[^\n]*$", regex.MULTILINE | regex.IGNORECASE
)
_WROTE_LINE = regex.compile(r"^[ \t]*On\b[^\n]{0,200}(?:\n[^\n]{0,120}){0,2}\bwrote:[ \t]*$", regex.MULTILINE)
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
# Lines that fill a signature without saying anything: a link, an image placeholder, a logo or social icon.
_FILLER = regex.compile(
    r"^[ \t]*(?:(?:https?://|www\.|mailto:|tel:|cid:)\S*|\[(?:cid|image)[^\]]*\]|[^\s]+\.(?:png|jpe?g|gif)"
    r"|(?:\S+[ \t]+){0,3}(?i:logo|banner|icon|linkedin|twitter|facebook|instagram|youtube|x))[ \t]*$",
    regex.IGNORECASE,
)
_NAME_LINE = regex.compile(
    r"^[ \t]*(?:(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?[ \t]+)?\p{Lu}[\p{L}'’\-.]*(?:[ \t]+\p{Lu}[\p{L}'’\-.]*){0,3}"
    r"(?:[ \t]*(?:[|,][ \t]*[^\n]{0,80})?)$"
)
_JOB_TITLE = regex.compile(
    r"(?<![\w])(?:director|manager|officer|adviser|advisor|consultant|partner|associate|solicitor|barrister"
    r"|counsel|engineer|analyst|head[ \t]+of|coordinator|co-ordinator|assistant|executive|president|vp"
    r"|specialist|lead|administrator|secretary|accountant|trader|paralegal|clerk|editor|founder|ceo|cfo|coo"
    r"|cto|chair|chairman|chairwoman|representative|agent|planner|scheduler|supervisor|technician|developer)"
    r"(?![\w])",
    regex.IGNORECASE,
)
_CELL = regex.compile(r"\t+")
_PHONE_LINE = regex.compile(r"(?:\d[ \t().\-]{0,2}){7,}")


@dataclass(frozen=True, slots=True)
class Zone:
    start: int
    end: int
    kind: ZoneKind


def quote_starts(text: str) -> Iterator[regex.Match[str]]:
    """``_QUOTE_START.finditer(text)``, tried only at the lines where a quote can start."""
    after = 0
    for spot in _QUOTE_SPOT.finditer(text):
        pos = spot.start()
        if pos < after:
            continue
        m = _QUOTE_START.match(text, pos)
        if m is not None:
            after = m.end()
            yield m


def segment_starts(text: str) -> list[int]:
    """Offsets where a quoted or forwarded message begins (always including 0)."""
    starts = [0]
    for m in quote_starts(text):
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
    """A sentence ends a signature block; "Name | Role | Organisation" or address lines do not. A row of
    table cells (HTML) is prose only if one of its cells is."""
    if "\t" in line.strip():
        return any(_looks_like_prose(cell) for cell in _CELL.split(line.strip()))
    words = line.split()
    stripped = line.strip()
    if _PS.match(line):
        return True
    if "|" in stripped:
        return False
    if stripped.endswith((".", "!", "?")) and len(words) >= 5:
        return True
    return len(line) > 90 or (len(words) >= 11 and ". " in stripped)


def _closing_block(text: str, lines: list[tuple[int, int]], first: int, max_lines: int) -> Zone | None:
    """A signature with no sign-off: the last block of a segment (after its last line of prose), a name line
    first, at most ``max_lines`` short lines with a job title, or an organisation and contact details."""
    k = len(lines)
    while k > first and not text[lines[k - 1][0] : lines[k - 1][1]].strip():
        k -= 1
    j = k
    taken = 0
    while j > first:
        line = text[lines[j - 1][0] : lines[j - 1][1]]
        if line.strip():
            if _looks_like_prose(line) or taken >= max_lines:
                break
            taken += 1
        j -= 1
    body = [text[a:b] for a, b in lines[j:k] if text[a:b].strip()]
    if not 2 <= len(body) <= max_lines:
        return None
    # the block starts at its name line: skip nothing else (a closing line of prose was the stop above)
    if not _NAME_LINE.match(body[0]) or any(ch.isdigit() for ch in body[0]):
        return None
    rest = body[1:]
    titled = any(_JOB_TITLE.search(ln) for ln in rest)
    organisation = titled or any(ORG_NAME.search(ln) or PREMISES.search(ln) for ln in rest)
    contact = titled or any(CONTACT_LINE.search(ln) or "@" in ln or _PHONE_LINE.search(ln) for ln in rest)
    if not (organisation and contact):
        return None
    return Zone(lines[j][0], lines[k - 1][1], "signature")


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
            if prev_header and not line.strip():
                # HTML: a blank line between header fields; the block goes on if a field follows
                n = i + 1
                while n < len(lines) and not text[lines[n][0] : lines[n][1]].strip():
                    n += 1
                if n < len(lines) and n - i <= 2 and _HEADER_LINE.match(text[lines[n][0] : lines[n][1]]):
                    i = n
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
        signed = False
        while j < len(lines):
            line = text[lines[j][0] : lines[j][1]]
            if (_VALEDICTION.match(line) and len(line) < 60) or _SIG_DASHES.match(line):
                signed = True
                k = j + 1
                taken = 0
                while k < len(lines) and taken < signature_max_lines:
                    body = text[lines[k][0] : lines[k][1]]
                    if body.strip():
                        if _looks_like_prose(body):
                            break
                        if not _FILLER.match(body):
                            taken += 1
                    k += 1
                end = lines[k - 1][1] if k - 1 >= j else lines[j][1]
                out.append(Zone(lines[j][0], end, "signature"))
                j = k
                continue
            j += 1
        if not signed:
            closing = _closing_block(text, lines, i, signature_max_lines)
            if closing is not None:
                out.append(closing)
    return out
