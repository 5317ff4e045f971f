"""Zip-based documents (OOXML, ODF): checked part reads and the helpers both formats share.

Every part's declared size and compression ratio is checked before it is decompressed: python-docx reached
231 MB of memory on a 115 KB DOCX holding 100 MB of whitespace, which here is a ``limit`` item instead.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from gateway.mime.extractors.base import Context, Item
from gateway.mime.extractors.xmltext import XmlTextSpec, local_name, xml_root, xml_text
from gateway.mime.zipsafe import open_zip, read_member

_NUMBER = re.compile(r"(\d+)")


def natural_key(name: str) -> list[object]:
    """``slide2`` before ``slide10``."""
    return [int(piece) if piece.isdigit() else piece.lower() for piece in _NUMBER.split(name)]


class Package:
    """An opened document zip; parts are read through the zip-bomb checks and charged to the byte budget."""

    def __init__(self, item: Item, ctx: Context, archive: zipfile.ZipFile) -> None:
        self.item = item
        self.ctx = ctx
        self.archive = archive
        self.infos = {info.filename: info for info in archive.infolist() if not info.is_dir()}

    @property
    def names(self) -> list[str]:
        return sorted(self.infos, key=natural_key)

    def read(self, name: str) -> bytes:
        return read_member(self.archive, self.infos[name], self.ctx.limits, self.ctx.sink)

    def text(self, name: str, spec: XmlTextSpec) -> str:
        return xml_text(self.read(name), spec, self.ctx.deadline)

    def properties(self, name: str, fields: frozenset[str] | None = None) -> str:
        return properties_text(self.read(name), fields)

    def embed(self, name: str) -> None:
        """An embedded object (a spreadsheet inside a document...): read as a nested member."""
        self.ctx.deadline.check()
        location = f"{self.item.location}/{name}"
        data = self.read(name)
        self.ctx.walker.extract_member(
            data, location=location, name=name.rsplit("/", 1)[-1], declared_type="", depth=self.item.depth + 1
        )


@contextmanager
def open_package(item: Item, ctx: Context) -> Iterator[Package]:
    archive = open_zip(item.data, ctx.limits)
    try:
        yield Package(item, ctx, archive)
    finally:
        archive.close()


def properties_text(data: bytes, fields: frozenset[str] | None = None) -> str:
    """Document properties as ``name: value`` lines (only ``fields`` when given); custom ones by their ``name``."""
    root = xml_root(data)
    lines: list[str] = []
    for element in root.iter():
        if not isinstance(element.tag, str) or len(element):
            continue
        value = (element.text or "").strip()
        if not value:
            continue
        parent = element.getparent()
        label = parent.get("name") if parent is not None and parent.get("name") else local_name(element.tag)
        if fields is None or label in fields:
            lines.append(f"{label}: {value}")
    return "\n".join(lines)


def collect(texts: list[str], step: Callable[[], str]) -> None:
    """Append one part's text; the caller adds what was gathered even if a later part raises."""
    text = step()
    if text.strip():
        texts.append(text)
