"""Extraction limits (``extraction:`` in gateway.yaml). Hostile input is capped; what is cut off is reported."""

from __future__ import annotations

from pydantic import Field

from gateway.config_errors import FrozenModel


class ExtractionLimits(FrozenModel):
    max_depth: int = Field(5, ge=1, le=50, description="Maximum nesting of messages and archives inside each other.")
    max_parts: int = Field(500, ge=1, description="Maximum MIME parts plus archive members per message.")
    max_archive_members: int = Field(1000, ge=1, description="Maximum members read from one archive.")
    max_total_bytes: int = Field(
        100 * 1024 * 1024, ge=1024, description="Maximum bytes decompressed/extracted for one message."
    )
    max_ratio: float = Field(
        100.0, ge=1.0, description="Maximum compression ratio of an archive member or OOXML part (zip bombs)."
    )
    attachment_seconds: float = Field(
        10.0, gt=0, description="Time allowed to extract one attachment; over it the item is unscannable: limit."
    )
    max_text_chars: int = Field(
        2_000_000, ge=1000, description="Maximum characters of text kept per message (the rest is a limit item)."
    )
    ocr: bool = Field(True, description="Use Tesseract OCR on images when the tesseract binary is installed.")
    max_multipart_depth: int = Field(
        50,
        ge=1,
        le=200,
        description="Maximum nesting of multipart containers inside one message (hostile MIME trees).",
    )
    ratio_min_bytes: int = Field(
        1024 * 1024,
        ge=0,
        description=(
            "Archive members and document parts smaller than this (decompressed) are not ratio-checked: small "
            "files cannot be bombs, and short runs of whitespace compress far beyond max_ratio."
        ),
    )
    max_image_pixels: int = Field(
        50_000_000, ge=1, description="Largest image (width x height) handed to OCR; bigger is unscannable: limit."
    )
