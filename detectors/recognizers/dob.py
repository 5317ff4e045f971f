"""Dates of birth: a real calendar date with birth context next to it.

A date on its own (a hearing, a meeting, an invoice) is not personal data, so unlike Presidio's DATE_TIME this
recognizer reports nothing without context. The context is required, not a score boost, and it is read from
the characters just before the date (``DOB:``, ``d.o.b``, ``born on``, ``date of birth``) or just after it
(``(DOB)``), because the lemmatiser turns ``born`` into ``bear`` and a five-word window reaches across
unrelated clauses.
"""

from __future__ import annotations

import datetime as dt

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult

from detectors.presidio_adapter import NlpArtifacts
from detectors.recognizers.text import result

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
_DATE = regex.compile(
    r"(?<![\w/.\-])(?:"
    rf"(?P<d1>{_DAY}){_SEP}(?P<m1>0?[1-9]|1[0-2]){_SEP}(?P<y1>{_YEAR})"
    rf"|(?P<d2>{_DAY}){_ORD}[ \t]+(?:of[ \t]+)?(?P<m2>{_MONTH_WORD}),?[ \t]+(?P<y2>(?:19|20)\d{{2}})"
    rf"|(?P<m3>{_MONTH_WORD})[ \t]+(?P<d3>{_DAY}){_ORD},?[ \t]+(?P<y3>(?:19|20)\d{{2}})"
    rf"|(?P<y4>(?:19|20)\d{{2}})-(?P<m4>0[1-9]|1[0-2])-(?P<d4>0[1-9]|[12]\d|3[01])"
    r")(?![\w/]|[.\-]\d)",
    regex.IGNORECASE,
)

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
        window_before: int = 40,
        window_after: int = 12,
        earliest_year: int = 1900,
        name: str | None = None,
    ) -> None:
        self.score = score
        self.window_before = window_before
        self.window_after = window_after
        self.earliest_year = earliest_year
        self._context_re = _context_regex(context or DEFAULT_CONTEXT)
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
        for i in "1234":
            if g.get(f"d{i}"):
                day = int(g[f"d{i}"])
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

    def _has_context(self, text: str, start: int, end: int) -> bool:
        before = text[max(0, start - self.window_before) : start]
        # only the current line and the one above it (a "Date of birth" label row)
        cut = before.rfind("\n", 0, before.rfind("\n")) if before.count("\n") >= 2 else -1
        before = before[cut + 1 :]
        if self._context_re.search(before):
            return True
        after = text[end : end + self.window_after]
        return bool(self._context_re.search(after.split("\n", 1)[0]))

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
            if m.start() in seen or not self._valid(m) or not self._has_context(text, m.start(), m.end()):
                continue
            seen.add(m.start())
            results.append(
                result(self, m.start(), m.end(), self.score, "date with birth context")
            )
        return results
