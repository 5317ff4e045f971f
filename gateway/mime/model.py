"""What extraction produces: text to scan, and an explicit record of everything that could not be read."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

UnscannableReason = Literal["encrypted", "limit", "corrupt", "partial"]


@dataclass(frozen=True, slots=True)
class TextChunk:
    location: str
    """``subject``, ``body``, ``body.html``, ``attachment:report.docx``, ``attachment:bundle.zip/inner/notes.pdf``,
    ``header:To``, ``body.html:link``, ``attachment-name:report.docx``, ``preamble``, ``epilogue``."""
    text: str
    kind: str = "body"
    """``subject``, ``body``, ``attachment``, ``ocr``, ``header`` or ``link`` (what link targets carry): lets
    detectors weigh where text came from."""

    @property
    def digest(self) -> str:
        """Content hash used by the detection cache (same text, same findings)."""
        return hashlib.blake2b(self.text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class Unscannable:
    location: str
    reason: UnscannableReason
    detail: str = ""
    """Short technical reason (``zip entry encrypted``, ``depth > 5``); never message content."""


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    location: str
    name: str
    content_type: str
    """Type detected from the content (magic bytes), e.g. ``application/pdf``."""
    declared_type: str
    size: int


@dataclass(frozen=True, slots=True)
class Note:
    """Something found about a part that is not text to scan: where it is, and a short technical detail."""

    location: str
    detail: str
    """``S/MIME enveloped data (1 recipient)``, ``rpmsg label: no rpmsg signature``; never message content."""


@dataclass(frozen=True, slots=True)
class Extraction:
    chunks: tuple[TextChunk, ...] = ()
    unscannable: tuple[Unscannable, ...] = ()
    not_text_scanned: tuple[str, ...] = ()
    """Locations of images with no OCR available: noted, but not unscannable (a logo never holds mail)."""
    attachments: tuple[AttachmentInfo, ...] = ()
    defects: tuple[str, ...] = field(default=())
    """Names of MIME defects the parser recorded (``MissingBoundary``...)."""
    ciphertext: tuple[Note, ...] = ()
    """Proven ciphertext among the message's own parts (``gateway.mime.protected``): what may make it encrypted."""
    false_encryption_claims: tuple[Note, ...] = ()
    """Labels, names or headers that say encrypted where the bytes are not ciphertext."""
    redaction_failed: tuple[Note, ...] = ()
    """Documents with live text under a black box or a redaction colour (PDF, DOCX)."""
