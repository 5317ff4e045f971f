"""What every extractor receives: the item to read and a context to report into and to recurse through."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from gateway.mime.filetype import FileType
from gateway.mime.guards import Deadline
from gateway.mime.limits import ExtractionLimits
from gateway.mime.model import UnscannableReason
from gateway.mime.sink import Sink


@dataclass(frozen=True, slots=True)
class Item:
    """One file to read: a MIME attachment, an archive member, an embedded object."""

    data: bytes
    location: str
    name: str
    declared_type: str
    depth: int
    """How many messages/archives enclose it (0 for the top message's own parts)."""
    filetype: FileType
    charset: str | None = None


class Walker(Protocol):
    """The recursion an extractor may ask for; implemented in ``gateway.mime.extract``."""

    def extract_member(
        self,
        data: bytes,
        *,
        location: str,
        name: str,
        declared_type: str,
        depth: int,
        charset: str | None = None,
        record: bool = True,
    ) -> None:
        """Sniff and read one file found inside another (archive member, message attachment, embedded file)."""

    def unreadable_member(self, *, location: str, name: str, size: int, reason: UnscannableReason, detail: str) -> None:
        """Record a member that is listed but cannot be read (encrypted entry, over a limit)."""

    def extract_message(self, msg: EmailMessage, *, prefix: str, depth: int) -> None:
        """Walk an embedded message: headers, bodies and attachments under ``prefix``."""


@dataclass(slots=True)
class Context:
    limits: ExtractionLimits
    sink: Sink
    deadline: Deadline
    walker: Walker


ExtractFn = Callable[[Item, Context], None]


@dataclass(frozen=True, slots=True)
class Extractor:
    name: str
    """Unique registry name, e.g. ``pdf``."""
    kinds: frozenset[str]
    """File-type kinds (``FileType.kind``) it reads."""
    run: ExtractFn
