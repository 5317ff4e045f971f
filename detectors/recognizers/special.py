"""Special-category topics (UK GDPR Art. 9 and criminal-offence data) from phrase lists.

Each ``special_category_<topic>.txt`` file holds the phrases of one topic, matched on light lemmas so that a
list entry ``self-harm`` also finds ``self harming`` and ``self-harmed``. A phrase used as the modifier of an
organisational noun (``domestic abuse training``, ``mental health team``) names a service or a course, not
something about a person, and is skipped; the nouns come from their own list.
"""

from __future__ import annotations

from pathlib import Path

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult

from detectors.presidio_adapter import NlpArtifacts
from detectors.recognizers.text import PhraseIndex, Token, light_lemma, result, tokens
from gateway.config_errors import read_list_file

CATEGORY_KEY = "special_category"
_CLAUSE_BREAK = regex.compile(r"[.,;:!?()\[\]\n]")


def topic_of(path: Path) -> str:
    stem = path.stem
    for prefix in ("special_category_", "special_category"):
        if stem.startswith(prefix):
            stem = stem[len(prefix) :]
            break
    return stem.strip("_") or "general"


class SpecialCategoryRecognizer(LocalRecognizer):
    """``SPECIAL_CATEGORY``: topic phrases (domestic abuse, sexual abuse, mental health, self-harm ...)."""

    name: str

    def __init__(
        self,
        phrase_files: list[str] | None = None,
        organisational_nouns_file: str | None = None,
        supported_language: str = "en",
        supported_entity: str = "SPECIAL_CATEGORY",
        score: float = 0.8,
        name: str | None = None,
    ) -> None:
        self.score = score
        pairs: list[tuple[str, str]] = []
        for f in phrase_files or ():
            path = Path(f)
            pairs.extend((phrase, topic_of(path)) for phrase in read_list_file(path))
        self.index = PhraseIndex(pairs)
        self._prefixes = self.index.prefixes()
        self.organisational_nouns: frozenset[str] = frozenset()
        if organisational_nouns_file:
            self.organisational_nouns = frozenset(
                light_lemma(w) for w in read_list_file(Path(organisational_nouns_file))
            )
        self._noun_prefixes = frozenset(w[:3] for w in self.organisational_nouns) | {"and"}
        super().__init__(
            supported_entities=[supported_entity],
            supported_language=supported_language,
            name=name or type(self).__name__,
        )

    def load(self) -> None:
        """Lists are read in the constructor, where their paths are known."""

    def _names_a_service(self, text: str, toks: list[Token], stop: int) -> bool:
        """The phrase modifies an organisational noun: ``... training``, ``... and wellbeing champion``."""
        nxt = toks[stop : stop + 3]
        if not nxt or _CLAUSE_BREAK.search(text, toks[stop - 1].end, nxt[0].start):
            return False
        if nxt[0].lemma in self.organisational_nouns:
            return True
        if nxt[0].lemma in ("and", "&") and len(nxt) == 3 and not _CLAUSE_BREAK.search(text, nxt[0].end, nxt[2].start):
            return nxt[1].lemma in self.organisational_nouns or nxt[2].lemma in self.organisational_nouns
        return False

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if not self.index:
            return []
        toks = tokens(text, prefixes=self._prefixes | self._noun_prefixes)
        results: list[RecognizerResult] = []
        for first, stop, topic in self.index.find(toks):
            if self._names_a_service(text, toks, stop):
                continue
            start, end = toks[first].start, toks[stop - 1].end
            results.append(
                result(self, start, end, self.score, f"special-category topic: {topic}", metadata={CATEGORY_KEY: topic})
            )
        return results
