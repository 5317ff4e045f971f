"""Word styles for the failed-redaction check are read from the few tags that matter (lxml filters them in C):
the same formats as walking every element, on a real python-docx styles part with redaction-like styles."""

from __future__ import annotations

import io
import zipfile

import docx
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_COLOR_INDEX
from docx.shared import RGBColor

from gateway.mime.extractors import redaction
from gateway.mime.extractors.xmltext import local_name, xml_root


def _styles_part() -> bytes:
    d = docx.Document()
    black = d.styles.add_style("Blackout", WD_STYLE_TYPE.CHARACTER)
    black.font.color.rgb = RGBColor(0, 0, 0)
    black.font.highlight_color = WD_COLOR_INDEX.BLACK
    child = d.styles.add_style("Blackout Child", WD_STYLE_TYPE.CHARACTER)
    child.base_style = black
    white = d.styles.add_style("White Text", WD_STYLE_TYPE.PARAGRAPH)
    white.font.color.rgb = RGBColor(0xFF, 0xFF, 0xFF)
    out = io.BytesIO()
    d.save(out)
    return zipfile.ZipFile(io.BytesIO(out.getvalue())).read("word/styles.xml")


def _formats(styles: redaction.WordStyles) -> dict[str, tuple[object, ...]]:
    return {k: (v.colour, v.background, v.paragraph_background, v.based_on) for k, v in styles._styles.items()}


def test_filtered_read_equals_reading_every_element() -> None:
    data = _styles_part()
    fast = redaction.WordStyles(data)
    slow = {}
    for el in xml_root(data).iter():
        if isinstance(el.tag, str) and local_name(el.tag) == "style" and redaction._attr(el.attrib, "styleId"):
            f = redaction._read_format(el, every_element=True)
            slow[redaction._attr(el.attrib, "styleId")] = (f.colour, f.background, f.paragraph_background, f.based_on)
    assert len(slow) > 100 and _formats(fast) == slow
    assert fast.resolve("BlackoutChild").colour is not None and fast.resolve("BlackoutChild").background is not None


def test_styles_with_an_undeclared_prefix_are_still_read() -> None:
    data = _styles_part().replace(b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"', b"")
    styles = redaction.WordStyles(data)
    assert styles.resolve("BlackoutChild").background is not None
