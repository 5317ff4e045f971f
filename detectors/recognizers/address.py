"""UK street addresses: house number, street name and type, then town lines and a postcode.

The small spaCy model labels ``14 Oak Road`` as a DATE and never as an address, so addresses come from
structure instead: a number, capitalised street words and a street type. A postcode at the end anchors the
town lines between them; without one only number + street counts, at a lower score.
"""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from detectors.recognizers.patterns import patterns_from_config

POSTCODE = (
    r"(?-i:(?:GIR[ \t]?0AA|[A-PR-UWYZ](?:\d[A-HJKPSTUW]?|[A-HK-Y]\d[ABEHMNPRV-Y]?|\d\d|[A-HK-Y]\d\d)"
    r"[ \t]*\d[ABD-HJLNP-UW-Z]{2}))"
)

DEFAULT_STREET_TYPES = [
    "Road", "Rd", "Street", "St", "Avenue", "Ave", "Lane", "Ln", "Close", "Drive", "Dr", "Way", "Court", "Ct",
    "Crescent", "Cres", "Place", "Pl", "Grove", "Gardens", "Gdns", "Terrace", "Walk", "Hill", "Park", "Square",
    "Sq", "Mews", "Rise", "View", "Row", "Green", "Parade", "Vale", "Wharf", "Yard", "Gate", "Boulevard",
    "Chase", "Croft", "Fold", "Meadow", "Meadows", "End", "Approach", "Cottages", "Villas", "Heights",
    "Wynd", "Brae", "Circus", "Embankment", "Quay", "Broadway", "Promenade", "Precinct", "Path", "Bank", "Fields",
    "Garth",
]


def _address_patterns(street_types: list[str]) -> list[Pattern]:
    types = "|".join(sorted({t.strip() for t in street_types if t.strip()}, key=len, reverse=True))
    word = r"\p{Lu}[\p{Ll}'’]+(?:-\p{Lu}?[\p{Ll}]+)?"
    prefix = r"(?:(?i:flat|apartment|apt|unit|room|house)[ \t]+\d{1,4}[A-Za-z]?,?[ \t]+)?"
    number = r"\d{1,4}[A-Za-z]?(?:[\-–]\d{1,4}[A-Za-z]?)?,?"
    street = rf"(?:{word}[ \t]+){{1,3}}(?:{types})\.?"
    town_word = rf"(?:{word}|(?:upon|on|under|le|in|by|the|next|de|super|la)(?=[ \t\-]+\p{{Lu}}))"
    town = rf"{word}(?:[ \t\-]+{town_word}){{0,3}}"
    sep = r"(?:[ \t]*,[ \t]*\n?[ \t]*|[ \t]*\n[ \t]*|[ \t]+)"
    core = rf"\b(?-i:{prefix}{number}[ \t]+{street})(?![\w])"
    with_postcode = rf"{core}(?-i:(?:{sep}{town}){{0,3}}{sep}{POSTCODE})\b"
    return [
        Pattern("street address with postcode", with_postcode, 0.85),
        Pattern("street address", core, 0.55),
    ]


class UkStreetAddressRecognizer(PatternRecognizer):
    """``UK_STREET_ADDRESS``: ``Flat 2, 14 Oak Road, Headingley, Leeds LS6 2AB``."""

    CONTEXT = [  # noqa: RUF012
        "address",
        "lives at",
        "living at",
        "resides",
        "residing",
        "home",
        "moved to",
        "property",
        "tenancy",
    ]

    def __init__(
        self,
        patterns: list[Pattern] | list[dict[str, object]] | None = None,
        street_types: list[str] | None = None,
        context: list[str] | None = None,
        supported_language: str = "en",
        supported_entity: str = "UK_STREET_ADDRESS",
        name: str | None = None,
    ) -> None:
        super().__init__(
            supported_entity=supported_entity,
            patterns=patterns_from_config(patterns) or _address_patterns(street_types or DEFAULT_STREET_TYPES),
            context=context or list(self.CONTEXT),
            supported_language=supported_language,
            name=name or type(self).__name__,
        )
