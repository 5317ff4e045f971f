"""NHS numbers: Presidio's ``NhsRecognizer`` (mod-11 checksum) with the forms people actually type.

Presidio's pattern misses dotted groups (``943.476.5919``) and digits spaced one by one, and it scores every
ten-digit number that passes the checksum at 1.0. One ten-digit number in eleven passes that check, so a
checksum alone is no evidence: in business mail every "NHS number" it found was a phone or fax number
(``713-853-7459``, ``+44 (0)113 496 0000`` read from the ``113``) or an order or reference number. Here a
match needs support:

* an NHS label (``NHS no``, ``NHS number``, ``CHI``, ``hospital number``, ``patient``...) right before it on
  the same line, or on the line above a number that starts its line, or ``(NHS)`` right after it: it counts;
* a phone, fax, order, invoice or reference label as the nearest label before it, or a phone layout (an
  international prefix or ``(0)`` in front, an extension after): it is not an NHS number at all;
* neither: the layout alone scores below every threshold, and only context words in the window around it
  (``patient``, ``GP``... via the context enhancer) lift it over.
"""

from __future__ import annotations

import regex
from presidio_analyzer import Pattern, RecognizerResult

from detectors.presidio_adapter import NhsRecognizer, NlpArtifacts
from detectors.recognizers.patterns import patterns_from_config

_SEP = r"[ .\-/]"
_LEFT = r"(?<![\d+]|\d[ .\-])"
_RIGHT = r"(?!\d|[ .\-]\d)"

LABEL_SCORE = 0.95
# Labels that name an NHS (or Scottish CHI / Northern Irish H&C) number, and labels that name something else.
# The nearest label before the number on its line decides; single letters count only as "T:" / "F." labels.
_NHS_LABEL = (
    r"nhs|n\.h\.s\.?|national[ \t]+health[ \t]+service|health[ \t]+service|health[ \t]+(?:and|&)[ \t]+care"
    r"|chi|h[ \t]*&[ \t]*c|hospital|patient|gp|medical[ \t]+record|mrn"
)
_OTHER_LABEL = (
    r"tel|tele|telephone|phone|ph|fax|facsimile|mob|mobile|cell|cellphone|direct|dd|ddi|switchboard|pager"
    r"|office|work|home|call|ring|text|sms|whatsapp|contact|voicemail|helpline|hotline|freephone|toll[ \t-]*free"
    r"|order|invoice|inv|po|p\.o\.|ref|reference|ticket|tracking|consignment|shipment|sku|part|item|serial"
    r"|model|product|account|acct|a/c|customer|client|member|membership|policy|booking|confirmation"
    r"|transaction|txn|receipt|deal|contract|quote|isbn|issn|barcode|upc|ean"
    r"|(?-i:[TFMPOWHD])(?=[ \t]*[:.])"
)
_LABELS = regex.compile(
    rf"(?<![\w])(?:(?P<nhs>(?:{_NHS_LABEL})(?:[ \t]*(?:no\.?|number|num|ref|reference|id|#))?)"
    rf"|(?P<other>{_OTHER_LABEL}))(?![\w])",
    regex.IGNORECASE,
)
_NHS_AFTER = regex.compile(r"[ \t]*[(\[]?[ \t]*(?:nhs|chi)\b", regex.IGNORECASE)
_PHONE_BEFORE = regex.compile(r"(?:\(0\)|\+\d{0,3}|(?<!\d)00\d{0,3})[ \t]*$")
_PHONE_AFTER = regex.compile(r"[ \t]*(?:x|ext\.?|extn\.?|extension)[ \t]*\d", regex.IGNORECASE)
_PREFIX_CHARS = 48


class UkNhsRecognizer(NhsRecognizer):
    """``UK_NHS``: checksum-validated NHS numbers; score from layout, raised by context."""

    PATTERNS = [  # noqa: RUF012 - Presidio's convention: class-level defaults
        # the layout NHS numbers are printed in, or digits deliberately spaced apart: still below the thresholds
        # without an NHS label or context words (phone and order numbers share the layout)
        Pattern("NHS (3-3-4 grouped)", rf"{_LEFT}\d{{3}}{_SEP}\d{{3}}{_SEP}\d{{4}}{_RIGHT}", 0.4),
        Pattern("NHS (digits spaced apart)", rf"{_LEFT}\d(?:{_SEP}\d){{9}}{_RIGHT}", 0.4),
        # any other layout, a bare run of ten digits included
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

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        """Checksum-valid matches, each judged by the labels and layout around it (see the module docstring)."""
        out: list[RecognizerResult] = []
        for r in super().analyze(text, entities, nlp_artifacts, regex_flags):
            support = number_support(text, r.start, r.end)
            if support == "other":
                continue
            if support == "nhs":
                r.score = max(r.score, LABEL_SCORE)
                meta = r.recognition_metadata or {}
                meta[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
                r.recognition_metadata = meta
            out.append(r)
        return out

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


def number_support(text: str, start: int, end: int) -> str:
    """``"nhs"`` when an NHS label introduces the number, ``"other"`` when a phone, order or reference label
    does or the number is laid out as a phone number, ``""`` when nothing around it says either."""
    line_start = text.rfind("\n", 0, start) + 1
    prefix = text[max(line_start, start - _PREFIX_CHARS) : start]
    if _PHONE_BEFORE.search(prefix) or _PHONE_AFTER.match(text, end):
        return "other"
    if _NHS_AFTER.match(text, end):
        return "nhs"
    last = None
    for m in _LABELS.finditer(prefix):
        last = m
    if last is None and not prefix.strip() and line_start > 0:
        # a number alone at the start of its line: a label on the line above ("NHS number\n943 476 5919")
        above_start = text.rfind("\n", 0, line_start - 1) + 1
        above = text[above_start : line_start - 1]
        if len(above.strip()) <= 40:
            for m in _LABELS.finditer(above):
                last = m
    if last is None:
        return ""
    return "nhs" if last.group("nhs") else "other"


def nhs_checksum_ok(value: str) -> bool:
    """Whether a ten-digit string passes the NHS mod-11 check (used by tests and the corpus generator)."""
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) != 10:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    return check != 10 and check == int(digits[9])
