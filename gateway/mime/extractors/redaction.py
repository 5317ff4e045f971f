"""Failed redactions: live text that a reader was meant not to see, still in the file (issue 12, section 7e).

Blacking out a name with a drawn rectangle or a black highlight hides it on screen and on paper, but the text
is still there: select, copy, search, or any text extractor (the PDF and DOCX readers here read it like any
other text) gives it back. A court bundle redacted that way is exactly the leak this gateway is for, so it is
a fact of its own (``redaction_failed``), whatever the hidden text is.

PDF (``hidden_pdf_chars``): the page's objects are read in paint order. A character counts as hidden when
its centre lies in an opaque dark box (a filled path, or an image that is nearly black) painted *after* the
text object that draws it, or in a dark box painted before it when the character itself is dark (black on
black); and under an annotation that covers text: a redaction annotation never applied (``/Redact``), or a
rectangle or highlight annotation in a dark colour. Text painted on top of a dark box in a light colour
(a white heading on a black banner) is ordinary design and is not counted. Objects inside form XObjects are
not looked at (their coordinates are in the form's space).

DOCX (``WordRedactions``): a run whose text colour is set explicitly and is dark, on a dark background: a
highlight, run shading, paragraph shading or table-cell shading, directly or through the run's character
style and the paragraph's style (with ``basedOn`` chains). Word turns *automatic* text white on a dark
background, so only an explicit dark colour makes the text unreadable; "dark" is a relative luminance under
0.18 and "unreadable" a WCAG contrast ratio under 1.6.
"""

from __future__ import annotations

import ctypes
import re
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lxml import etree

from gateway.mime.extractors.xmltext import local_name, strip_doctype, xml_root
from gateway.mime.guards import Deadline

MIN_HIDDEN_CHARS = 2
"""Fewer hidden characters than this on a page or in a part is an overlap, not a redaction."""
_DARK = 0.18
_UNREADABLE = 1.6
_OPAQUE = 200
_MIN_BOX = 2.0
"""Points: a box thinner than this is a rule line, not a cover."""
_MAX_IMAGE_PIXELS = 4_000_000
_MAX_CHARS = 200_000
_BLOCK = 1 << 16

RGB = tuple[float, float, float]


def _linear(channel: float) -> float:
    return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4


def luminance(rgb: RGB) -> float:
    """WCAG relative luminance of an sRGB colour with channels in 0..1."""
    r, g, b = (_linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: RGB, b: RGB) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def is_dark(rgb: RGB) -> bool:
    return luminance(rgb) < _DARK


# --- PDF -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Box:
    z: int
    left: float
    bottom: float
    right: float
    top: float
    colour: RGB

    def holds(self, x: float, y: float) -> bool:
        return self.left <= x <= self.right and self.bottom <= y <= self.top


def _address(pointer: Any) -> int | None:
    return ctypes.cast(pointer, ctypes.c_void_p).value


def _fill(raw: Any) -> tuple[RGB, int]:
    import pypdfium2.raw as pdfium_c

    r, g, b, a = (ctypes.c_uint() for _ in range(4))
    if not pdfium_c.FPDFPageObj_GetFillColor(raw, r, g, b, a):
        return (0.0, 0.0, 0.0), 0
    return (r.value / 255, g.value / 255, b.value / 255), a.value


def _big_enough(left: float, bottom: float, right: float, top: float) -> bool:
    return right - left >= _MIN_BOX and top - bottom >= _MIN_BOX


def _dark_image(obj: Any) -> bool:
    """An image that is nearly black all over (a pasted black rectangle)."""
    try:
        width, height = obj.get_px_size()
        if width * height > _MAX_IMAGE_PIXELS:
            return False
        grey = obj.get_bitmap(render=False).to_pil().convert("L")
        histogram = grey.histogram()
        total = sum(histogram)
        return bool(total > 0 and sum(histogram[:64]) / total > 0.95)
    except Exception:
        return False


def _page_boxes(page: Any) -> tuple[list[_Box], dict[int, tuple[int, RGB | None]]]:
    """Dark boxes in paint order, and each text object's paint position and (dark) fill colour."""
    import pypdfium2.raw as pdfium_c

    boxes: list[_Box] = []
    texts: dict[int, tuple[int, RGB | None]] = {}
    first_text: int | None = None
    for z, obj in enumerate(page.get_objects(max_depth=1)):
        kind = obj.type
        if kind == pdfium_c.FPDF_PAGEOBJ_TEXT:
            colour, alpha = _fill(obj.raw)
            address = _address(obj.raw)
            if address is not None:
                texts[address] = (z, colour if alpha >= _OPAQUE else None)
            first_text = z if first_text is None else first_text
            continue
        if kind not in (pdfium_c.FPDF_PAGEOBJ_PATH, pdfium_c.FPDF_PAGEOBJ_IMAGE):
            continue
        left, bottom, right, top = obj.get_bounds()
        if not _big_enough(left, bottom, right, top):
            continue
        if kind == pdfium_c.FPDF_PAGEOBJ_PATH:
            mode, stroke = ctypes.c_int(), ctypes.c_int()
            colour, alpha = _fill(obj.raw)
            if not pdfium_c.FPDFPath_GetDrawMode(obj.raw, mode, stroke) or not mode.value:
                continue
            if alpha >= _OPAQUE and is_dark(colour):
                boxes.append(_Box(z, left, bottom, right, top, colour))
        elif first_text is not None and _dark_image(obj):  # an image under all text is a scan, not a cover
            boxes.append(_Box(z, left, bottom, right, top, (0.0, 0.0, 0.0)))
    return boxes, texts


def _annotation_boxes(page: Any, z: int) -> list[_Box]:
    """Annotations that cover text: unapplied redactions, dark rectangles and dark highlights."""
    import pypdfium2.raw as pdfium_c

    out: list[_Box] = []
    count = min(int(pdfium_c.FPDFPage_GetAnnotCount(page.raw)), 2000)
    for index in range(count):
        annot = pdfium_c.FPDFPage_GetAnnot(page.raw, index)
        if not annot:
            continue
        try:
            subtype = pdfium_c.FPDFAnnot_GetSubtype(annot)
            if subtype == pdfium_c.FPDF_ANNOT_REDACT:
                colour: RGB | None = (0.0, 0.0, 0.0)
            elif subtype in (pdfium_c.FPDF_ANNOT_SQUARE, pdfium_c.FPDF_ANNOT_HIGHLIGHT):
                which = (
                    pdfium_c.FPDFANNOT_COLORTYPE_InteriorColor
                    if subtype == pdfium_c.FPDF_ANNOT_SQUARE
                    else pdfium_c.FPDFANNOT_COLORTYPE_Color
                )
                r, g, b, a = (ctypes.c_uint() for _ in range(4))
                found = pdfium_c.FPDFAnnot_GetColor(annot, which, r, g, b, a)
                colour = (r.value / 255, g.value / 255, b.value / 255) if found else None
                if colour is None or not is_dark(colour):
                    continue
            else:
                continue
            rect = pdfium_c.FS_RECTF()
            if not pdfium_c.FPDFAnnot_GetRect(annot, ctypes.byref(rect)):
                continue
            left, right = sorted((rect.left, rect.right))
            bottom, top = sorted((rect.bottom, rect.top))
            if _big_enough(left, bottom, right, top) and colour is not None:
                out.append(_Box(z, left, bottom, right, top, colour))
        finally:
            pdfium_c.FPDFPage_CloseAnnot(annot)
    return out


def hidden_pdf_chars(page: Any, textpage: Any) -> int:
    """How many non-space characters on ``page`` are hidden under a dark box or annotation (0 when none)."""
    import pypdfium2.raw as pdfium_c

    boxes, texts = _page_boxes(page)
    boxes += _annotation_boxes(page, z=len(texts) + 1_000_000)
    if not boxes:
        return 0
    hidden = 0
    for index in range(min(textpage.count_chars(), _MAX_CHARS)):
        if chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, index) or 32).isspace():
            continue
        address = _address(pdfium_c.FPDFText_GetTextObject(textpage.raw, index))
        z, colour = texts.get(address or 0, (-1, None))
        left, bottom, right, top = textpage.get_charbox(index)
        x, y = (left + right) / 2, (bottom + top) / 2
        for box in boxes:
            if not box.holds(x, y):
                continue
            covered = box.z > z
            unreadable = box.z < z and colour is not None and contrast(colour, box.colour) < _UNREADABLE
            if covered or unreadable:
                hidden += 1
                break
    return hidden


# --- DOCX ----------------------------------------------------------------------------------------------------

_HIGHLIGHTS: dict[str, RGB] = {
    "black": (0.0, 0.0, 0.0),
    "darkBlue": (0.0, 0.0, 0.5),
    "darkRed": (0.5, 0.0, 0.0),
    "darkGreen": (0.0, 0.5, 0.0),
    "darkMagenta": (0.5, 0.0, 0.5),
    "darkCyan": (0.0, 0.5, 0.5),
    "darkYellow": (0.5, 0.5, 0.0),
    "darkGray": (0.5, 0.5, 0.5),
    "blue": (0.0, 0.0, 1.0),
    "red": (1.0, 0.0, 0.0),
}
"""Highlight names with their colours; the light ones (yellow, green...) can never hide text."""
_HEX = re.compile(r"^[0-9A-Fa-f]{6}$")
WORD_STORY = re.compile(r"^word/(document\d*|header\d*|footer\d*|footnotes|endnotes|comments)\.xml$", re.I)
_STYLES_PART = "word/styles.xml"


def _hex(value: str | None) -> RGB | None:
    if value is None or not _HEX.match(value):
        return None  # "auto", theme-only or malformed: Word picks a readable colour
    return (int(value[0:2], 16) / 255, int(value[2:4], 16) / 255, int(value[4:6], 16) / 255)


def _attr(attrib: Any, name: str) -> str | None:
    for key, value in attrib.items():
        if local_name(str(key)) == name:
            return str(value)
    return None


def _shading(attrib: Any) -> RGB | None:
    """The colour a ``w:shd`` paints: the fill, or for a solid pattern the pattern colour (auto = black)."""
    pattern = _attr(attrib, "val") or "clear"
    if pattern == "solid":
        colour = _attr(attrib, "color")
        return _hex(colour) if colour not in (None, "auto") else (0.0, 0.0, 0.0)
    if pattern in ("clear", "nil"):
        return _hex(_attr(attrib, "fill"))
    return None  # percentage and hatch patterns let the text show through


@dataclass(slots=True)
class _Format:
    colour: RGB | None = None
    background: RGB | None = None
    paragraph_background: RGB | None = None
    based_on: str | None = None


_FORMAT_TAGS = ("{*}basedOn", "{*}color", "{*}highlight", "{*}shd")


def _read_format(element: Any, *, every_element: bool = False) -> _Format:
    """A style's own colour, run shading and paragraph shading. lxml picks out the few tags that matter (any
    namespace: transitional and strict OOXML) in C; ``every_element`` walks every descendant instead, for a part
    whose tags carry an undeclared prefix (``w:style`` as a plain name), which only a recovering parse yields."""
    fmt = _Format()
    for child in (element.iter() if every_element else element.iter(*_FORMAT_TAGS)):
        if not isinstance(child.tag, str):
            continue
        local = local_name(child.tag)
        parent = child.getparent()
        where = local_name(parent.tag) if parent is not None and isinstance(parent.tag, str) else ""
        if local == "basedOn":
            fmt.based_on = _attr(child.attrib, "val")
        elif local == "color" and where == "rPr":
            fmt.colour = _hex(_attr(child.attrib, "val"))
        elif local == "highlight" and where == "rPr":
            fmt.background = _HIGHLIGHTS.get(_attr(child.attrib, "val") or "", fmt.background)
        elif local == "shd" and where == "rPr" and fmt.background is None:
            fmt.background = _shading(child.attrib)
        elif local == "shd" and where == "pPr":
            fmt.paragraph_background = _shading(child.attrib)
    return fmt


class WordStyles:
    """Character and paragraph styles with ``basedOn`` resolved: what a run inherits."""

    def __init__(self, data: bytes | None) -> None:
        self._styles: dict[str, _Format] = {}
        self.default_paragraph: str | None = None
        if not data:
            return
        root = xml_root(data)
        elements = list(root.iter("{*}style"))
        every = not elements  # no namespaced style at all: look at every element by its local name
        if every:
            elements = [e for e in root.iter() if isinstance(e.tag, str) and local_name(e.tag) == "style"]
        for element in elements:
            style_id = _attr(element.attrib, "styleId")
            if style_id is None:
                continue
            self._styles[style_id] = _read_format(element, every_element=every)
            if _attr(element.attrib, "type") == "paragraph" and _attr(element.attrib, "default") in ("1", "true"):
                self.default_paragraph = style_id

    def resolve(self, style_id: str | None) -> _Format:
        out = _Format()
        seen: set[str] = set()
        while style_id and style_id in self._styles and style_id not in seen and len(seen) < 16:
            seen.add(style_id)
            fmt = self._styles[style_id]
            out.colour = out.colour or fmt.colour
            out.background = out.background or fmt.background
            out.paragraph_background = out.paragraph_background or fmt.paragraph_background
            style_id = fmt.based_on
        return out


class _RunTarget:
    """Streams a Word story part; counts characters of runs whose colour hides them on their background."""

    def __init__(self, styles: WordStyles) -> None:
        self.styles = styles
        self.hidden = 0
        self.stack: list[str] = []
        self.cells: list[RGB | None] = []
        self.paragraph_style: str | None = None
        self.paragraph_background: RGB | None = None
        self.run: dict[str, Any] = {}
        self.run_chars = 0
        self.capture = False

    def _context(self) -> str:
        return self.stack[-2] if len(self.stack) >= 2 else ""

    def start(self, tag: str, attrib: Any) -> None:
        local = local_name(tag) if isinstance(tag, str) else ""
        self.stack.append(local)
        parent = self._context()
        in_paragraph_mark = "pPr" in self.stack[:-1] and "rPr" in self.stack
        if local == "p":
            self.paragraph_style, self.paragraph_background = None, None
        elif local == "tc":
            self.cells.append(None)
        elif local == "r":
            self.run, self.run_chars = {}, 0
        elif local == "t" and parent == "r":
            self.capture = True
        elif local == "pStyle":
            self.paragraph_style = _attr(attrib, "val")
        elif local == "shd" and parent == "pPr":
            self.paragraph_background = _shading(attrib)
        elif local == "shd" and parent == "tcPr" and self.cells:
            self.cells[-1] = _shading(attrib)
        elif parent == "rPr" and not in_paragraph_mark:
            if local == "rStyle":
                self.run["style"] = _attr(attrib, "val")
            elif local == "color":
                self.run["colour"] = _hex(_attr(attrib, "val"))
            elif local == "highlight":
                self.run["highlight"] = _HIGHLIGHTS.get(_attr(attrib, "val") or "")
            elif local == "shd":
                self.run["shading"] = _shading(attrib)

    def data(self, text: str) -> None:
        if self.capture:
            self.run_chars += sum(1 for ch in text if not ch.isspace())

    def end(self, tag: str) -> None:
        local = self.stack.pop() if self.stack else ""
        if local == "t":
            self.capture = False
        elif local == "tc" and self.cells:
            self.cells.pop()
        elif local == "r" and self.run_chars:
            if self._hides():
                self.hidden += self.run_chars
            self.run_chars = 0

    def _hides(self) -> bool:
        character = self.styles.resolve(self.run.get("style"))
        paragraph = self.styles.resolve(self.paragraph_style or self.styles.default_paragraph)
        colour = self.run.get("colour") or character.colour or paragraph.colour
        backgrounds = (
            self.run.get("highlight"),
            self.run.get("shading"),
            character.background,
            self.paragraph_background,
            paragraph.paragraph_background,
            self.cells[-1] if self.cells else None,
        )
        background = next((b for b in backgrounds if b is not None), None)
        if colour is None or background is None or not is_dark(background):
            return False
        return contrast(colour, background) < _UNREADABLE

    def close(self) -> int:
        return self.hidden


_STYLE_CACHE: weakref.WeakKeyDictionary[object, WordStyles] = weakref.WeakKeyDictionary()


def word_styles(owner: object, read_styles: Any) -> WordStyles:
    """The styles of one open package (read once; ``read_styles`` returns the part's bytes or None)."""
    styles = _STYLE_CACHE.get(owner)
    if styles is None:
        try:
            styles = WordStyles(read_styles())
        except Exception:  # styles are a refinement; unreadable ones mean direct formatting only
            styles = WordStyles(None)
        _STYLE_CACHE[owner] = styles
    return styles


def hidden_word_chars(data: bytes, styles: WordStyles, deadline: Deadline) -> int:
    """Characters of a Word story part (document, header, footer, notes) hidden by a redaction colour."""
    target = _RunTarget(styles)
    parser = etree.XMLParser(
        target=target, resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=True
    )
    data = strip_doctype(data)
    try:
        for offset in _blocks(len(data)):
            parser.feed(data[offset : offset + _BLOCK])
            deadline.check()
        return int(parser.close())
    except etree.LxmlError:
        return target.hidden


def _blocks(size: int) -> Iterator[int]:
    return iter(range(0, size, _BLOCK))
