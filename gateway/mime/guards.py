"""Limits on hostile input: deadlines, bounded reads and the exceptions that turn into ``unscannable`` items.

Extractors raise these; the walker in ``extract.py`` converts them into ``Unscannable`` for the item being read,
so one bad attachment never spoils the rest of the message.
"""

from __future__ import annotations

import time
from typing import Protocol

from gateway.mime.limits import ExtractionLimits


class ExtractionProblem(Exception):
    """Base of the reasons an item cannot be read; ``detail`` is technical and never message content."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class LimitExceeded(ExtractionProblem):
    """A size, count, depth, ratio or time limit stopped the extraction."""


class DeadlineExceeded(LimitExceeded):
    """The item took longer than ``attachment_seconds``."""


class EncryptedContent(ExtractionProblem):
    """Password-protected content: the policy decides what to do with it."""


class CorruptContent(ExtractionProblem):
    """The bytes do not form a readable file of the type they claim (or were sniffed) to be."""


class Deadline:
    """Cooperative time limit: extractors call ``check()`` between steps (pages, members, XML blocks)."""

    __slots__ = ("_end", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - time.monotonic())

    def check(self) -> None:
        if time.monotonic() > self._end:
            raise DeadlineExceeded(f"time > {self.seconds:g}s")


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def read_bounded(stream: Readable, limit: int, detail: str) -> bytes:
    """Read at most ``limit`` bytes; more than that raises, whatever the container declared."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise LimitExceeded(detail)
    return data


def ratio_exceeded(expanded: int, compressed: int, limits: ExtractionLimits) -> bool:
    """True when ``expanded`` is both big enough to matter and more than ``max_ratio`` times ``compressed``."""
    if expanded < limits.ratio_min_bytes:
        return False
    return expanded > limits.max_ratio * max(compressed, 1)


def ratio_detail(limits: ExtractionLimits) -> str:
    return f"compression ratio > {limits.max_ratio:g}"


def expansion_cap(compressed: int, budget: int, limits: ExtractionLimits) -> int:
    """Most bytes a compressed stream may expand to: the ratio cap, but never past the message's byte budget."""
    by_ratio = max(int(limits.max_ratio * max(compressed, 1)), limits.ratio_min_bytes)
    return max(0, min(by_ratio, budget))
