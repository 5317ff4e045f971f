"""The one place that uses Presidio below its top-level API.

``presidio_analyzer``'s top level (``AnalyzerEngine``, ``RecognizerRegistry``, ``EntityRecognizer``,
``LocalRecognizer``, ``PatternRecognizer``, ``Pattern``, ``RecognizerResult``, ``ContextAwareEnhancer`` ...) is its
public API and may be imported anywhere. Everything else we rely on lives in sub-modules whose layout changes
between minor releases, so it is reached only through this module:

* ``NlpArtifacts``, the type of ``analyze``'s third argument, and building it by hand with no tokens
  (``empty_artifacts``): pattern recognizers run without spaCy on every message;
* ``SpacyNlpEngine`` and its ``NerModelConfiguration`` (``spacy_engine``): the engine is handed spaCy models we
  loaded ourselves (only the configured pipes, never downloaded);
* the YAML recognizer loader (``recognizer_class``, ``load_recognizers``): ``type: predefined`` entries are
  found among ``EntityRecognizer`` subclasses by class name, ``type: custom`` ones become pattern or deny-list
  recognizers;
* the predefined recognizers we subclass or look for (``NhsRecognizer``, ``SpacyRecognizer``).

``tests/integration/test_presidio_adapter.py`` pins this behaviour, and ``pyproject.toml`` bounds
``presidio-analyzer`` below its next minor release: an upgrade is a change to this file and that test.

Importing this module also keeps Presidio's logger at WARNING (it must happen before Presidio is imported):
Presidio logs every recognizer it loads at INFO, which is noise, and a gateway must never be one logging
change away from printing what it matched.
"""

from __future__ import annotations

import logging

logging.getLogger("presidio-analyzer").setLevel(logging.WARNING)

from collections.abc import Iterable, Mapping, Sequence  # noqa: E402 - after the logger is quietened
from dataclasses import dataclass  # noqa: E402
from typing import Any, cast  # noqa: E402

from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerResult  # noqa: E402
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine  # noqa: E402
from presidio_analyzer.predefined_recognizers import NhsRecognizer, SpacyRecognizer  # noqa: E402
from presidio_analyzer.recognizer_registry.recognizers_loader_utils import (  # noqa: E402
    PredefinedRecognizerNotFoundError,
    RecognizerListLoader,
)

__all__ = [
    "GroupedAnalyzerEngine",
    "NhsRecognizer",
    "NlpArtifacts",
    "empty_artifacts",
    "load_recognizers",
    "ner_entities",
    "recognizer_class",
    "spacy_engine",
]


def empty_artifacts(language: str) -> NlpArtifacts:
    """NLP artifacts with nothing in them (no tokens, no entities, no engine): what ``AnalyzerEngine.analyze``
    passes to recognizers when the pattern pass runs without spaCy. Our recognizers and Presidio's pattern
    recognizers never read tokens; Presidio's context enhancer would, so ours (``WindowContextEnhancer``) reads
    the text instead."""
    return NlpArtifacts(
        entities=[], tokens=cast(Any, None), tokens_indices=[], lemmas=[], nlp_engine=None, language=language
    )


def spacy_engine(
    models: Sequence[Mapping[str, Any]], ner_configuration: Mapping[str, Any], loaded: Mapping[str, Any]
) -> SpacyNlpEngine:
    """A ``SpacyNlpEngine`` over spaCy ``Language`` objects already loaded (``{lang_code: nlp}``): Presidio's own
    ``load`` would download a missing model and load every pipe."""
    engine = SpacyNlpEngine(
        models=[dict(m) for m in models],
        ner_model_configuration=NerModelConfiguration(**ner_configuration),
    )
    engine.nlp = dict(loaded)  # type: ignore[assignment]  # Presidio annotates None, assigns a dict in load()
    return engine


def recognizer_class(class_name: str) -> type[EntityRecognizer] | None:
    """The ``EntityRecognizer`` subclass a ``type: predefined`` entry names (ours register by being imported),
    or None when there is none."""
    try:
        return RecognizerListLoader.get_existing_recognizer_cls(class_name)
    except PredefinedRecognizerNotFoundError:
        return None


def load_recognizers(
    entries: Sequence[Mapping[str, Any]], languages: Sequence[str], global_regex_flags: int
) -> list[EntityRecognizer]:
    """Instantiate recognizers from registry entries in Presidio's YAML format (file paths already resolved).

    Raises ``ValueError``, ``TypeError`` or ``OSError`` on a bad entry, as Presidio's loader does."""
    recognizers: Iterable[EntityRecognizer] = RecognizerListLoader.get(
        cast(Any, [dict(e) for e in entries]),  # Presidio annotates a dict, passes a list
        list(languages),
        global_regex_flags,
    )
    return list(recognizers)


def ner_entities(recognizers: Iterable[EntityRecognizer]) -> frozenset[str] | None:
    """Entities the spaCy NER recognizers among ``recognizers`` report, or None when there is no such
    recognizer (NER is then off)."""
    spacy_recs = [r for r in recognizers if isinstance(r, SpacyRecognizer)]
    if not spacy_recs:
        return None
    return frozenset(e for r in spacy_recs for e in r.supported_entities)


_ID_KEY = RecognizerResult.RECOGNIZER_IDENTIFIER_KEY


class GroupedAnalyzerEngine(AnalyzerEngine):
    """``AnalyzerEngine`` with the same results and a fraction of the per-text overhead.

    The pattern pass calls ``analyze`` once per text block with twenty recognizers. Stock Presidio then rebuilds
    the recognizer list, the supported entities and the threshold table on every call, and its
    ``_enhance_using_context`` filters the whole result list twice for every recognizer (recognizers x results)
    before calling each recognizer's ``enhance_using_context``, which for every recognizer we ship is
    ``EntityRecognizer``'s pass-through. Together that was a third of the pattern pass.

    The common call (all entities, NLP artifacts given, no per-call threshold, context, allow list, ad-hoc
    recognizers or decision process) runs the same steps in the same order over a plan memoised per language while
    the registry holds the same recognizers; any other call goes to Presidio unchanged.
    ``tests/integration/test_presidio_adapter.py`` checks both engines agree on real text.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plans: dict[str, tuple[tuple[int, ...], _Plan]] = {}

    def _plan(self, language: str) -> _Plan:
        key = tuple(id(r) for r in self.registry.recognizers)
        memo = self._plans.get(language)
        if memo is None or memo[0] != key:
            recognizers = self.registry.get_recognizers(language=language, all_fields=True)
            plan = _Plan(
                recognizers=list(recognizers),
                entities=list(super().get_supported_entities(language=language)),
                thresholds={r.id: r.score_thresholds for r in recognizers},
            )
            memo = (key, plan)
            self._plans[language] = memo
        return memo[1]

    def get_supported_entities(self, language: str | None = None) -> list[str]:
        if language is None:
            return list(super().get_supported_entities(language=language))
        return list(self._plan(language).entities)

    def analyze(
        self,
        text: str,
        language: str,
        entities: list[str] | None = None,
        correlation_id: str | None = None,
        score_threshold: float | None = None,
        return_decision_process: bool | None = False,
        ad_hoc_recognizers: list[EntityRecognizer] | None = None,
        context: list[str] | None = None,
        allow_list: list[str] | None = None,
        allow_list_match: str | None = "exact",
        regex_flags: int | None = None,
        nlp_artifacts: NlpArtifacts | None = None,
    ) -> list[RecognizerResult]:
        if (
            nlp_artifacts is None
            or self.log_decision_process
            or entities
            or score_threshold is not None
            or return_decision_process
            or ad_hoc_recognizers
            or context
            or allow_list
        ):
            extra: dict[str, Any] = {} if regex_flags is None else {"regex_flags": regex_flags}
            stock: list[RecognizerResult] = super().analyze(
                text=text, language=language, entities=entities, correlation_id=correlation_id,
                score_threshold=score_threshold, return_decision_process=return_decision_process,
                ad_hoc_recognizers=ad_hoc_recognizers, context=context, allow_list=allow_list,
                allow_list_match=allow_list_match, nlp_artifacts=nlp_artifacts, **extra,
            )
            return stock
        plan = self._plan(language)
        results: list[RecognizerResult] = []
        for recognizer in plan.recognizers:
            if not recognizer.is_loaded:
                recognizer.load()
                recognizer.is_loaded = True
            current = recognizer.analyze(text=text, entities=list(plan.entities), nlp_artifacts=nlp_artifacts)
            if current:
                for r in current:
                    if not r.recognition_metadata:
                        r.recognition_metadata = {}
                    r.recognition_metadata.setdefault(_ID_KEY, recognizer.id)
                    r.recognition_metadata.setdefault(_NAME_KEY, getattr(recognizer, "name", ""))
                results.extend(current)
        results = self._enhance_using_context(text, results, nlp_artifacts, plan.recognizers, None)
        kept = [r for r in results if r.score >= self._threshold(r, plan.thresholds)]
        kept = EntityRecognizer.remove_duplicates(kept)
        for r in kept:
            r.analysis_explanation = None  # type: ignore[assignment]  # what stock analyze returns
        return kept

    def _threshold(self, result: RecognizerResult, thresholds: Mapping[Any, Mapping[str, float]]) -> float:
        own = thresholds.get((result.recognition_metadata or {}).get(_ID_KEY))
        if own is None:
            return float(self.default_score_threshold)
        value = own.get(result.entity_type, own.get("default"))
        return float(self.default_score_threshold if value is None else value)

    def _enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        grouped: dict[Any, list[RecognizerResult]] = {}
        for r in raw_results:
            grouped.setdefault(r.recognition_metadata[_ID_KEY], []).append(r)
        passthrough = EntityRecognizer.enhance_using_context
        results: list[RecognizerResult] = []
        for recognizer in recognizers:
            own = grouped.get(recognizer.id, [])
            if getattr(type(recognizer), "enhance_using_context", passthrough) is not passthrough:
                others = [r for r in raw_results if r.recognition_metadata[_ID_KEY] != recognizer.id]
                own = recognizer.enhance_using_context(
                    text=text,
                    raw_recognizer_results=own,
                    other_raw_recognizer_results=others,
                    nlp_artifacts=nlp_artifacts,
                    context=context,
                )
            results.extend(own)
        enhanced: list[RecognizerResult] = self.context_aware_enhancer.enhance_using_context(
            text=text, raw_results=results, nlp_artifacts=nlp_artifacts, recognizers=recognizers, context=context
        )
        return enhanced


_NAME_KEY = RecognizerResult.RECOGNIZER_NAME_KEY


@dataclass(frozen=True)
class _Plan:
    """What ``analyze`` needs for one language, built once per registry content."""

    recognizers: list[EntityRecognizer]
    entities: list[str]
    thresholds: dict[Any, dict[str, float]]
