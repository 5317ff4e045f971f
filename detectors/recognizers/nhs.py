"""NHS numbers: Presidio's ``NhsRecognizer`` (mod-11 checksum) with the forms people actually type.

Presidio's pattern misses dotted groups (``943.476.5919``) and digits spaced one by one, and it scores every
ten-digit number that passes the checksum at 1.0, so about one random order or reference number in eleven
becomes an NHS number. Here the layout carries the evidence: the 3-3-4 grouping NHS numbers are printed in,
or digits deliberately spaced apart, score high; a bare run of ten digits needs context (``NHS``) to count.
"""

from __future__ import annotations

from presidio_analyzer import Pattern
from presidio_analyzer.predefined_recognizers import NhsRecognizer

from detectors.recognizers.patterns import patterns_from_config

_SEP = r"[ .\-/]"
_LEFT = r"(?<![\d+]|\d[ .\-])"
_RIGHT = r"(?!\d|[ .\-]\d)"


class UkNhsRecognizer(NhsRecognizer):
    """``UK_NHS``: checksum-validated NHS numbers; score from layout, raised by context."""

    PATTERNS = [  # noqa: RUF012 - Presidio's convention: class-level defaults
        Pattern("NHS (3-3-4 grouped)", rf"{_LEFT}\d{{3}}{_SEP}\d{{3}}{_SEP}\d{{4}}{_RIGHT}", 0.85),
        Pattern("NHS (digits spaced apart)", rf"{_LEFT}\d(?:{_SEP}\d){{9}}{_RIGHT}", 0.85),
        # any other layout, a bare run of ten digits included: needs context
        Pattern("NHS (ten digits, any layout)", rf"{_LEFT}\d(?:{_SEP}?\d){{9}}{_RIGHT}", 0.3),
    ]
    CONTEXT = [  # noqa: RUF012
        "nhs",
        "nhs number",
        "nhs no",
        "national health service",
        "health service number",
        "patient",
        "gp",
        "hospital number",
    ]

    def __init__(
        self,
        patterns: list[Pattern] | list[dict[str, object]] | None = None,
        context: list[str] | None = None,
        supported_language: str = "en",
        supported_entity: str = "UK_NHS",
        name: str | None = None,
    ) -> None:
        super().__init__(
            patterns=patterns_from_config(patterns) or list(self.PATTERNS),
            context=context or list(self.CONTEXT),
            supported_language=supported_language,
            supported_entity=supported_entity,
            replacement_pairs=[("-", ""), (" ", ""), (".", ""), ("/", "")],
            name=name or type(self).__name__,
        )

    def validate_result(self, pattern_text: str) -> bool | None:  # type: ignore[override]
        """False drops the match; None keeps the pattern's own score (the layout evidence)."""
        digits = "".join(c for c in pattern_text if c.isdigit())
        if len(digits) != 10 or len(set(digits)) == 1:
            return False
        total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
        check = 11 - total % 11
        if check == 11:
            check = 0
        if check == 10 or check != int(digits[9]):
            return False
        return None


def nhs_checksum_ok(value: str) -> bool:
    """Whether a ten-digit string passes the NHS mod-11 check (used by tests and the corpus generator)."""
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) != 10:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    return check != 10 and check == int(digits[9])
