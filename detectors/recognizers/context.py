"""Context enhancement on the words around a match, without spaCy lemmas.

Presidio's ``LemmaContextAwareEnhancer`` needs the tagger and lemmatizer on every text (about the cost of NER
on the small model), compares single lemmas so multi-word context such as ``national insurance`` never matches,
and deep-copies every result. This enhancer keeps Presidio's contract and its documented YAML keys
(``context_similarity_factor``, ``min_score_with_context_similarity``, ``context_prefix_count``,
``context_suffix_count``, ``context_matching_mode``) but reads the words straight from the text, folds them with
the light lemmatiser, and matches whole phrases.
"""

from __future__ import annotations

from typing import Any

from presidio_analyzer import ContextAwareEnhancer, EntityRecognizer, RecognizerResult

from detectors.presidio_adapter import NlpArtifacts
from detectors.recognizers.text import WORD, PhraseIndex, light_lemma

_WINDOW_CHARS_PER_WORD = 24


class WindowContextEnhancer(ContextAwareEnhancer):
    """Boosts a result when one of its recognizer's context phrases is among the nearby words."""

    def __init__(
        self,
        context_similarity_factor: float = 0.35,
        min_score_with_context_similarity: float = 0.4,
        context_prefix_count: int = 5,
        context_suffix_count: int = 2,
        context_matching_mode: str = "whole_word",
    ) -> None:
        super().__init__(
            context_similarity_factor=context_similarity_factor,
            min_score_with_context_similarity=min_score_with_context_similarity,
            context_prefix_count=context_prefix_count,
            context_suffix_count=context_suffix_count,
        )
        if context_matching_mode not in ("whole_word", "substring"):
            raise ValueError("context_matching_mode must be 'whole_word' or 'substring'")
        self.context_matching_mode = context_matching_mode
        self._indexes: dict[int, tuple[list[str], PhraseIndex]] = {}

    def _index(self, recognizer: EntityRecognizer) -> PhraseIndex:
        cached = self._indexes.get(id(recognizer))
        words = list(recognizer.context or [])
        if cached is None or cached[0] != words:
            cached = (words, PhraseIndex((w, w) for w in words))
            self._indexes[id(recognizer)] = cached
        return cached[1]

    def surrounding_lemmas(self, text: str, start: int, end: int) -> list[str]:
        """Up to ``context_prefix_count`` words before and ``context_suffix_count`` after, light-lemmatised.

        The words of the match itself are included too, so that ``NHS:9434765919`` still counts.
        """
        before_from = max(0, start - _WINDOW_CHARS_PER_WORD * (self.context_prefix_count + 1))
        before = [m.group() for m in WORD.finditer(text, before_from, start)][-self.context_prefix_count :]
        if self.context_prefix_count == 0:
            before = []
        inside = [m.group() for m in WORD.finditer(text, start, end)]
        after_to = min(len(text), end + _WINDOW_CHARS_PER_WORD * (self.context_suffix_count + 1))
        after = [m.group() for m in WORD.finditer(text, end, after_to)][: self.context_suffix_count]
        return [light_lemma(w) for w in (*before, *inside, *after)]

    def supporting_word(self, text: str, start: int, end: int, recognizer: EntityRecognizer,
                        extra: list[str] | None = None) -> str:
        index = self._index(recognizer)
        if not index and not extra:
            return ""
        lemmas = self.surrounding_lemmas(text, start, end)
        if extra:
            lemmas.extend(light_lemma(w) for w in extra)
        if self.context_matching_mode == "substring":
            joined = " ".join(lemmas)
            for word in recognizer.context or []:
                lem = " ".join(light_lemma(m.group()) for m in WORD.finditer(word))
                if lem and lem in joined:
                    return word
            return ""
        return index.contains_any(lemmas)

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts | None,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        by_id: dict[Any, EntityRecognizer] = {r.id: r for r in recognizers}
        for result in raw_results:
            meta = result.recognition_metadata or {}
            if meta.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY):
                continue
            recognizer = by_id.get(meta.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY))
            if recognizer is None or not recognizer.context:
                continue
            word = self.supporting_word(text, result.start, result.end, recognizer, context)
            if word:
                result.score = min(
                    ContextAwareEnhancer.MAX_SCORE,
                    max(result.score + self.context_similarity_factor, self.min_score_with_context_similarity),
                )
                meta[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
                result.recognition_metadata = meta
                if result.analysis_explanation is not None:
                    result.analysis_explanation.set_supportive_context_word(word)
                    result.analysis_explanation.set_improved_score(result.score)
        return raw_results
