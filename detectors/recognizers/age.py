"""``AGE``: the age of an identified person, as reports, judgments and case notes write it.

``Amy, aged 7``, ``a 15-year-old boy``, ``the mother, now 34,``, ``she is 9 years of age``, ``Jo Bloggs, 24, of
Elm Road``, ``Tom Smith (17)``, ``aged four months``, ``a woman aged 59 and a man aged 56``. An age is not a date
of birth, but next to a name it is personal data (sensitivity counts it as a link to a name, like an address).

An age is only taken when it is about a person: a person cue in the same sentence before it (a name, a pronoun,
a family or party role: ``detectors.recognizers.anchors``), a person noun after ``N-year-old``, or the
``Name, N,`` layout of news reports. Rules and populations are not ages of anyone: ``children aged 5 to 11``,
``people aged 18 and over``, ``under the age of 18``, ``a 10-year-old server``, ``retire at 60``.
"""

from __future__ import annotations

import re
from pathlib import Path

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult

from detectors.presidio_adapter import NlpArtifacts
from detectors.recognizers.anchors import PERSON_NOUNS, PersonCues
from detectors.recognizers.patterns import NAME_SEQ
from detectors.recognizers.text import result
from gateway.config_errors import read_list_file

_UNITS = "one|two|three|four|five|six|seven|eight|nine"
_TEENS = "ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen"
_TENS = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
# Atomic, so that a range ("15-17") cannot be read as a shorter number ("1") followed by something else.
_NUMBER = (
    rf"(?>(?:\d{{1,3}}(?:[ ]?½|\.5)?|(?:{_TENS})(?:[ \-](?:{_UNITS}))?|{_TEENS}|{_UNITS})(?![\w])"
    r"(?:[ \t]+and[ \t]+a[ \t]+half)?)"
)
_UNIT = r"(?:years?|yrs?|months?|weeks?)"
_S = r"[ \t]+"

# Each rule: the age span is the group "age".
_AGED = regex.compile(
    rf"\baged{_S}(?:about{_S}|around{_S}|approximately{_S}|almost{_S}|nearly{_S}|just{_S}|only{_S})?"
    rf"(?P<age>{_NUMBER}(?:{_S}{_UNIT})?(?:{_S}old)?(?:[ \t]*(?:and|&){_S}{_NUMBER}(?!{_S}(?:over|under|above)))?)"
    rf"(?![ \t]*(?:-|–|to\b|or\b|and{_S}(?:over|under|above)|\+))",
    regex.IGNORECASE,
)
_YEAR_OLD = regex.compile(
    rf"(?P<age>\b{_NUMBER}(?:-|[ \t]+)(?:year|yr|month|week)(?:-|[ \t]+)old)(?![\-\w])",
    regex.IGNORECASE,
)
_YEARS_OLD = regex.compile(
    rf"(?P<age>\b{_NUMBER}{_S}(?:years?|yrs?|months?|weeks?|days?){_S}(?:old|of{_S}age))\b(?!s)",
    regex.IGNORECASE,
)
_NOW = regex.compile(
    rf"\bnow{_S}(?:aged{_S})?(?P<age>{_NUMBER})(?=[ \t]*(?:[,;)]|\.(?!\d)|and\b|$))",
    regex.IGNORECASE | regex.MULTILINE,
)
_AT_AGE = regex.compile(
    rf"(?:\bat{_S}the{_S}age{_S}of|\bage[ \t]*:)[ \t]*(?P<age>{_NUMBER})\b(?![ \t]*(?:-|–|to\b|\+|days?|hours?))",
    regex.IGNORECASE,
)
# "Jo Bloggs, 24, of Elm Road" / "Tom Smith (17)": capitals matter.
_NAME_AGE = regex.compile(
    rf"(?P<name>{NAME_SEQ})(?:,[ \t]+(?P<age>\d{{1,3}})(?:,[ \t]|[ \t]+(?=(?:of|from|who|and|was|is|were|has|had"
    rf"|appeared|admitted|denied|pleaded|died|lives|lived)\b))|[ \t]+\((?P<age2>\d{{1,3}})\)(?![ \t]*\())"
)
# Nouns after "N-year-old" that make it a person; and words that show it is used as a noun itself.
_AFTER_YEAR_OLD = regex.compile(
    r"[ \t\-]*(?:[A-Z][a-z]+[ \t]+)?(?P<next>[\w']+|[,.;:)])",
)
_NOMINAL_FOLLOWERS = frozenset({
    "was", "is", "had", "has", "who", "whose", "from", "of", "in", "at", "with", "and", "appeared", "died",
    "suffered", "said", "told", "admitted", "denied", "pleaded", "lives", "lived", ",", ".", ";", ":", ")",
})
_PERSON_AFTER = PERSON_NOUNS | frozenset({"student", "schoolboy", "schoolgirl", "female", "male", "british",
                                          "english", "local"})
# Populations and thresholds just before an age ("children aged 5", "under 18 years of age"), unless a
# determiner makes the plural particular people ("the children aged 5 and 7").
_GENERIC_BEFORE = regex.compile(
    r"(?<!\b(?:the|both|their|his|her|my|our|two|three|four)[ \t])"
    r"\b(?:children|people|pupils|students|adults|those|persons|individuals|men|women|boys|girls|residents|"
    r"patients|users|employees|staff|anyone|everyone|participants|applicants|members|customers|under|over|"
    r"above|below|least|than|between|from|until|before|after|to|and|or|retire|retirement|minimum|maximum|"
    r"limit|threshold)\W*$",
    regex.IGNORECASE,
)
_CUE_WINDOW = 160
# Cheap checks first (stdlib re, one pass): the words each rule needs, and the "Name, 24," / "Name (24)" layout.
# ``\b(?:aged|old|age|now)\b`` under re.IGNORECASE, written so that sre can skip to the next a, o or n: the
# first letter is a class (no flag: none of these letters has a non-ASCII case partner under re's folding), the
# word boundary before it a lookbehind (tests/unit/test_pattern_rewrites.py checks the two agree).
_TRIGGERS = re.compile(
    r"[aAoOnN](?<![\w].)(?:(?<=[aA])[gG][eE][dD]|(?<=[oO])[lL][dD]|(?<=[aA])[gG][eE]|(?<=[nN])[oO][wW])\b"
)
# ``,[ \t]+\d{1,3}(?:,|[ \t]+[a-z])|[ \t]\(\d{1,3}\)`` with its first character consumed by one class (sre's fast
# first-character scan) and told apart by a lookbehind (tests/unit/test_pattern_rewrites.py checks the two agree).
_NAME_AGE_SPOT = re.compile(r"[,\t ](?:(?<=,)[ \t]+\d{1,3}(?:,|[ \t]+[a-z])|(?<=[ \t])\(\d{1,3}\))")
_NAME_BEFORE = 80


class AgeRecognizer(LocalRecognizer):
    """``AGE`` of a named or identified person (see the module docstring)."""

    name: str

    def __init__(
        self,
        supported_language: str = "en",
        supported_entity: str = "AGE",
        score: float = 0.75,
        common_words_file: str | None = None,
        organisation_words_file: str | None = None,
        places_file: str | None = None,
        name: str | None = None,
    ) -> None:
        self.score = score
        words: set[str] = set()
        for f in (common_words_file, organisation_words_file, places_file):
            if f:
                words.update(read_list_file(Path(f)))
        self.not_names = frozenset(words)
        self.cues = PersonCues(self.not_names)
        super().__init__(
            supported_entities=[supported_entity],
            supported_language=supported_language,
            name=name or type(self).__name__,
        )

    def load(self) -> None:
        """Lists are read in the constructor, where their paths are known."""

    def _cue_before(self, text: str, start: int, end: int) -> bool:
        s, _e = self.cues.sentence(text, start, end)
        return self.cues.cue_in(text, max(s, start - _CUE_WINDOW), start, initials=True)

    def _cue_in_sentence(self, text: str, start: int, end: int) -> bool:
        """``aged N`` is about whoever the sentence is about: ``In 2016, aged 15, he attended ...``."""
        s, e = self.cues.sentence(text, start, end)
        return self.cues.cue_in(text, s, e, skip=(start, end), initials=True)

    def _generic_before(self, text: str, start: int) -> bool:
        return bool(_GENERIC_BEFORE.search(text, max(0, start - 30), start))

    def _year_old_is_person(self, text: str, m: regex.Match[str]) -> bool:
        nxt = _AFTER_YEAR_OLD.match(text, m.end())
        if nxt is None:
            return True  # at the end of the text: "... was a 15-year-old"
        word = nxt.group("next").lower()
        return word in _PERSON_AFTER or word in _NOMINAL_FOLLOWERS

    def _name_ages(self, text: str) -> list[tuple[int, int]]:
        """``Jo Bloggs, 24, of ...`` and ``Tom Smith (17)``: the name pattern runs only just before the number."""
        out: list[tuple[int, int]] = []
        for spot in _NAME_AGE_SPOT.finditer(text):
            for m in _NAME_AGE.finditer(text, max(0, spot.start() - _NAME_BEFORE), min(len(text), spot.end() + 1)):
                group = "age" if m.group("age") else "age2"
                if m.end(group) > spot.start() and int(m.group(group)) <= 120 and self._name_ok(m.group("name")):
                    out.append(m.span(group))
        return out

    def _name_ok(self, name: str) -> bool:
        """The words before ``, 24,`` end in a name: leading common words ("Yesterday Jo Bloggs") are dropped,
        what is left must hold none."""
        words = [w.strip(".'’").lower() for w in name.split()]
        while words and words[0] in self.not_names:
            words.pop(0)
        return bool(words) and not any(w in self.not_names for w in words)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        spans: list[tuple[int, int]] = []
        words = {m.group().lower() for m in _TRIGGERS.finditer(text)}
        if "aged" in words:
            for m in _AGED.finditer(text):
                if not self._generic_before(text, m.start()) and self._cue_in_sentence(text, m.start(), m.end()):
                    spans.append(m.span("age"))
        if "old" in words:
            for m in _YEAR_OLD.finditer(text):
                if self._year_old_is_person(text, m):
                    spans.append(m.span("age"))
        rules = [rx for rx, word in ((_YEARS_OLD, "old"), (_YEARS_OLD, "age"), (_NOW, "now"), (_AT_AGE, "age"))
                 if word in words]
        for rx in dict.fromkeys(rules):
            for m in rx.finditer(text):
                if not self._generic_before(text, m.start()) and self._cue_before(text, m.start(), m.end()):
                    spans.append(m.span("age"))
        spans.extend(self._name_ages(text))
        results: list[RecognizerResult] = []
        for s, e in sorted(set(spans), key=lambda se: (se[0], -se[1])):
            if results and s < results[-1].end:
                continue
            results.append(result(self, s, e, self.score, "age of a person"))
        return results
