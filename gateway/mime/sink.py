"""Collects what extraction finds for one message and enforces the message-wide budgets (parts, bytes, text)."""

from __future__ import annotations

import re

from gateway.mime.charset import fix_surrogates
from gateway.mime.chunking import chunk_location, split_text
from gateway.mime.guards import LimitExceeded
from gateway.mime.limits import ExtractionLimits
from gateway.mime.model import AttachmentInfo, Extraction, Note, TextChunk, Unscannable, UnscannableReason

_NEWLINES = re.compile(r"\r\n?")
_NUL = re.compile("[\x00\ufeff]")
# Names our walker or mail clients generate (inline images, Outlook's placeholders, TNEF, signatures): no one
# wrote them, so they are not scanned (each scanned name costs a detector pass).
_GENERATED_NAME = re.compile(
    r"^(?:part-\d+|image\d{3}|att\d{5}|outlook-[\w-]{1,40}|winmail|smime|signature|noname|unnamed|untitled)"
    r"(?:\.[A-Za-z0-9]{1,8})?$",
    re.IGNORECASE,
)
_NAME_SEPARATORS = re.compile(r"[_+~=]+")
MAX_NAME_CHUNKS = 50
"""Attachment names scanned one by one (each its own location); the rest of a large archive's names are scanned
together at ``attachment-name:(more)``, so a thousand members do not cost a thousand detector passes."""
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,5}$")


def name_text(path: str, seen: set[str] | None = None) -> str:
    """An attachment's name as text to scan: the path's segments one a line, extension off, ``_+~=`` as spaces
    (``Amy_Brown_ZW24C50123.docx`` reads ``Amy Brown ZW24C50123``); segments in ``seen`` (the containers' names,
    already scanned with the container) are left out, and the new ones added to it."""
    lines = []
    for raw in path.replace("attachment:", "").split("/"):
        segment = " ".join(_NAME_SEPARATORS.sub(" ", _EXTENSION.sub("", raw.strip())).split())
        if not segment or _GENERATED_NAME.match(raw.strip()) or (seen is not None and raw in seen):
            continue
        if seen is not None:
            seen.add(raw)
        lines.append(segment)
    return "\n".join(lines)


def normalise(text: str) -> str:
    """One newline convention, no NULs or BOMs, no lone surrogates: what detectors can safely take."""
    text = fix_surrogates(text)
    return _NUL.sub("", _NEWLINES.sub("\n", text))


class Sink:
    """Mutable accumulator; ``result()`` freezes it into an ``Extraction``."""

    def __init__(self, limits: ExtractionLimits) -> None:
        self.limits = limits
        self._chunks: list[TextChunk] = []
        self._unscannable: list[Unscannable] = []
        self._unscannable_seen: set[tuple[str, str]] = set()
        self._not_text_scanned: list[str] = []
        self._attachments: list[AttachmentInfo] = []
        self._names_seen: set[str] = set()
        self._name_chunks = 0
        self._more_names: list[str] = []
        self._defects: set[str] = set()
        self.ciphertext: list[Note] = []
        self.false_encryption_claims: list[Note] = []
        self.redaction_failed: list[Note] = []
        self.parts = 0
        self.parts_exhausted = False
        self.bytes_used = 0
        self.chars_used = 0

    # budgets -----------------------------------------------------------------------------------------------
    def count_part(self) -> None:
        """Count one MIME part or archive member; past ``max_parts`` raise once, then stay exhausted."""
        self.parts += 1
        if self.parts > self.limits.max_parts:
            self.parts_exhausted = True
            raise LimitExceeded(f"parts > {self.limits.max_parts}")

    def remaining_bytes(self) -> int:
        return max(0, self.limits.max_total_bytes - self.bytes_used)

    def take_bytes(self, size: int) -> None:
        """Charge decoded or decompressed bytes to the message's budget."""
        if size > self.remaining_bytes():
            raise LimitExceeded(f"extracted bytes > {self.limits.max_total_bytes}")
        self.bytes_used += size

    # results -----------------------------------------------------------------------------------------------
    def add_text(self, location: str, text: str, kind: str) -> None:
        """Keep text (split into bounded chunks); past ``max_text_chars`` the rest becomes a limit item."""
        text = normalise(text)
        if not text.strip():
            return
        room = self.limits.max_text_chars - self.chars_used
        if room <= 0:
            self.add_unscannable(location, "limit", f"text > {self.limits.max_text_chars} chars")
            return
        if len(text) > room:
            text = text[:room]
            self.add_unscannable(location, "limit", f"text > {self.limits.max_text_chars} chars")
        self.chars_used += len(text)
        for index, piece in enumerate(split_text(text)):
            self._chunks.append(TextChunk(chunk_location(location, index), piece, kind))

    def add_unscannable(self, location: str, reason: UnscannableReason, detail: str) -> None:
        if (location, reason) in self._unscannable_seen:
            return
        self._unscannable_seen.add((location, reason))
        self._unscannable.append(Unscannable(location, reason, detail))

    def add_not_text_scanned(self, location: str) -> None:
        if location not in self._not_text_scanned:
            self._not_text_scanned.append(location)

    def add_note(self, notes: list[Note], location: str, detail: str) -> None:
        """Record one ciphertext, false encryption claim or failed redaction (``notes`` is one of the lists)."""
        if not any(n.location == location and n.detail == detail for n in notes):
            notes.append(Note(location, detail))

    def add_attachment(self, info: AttachmentInfo) -> None:
        """Record an attachment, and scan its name: file names often carry a child's name or a case number
        (``attachment-name:a.zip/Amy Brown.docx``)."""
        self._attachments.append(info)
        path = info.location.split("attachment:", 1)[1] if "attachment:" in info.location else info.location
        text = name_text(path, self._names_seen)
        if not text:
            return
        if self._name_chunks < MAX_NAME_CHUNKS:
            self._name_chunks += 1
            self.add_text(f"attachment-name:{path}", text, "attachment")
        else:
            self._more_names.append(text)

    def add_defects(self, names: list[str]) -> None:
        self._defects.update(names)

    def result(self) -> Extraction:
        if self._more_names:
            self.add_text("attachment-name:(more)", "\n".join(self._more_names), "attachment")
            self._more_names = []
        return Extraction(
            chunks=tuple(self._chunks),
            unscannable=tuple(self._unscannable),
            not_text_scanned=tuple(self._not_text_scanned),
            attachments=tuple(self._attachments),
            defects=tuple(sorted(self._defects)),
            ciphertext=tuple(self.ciphertext),
            false_encryption_claims=tuple(self.false_encryption_claims),
            redaction_failed=tuple(self.redaction_failed),
        )
