"""One SMTP transaction as the pipeline sees it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Submission:
    txn_id: str
    peer: str
    """Client IP address."""
    helo: str
    mail_from: str
    """Envelope sender; empty string for the null sender ``<>``."""
    rcpt_tos: tuple[str, ...]
    raw: bytes
    """Message bytes as received (CRLF line endings, dot-unstuffed), client X-DLP-* headers removed."""
    received_at: datetime
    auth_user: str | None = None
