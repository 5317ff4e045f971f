"""UK bank accounts: a sort code together with an account number.

Either number alone is weak (six digits in pairs look like a date, eight digits like anything), but the pair
within a short distance, with banking words around it, is a bank account. One finding spans both numbers.
"""

from __future__ import annotations

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from detectors.recognizers.text import result

_SORT_CODE = regex.compile(r"(?<![\d\-./])(\d{2})[ \t]?([\-–. ])[ \t]?(\d{2})[ \t]?\2[ \t]?(\d{2})(?![\d]|[\-./]\d)")
_SORT_CODE_PLAIN = regex.compile(r"(?<![\d\-./])\d{6}(?![\d]|[\-./]\d)")
_ACCOUNT = regex.compile(
    r"(?<![\d\-./])(?:\d{8}|\d{4}[ \t\-]\d{4}|\d{2}[ \t\-]\d{2}[ \t\-]\d{2}[ \t\-]\d{2})(?![\d]|[\-./]\d)"
)

def _date_like(sort_code: str) -> bool:
    digits = [int(x) for x in regex.findall(r"\d{2}", sort_code)]
    return len(digits) == 3 and 1 <= digits[0] <= 31 and 1 <= digits[1] <= 12


DEFAULT_CONTEXT = [
    "sort code",
    "sortcode",
    "s/c",
    "account",
    "account number",
    "acc",
    "acct",
    "a/c",
    "bank",
    "banking",
    "bacs",
    "payee",
]


class UkBankAccountRecognizer(LocalRecognizer):
    """``UK_BANK_ACCOUNT``: sort code (12-34-56, or six digits after "sort code") with an 8-digit account."""

    name: str

    def __init__(
        self,
        supported_language: str = "en",
        supported_entity: str = "UK_BANK_ACCOUNT",
        context: list[str] | None = None,
        max_gap: int = 60,
        score: float = 0.85,
        score_without_context: float = 0.45,
        name: str | None = None,
    ) -> None:
        self.max_gap = max_gap
        self.score = score
        self.score_without_context = score_without_context
        words = context or list(DEFAULT_CONTEXT)
        alts = "|".join(regex.escape(w).replace(r"\ ", r"\s*") for w in sorted(words, key=len, reverse=True))
        self._context_re = regex.compile(rf"(?<![\w])(?:{alts})(?![a-z])", regex.IGNORECASE)
        self._sort_label = regex.compile(r"sort[\s\-]*code|s/c", regex.IGNORECASE)
        super().__init__(
            supported_entities=[supported_entity],
            supported_language=supported_language,
            context=words,
            name=name or type(self).__name__,
        )

    def load(self) -> None:
        """Nothing to load."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if not any(c.isdigit() for c in text):
            return []
        sorts = [(m.start(), m.end()) for m in _SORT_CODE.finditer(text)]
        for m in _SORT_CODE_PLAIN.finditer(text):
            if self._sort_label.search(text[max(0, m.start() - 25) : m.start()]):
                sorts.append((m.start(), m.end()))
        if not sorts:
            return []
        accounts = [(m.start(), m.end()) for m in _ACCOUNT.finditer(text)]
        results: list[RecognizerResult] = []
        used: set[tuple[int, int]] = set()
        for s_start, s_end in sorted(sorts):
            best: tuple[int, int] | None = None
            for a_start, a_end in accounts:
                if (a_start, a_end) in used or (a_start < s_end and a_end > s_start):
                    continue
                gap = a_start - s_end if a_start >= s_end else s_start - a_end
                if 0 <= gap <= self.max_gap and (best is None or gap < abs(best[0] - s_end)):
                    best = (a_start, a_end)
            if best is None:
                continue
            used.add(best)
            start, end = min(s_start, best[0]), max(s_end, best[1])
            window = text[max(0, start - 40) : end]
            labelled = bool(self._sort_label.search(window))
            context = labelled or bool(self._context_re.search(window))
            if context and (labelled or not _date_like(text[s_start:s_end])):
                score = self.score
            else:  # no banking words, or "12-03-15" that reads as a date with no "sort code" label
                score = self.score_without_context
            results.append(
                result(self, start, end, score, "sort code with account number")
            )
        return results
