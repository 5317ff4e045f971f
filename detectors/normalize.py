"""Text normalisation before detection, with every offset mapped back to the text as given.

Senders (and copy-paste from PDFs and web pages) hide identifiers from naive patterns: full-width digits
(``９４３``), zero-width spaces inside numbers, ``&#57;`` entities, typographic dashes between digit groups,
``> `` quote prefixes that shift every line. Recognizers see one canonical form; findings must still point at
the original characters, so the normaliser records, run by run, which original span produced which output.
Digits separated by spaces, dots or dashes are left alone here: the patterns accept those separators, which
keeps two unrelated numbers that happen to sit side by side from being glued together.
"""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field

_SPECIAL = re.compile(
    r"(?P<ent>&(?:\#[0-9]{1,7}|\#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});)"
    r"|(?P<quote>^[ \t]*>[> \t]*)"
    r"|(?P<wide>[^\x00-\x7f]+)",
    re.MULTILINE,
)

# Characters that carry no visible content but split tokens: Unicode "format" characters (zero-width space,
# joiners, word joiner, BOM, soft hyphen, bidi controls) plus a few invisible fillers that are not Cf.
_INVISIBLE_EXTRA = frozenset("\u115f\u1160\u3164\uffa0\u034f\u180e")
_QUOTES = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
           "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"'}


def _char_form(ch: str) -> str:
    """Canonical form of one non-ASCII character ('' when it should vanish)."""
    if ch in _INVISIBLE_EXTRA:
        return ""
    cat = unicodedata.category(ch)
    if cat == "Cf":
        return ""
    if cat == "Pd" or ch == "\u2212":
        return "-"
    if cat == "Zs" or ch in "\u2028\u2029":
        return " " if ch not in "\u2028\u2029" else "\n"
    q = _QUOTES.get(ch)
    if q is not None:
        return q
    out = unicodedata.normalize("NFKC", ch)
    if len(out) == 1 and out != ch:
        return _char_form(out) if not out.isascii() else out
    return out


@dataclass(frozen=True, slots=True)
class Normalized:
    """Normalised text plus a run-length map back to the original.

    Runs are (norm_start, orig_start, norm_len, orig_len, identity). Identity runs map character by
    character; replaced runs map as a whole (a full-width digit, an entity, a removed quote prefix).
    """

    text: str
    original_length: int
    _norm_starts: list[int] = field(default_factory=list)
    _orig_starts: list[int] = field(default_factory=list)
    _norm_lens: list[int] = field(default_factory=list)
    _orig_lens: list[int] = field(default_factory=list)
    _identity: list[bool] = field(default_factory=list)

    @property
    def is_identity(self) -> bool:
        return not self._norm_starts

    def _run(self, pos: int) -> int:
        return bisect_right(self._norm_starts, pos) - 1

    def _map_start(self, pos: int) -> int:
        if self.is_identity:
            return pos
        if pos >= len(self.text):
            return self.original_length
        i = self._run(pos)
        while self._norm_lens[i] == 0:  # pragma: no cover - empty runs are never recorded
            i += 1
        if self._identity[i]:
            return self._orig_starts[i] + (pos - self._norm_starts[i])
        return self._orig_starts[i]

    def _map_end(self, pos: int) -> int:
        if self.is_identity:
            return pos
        if pos <= 0:
            return self._orig_starts[0] if self._orig_starts else 0
        i = self._run(pos - 1)
        if self._identity[i]:
            return self._orig_starts[i] + (pos - self._norm_starts[i])
        return self._orig_starts[i] + self._orig_lens[i]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a half-open span of the normalised text to the original text."""
        if self.is_identity:
            return start, end
        if end <= start:
            s = self._map_start(start)
            return s, s
        return self._map_start(start), self._map_end(end)


def normalize(text: str, *, strip_quote_prefixes: bool = True) -> Normalized:
    """NFKC, invisible characters removed, HTML entities decoded, ``>`` quote prefixes dropped."""
    if text.isascii() and "&" not in text and (not strip_quote_prefixes or ">" not in text):
        return Normalized(text=text, original_length=len(text))
    out: list[str] = []
    norm_starts: list[int] = []
    orig_starts: list[int] = []
    norm_lens: list[int] = []
    orig_lens: list[int] = []
    identity: list[bool] = []
    npos = 0

    def add(piece: str, ostart: int, olen: int, ident: bool) -> None:
        nonlocal npos
        if not piece:
            return
        if ident and identity and identity[-1] and orig_starts[-1] + orig_lens[-1] == ostart:
            norm_lens[-1] += len(piece)
            orig_lens[-1] += olen
        else:
            norm_starts.append(npos)
            orig_starts.append(ostart)
            norm_lens.append(len(piece))
            orig_lens.append(olen)
            identity.append(ident)
        out.append(piece)
        npos += len(piece)

    pos = 0
    for m in _SPECIAL.finditer(text):
        kind = m.lastgroup
        if kind == "quote" and not strip_quote_prefixes:
            continue
        s, e = m.span()
        if s > pos:
            add(text[pos:s], pos, s - pos, True)
        if kind == "ent":
            decoded = html.unescape(m.group())
            if decoded == m.group():
                add(decoded, s, e - s, True)
            else:
                add("".join(_char_form(c) if not c.isascii() else c for c in decoded), s, e - s, False)
        elif kind == "quote":
            pass  # the prefix vanishes; the line's text follows unchanged
        else:
            for k in range(s, e):
                ch = text[k]
                if unicodedata.combining(ch) and out:
                    form = unicodedata.normalize("NFKC", ch)
                    add(form, k, 1, form == ch)
                    continue
                form = _char_form(ch)
                add(form, k, 1, form == ch)
        pos = e
    if pos < len(text):
        add(text[pos:], pos, len(text) - pos, True)
    result = "".join(out)
    if not norm_starts or (len(identity) == 1 and identity[0] and orig_starts[0] == 0
                           and orig_lens[0] == len(text)):
        return Normalized(text=result, original_length=len(text))
    return Normalized(
        text=result,
        original_length=len(text),
        _norm_starts=norm_starts,
        _orig_starts=orig_starts,
        _norm_lens=norm_lens,
        _orig_lens=orig_lens,
        _identity=identity,
    )
