"""The working records of one content analysis, and the cache of block analyses that outlives messages.

A text chunk is normalised and cut into blocks at quoted-message boundaries; each block's analysis (pattern
results, and NER results once NER has run on it) is kept in an LRU cache keyed by the block's content hash, so a
reply chain's history and a re-sent attachment are analysed once. Offsets in ``Raw`` are relative to the block;
``Candidate`` offsets are relative to the chunk's normalised text.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from detectors.normalize import Normalized
from detectors.recognizers.layout import Zone
from gateway.mime.model import TextChunk


@dataclass(slots=True)
class Raw:
    """One result inside a block (block-relative offsets into the normalised text)."""

    entity: str
    start: int
    end: int
    score: float
    detector: str
    topic: str = ""


@dataclass(slots=True)
class BlockAnalysis:
    """What was found in one block: pattern results always, NER results once NER has run (None before)."""

    patterns: list[Raw]
    ner: list[Raw] | None = None


@dataclass(slots=True)
class Block:
    chunk: int
    """Index of the chunk in the message."""
    start: int
    end: int
    analysis: BlockAnalysis


@dataclass(frozen=True, slots=True)
class LayoutSlot:
    """A place in a zone where a correspondent's name or addresses stand (``detectors.names``): ``greeted``,
    ``signer`` (a name line of signature ``zone``), ``author`` (a quoted From or "... wrote:" line),
    ``addressees`` (a quoted To/Cc/Bcc line: ``start``-``end`` is the line), ``shown`` (a display name)."""

    kind: str
    zone: int
    start: int
    end: int
    name: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class ChunkLayout:
    """The names a chunk's greetings, signatures and quoted headers hold, read once per chunk."""

    slots: tuple[LayoutSlot, ...] = ()
    signatures: tuple[tuple[int, int, int], ...] = ()
    """(zone index, start, end) of each signature block."""
    display_names: bool = False


@dataclass(slots=True)
class ChunkWork:
    """One text chunk of the message being analysed: its normalised text, layout zones and blocks."""

    chunk: TextChunk
    norm: Normalized
    zones: list[Zone]
    blocks: list[Block] = field(default_factory=list)
    layout: ChunkLayout | None = None
    """Filled on first use by ``NameRules.layout`` (both candidate passes of a message share it)."""


@dataclass(slots=True)
class Candidate:
    """A result placed in its chunk (offsets into the normalised text), before it becomes a ``Finding``."""

    chunk: int
    entity: str
    start: int
    end: int
    score: float
    detector: str
    topic: str = ""


class BlockCache:
    """A bounded mapping from block content hash to its analysis that forgets the least recently used entry."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[str, BlockAnalysis] = OrderedDict()

    def get(self, key: str) -> BlockAnalysis | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: str, value: BlockAnalysis) -> None:
        if self.size <= 0:
            return
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)
