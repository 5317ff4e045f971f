"""Entity weights from detectors.yaml (issue 12, 7b) and rules naming unknown entities (7c)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from detectors.findings import Finding, Sensitivity
from detectors.sensitivity import DEFAULT_WEIGHTS, Weights, assess_sensitivity
from gateway.config import load
from gateway.config_errors import ConfigError, did_you_mean

REPO = Path(__file__).resolve().parents[2]

CHILD_REF_RECOGNIZER = {
    "name": "ChildReferenceRecognizer",
    "type": "custom",
    "supported_entity": "CHILD_REF",
    "patterns": [{"name": "child reference", "regex": r"(?-i:\bCR-\d{6}\b)", "score": 0.8}],
}


def f(entity: str, start: int = 0, location: str = "body") -> Finding:
    return Finding(entity, 0.9, location, start, start + 8, "test", "")


def _config(tmp_path: Path, detectors: dict[str, Any] | None = None, rules: list[dict[str, Any]] | None = None) -> Path:
    cfg = tmp_path / "config"
    shutil.copytree(REPO / "config", cfg)
    if detectors:
        data = yaml.safe_load((cfg / "detectors.yaml").read_text())
        for key, value in detectors.items():
            if key == "recognizers":
                data["recognizer_registry"]["recognizers"].extend(value)
            elif key == "report_entities":
                data["report_entities"] = [*data["report_entities"], *value]
            else:
                data[key] = value
        (cfg / "detectors.yaml").write_text(yaml.safe_dump(data))
    if rules:
        data = yaml.safe_load((cfg / "policy.yaml").read_text())
        data["rules"].extend(rules)
        (cfg / "policy.yaml").write_text(yaml.safe_dump(data))
    return cfg


def test_defaults_are_the_built_in_weights() -> None:
    """No entity_weights: the same levels as before (NHS strong, address linking, custom entities nothing)."""
    assert assess_sensitivity([f("UK_NHS")]) == Sensitivity.PERSONAL
    assert assess_sensitivity([f("CHILD_REF")]) == Sensitivity.NONE
    assert assess_sensitivity([f("PERSON"), f("UK_STREET_ADDRESS", 20)]) == Sensitivity.PERSONAL
    assert Weights.with_overrides({}) == DEFAULT_WEIGHTS


@pytest.mark.parametrize(
    ("overrides", "findings", "level"),
    [
        ({"CHILD_REF": "strong"}, [f("CHILD_REF")], Sensitivity.PERSONAL),
        ({"CHILD_REF": "strong"}, [f("CHILD_REF"), f("SPECIAL_CATEGORY", 300)], Sensitivity.SPECIAL_CATEGORY),
        ({"CHILD_REF": "linking"}, [f("CHILD_REF")], Sensitivity.NONE),
        ({"CHILD_REF": "linking"}, [f("PERSON"), f("CHILD_REF", 40)], Sensitivity.PERSONAL),
        ({"CHILD_REF": "linking"}, [f("PERSON"), f("CHILD_REF", 900)], Sensitivity.NONE),
        ({"CHILD_REF": "none"}, [f("CHILD_REF")], Sensitivity.NONE),
        ({"AGE": "none"}, [f("AGE")], Sensitivity.NONE),
        ({"UK_STREET_ADDRESS": "strong"}, [f("UK_STREET_ADDRESS")], Sensitivity.PERSONAL),
        ({"UK_STREET_ADDRESS": "none"}, [f("PERSON"), f("UK_STREET_ADDRESS", 20)], Sensitivity.NONE),
        ({"UK_POSTCODE": "linking"}, [f("PERSON"), f("UK_POSTCODE", 20)], Sensitivity.PERSONAL),
    ],
)
def test_declared_weights_extend_and_override(overrides: dict[str, Any], findings: list[Finding],
                                              level: Sensitivity) -> None:
    """A declared weight adds an entity to strong or linking, moves it between them, or takes it out."""
    assert assess_sensitivity(findings, Weights.with_overrides(overrides)) == level


def test_did_you_mean() -> None:
    """The closest names are offered; nothing when nothing is close."""
    vocabulary = ["UK_NHS", "UK_NINO", "PERSON", "UK_FAMILY_CASE_NUMBER"]
    assert "`UK_NHS`" in did_you_mean("UK_NHS_NUMBER", vocabulary)
    assert "`PERSON`" in did_you_mean("person", vocabulary)
    assert "`UK_FAMILY_CASE_NUMBER`" in did_you_mean("FAMILY_CASE_NUMBER", vocabulary)
    assert did_you_mean("ZZZ", vocabulary) == ""


@pytest.mark.parametrize(("typo", "suggestion"), [("UK_NHS_NUMBER", "UK_NHS"), ("NINO", "UK_NINO"),
                                                  ("DOB", ""), ("PERSONS", "PERSON")])
def test_rule_naming_an_unknown_entity_is_refused(tmp_path: Path, typo: str, suggestion: str) -> None:
    """check-config refuses a rule that can never fire, naming policy.yaml, the rule's key and its id."""
    rule = {"id": "nhs-typo", "clause": "IA 4.5", "action": "quarantine", "reason": "Held. Ref {ref}.",
            "when": {"recipient_classes": ["external"], "entities": [{"type": "UK_NINO"}, {"type": typo}]}}
    with pytest.raises(ConfigError) as exc:
        load(_config(tmp_path, rules=[rule]))
    [problem] = exc.value.problems
    assert problem.file.endswith("policy.yaml")
    assert problem.key.endswith(".when.entities.1.type") and problem.key.startswith("rules.")
    assert "nhs-typo" in problem.expected and typo in problem.expected
    if suggestion:
        assert f"did you mean `{suggestion}`" in problem.expected
    else:
        assert "did you mean" not in problem.expected


def test_worked_example_child_ref_loads_and_weighs(tmp_path: Path) -> None:
    """The documented CHILD_REF example: recognizer, reported, strong; a rule may name it."""
    rule = {"id": "child-reference-external", "clause": "IA 4.5", "action": "encrypt", "reason": "Ref {ref}.",
            "when": {"recipient_classes": ["external"], "entities": [{"type": "CHILD_REF"}]}}
    cfg = load(_config(tmp_path, {"recognizers": [CHILD_REF_RECOGNIZER], "report_entities": ["CHILD_REF"],
                                  "entity_weights": {"CHILD_REF": "strong"}}, [rule]))
    weights = Weights.with_overrides(cfg.detectors.entity_weights)
    assert "CHILD_REF" in weights.strong
    assert "CHILD_REF" in cfg.detectors.entity_vocabulary()


@pytest.mark.parametrize(
    ("detectors", "words"),
    [
        ({"entity_weights": {"CHILD_REFF": "strong"}}, "not in report_entities"),
        ({"entity_weights": {"UK_NHS_NUMBER": "strong"}}, "did you mean `UK_NHS`"),
        ({"entity_weights": {"CHILD_REF": "heavy"}}, "entity_weights.CHILD_REF"),
        ({"recognizers": [CHILD_REF_RECOGNIZER]}, "add it there"),
    ],
)
def test_detectors_yaml_weight_mistakes_are_refused(tmp_path: Path, detectors: dict[str, Any], words: str) -> None:
    """A weight for an entity never reported, an unknown weight, or a custom entity left unreported: refused."""
    with pytest.raises(ConfigError) as exc:
        load(_config(tmp_path, detectors))
    text = str(exc.value)
    assert "detectors.yaml" in text and words in text
