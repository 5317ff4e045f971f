"""Phone numbers: a cheap candidate pattern, then libphonenumber's validation.

Presidio's ``PhoneRecognizer`` runs libphonenumber's ``PhoneNumberMatcher`` once per region over the whole
text, which is pure Python and was the single largest cost in a stock analysis of our mail. Numbers worth
reporting here start with ``0`` (national) or ``+``/``00`` (international) and have nine to fifteen digits, so a
regex finds the few candidates and only those are parsed. A valid number scores above the threshold; a number
that merely has the right length (new ranges, reserved drama numbers) needs phone context to count.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult

from detectors.presidio_adapter import NlpArtifacts
from detectors.recognizers.text import result

_GAP = r"[ \t.\-]{0,2}\(?"
_CANDIDATE = regex.compile(
    r"(?<![\w+/])(?:"
    rf"(?:\+|00)[ \t]?\d{{1,3}}(?:[ \t.\-]?\(0\))?(?:{_GAP}\d\)?){{6,12}}"
    rf"|\(?0(?:{_GAP}\d\)?){{9,10}}"
    r")(?!\d|[.\-]\d)",
)


@lru_cache(maxsize=8192)
def _classify(candidate: str, region: str) -> int:
    """2 valid, 1 possible (right length, unknown range), 0 not a phone number. Cached: signatures repeat."""
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return 0
    if phonenumbers.is_valid_number(number):
        return 2
    if phonenumbers.is_possible_number(number):
        return 1
    return 0


class UkPhoneRecognizer(LocalRecognizer):
    """``PHONE_NUMBER``: UK national numbers and international numbers with a ``+``/``00`` prefix."""

    name: str

    CONTEXT = [  # noqa: RUF012
        "phone",
        "telephone",
        "tel",
        "mobile",
        "mob",
        "call",
        "ring",
        "text",
        "number",
        "landline",
        "contact",
        "whatsapp",
    ]

    def __init__(
        self,
        supported_language: str = "en",
        supported_entity: str = "PHONE_NUMBER",
        context: list[str] | None = None,
        default_region: str = "GB",
        valid_score: float = 0.7,
        possible_score: float = 0.3,
        name: str | None = None,
    ) -> None:
        self.default_region = default_region
        self.valid_score = valid_score
        self.possible_score = possible_score
        super().__init__(
            supported_entities=[supported_entity],
            supported_language=supported_language,
            context=context or list(self.CONTEXT),
            name=name or type(self).__name__,
        )

    def load(self) -> None:
        """Nothing to load: libphonenumber's metadata is imported lazily by the library itself."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        for m in _CANDIDATE.finditer(text):
            start, end = m.span()
            raw = m.group()
            # trim a closing bracket or separator the candidate pattern swallowed at the end
            while raw and not raw[-1].isdigit():
                raw = raw[:-1]
                end -= 1
            if raw.startswith("(") and ")" not in raw:  # "(01904 620123)": the bracket wraps the number
                raw = raw[1:]
                start += 1
            digits = "".join(c for c in raw if c.isdigit())
            if not 9 <= len(digits) <= 15:
                continue
            candidate = "+" + digits[2:] if raw.lstrip().startswith("00") else raw
            kind = _classify(candidate, self.default_region)
            if kind == 2:
                score = self.valid_score
            elif kind == 1 and len(digits) >= 10:
                score = self.possible_score
            else:
                continue
            if score <= 0:
                continue
            results.append(
                result(self, start, end, score, "phone number validated by libphonenumber", context_fixed=False)
            )
        return results
