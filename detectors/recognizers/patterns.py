"""Shared pattern pieces and YAML helpers for our recognizers."""

from __future__ import annotations

import re
from collections.abc import Sequence

from presidio_analyzer import Pattern

# A word of a personal name: ``Smith``, ``McDonald``, ``O'Brien``, ``D’Souza``, ``Smith-Jones``, ``Łukasz``.
NAME_WORD = r"(?:\p{Lu}\p{Ll}{0,2}['’]?)?\p{Lu}\p{Ll}+(?:-\p{Lu}\p{Ll}+)?"
# A surname in capitals as courts write it (``Jane SMITH``); never the first word, so acronyms stay out.
NAME_WORD_CAPS = r"\p{Lu}{2,}(?:['’\-]\p{Lu}+)?"
INITIAL = r"\p{Lu}\.?"
# One to four words: optional initials, a name word, up to two more name words or capitalised surnames.
NAME_SEQ = (
    rf"(?:{INITIAL}[ \t])?(?:{NAME_WORD})"
    rf"(?:[ \t]+(?:{INITIAL}[ \t]+)?(?:{NAME_WORD}|{NAME_WORD_CAPS})(?![\w'’])){{0,2}}"
)

# What stdlib ``re.IGNORECASE`` also matches for an ASCII letter (simple case folding): dotted and dotless I,
# the long s, the Kelvin sign. ``ci`` spells a word case-insensitively without the flag: sre then compares
# characters directly instead of lower-casing each one, and can use its fast first-character scan. Same matches
# (tests/unit/test_case_numbers.py checks every code point).
_RE_CASE_EXTRA = {"i": "\u0130\u0131", "k": "\u212a", "s": "\u017f"}


def ci_chars(letters: str) -> str:
    """The members of a character class that ``re.IGNORECASE`` would match for ``letters`` (ASCII letters)."""
    return "".join(c.upper() + c.lower() + _RE_CASE_EXTRA.get(c.lower(), "") for c in letters)


def ci(word: str) -> str:
    """``word`` as a stdlib ``re`` pattern that matches what ``(?i:word)`` matches; ASCII letters become classes,
    anything else is escaped."""
    return "".join(f"[{ci_chars(c)}]" if c.isascii() and c.isalpha() else re.escape(c) for c in word)


def patterns_from_config(patterns: Sequence[Pattern] | Sequence[dict[str, object]] | None) -> list[Pattern]:
    """Presidio's YAML gives predefined recognizers plain dicts; custom ones get Pattern objects."""
    out: list[Pattern] = []
    for p in patterns or ():
        if isinstance(p, Pattern):
            out.append(p)
        else:
            out.append(Pattern.from_dict(dict(p)))
    return out
