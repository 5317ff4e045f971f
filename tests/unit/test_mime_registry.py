"""Extractors are registered explicitly by unique name; a duplicate name or kind is a start-up error."""

from __future__ import annotations

import pytest

from gateway.mime.extractors import DuplicateExtractorError, Extractor, Registry, default_registry


def _noop(item: object, ctx: object) -> None:
    return None


def test_duplicate_name_raises() -> None:
    """Registering a second extractor under an existing name raises."""
    registry = Registry()
    registry.register(Extractor("pdf", frozenset({"pdf"}), _noop))
    with pytest.raises(DuplicateExtractorError):
        registry.register(Extractor("pdf", frozenset({"other"}), _noop))


def test_duplicate_kind_raises() -> None:
    """Two extractors claiming the same file kind raise rather than silently shadowing each other."""
    registry = Registry()
    registry.register(Extractor("a", frozenset({"pdf"}), _noop))
    with pytest.raises(DuplicateExtractorError):
        registry.register(Extractor("b", frozenset({"pdf"}), _noop))


def test_default_registry_is_built_once_and_complete() -> None:
    """The built-in registry is cached and covers every format family the gateway promises to read."""
    registry = default_registry()
    assert registry is default_registry()
    for kind in (
        "pdf",
        "docx",
        "xlsx",
        "pptx",
        "odf",
        "rtf",
        "text",
        "html",
        "eml",
        "msg",
        "tnef",
        "zip",
        "tar",
        "gzip",
        "7z",
        "png",
        "jpeg",
        "tiff",
        "office-encrypted",
        "doc",
        "pkcs7",
        "binary",
    ):
        assert registry.for_kind(kind) is not None, kind
