"""Text normalisation before detection, with every offset mapped back to the text as given.

Senders (and copy-paste from PDFs and web pages) hide identifiers from naive patterns: full-width digits
(``９４３``), zero-width spaces inside numbers, ``&#57;`` entities, typographic dashes between digit groups,
``> `` quote prefixes that shift every line. Recognizers see one canonical form; findings must still point at
the original characters, so the normaliser records, run by run, which original span produced which output.
Digits separated by spaces, dots or dashes are left alone here: the patterns accept those separators, which
keeps two unrelated numbers that happen to sit side by side from being glued together.

What a reader's eye undoes is undone here too:

* every default-ignorable code point vanishes (Unicode's ``Default_Ignorable_Code_Point``: format characters,
  variation selectors, tag characters, Hangul fillers, the combining grapheme joiner...);
* decimal digits of every script are digits (category ``Nd``: ``٩٤٣`` is ``943``);
* confusables fold to the Latin letters they imitate (Unicode TR39's skeleton, for the scripts that imitate
  Latin: Cyrillic ``С``, Greek ``Ο``, Armenian, Cherokee), in words that mix them with Latin letters or digits or
  are made of look-alikes only, so Russian or Greek prose is left alone; inside a run of digits ``O``/``o`` is
  zero, ``l``/``I``/``|`` one, Cyrillic ``З`` three and ``б`` six;
* an identifier broken across a line (``943 476`` / ``5919``, ``ZW24C`` / ``50123``, ``943-476-`` / ``5919``)
  is joined: a line that ends in a digit (or a digit and up to three letters, or a dash or slash) and a line
  that starts like the rest of an identifier (``_WRAP``) continue each other.

Folds are one character for one, so they leave the offset map as it is.
"""

from __future__ import annotations

import heapq
import html
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field

import regex

_SPECIAL = re.compile(
    r"(?P<ent>&(?:\#[0-9]{1,7}|\#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});)"
    r"|(?P<quote>^[ \t]*>[> \t]*)"
    r"|(?P<wide>[^\x00-\x7f]+)",
    re.MULTILINE,
)
# A line that ends an identifier's first part (a digit, perhaps up to three letters, perhaps a dash or slash)
# and a line that continues it: four digits, a short group and another group, up to three letters and digits,
# a NINO's final letter, or a short last group ending the line. Not a house number and a street ("104 Mill
# Lane"), not a sentence after a number ("... 244705.\nI also ..."). Group 1: the separator; group 2: the break.
_WRAP = re.compile(
    r"\d[A-Za-z]{0,3}([-/]?)([ \t]*\n)(?=[ \t]*(?:>[> \t]*)?(?:\d{4}|\d{1,3}[ \t.\-/]\d|[A-Za-z]{1,3}\d{3}"
    r"|(?:[A-D]|\d{1,3})[ \t]*(?:\n|$|[.,;:)\]])))"
)
_DEFAULT_IGNORABLE = regex.compile(r"\p{Default_Ignorable_Code_Point}")

# TR39 confusables of Latin letters in the scripts that imitate them (one character for one).
_CONFUSABLE_LETTERS = {
    # Cyrillic
    "А": "A", "В": "B", "С": "C", "Е": "E", "Н": "H", "І": "I", "Ј": "J", "К": "K", "М": "M", "О": "O",
    "Р": "P", "Ѕ": "S", "Т": "T", "Х": "X", "У": "Y", "Ү": "Y", "Ԛ": "Q", "Ԝ": "W", "Ӏ": "I", "Ѵ": "V",
    "а": "a", "с": "c", "е": "e", "о": "o", "р": "p", "х": "x", "у": "y", "ѕ": "s", "і": "i", "ј": "j",
    "ԁ": "d", "һ": "h", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ү": "y", "ѵ": "v", "ɡ": "g",
    # Greek
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C", "Ϳ": "J",
    "α": "a", "ο": "o", "ν": "v", "ι": "i", "ρ": "p", "υ": "u", "ϲ": "c", "ϳ": "j",
    # Armenian
    "Օ": "O", "Ս": "U", "Տ": "S", "օ": "o", "ս": "u", "հ": "h", "ո": "n", "ց": "g", "զ": "q",
    # Cherokee capitals
    "Ꭺ": "A", "Ᏼ": "B", "Ꮯ": "C", "Ꭼ": "E", "Ꮋ": "H", "Ꭻ": "J", "Ꮶ": "K", "Ꮇ": "M", "Ꮲ": "P", "Ꮪ": "S",
    "Ꭲ": "T", "Ꮩ": "V", "Ꮃ": "W", "Ꮓ": "Z",
    # Latin letters outside ASCII that NFKC keeps
    "ı": "i", "ȷ": "j", "ɑ": "a",
}  # fmt: skip
_LETTER_FOLD = str.maketrans(_CONFUSABLE_LETTERS)
_CONFUSABLE_CHAR = re.compile("[" + "".join(_CONFUSABLE_LETTERS) + "]")
_WORD = re.compile(r"[^\W_]+")
# In a run of digits: letters and look-alikes that stand for digits.
_DIGIT_LIKE = {"O": "0", "o": "0", "l": "1", "I": "1", "|": "1", "З": "3", "з": "3", "б": "6"}
_DIGIT_CLASS = "[" + "".join(_DIGIT_LIKE) + "]"
_DIGIT_TOUCH = re.compile(f"[0-9](?:{_DIGIT_CLASS}|(?<={_DIGIT_CLASS}[0-9]))")
_DIGIT_RUN = re.compile(f"(?:[0-9]|{_DIGIT_CLASS})+")

# Characters that carry no visible content but split tokens: Unicode "format" characters (zero-width space,
# joiners, word joiner, BOM, soft hyphen, bidi controls) plus a few invisible fillers that are not Cf.
_INVISIBLE_EXTRA = frozenset("\u115f\u1160\u3164\uffa0\u034f\u180e")
_QUOTES = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
           "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"'}


def _char_form(ch: str) -> str:
    """Canonical form of one non-ASCII character ('' when it should vanish)."""
    if ch in _INVISIBLE_EXTRA or _DEFAULT_IGNORABLE.match(ch):
        return ""
    cat = unicodedata.category(ch)
    if cat == "Cf":
        return ""
    if cat == "Nd":
        return str(unicodedata.decimal(ch))
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
    wraps = [(m.start(2), m.end(2), m.group(1)) for m in _WRAP.finditer(text)] if "\n" in text else []
    if text.isascii() and "&" not in text and (not strip_quote_prefixes or ">" not in text) and not wraps:
        folded = fold_confusables(text)
        return Normalized(text=folded, original_length=len(text))
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
    for kind, s, e, m in _matches(text, wraps):
        if kind == "quote" and not strip_quote_prefixes:
            continue
        if s < pos:  # pragma: no cover - the kinds never overlap; a guard, not a path
            continue
        if s > pos:
            add(text[pos:s], pos, s - pos, True)
        if kind == "wrap" or m is None:
            # a line break inside an identifier: a space, or nothing after a separator (``943-476-`` / ``5919``)
            add("" if wraps_separator(text, s) else " ", s, e - s, False)
        elif kind == "ent":
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
                if unicodedata.combining(ch) and out and not _DEFAULT_IGNORABLE.match(ch):
                    form = unicodedata.normalize("NFKC", ch)
                    add(form, k, 1, form == ch)
                    continue
                form = _char_form(ch)
                add(form, k, 1, form == ch)
        pos = e
    if pos < len(text):
        add(text[pos:], pos, len(text) - pos, True)
    result = fold_confusables("".join(out))
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


def _fold_word(m: re.Match[str]) -> str:
    word = m.group()
    if word.isascii() or not _CONFUSABLE_CHAR.search(word):
        return word
    mixed = any(ch.isascii() for ch in word)
    if mixed or all(ch in _CONFUSABLE_LETTERS or not ch.isalpha() for ch in word):
        return word.translate(_LETTER_FOLD)
    return word


def _fold_digits(m: re.Match[str]) -> str:
    run = m.group()
    digits = sum(ch.isdigit() for ch in run)
    if digits < 2 or digits <= len(run) - digits:
        return run
    text = m.string
    letter_before = m.start() > 0 and text[m.start() - 1].isalpha()
    letter_after = m.end() < len(text) and text[m.end()].isalpha()
    out = []
    for i, ch in enumerate(run):
        if ch in _DIGIT_LIKE and not (i == 0 and letter_before) and not (i == len(run) - 1 and letter_after):
            out.append(_DIGIT_LIKE[ch])
        else:
            out.append(ch)
    return "".join(out)


def fold_confusables(text: str) -> str:
    """Look-alike letters to Latin in words that are not plainly another script's, and letters that stand for
    digits inside digit runs to digits; one character for one, so offsets do not move."""
    if not text.isascii() and _CONFUSABLE_CHAR.search(text):
        text = _WORD.sub(_fold_word, text)
    if _DIGIT_TOUCH.search(text):
        text = _DIGIT_RUN.sub(_fold_digits, text)
    return text


def wraps_separator(text: str, start: int) -> bool:
    """The line break at ``start`` follows a dash or slash: the identifier continues with no space."""
    return start > 0 and text[start - 1] in "-/"


def _matches(text: str, wraps: list[tuple[int, int, str]]) -> Iterator[tuple[str, int, int, re.Match[str] | None]]:
    """Entity, quote-prefix and non-ASCII matches merged in order with the identifier line breaks."""
    specials = ((m.lastgroup or "", m.start(), m.end(), m) for m in _SPECIAL.finditer(text))
    breaks = (("wrap", s, e, None) for s, e, _sep in wraps)
    return heapq.merge(specials, breaks, key=lambda item: item[1])
