"""One detected entity. Carries type, place, span and score; the matched text only when asked.

The text never leaves the worker unless the caller asked to reveal it (``dlpgate scan --reveal``); incidents,
logs and digests get ``redacted`` instead, which keeps only enough to recognise the item
(``NHS *** *** 5919``, ``J*** S****``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Finding:
    entity: str
    """Presidio entity name (``PERSON``, ``UK_NHS`` ...) or ours (``UK_FAMILY_CASE_NUMBER`` ...)."""
    score: float
    location: str
    """Where the text came from: ``subject``, ``body``, ``body.html``, ``attachment:a.zip/b.pdf``."""
    start: int
    end: int
    detector: str
    """Name of the recognizer that produced it."""
    redacted: str
    """Masked form safe for incidents and digests."""
    fingerprint: str = ""
    """Short keyed hash of the normalised value, so distinct values can be counted without keeping them.
    In memory only; never stored."""
    text: str | None = None
    """The matched text: only when reveal was asked. Never logged or stored."""
