"""One SMTP transaction as the pipeline sees it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gateway.message_spool import SpoolRef


class MessageSource(Protocol):
    """A message too large to hold in memory (``gateway.message_spool.MessageSpool``): its header lines in
    memory, the rest read back in blocks of whole lines, or all at once when a path truly needs every byte."""

    @property
    def size(self) -> int: ...

    @property
    def head(self) -> bytes: ...

    @property
    def head_complete(self) -> bool: ...

    def body_blocks(self) -> Iterator[bytes]: ...

    def read(self) -> bytes: ...

    def ref(self) -> SpoolRef: ...


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
    """Message bytes as received (CRLF line endings, dot-unstuffed), client X-DLP-* headers removed. Empty while
    the message is spooled to disk (``source`` set): ``loaded()`` gives a copy with the bytes in."""
    received_at: datetime
    auth_user: str | None = None
    source: MessageSource | None = None
    """The spooled message when it was too large to keep in memory; None when ``raw`` holds it."""

    @property
    def size(self) -> int:
        return self.source.size if self.source is not None else len(self.raw)

    def loaded(self) -> Submission:
        """This submission with every byte in ``raw`` (the quarantine stores the message itself)."""
        if self.source is None:
            return self
        return dataclasses.replace(self, raw=self.source.read(), source=None)
