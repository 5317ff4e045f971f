"""Content detection for tests: the Presidio engine and spaCy model are built once per test process.

Loading the model takes seconds, so tests that use it live in ``tests/integration`` (``tests/unit`` stays pure
and fast).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from detectors.content import ContentDetector, DetectionContext

ROOT = Path(__file__).resolve().parents[2]
DETECTORS_YAML = ROOT / "config" / "detectors.yaml"
ORG_DOMAINS = ("cafcass.gov.uk",)


@lru_cache(maxsize=1)
def shared_detector() -> ContentDetector:
    """The shipped config/detectors.yaml, built once per process (loading spaCy takes seconds)."""
    return ContentDetector.from_file(DETECTORS_YAML, org_domains=ORG_DOMAINS)


def found(detector: ContentDetector, text: str) -> list[tuple[str, str]]:
    """(entity, matched text) pairs for one text, as ``dlpgate detect`` reports them."""
    return [(f.entity, f.text or "") for f in detector.analyze_text(text)]


def ctx(address: str = "priya.patel@cafcass.gov.uk", name: str = "Priya Patel", *, reveal: bool = True,
        run_ner: bool = True) -> DetectionContext:
    return DetectionContext(sender_address=address, sender_name=name, run_ner=run_ner, reveal=reveal)
