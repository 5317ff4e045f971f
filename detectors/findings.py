"""What detection reports: findings, the message's sensitivity, and recipients' classes.

Plain leaf types (this module imports nothing of the project), so both ``detectors`` and ``gateway`` (the facts,
the policy) can use them without a cycle.

A ``Finding`` is one detected entity. It carries type, place, span and score; the matched text only when asked.
The text never leaves the worker unless the caller asked to reveal it (``dlpgate scan --reveal``); incidents,
logs and digests get ``redacted`` instead, which keeps only enough to recognise the item
(``NHS *** *** 5919``, ``J*** S****``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

RecipientClass = Literal["internal", "personal", "lookalike", "storage_or_ai", "freemail", "external"]
RECIPIENT_CLASSES: tuple[RecipientClass, ...] = (
    "internal",
    "personal",
    "lookalike",
    "storage_or_ai",
    "freemail",
    "external",
)


class Sensitivity(IntEnum):
    """Message-level sensitivity, ordered so that ``>=`` compares levels (see DESIGN.md)."""

    NONE = 0
    PERSONAL = 1
    SPECIAL_CATEGORY = 2

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Sensitivity:
        return cls[value.strip().upper()]


@dataclass(frozen=True, slots=True)
class RecipientInfo:
    address: str
    cls: RecipientClass
    evidence: str = ""
    """Why this class (``domain in freemail list``, ``lookalike of cafcass.gov.uk (edit distance 1)``)."""


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
