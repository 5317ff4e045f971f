"""One extractor per format family, registered explicitly by unique name (duplicates raise at import)."""

from __future__ import annotations

import functools

from gateway.mime.extractors.base import Context, Extractor, Item, Walker
from gateway.mime.extractors.registry import DuplicateExtractorError, Registry

__all__ = ["Context", "DuplicateExtractorError", "Extractor", "Item", "Registry", "Walker", "default_registry"]


@functools.cache
def default_registry() -> Registry:
    """The built-in extractors; built once per process."""
    from gateway.mime.extractors import (
        compressed,
        eml,
        image,
        odf,
        ole,
        ooxml,
        outlook,
        pdf,
        pkcs7,
        rtf,
        sevenzip,
        strings,
        tar_archive,
        text,
        zip_archive,
    )

    registry = Registry()
    for extractor in (
        pdf.PDF,
        ooxml.DOCX,
        ooxml.XLSX,
        ooxml.PPTX,
        odf.ODF,
        rtf.RTF,
        text.TEXT,
        text.HTML,
        text.EMPTY,
        eml.EML,
        outlook.MSG,
        outlook.TNEF,
        zip_archive.ZIP,
        tar_archive.TAR,
        compressed.COMPRESSED,
        sevenzip.SEVENZIP,
        image.IMAGE,
        ole.OLE,
        pkcs7.PKCS7,
        strings.BINARY,
    ):
        registry.register(extractor)
    return registry
