"""UK street addresses: house number, street name and type, then town lines and a postcode.

The small spaCy model labels ``14 Oak Road`` as a DATE and never as an address, so addresses come from
structure instead: a number, capitalised street words and a street type. A postcode at the end anchors the
town lines between them; without one only number + street counts, at a lower score.

Only homes are findings. An organisation's address (a suite or floor, a company or firm name on the line
above or before it, its website and fax lines beside it, a newsletter or letterhead footer around it:
``detectors.recognizers.business``) is business furniture and is dropped here, so it never links a name to
an address. The other way round, the way UK reports place a person, ``Jo Bloggs, 24, of Elm Road, Swindon``
or ``who lives in Elm Road``, is a home address even without a house number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import regex
from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult

from detectors.presidio_adapter import NlpArtifacts
from detectors.recognizers.business import ORG_NAME, business_reason
from detectors.recognizers.patterns import NAME_SEQ, patterns_from_config
from detectors.recognizers.text import result

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


_WORD = r"\p{Lu}[\p{Ll}'’]+(?:-\p{Lu}?[\p{Ll}]+)?"
_TOWN_WORD = rf"(?:{_WORD}|(?:upon|on|under|le|in|by|the|next|de|super|la)(?=[ \t\-]+\p{{Lu}}))"
_TOWN = rf"{_WORD}(?:[ \t\-]+{_TOWN_WORD}){{0,3}}"
UNNUMBERED_SCORE = 0.6
BUSINESS_TAG = ":business"  # appended to the recognizer name of an organisation's address (content detection
                            # reads it back to treat the same address elsewhere in the message alike)
BUSINESS_SCORE = 0.3  # above Presidio's default_score_threshold (kept as a span), below every reporting threshold


def _types(street_types: list[str]) -> str:
    return "|".join(sorted({t.strip() for t in street_types if t.strip()}, key=len, reverse=True))


# Where a report places a person without a house number: "Jo Bloggs, 24, of Elm Road, Swindon" (a name, an
# optional age, "of"/"from") or "lives in Elm Road". The cue is found first (cheap), the street matched at it.
_UNNUMBERED_CUE = regex.compile(
    r"(?P<named>,[ \t]*(?:(?i:aged)[ \t]+)?(?:\d{1,3}[ \t]*,[ \t]*)?(?i:of|from))[ \t]+(?=\p{Lu})"
    r"|(?<![\w])(?i:lives?|living|lived|resides?|residing|resident|moved|moving|relocated|home)"
    r"[ \t]+(?i:in|on|at|to|into)[ \t]+(?i:the[ \t]+)?(?=\p{Lu})"
)
_NAME_BEFORE = regex.compile(rf"(?<![\w])(?:{NAME_SEQ})$")
# Where a cue can start, found by stdlib re's fast first-character scan: a comma before a possible age, "of" or
# "from", or the first letters of a cue verb at a word start. Any non-ASCII character is let through (the ``regex``
# module's case folding and digits reach beyond ASCII), so every cue start is among these places; the cue
# itself is then matched there (tests/unit/test_pattern_rewrites.py checks this finds what a scan finds).
_N = "\x80-\U0010ffff"
_CUE_SPOT = re.compile(
    rf"[,LlRrMmHh{_N}](?:(?<=,)(?=[ \t]*(?:[Aa{_N}][Gg{_N}]|[Oo{_N}][Ff{_N}]|[Ff{_N}][Rr{_N}]|[0-9{_N}]))"
    # a verb's first letter right after an ASCII letter, digit or underscore is inside a word (``regex``'s \w too)
    rf"|(?<![A-Za-z0-9_].)(?:(?<=[Ll{_N}])(?=[Ii{_N}][Vv{_N}][EeIi{_N}])"
    rf"|(?<=[Rr{_N}])(?=[Ee{_N}](?:[Ss{_N}][Ii{_N}]|[Ll{_N}][Oo{_N}]))"
    rf"|(?<=[Mm{_N}])(?=[Oo{_N}][Vv{_N}][EeIi{_N}])|(?<=[Hh{_N}])(?=[Oo{_N}][Mm{_N}][Ee{_N}])))"
)


def unnumbered_cues(text: str) -> Iterator[regex.Match[str]]:
    """``_UNNUMBERED_CUE.finditer(text)``, tried only where a cue can start."""
    after = 0
    for spot in _CUE_SPOT.finditer(text):
        pos = spot.start()
        if pos < after:
            continue
        cue = _UNNUMBERED_CUE.match(text, pos)
        if cue is not None:
            after = cue.end()
            yield cue


def _unnumbered_street(street_types: list[str]) -> regex.Pattern[str]:
    """A street name and type, an optional town after a comma, then the end of the phrase."""
    return regex.compile(
        rf"(?:{_WORD}[ \t]+){{1,3}}(?:{_types(street_types)})(?![\w'’])(?:[ \t]*,[ \t]*{_TOWN})?"
        r"(?=[ \t]*(?:[,.;:)\n]|$|[ \t](?i:in|and|with|where)\b))"
    )


def _address_patterns(street_types: list[str]) -> list[Pattern]:
    types = _types(street_types)
    word = _WORD
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

    name: str

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
        self._unnumbered = _unnumbered_street(street_types or DEFAULT_STREET_TYPES)
        super().__init__(
            supported_entity=supported_entity,
            patterns=patterns_from_config(patterns) or _address_patterns(street_types or DEFAULT_STREET_TYPES),
            context=context or list(self.CONTEXT),
            supported_language=supported_language,
            name=name or type(self).__name__,
        )

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        """Numbered addresses that are not an organisation's, and unnumbered streets placing a named person."""
        out = super().analyze(text, entities, nlp_artifacts, regex_flags)
        for r in out:
            reason = business_reason(text, r.start, r.end)
            if reason:
                # kept under every threshold rather than dropped, so that NER cannot read "Stanley Close" in
                # it as a name; the context enhancer must not lift it again
                r.score = BUSINESS_SCORE
                meta = r.recognition_metadata or {}
                meta[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
                meta[RecognizerResult.RECOGNIZER_NAME_KEY] = f"{self.name}{BUSINESS_TAG}"
                r.recognition_metadata = meta
                if r.analysis_explanation is not None:
                    r.analysis_explanation.append_textual_explanation_line(f"business address: {reason}")
        for cue in unnumbered_cues(text):
            m = self._unnumbered.match(text, cue.end())
            if m is None:
                continue
            if cue.group("named") and not _NAME_BEFORE.search(text, max(0, cue.start() - 60), cue.start()):
                continue
            start, end = m.span()
            if any(r.start < end and start < r.end for r in out):
                continue
            tail = text[end : end + 40].split("\n", 1)[0]
            if ORG_NAME.match(tail.lstrip(" \t,")) or business_reason(text, start, end):
                continue
            out.append(result(self, start, end, UNNUMBERED_SCORE, "street placing a named person",
                              context_fixed=False))
        return out
