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
from typing import Any, cast  # noqa: E402

from presidio_analyzer import EntityRecognizer  # noqa: E402
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine  # noqa: E402
from presidio_analyzer.predefined_recognizers import NhsRecognizer, SpacyRecognizer  # noqa: E402
from presidio_analyzer.recognizer_registry.recognizers_loader_utils import (  # noqa: E402
    PredefinedRecognizerNotFoundError,
    RecognizerListLoader,
)

__all__ = [
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
