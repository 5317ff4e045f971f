"""Names found by structure rather than NER: after a title, after a form label, next to a family role.

The small spaCy model misses or mislabels many names (as ORG, GPE or nothing), especially non-Anglo ones, and
NER is the costliest step. These patterns are cheap and run on every text: ``Mrs Adeyemi``, ``Name: Jane
Smith``, ``the mother, Oluwaseun Adeyemi``, ``Child: Amir Khan``, ``Jane Smith (maternal grandmother)``.
A family role next to a name is also case context, so ``FamilyRoleNameRecognizer`` findings count as an
identifiable third party on their own when sensitivity is assessed.
"""

from __future__ import annotations

from pathlib import Path

import regex
from presidio_analyzer import AnalysisExplanation, LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from detectors.recognizers.patterns import NAME_SEQ
from detectors.recognizers.text import read_phrases

TITLES = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Master|Prof|Professor|Sir|Dame|Lady|Lord)"

DEFAULT_ROLES = [
    "child", "children", "subject child", "the child", "son", "daughter", "baby", "infant", "young person",
    "mother", "father", "mum", "dad", "parent", "birth mother", "birth father", "step-father", "stepfather",
    "step-mother", "stepmother", "stepdad", "stepmum", "grandmother", "grandfather", "grandparent", "nan",
    "nana", "grandma", "grandad", "granddad", "maternal grandmother", "paternal grandmother",
    "maternal grandfather", "paternal grandfather", "aunt", "uncle", "cousin", "sibling", "brother", "sister",
    "half-brother", "half-sister", "stepbrother", "stepsister", "applicant", "respondent", "first respondent",
    "second respondent", "applicant mother", "applicant father", "respondent mother", "respondent father",
    "intervenor", "partner", "ex-partner", "former partner", "new partner", "boyfriend", "girlfriend",
    "husband", "wife", "ex-husband", "ex-wife", "foster carer", "kinship carer", "special guardian",
]


def _alternation(words: list[str]) -> str:
    parts = []
    for w in sorted({w.strip().lower() for w in words if w.strip()}, key=len, reverse=True):
        parts.append(regex.escape(w).replace(r"\ ", r"\s+").replace(r"\-", r"[\-\s]?"))
    return "|".join(parts) or r"(?!)"


class _NameRecognizer(LocalRecognizer):
    """Shared trimming: a name never starts or ends with a common word (``Thanks Jane``, ``Jane Smith Said``)."""

    score: float = 0.7
    explanation = "name"

    def __init__(
        self,
        supported_language: str = "en",
        supported_entity: str = "PERSON",
        common_words_file: str | None = None,
        score: float | None = None,
        name: str | None = None,
    ) -> None:
        if score is not None:
            self.score = score
        self.common: frozenset[str] = frozenset(
            w.lower() for w in read_phrases(Path(common_words_file))
        ) if common_words_file else frozenset()
        self._patterns = self.build_patterns()
        super().__init__(
            supported_entities=[supported_entity],
            supported_language=supported_language,
            name=name,
        )

    def build_patterns(self) -> list[regex.Pattern[str]]:  # pragma: no cover - overridden
        return []

    def load(self) -> None:
        """Patterns are compiled in the constructor."""

    def _trim(self, text: str, start: int, end: int) -> tuple[int, int]:
        words = list(regex.finditer(r"\S+", text[start:end]))
        while words and words[-1].group().strip(".,'’").lower() in self.common:
            words.pop()
        while words and words[0].group().strip(".,'’").lower() in self.common:
            words.pop(0)
        if not words:
            return start, start
        return start + words[0].start(), start + words[-1].end()

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        seen: set[tuple[int, int]] = set()
        for pattern in self._patterns:
            for m in pattern.finditer(text):
                start, end = self._trim(text, *m.span("name"))
                if end - start < 2 or (start, end) in seen:
                    continue
                if not any(c.islower() for c in text[start:end]) and " " not in text[start:end]:
                    continue  # a lone word in capitals is an acronym, not a name
                seen.add((start, end))
                results.append(
                    RecognizerResult(
                        entity_type=self.supported_entities[0],
                        start=start,
                        end=end,
                        score=self.score,
                        analysis_explanation=AnalysisExplanation(
                            recognizer=self.name,
                            original_score=self.score,
                            textual_explanation=self.explanation,
                        ),
                        recognition_metadata={
                            RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                            RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY: True,
                        },
                    )
                )
        return results


class TitledNameRecognizer(_NameRecognizer):
    """``PERSON`` after a title (``Mrs Adeyemi``) or a name label (``Name: Jane Smith``)."""

    explanation = "name after a title or a name label"

    def __init__(
        self,
        supported_language: str = "en",
        supported_entity: str = "PERSON",
        common_words_file: str | None = None,
        score: float | None = None,
        titles: str = TITLES,
        name: str | None = None,
    ) -> None:
        self.titles = titles
        super().__init__(supported_language, supported_entity, common_words_file, score, name)

    def build_patterns(self) -> list[regex.Pattern[str]]:
        return [
            regex.compile(rf"(?<![\w])(?:{self.titles})\.?[ \t]+(?P<name>{NAME_SEQ})"),
            regex.compile(
                r"(?i:(?<![\w])(?:full[ \t]+|maiden[ \t]+|known[ \t]+as|also[ \t]+known[ \t]+as|aka|nee|née)?"
                r"(?:name|surname|forenames?|first[ \t]+name|a\.k\.a\.?|known[ \t]+as))"
                rf"[ \t]*[:\-–][ \t]*(?P<name>{NAME_SEQ})"
            ),
        ]


class FamilyRoleNameRecognizer(_NameRecognizer):
    """``PERSON`` next to a family or party role: case context (``the mother, Jane Smith``, ``Child: Amir``)."""

    score = 0.8
    explanation = "name next to a family or party role"

    def __init__(
        self,
        supported_language: str = "en",
        supported_entity: str = "PERSON",
        common_words_file: str | None = None,
        score: float | None = None,
        roles: list[str] | None = None,
        name: str | None = None,
    ) -> None:
        self.roles = roles or list(DEFAULT_ROLES)
        super().__init__(supported_language, supported_entity, common_words_file, score, name)

    def build_patterns(self) -> list[regex.Pattern[str]]:
        roles = _alternation(self.roles)
        role = (
            rf"(?i:(?:the[ \t]+|a[ \t]+|his[ \t]+|her[ \t]+|their[ \t]+|my[ \t]+|our[ \t]+)?"
            rf"(?:eldest[ \t]+|youngest[ \t]+|older[ \t]+|younger[ \t]+|middle[ \t]+|new[ \t]+)?"
            rf"(?:{roles})(?:'s|’s)?(?:[ \t]+name|[ \t]+\(\w+\))?)"
        )
        glue = r"(?:[ \t]*[:\-–,][ \t]*|[ \t]+(?i:is|was|called|named|being)[ \t]+|[ \t]+)"
        after_role = rf"(?<![\w]){role}{glue}(?P<name>{NAME_SEQ})"
        before_role = (
            rf"(?P<name>{NAME_SEQ})(?=[ \t]*(?:\(|,[ \t]*|[ \t]-[ \t])"
            rf"(?i:(?:aged[ \t]+\d+[,;]?[ \t]*)?(?:the[ \t]+|his[ \t]+|her[ \t]+|their[ \t]+)?"
            rf"(?:child's[ \t]+|children's[ \t]+|child’s[ \t]+|children’s[ \t]+)?(?:{roles}))"
            r"(?=[ \t]*(?:[),;.:]|$|[ \t]+(?i:of|to|in|for)(?![\w]))))"
        )
        return [regex.compile(after_role), regex.compile(before_role)]
