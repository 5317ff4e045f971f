"""Dates of birth: a real calendar date with birth context next to it.

A date on its own (a hearing, a meeting, an invoice) is not personal data, so unlike Presidio's DATE_TIME this
recognizer reports nothing without context. The context is required, not a score boost, and it is read from
the characters just before the date (``DOB:``, ``d.o.b``, ``born on``, ``date of birth``, ``gave birth to a son
on``, ``the birth of a baby girl on``) or just after it (``(DOB)``), because the lemmatiser turns ``born`` into
``bear`` and a five-word window reaches across unrelated clauses.

People write dates of birth in many ways: ``12.3.16``, ``31st of October 2016``, ``October 31st, 2016``, a date
broken over two lines, and month and year alone (``born in February 2019``, ``DOB 03/2015``), which is enough
to narrow a person down. The words between the context and the date must stay in one clause about the birth:
``born in Leeds and the hearing was on 3 May 2021`` has a second event (``and``, ``hearing``) in between, and
``born out of``, ``birth mother`` or ``birth certificate`` are not birth context at all. A month and year after
``born`` also needs the sentence to be about a person (``the project was born in March 2020`` is not).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult

from detectors.presidio_adapter import NlpArtifacts
from detectors.recognizers.anchors import PersonCues
from detectors.recognizers.text import result
from gateway.config_errors import read_list_file

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}
_MONTH_WORD = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_ORD = r"(?:st|nd|rd|th)?"
_SEP = r"[ \t]*[/.\-][ \t]*"
_YEAR = r"(?:19|20)?\d{2}"
_WS = r"(?:[ \t]*\n[ \t]*|[ \t]+)"  # a date may be wrapped onto the next line
_DATE = regex.compile(
    r"(?<![\w/.\-])(?:"
    rf"(?P<d1>{_DAY}){_SEP}(?P<m1>0?[1-9]|1[0-2]){_SEP}(?P<y1>{_YEAR})"
    rf"|(?P<d2>{_DAY}){_ORD}{_WS}(?:of{_WS})?(?P<m2>{_MONTH_WORD}),?{_WS}(?P<y2>(?:19|20)\d{{2}})"
    rf"|(?P<m3>{_MONTH_WORD}){_WS}(?P<d3>{_DAY}){_ORD},?{_WS}(?P<y3>(?:19|20)\d{{2}})"
    rf"|(?P<y4>(?:19|20)\d{{2}})-(?P<m4>0[1-9]|1[0-2])-(?P<d4>0[1-9]|[12]\d|3[01])"
    rf"|(?P<m5>{_MONTH_WORD}),?{_WS}(?P<y5>(?:19|20)\d{{2}})"
    rf"|(?P<m6>0?[1-9]|1[0-2])[ \t]*/[ \t]*(?P<y6>(?:19|20)\d{{2}})"
    r")(?![\w/]|[.\-]\d)",
    regex.IGNORECASE,
)
# Context matches that are not about a birth: idioms and the other senses of "birth".
_NOT_BIRTH = regex.compile(
    r"[ \t]+(?:out[ \t]+of|mother|father|parents?|famil(?:y|ies)|relatives?|siblings?|certificates?|registration|"
    r"rates?|plan|partner|control|weight|name|country|place|trauma|injur(?:y|ies))\b",
    regex.IGNORECASE,
)
# Words between a context and a date that start another clause or event: a conjunction or a word for another
# event. After "born" or "birth" (a narrative, not a label such as "date of birth is"), an auxiliary starts a
# second predicate too: "born in the USA was released on ...".
_BREAK = regex.compile(
    r"[.;!?]|\b(?:and|but|whereas|while|whilst|although|though|however|then|until|since|when|which|where|"
    r"released|published|launched|founded|opened|"
    r"hearing|meeting|listed|appointment|dated|letter|order|report|visit|interview|adjourned|filed|issued|"
    r"sealed|served|died|death|married|separated|moved|arrived|lived|seen|attended|admitted|discharged|started|"
    r"left|returned|registered)\b",
    regex.IGNORECASE,
)
_NARRATIVE_BREAK = regex.compile(r"\b(?:was|were|is|are|has|have|had|will)\b", regex.IGNORECASE)
_LEAD = regex.compile(r"[\s.:)(,\-]*")
_BORN = regex.compile(r"born|birth", regex.IGNORECASE)

DEFAULT_CONTEXT = [
    "dob",
    "d.o.b",
    "d o b",
    "date of birth",
    "birth date",
    "birthdate",
    "born",
    "born on",
    "b.",
    "birthday",
    "birth",
    "née",
]


def _context_regex(words: list[str]) -> regex.Pattern[str]:
    alts = sorted({w.strip().lower() for w in words if w.strip()}, key=len, reverse=True)
    parts = []
    for w in alts:
        esc = regex.escape(w).replace(r"\ ", r"[\s.]*")
        if len(w.replace(".", "")) > 1:  # "d.o.b" may drop its dots; "b." may not
            esc = esc.replace(r"\.", r"\.?")
        parts.append(esc + (r"(?![\w])" if w[-1].isalnum() else ""))
    body = "|".join(parts) or r"(?!)"
    return regex.compile(rf"(?<![\w])(?:{body})", regex.IGNORECASE)


class DateOfBirthRecognizer(LocalRecognizer):
    """``DATE_OF_BIRTH``: dd/mm/yyyy, 1 March 2015, March 1st 2015, 2015-03-01 with birth context."""

    name: str

    def __init__(
        self,
        supported_language: str = "en",
        supported_entity: str = "DATE_OF_BIRTH",
        context: list[str] | None = None,
        score: float = 0.9,
        window_before: int = 60,
        window_after: int = 12,
        earliest_year: int = 1900,
        common_words_file: str | None = None,
        name: str | None = None,
    ) -> None:
        self.score = score
        self.window_before = window_before
        self.window_after = window_after
        self.earliest_year = earliest_year
        self._context_re = _context_regex(context or DEFAULT_CONTEXT)
        self.cues = PersonCues(read_list_file(Path(common_words_file)) if common_words_file else ())
        super().__init__(
            supported_entities=[supported_entity],
            supported_language=supported_language,
            context=context or list(DEFAULT_CONTEXT),
            name=name or type(self).__name__,
        )

    def load(self) -> None:
        """Nothing to load."""

    def _valid(self, m: regex.Match[str]) -> bool:
        g = m.groupdict()
        for i in "123456":
            if g.get(f"m{i}"):
                day = int(g.get(f"d{i}") or 1)
                month_raw = g[f"m{i}"]
                year_raw = g[f"y{i}"]
                break
        else:  # pragma: no cover - the pattern always sets one group
            return False
        month = int(month_raw) if month_raw.isdigit() else _MONTHS.get(month_raw.lower().rstrip(".")[:4], 0)
        if month == 0:
            month = _MONTHS.get(month_raw.lower().rstrip(".")[:3], 0)
        year = int(year_raw)
        today = dt.date.today()
        if len(year_raw) == 2:
            year += 2000 if year <= today.year % 100 else 1900
        try:
            date = dt.date(year, month, day)
        except ValueError:
            return False
        return self.earliest_year <= date.year and date <= today

    def _contexts(self, text: str, start: int, end: int) -> list[regex.Match[str]]:
        """Birth-context matches in ``text[start:end]`` that are about a birth (not ``born out of``)."""
        return [c for c in self._context_re.finditer(text, start, end) if not _NOT_BIRTH.match(text, c.end())]

    def _has_context(self, text: str, m: regex.Match[str]) -> bool:
        start, end = m.span()
        lo = max(0, start - self.window_before)
        # only the current line and the one above it (a "Date of birth" label row)
        nl = text.rfind("\n", lo, start)
        if nl >= 0:
            above = text.rfind("\n", lo, nl)
            lo = above + 1 if above >= 0 else lo
        before = self._contexts(text, lo, start)
        if before:
            c = before[-1]  # the nearest: the words between it and the date must belong to the birth
            lead = _LEAD.match(text, c.end())
            gap_start = lead.end() if lead else c.end()
            if gap_start < start and _BREAK.search(text, gap_start, start):
                return False
            narrative = bool(_BORN.match(c.group()))
            if narrative and gap_start < start and _NARRATIVE_BREAK.search(text, gap_start, start):
                return False
            if m.group("m5") or m.group("m6"):
                return not narrative or self._about_person(text, c.start(), end)
            return True
        line_end = text.find("\n", end, end + self.window_after)
        after_end = line_end if line_end >= 0 else min(len(text), end + self.window_after)
        return bool(self._contexts(text, end, after_end))

    def _about_person(self, text: str, start: int, end: int) -> bool:
        s, e = self.cues.sentence(text, start, end)
        return self.cues.cue_in(text, s, start) or self.cues.cue_in(text, end, e)

    def _candidates(self, text: str) -> list[regex.Match[str]]:
        """Dates near a birth-context word: the context is rare, so find it first and search around it."""
        windows: list[tuple[int, int]] = []
        for c in self._context_re.finditer(text):
            s = max(0, c.start() - self.window_after - 40)
            e = min(len(text), c.end() + self.window_before + 40)
            if windows and s <= windows[-1][1]:
                windows[-1] = (windows[-1][0], max(windows[-1][1], e))
            else:
                windows.append((s, e))
        return [m for s, e in windows for m in _DATE.finditer(text, s, e)]

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        seen: set[int] = set()
        for m in self._candidates(text):
            if m.start() in seen or not self._valid(m) or not self._has_context(text, m):
                continue
            seen.add(m.start())
            results.append(
                result(self, m.start(), m.end(), self.score, "date with birth context")
            )
        return results
