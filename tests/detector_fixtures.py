"""Session fixture for content detection: the Presidio engine and spaCy model are built once per test run."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from detectors.content import ContentDetector, DetectionContext

ROOT = Path(__file__).resolve().parent.parent
DETECTORS_YAML = ROOT / "config" / "detectors.yaml"
ORG_DOMAINS = ("cafcass.gov.uk",)


@lru_cache(maxsize=1)
def shared_detector() -> ContentDetector:
    """The shipped config/detectors.yaml, built once per process (loading spaCy takes seconds)."""
    return ContentDetector.from_file(DETECTORS_YAML, org_domains=ORG_DOMAINS)


@pytest.fixture(scope="session")
def content_detector() -> ContentDetector:
    """Session fixture over ``shared_detector`` (for a conftest that wants to offer it to every test)."""
    return shared_detector()


def found(detector: ContentDetector, text: str) -> list[tuple[str, str]]:
    """(entity, matched text) pairs for one text, as ``dlpgate detect`` reports them."""
    return [(f.entity, f.text or "") for f in detector.analyze_text(text)]


def ctx(address: str = "priya.patel@cafcass.gov.uk", name: str = "Priya Patel", *, reveal: bool = True,
        run_ner: bool = True) -> DetectionContext:
    return DetectionContext(sender_address=address, sender_name=name, run_ner=run_ner, reveal=reveal)
