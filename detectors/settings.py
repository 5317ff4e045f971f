"""Loads and validates ``config/detectors.yaml`` (Presidio's recognizer-registry / NLP-engine format, extended)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.config_errors import model_from_data, read_yaml


class DetectorsSettings(BaseModel):
    """Placeholder schema; the content-detection module extends it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    raw: dict[str, Any] = Field(default_factory=dict, description="The file as parsed.")


def load_detectors_settings(path: Path) -> DetectorsSettings:
    data = read_yaml(path)
    return model_from_data(path, {"raw": data or {}}, DetectorsSettings)
