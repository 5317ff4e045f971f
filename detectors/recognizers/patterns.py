"""Shared pattern pieces and YAML helpers for our recognizers."""

from __future__ import annotations

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


def patterns_from_config(patterns: Sequence[Pattern] | Sequence[dict[str, object]] | None) -> list[Pattern]:
    """Presidio's YAML gives predefined recognizers plain dicts; custom ones get Pattern objects."""
    out: list[Pattern] = []
    for p in patterns or ():
        if isinstance(p, Pattern):
            out.append(p)
        else:
            out.append(Pattern.from_dict(dict(p)))
    return out
