"""Streaming XML-to-text for office formats: no tree in memory, deadline checks between blocks.

A SAX-style target parser keeps memory flat on 100 MB parts and never resolves entities or fetches DTDs
(billion-laughs and XXE documents are read as plain text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from gateway.mime.guards import CorruptContent, Deadline
from gateway.mime.hidden import Hidden, flatten, with_moved

_BLOCK = 1 << 16
_BEFORE_TAB = re.compile(r" +\t")
_LINE_END = re.compile(r"[ \t]+\n")
# Office parts never carry a DTD; dropping it means no entity is ever expanded (libxml2 expands internal
# entities for target parsers even with resolve_entities=False).
_DOCTYPE = re.compile(rb"<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>", re.S | re.I)


@dataclass(frozen=True, slots=True)
class XmlTextSpec:
    """Which elements (by local name) carry text and which ones break lines or cells."""

    text_tags: frozenset[str] = frozenset()
    """Elements whose character data is text; empty means all character data is text (mixed content)."""
    line_tags: frozenset[str] = frozenset()
    cell_tags: frozenset[str] = frozenset()
    break_tags: frozenset[str] = frozenset()
    tab_tags: frozenset[str] = frozenset()
    space_tags: frozenset[str] = frozenset()
    skip_tags: frozenset[str] = frozenset()
    attr_tags: frozenset[str] = frozenset()
    """Elements whose ``attr_names`` attributes are text (alt text on pictures)."""
    attr_names: frozenset[str] = field(default_factory=lambda: frozenset({"descr", "title"}))
    run_tag: str = ""
    """Element of a formatting run (Word's ``r``); with ``hidden_flags``, hidden runs inside a word or digit run
    are moved after the text (``gateway.mime.hidden``) so the visible run reads as the reader sees it."""
    hidden_flags: frozenset[str] = frozenset()
    """Run properties that hide the run (``vanish``) unless their ``val`` is false."""
    tiny_size_tag: str = ""
    """Run property giving the font size (``sz``, in half-points); ``tiny_size_max`` or less is unreadable."""
    tiny_size_max: int = 2


def local_name(tag: str) -> str:
    return tag.rpartition("}")[2] if tag.startswith("{") else tag.rpartition(":")[2]


class _Target:
    def __init__(self, spec: XmlTextSpec) -> None:
        self.spec = spec
        self.mixed = not spec.text_tags
        self.out: list[object] = []
        self.target: list[object] = self.out
        self.text_depth = 0
        self.skip_depth = 0
        self.cell_depth = 0
        self.in_run = False
        self.run_hidden = False

    def _hide_run(self) -> None:
        if not self.run_hidden:
            self.run_hidden = True
            hidden = Hidden()
            self.out.append(hidden)
            self.target = hidden.parts

    def _run_property(self, local: str, attrib: dict[str, str]) -> None:
        val = next((v for k, v in attrib.items() if local_name(k) == "val"), None)
        if local in self.spec.hidden_flags and (val is None or val.lower() not in ("0", "false", "off")):
            self._hide_run()
        elif local == self.spec.tiny_size_tag and val is not None and val.isdigit():
            if int(val) <= self.spec.tiny_size_max:
                self._hide_run()

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if not isinstance(tag, str):
            return
        local = local_name(tag)
        spec = self.spec
        if self.skip_depth or local in spec.skip_tags:
            self.skip_depth += 1
            return
        if spec.run_tag:
            if local == spec.run_tag:
                self.in_run = True
            elif self.in_run:
                self._run_property(local, attrib)
        if local in spec.text_tags:
            self.text_depth += 1
        if local in spec.cell_tags:
            self.cell_depth += 1
        if local in spec.break_tags:
            self.target.append("\n")
        elif local in spec.tab_tags:
            self.target.append("\t")
        elif local in spec.space_tags:
            self.target.append(" ")
        if local in spec.attr_tags:
            for key, value in attrib.items():
                if local_name(key) in spec.attr_names and value.strip():
                    self.target.append(f"\n{value.strip()}\n")

    def end(self, tag: str) -> None:
        if not isinstance(tag, str):
            return
        if self.skip_depth:
            self.skip_depth -= 1
            return
        local = local_name(tag)
        if local in self.spec.text_tags:
            self.text_depth -= 1
        if self.spec.run_tag and local == self.spec.run_tag:
            self.in_run = False
            self.run_hidden = False
            self.target = self.out
        if local in self.spec.cell_tags:
            self.cell_depth -= 1
            self.target.append("\t")
        elif local in self.spec.line_tags:
            # Paragraphs inside a table cell stay on the row's line, so a row reads "label<TAB>value".
            self.target.append(" " if self.cell_depth > 0 else "\n")

    def data(self, text: str) -> None:
        if not self.skip_depth and (self.mixed or self.text_depth > 0):
            self.target.append(text)

    def close(self) -> str:
        # Cell and paragraph separators leave " \t" and "\t\n" behind; a row should read "a\tb\n".
        moved: list[str] = []
        text = with_moved(flatten(self.out, moved), moved)
        return _LINE_END.sub("\n", _BEFORE_TAB.sub("\t", text))


def xml_text(data: bytes, spec: XmlTextSpec, deadline: Deadline) -> str:
    """Text of one XML document according to ``spec``; malformed XML is read as far as the parser can go."""
    data = strip_doctype(data)
    target = _Target(spec)
    parser = etree.XMLParser(
        target=target,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        recover=True,
    )
    try:
        for offset in range(0, len(data), _BLOCK):
            parser.feed(data[offset : offset + _BLOCK])
            deadline.check()
        result = parser.close()
    except etree.LxmlError as exc:
        partial = target.close()
        if partial.strip():
            return partial
        raise CorruptContent("xml unreadable") from exc
    return str(result)


def strip_doctype(data: bytes) -> bytes:
    """Remove a document type declaration (and its internal entity subset) from the head of ``data``."""
    head = data[:_BLOCK]
    if b"<!DOCTYPE" not in head.upper():
        return data
    return _DOCTYPE.sub(b"", head, count=1) + data[_BLOCK:]


def xml_root(data: bytes) -> etree._Element:
    """Small XML parts (properties, relationships, workbook) as a tree; same hardening as ``xml_text``."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=True)
    try:
        root = etree.fromstring(strip_doctype(data), parser)
    except etree.LxmlError as exc:
        raise CorruptContent("xml unreadable") from exc
    if root is None:
        raise CorruptContent("xml empty")
    return root
