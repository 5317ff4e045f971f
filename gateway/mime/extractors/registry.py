"""Extractors are registered explicitly by unique name; a clash is a programming error and raises at start-up."""

from __future__ import annotations

from gateway.mime.extractors.base import Extractor


class DuplicateExtractorError(ValueError):
    """Two extractors share a name, or claim the same file kind."""


class Registry:
    def __init__(self) -> None:
        self._by_name: dict[str, Extractor] = {}
        self._by_kind: dict[str, Extractor] = {}

    def register(self, extractor: Extractor) -> None:
        if extractor.name in self._by_name:
            raise DuplicateExtractorError(f"extractor {extractor.name!r} is already registered")
        clash = sorted(kind for kind in extractor.kinds if kind in self._by_kind)
        if clash:
            owner = self._by_kind[clash[0]].name
            raise DuplicateExtractorError(f"kind {clash[0]!r} of {extractor.name!r} is already read by {owner!r}")
        self._by_name[extractor.name] = extractor
        for kind in extractor.kinds:
            self._by_kind[kind] = extractor

    def for_kind(self, kind: str) -> Extractor | None:
        return self._by_kind.get(kind)

    def names(self) -> list[str]:
        return sorted(self._by_name)
