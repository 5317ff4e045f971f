"""HTML to text for scanning: everything a person could hide in the markup is kept.

Unlike a renderer we keep text that is never shown (``display:none``, white-on-white, 1px fonts, comments,
``alt``/``title`` attributes), because data hidden from the reader still leaves the organisation. Only
``<script>`` and ``<style>`` bodies are dropped (code, not prose), except the strings of CSS ``content:``
declarations, which a reader does see (``.x::before { content: "943 476" }``).

Hidden text inside a word or a run of digits (``943 476 59<span style="font-size:0">x</span>19``, or a comment
there) is moved after the document: the reader sees ``943 476 5919``, so that is what is scanned in place, and
the hidden text is still scanned on its own. Link targets (``href``, ``src`` and the like) are collected for
``gateway.mime.links``, which reads what their encoded query strings carry (``html_document``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser

from lxml import etree

from gateway.mime.hidden import Hidden, flatten, with_moved
from gateway.mime.links import links_text

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
_LINK_ATTRIBUTES = ("href", "src", "action", "formaction", "background", "poster", "cite", "longdesc", "data",
                    "srcset", "xlink:href", "{http://www.w3.org/1999/xlink}href")
_HIDDEN_STYLE = re.compile(
    r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*hidden|mso-hide\s*:\s*all"
    r"|font-size\s*:\s*0*(?:\.0+)?(?:px|pt|em|rem|%)?\s*(?:!important\s*)?(?:;|$)"
    r"|color\s*:\s*transparent|opacity\s*:\s*0*(?:\.0+)?\s*(?:!important\s*)?(?:;|$))",
    re.IGNORECASE,
)
_CSS_CONTENT = re.compile(
    r"(?<![\w-])content\s*:\s*((?:\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[^;}\"'])+)", re.I | re.S
)
_CSS_STRING = re.compile(r"\"((?:[^\"\\]|\\.)*)\"|'((?:[^'\\]|\\.)*)'", re.S)
_CSS_ESCAPE = re.compile(r"\\(?:([0-9A-Fa-f]{1,6})\s?|(.))", re.S)

_SPACES = re.compile(r"[ \t\f\v\r\u00a0\u200b]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*\n+")
_TAGS = re.compile(r"<[^>]*>")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>")
_PARSER = etree.HTMLParser(
    encoding="utf-8", recover=True, no_network=True, remove_comments=False, remove_pis=True, default_doctype=False
)
_CHECK_EVERY = 4096
_CELL_END = "\x1f"  # survives whitespace collapsing; becomes a tab at the end


@dataclass(frozen=True, slots=True)
class HtmlText:
    text: str
    """Readable text, hidden text included (see the module docstring for where hidden text goes)."""
    links: str
    """What the link targets carry (``gateway.mime.links``), one line per host/path or parameter."""


def html_document(html: str, check: Callable[[], None] | None = None) -> HtmlText:
    """Text and link text of an HTML document; ``check`` is called periodically (deadlines)."""
    html = html.replace("\x00", "")
    if not html.strip():
        return HtmlText("", "")
    urls: list[str] = []
    try:
        text = _lxml_text(html, check, urls)
    except (etree.LxmlError, ValueError):
        text = _stdlib_text(html, urls)
    return HtmlText(tidy(text), links_text(urls))


def html_to_text(html: str, check: Callable[[], None] | None = None, *, links: bool = False) -> str:
    """Readable text of an HTML document including hidden text; with ``links`` the link text follows it."""
    doc = html_document(html, check)
    if links and doc.links:
        return f"{doc.text}\n\n{doc.links}" if doc.text else doc.links
    return doc.text


def css_content_text(css: str) -> str:
    """The strings of CSS ``content:`` declarations (escapes decoded), one a line."""
    out: list[str] = []
    for decl in _CSS_CONTENT.finditer(css[:200_000]):
        strings = _CSS_STRING.finditer(decl.group(1))
        pieces = [m.group(1) if m.group(1) is not None else m.group(2) or "" for m in strings]
        text = "".join(_CSS_ESCAPE.sub(_css_unescape, p) for p in pieces).strip()
        if text:
            out.append(text)
    return "\n".join(out)


def _css_unescape(m: re.Match[str]) -> str:
    if m.group(1):
        try:
            return chr(int(m.group(1), 16))
        except (ValueError, OverflowError):
            return ""
    return "" if m.group(2) == "\n" else m.group(2)


def _hidden(attrib: dict[str, str] | etree._Attrib) -> bool:
    style = attrib.get("style")
    return "hidden" in attrib or bool(style and _HIDDEN_STYLE.search(style))


def _link_targets(attrib: dict[str, str] | etree._Attrib, urls: list[str]) -> None:
    for name in _LINK_ATTRIBUTES:
        value = attrib.get(name)
        if value and value.strip():
            if name == "srcset":
                urls.extend(p.strip().split(" ")[0] for p in value.split(",") if p.strip())
            else:
                urls.append(value.strip())


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
    style = attrib.get("style")
    if style and "content" in style.lower():
        css = css_content_text(style)
        if css:
            out.append(css)
    return out


def _lxml_text(html: str, check: Callable[[], None] | None, urls: list[str]) -> str:
    html = _XML_DECLARATION.sub("", html, count=1)
    root = etree.fromstring(html.encode("utf-8", "surrogatepass"), _PARSER)
    if root is None:
        return ""
    # Comments before/after <html> are siblings of the root, not children.
    tops: list[etree._Element] = list(reversed(list(root.itersiblings(preceding=True))))
    tops.append(root)
    tops.extend(root.itersiblings())
    out: list[object] = []
    targets: list[list[object]] = [out]
    seen = 0
    for top in tops:
        stack: list[tuple[etree._Element, bool]] = [(top, False)]
        while stack:
            node, closing = stack.pop()
            if closing:
                tag = node.tag if isinstance(node.tag, str) else ""
                if tag in _CELL:
                    targets[-1].append(_CELL_END)
                elif tag in _BLOCK:
                    targets[-1].append("\n")
                if isinstance(node.tag, str) and _hidden(node.attrib) and len(targets) > 1:
                    targets.pop()
                if node.tail and node is not top:
                    targets[-1].append(node.tail)
                continue
            seen += 1
            if check is not None and seen % _CHECK_EVERY == 0:
                check()
            stack.append((node, True))
            if node.tag is etree.Comment:
                if node.text:
                    hidden = Hidden()
                    hidden.parts.append("\n" + _TAGS.sub(" ", node.text) + "\n")
                    targets[-1].append(hidden)
                continue
            if not isinstance(node.tag, str):  # processing instructions, entities
                continue
            tag = node.tag.lower()
            if _hidden(node.attrib):
                hidden = Hidden()
                targets[-1].append(hidden)
                targets.append(hidden.parts)
            if tag in _BLOCK:
                targets[-1].append("\n")
            _link_targets(node.attrib, urls)
            extra = _attribute_text(node.attrib)
            if extra:
                targets[-1].append(" " + " ".join(extra) + " ")
            if tag in _SKIP:
                if tag == "style" and node.text:
                    css = css_content_text(node.text)
                    if css:
                        targets[-1].append("\n" + css + "\n")
                continue
            if node.text:
                targets[-1].append(node.text)
            stack.extend((child, False) for child in reversed(node))
    moved: list[str] = []
    return with_moved(flatten(out, moved), moved)


class _StdlibText(HTMLParser):
    """Fallback for markup lxml refuses: slower and looser, same rules."""

    def __init__(self, urls: list[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.urls = urls
        self._skip_depth = 0
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self.out.append("\n")
        attrib = {k: v for k, v in attrs if v is not None}
        _link_targets(attrib, self.urls)
        self._in_style = tag == "style"
        extra = _attribute_text(attrib)
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
        elif self._in_style:
            css = css_content_text(data)
            if css:
                self.out.append("\n" + css + "\n")

    def handle_comment(self, data: str) -> None:
        self.out.append("\n" + _TAGS.sub(" ", data) + "\n")


def _stdlib_text(html: str, urls: list[str] | None = None) -> str:
    parser = _StdlibText([] if urls is None else urls)
    try:
        parser.feed(html)
        parser.close()
    except Exception:
        return _TAGS.sub(" ", html)
    return "".join(parser.out)
