"""HTML to text for scanning: everything a person could hide in the markup is kept.

Unlike a renderer we keep text that is never shown (``display:none``, white-on-white, 1px fonts, comments,
``alt``/``title`` attributes), because data hidden from the reader still leaves the organisation. Only
``<script>`` and ``<style>`` bodies are dropped (code, not prose).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

from lxml import etree

_SKIP = frozenset({"script", "style"})
_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl", "dt", "fieldset",
        "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
        "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "tfoot", "thead", "title",
        "tr", "ul",
    }
)  # fmt: skip
_CELL = frozenset({"td", "th"})
_ATTRIBUTES = ("alt", "title", "aria-label", "placeholder", "value", "label", "summary")
_URL_ATTRIBUTES = ("href", "src", "action")
_SPACES = re.compile(r"[ \t\f\v\r\u00a0\u200b]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*\n+")
_TAGS = re.compile(r"<[^>]*>")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>")
_PARSER = etree.HTMLParser(
    encoding="utf-8", recover=True, no_network=True, remove_comments=False, remove_pis=True, default_doctype=False
)
_CHECK_EVERY = 4096
_CELL_END = "\x1f"  # survives whitespace collapsing; becomes a tab at the end


def html_to_text(html: str, check: Callable[[], None] | None = None) -> str:
    """Readable text of an HTML document including hidden text; ``check`` is called periodically (deadlines)."""
    html = html.replace("\x00", "")
    if not html.strip():
        return ""
    try:
        text = _lxml_text(html, check)
    except (etree.LxmlError, ValueError):
        text = _stdlib_text(html)
    return tidy(text)


def tidy(text: str) -> str:
    """Collapse HTML whitespace: runs of spaces become one, more than one blank line becomes one."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return text.replace(f" {_CELL_END}", _CELL_END).replace(f"{_CELL_END} ", _CELL_END).replace(_CELL_END, "\t")


def _attribute_text(attrib: dict[str, str] | etree._Attrib) -> list[str]:
    out: list[str] = []
    for name in _ATTRIBUTES:
        value = attrib.get(name)
        if value and value.strip():
            out.append(value.strip())
    for name in _URL_ATTRIBUTES:
        value = attrib.get(name)
        # mailto:/tel: targets are contact data, often different from the visible link text.
        if value and value.strip().lower().startswith(("mailto:", "tel:")):
            out.append(value.strip())
    meta_content = attrib.get("content")
    if meta_content and attrib.get("name"):
        out.append(meta_content.strip())
    return out


def _lxml_text(html: str, check: Callable[[], None] | None) -> str:
    html = _XML_DECLARATION.sub("", html, count=1)
    root = etree.fromstring(html.encode("utf-8", "surrogatepass"), _PARSER)
    if root is None:
        return ""
    # Comments before/after <html> are siblings of the root, not children.
    tops: list[etree._Element] = list(reversed(list(root.itersiblings(preceding=True))))
    tops.append(root)
    tops.extend(root.itersiblings())
    out: list[str] = []
    seen = 0
    for top in tops:
        stack: list[tuple[etree._Element, bool]] = [(top, False)]
        while stack:
            node, closing = stack.pop()
            if closing:
                tag = node.tag if isinstance(node.tag, str) else ""
                if tag in _CELL:
                    out.append(_CELL_END)
                elif tag in _BLOCK:
                    out.append("\n")
                if node.tail and node is not top:
                    out.append(node.tail)
                continue
            seen += 1
            if check is not None and seen % _CHECK_EVERY == 0:
                check()
            stack.append((node, True))
            if node.tag is etree.Comment:
                if node.text:
                    out.append("\n" + _TAGS.sub(" ", node.text) + "\n")
                continue
            if not isinstance(node.tag, str):  # processing instructions, entities
                continue
            tag = node.tag.lower()
            if tag in _BLOCK:
                out.append("\n")
            extra = _attribute_text(node.attrib)
            if extra:
                out.append(" " + " ".join(extra) + " ")
            if tag in _SKIP:
                continue
            if node.text:
                out.append(node.text)
            stack.extend((child, False) for child in reversed(node))
    return "".join(out)


class _StdlibText(HTMLParser):
    """Fallback for markup lxml refuses: slower and looser, same rules."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self.out.append("\n")
        extra = _attribute_text({k: v for k, v in attrs if v is not None})
        if extra:
            self.out.append(" " + " ".join(extra) + " ")
        if tag in _SKIP:
            self._skip_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP and self._skip_depth:
            self._skip_depth -= 1
        if tag in _CELL:
            self.out.append(_CELL_END)
        elif tag in _BLOCK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.out.append(data)

    def handle_comment(self, data: str) -> None:
        self.out.append("\n" + _TAGS.sub(" ", data) + "\n")


def _stdlib_text(html: str) -> str:
    parser = _StdlibText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:
        return _TAGS.sub(" ", html)
    return "".join(parser.out)
