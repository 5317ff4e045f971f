"""DOCX, XLSX and PPTX read straight from their XML parts with lxml (no python-docx/openpyxl object model).

Every XML part is read except a short list of pure formatting parts, so text in headers, footers, comments,
tracked deletions, text boxes, speaker notes, hidden sheets, pivot caches and document properties is scanned.
Sheets are streamed row by row: a sheet declaring ``A1:XFD1048576`` costs only the cells it really holds.

Text a person can see that lives outside the parts' text nodes is read too: DOCX document variables (in
``settings.xml``, otherwise formatting), attribute values of custom XML parts (data bound to content controls),
Excel defined names, data-validation lists with their input and error messages, and the string and number
literals of a formula whose cached value is missing (Excel computes and shows it on opening).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from lxml import etree

from gateway.mime.extractors.base import Context, Extractor, Item
from gateway.mime.extractors.package import Package, collect, natural_key, open_package
from gateway.mime.extractors.redaction import MIN_HIDDEN_CHARS, WORD_STORY, hidden_word_chars, word_styles
from gateway.mime.extractors.xmltext import XmlTextSpec, local_name, strip_doctype, xml_root, xml_text
from gateway.mime.guards import CorruptContent, Deadline

_WORD_STYLES = "word/styles.xml"
_SKIP_PART = re.compile(
    r"(^\[content_types\]\.xml$|\.rels$|(^|/)(styles|styleswitheffects|settings|fonttable|websettings|numbering"
    r"|presprops|viewprops|tablestyles|calcchain|commentsids|commentsextended|commentsextensible)\.xml$"
    r"|/theme/|^customxml/itemprops\d*\.xml$"
    # Slide masters and layouts hold template prompts ("Click to edit Master title style") and sample dates.
    r"|^ppt/(slidemasters|slidelayouts|notesmasters|handoutmasters)/)",
    re.I,
)
_TEXT_PART = re.compile(r"\.(xml|vml)$", re.I)
# Only the properties a person writes; counters, dates and the application name are left out.
_PROPERTY_FIELDS: dict[str, frozenset[str] | None] = {
    "docprops/app.xml": frozenset({"Company", "Manager", "HyperlinkBase"}),
    "docprops/core.xml": frozenset(
        {
            "title",
            "subject",
            "creator",
            "keywords",
            "description",
            "lastModifiedBy",
            "category",
            "contentStatus",
            "identifier",
        }
    ),
}
_HEADER_CODES = re.compile(r'&(?:"[^"]*"|K[0-9A-Fa-f]{6}|\d+|[LCRPNDTFAGBISUXYEZO])')

DOCUMENT_SPEC = XmlTextSpec(
    text_tags=frozenset({"t", "delText", "instrText", "delInstrText", "text"}),
    line_tags=frozenset({"p", "si", "comment", "tr"}),
    cell_tags=frozenset({"tc"}),
    break_tags=frozenset({"br", "cr"}),
    tab_tags=frozenset({"tab"}),
    attr_tags=frozenset({"docPr", "cNvPr"}),
    run_tag="r",
    hidden_flags=frozenset({"vanish", "specVanish", "webHidden"}),
    tiny_size_tag="sz",
)
MIXED_SPEC = XmlTextSpec(
    line_tags=frozenset({"p", "div", "br", "property"}),
    skip_tags=frozenset({"ClientData", "shapetype", "formulas", "path", "stroke"}),  # anchors and geometry
)
PIVOT_SPEC = XmlTextSpec(
    text_tags=frozenset({"__none__"}),
    line_tags=frozenset({"r"}),
    attr_tags=frozenset({"s", "n", "d"}),
    attr_names=frozenset({"v"}),
)


def _part_spec(name: str) -> Callable[[Package, str], str]:
    lower = name.lower()
    if lower.startswith("docprops/"):
        return lambda pkg, part: pkg.properties(part, _PROPERTY_FIELDS.get(lower))
    if lower.startswith("customxml/") and lower.endswith(".xml"):
        return lambda pkg, part: _all_text(pkg.read(part))
    if lower.endswith(".vml"):
        return lambda pkg, part: pkg.text(part, MIXED_SPEC)
    if "/pivotcache/" in lower:
        return lambda pkg, part: pkg.text(part, PIVOT_SPEC)
    if WORD_STORY.match(name):
        return _word_story
    return lambda pkg, part: pkg.text(part, DOCUMENT_SPEC)


def _word_story(pkg: Package, part: str) -> str:
    """A Word story part's text, and a ``redaction_failed`` note when some of it is hidden by a redaction
    colour (black highlight or shading under black text): read once for both."""
    data = pkg.read(part)
    styles = word_styles(pkg, lambda: pkg.read(_WORD_STYLES) if _WORD_STYLES in pkg.infos else None)
    hidden = hidden_word_chars(data, styles, pkg.ctx.deadline)
    if hidden >= MIN_HIDDEN_CHARS:
        detail = f"{part}: {hidden} characters of live text under a redaction colour"
        pkg.ctx.sink.add_note(pkg.ctx.sink.redaction_failed, pkg.item.location, detail)
    return xml_text(data, DOCUMENT_SPEC, pkg.ctx.deadline)


def _read_parts(pkg: Package, names: list[str], texts: list[str]) -> None:
    for name in names:
        pkg.ctx.deadline.check()
        reader = _part_spec(name)
        collect(texts, lambda n=name, r=reader: r(pkg, n))  # type: ignore[misc]


def _embeddings(pkg: Package) -> None:
    for name in pkg.names:
        if "/embeddings/" in name.lower():
            pkg.embed(name)


def _text_parts(pkg: Package, exclude: set[str]) -> list[str]:
    return [n for n in pkg.names if n not in exclude and _TEXT_PART.search(n) and not _SKIP_PART.search(n)]


def _ordered(names: list[str], priorities: list[tuple[re.Pattern[str], int]]) -> list[str]:
    def key(name: str) -> tuple[int, list[object]]:
        for pattern, rank in priorities:
            if pattern.search(name):
                return rank, natural_key(name)
        return 50, natural_key(name)

    return sorted(names, key=key)


def _all_text(data: bytes) -> str:
    """Element text and attribute values (namespace declarations aside) of a small data part, one a line."""
    root = xml_root(data)
    lines: list[str] = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for key, value in element.attrib.items():
            if value.strip() and not key.startswith("{http://www.w3.org/") and "://" not in value[:12]:
                lines.append(f"{local_name(key)}: {value.strip()}")
        if element.text and element.text.strip():
            lines.append(element.text.strip())
    return "\n".join(lines)


def _doc_vars(pkg: Package) -> str:
    """DOCX document variables (``w:docVar`` in settings.xml): ``name: value`` lines."""
    if "word/settings.xml" not in pkg.infos:
        return ""
    lines: list[str] = []
    for element in xml_root(pkg.read("word/settings.xml")).iter():
        if isinstance(element.tag, str) and local_name(element.tag) == "docVar":
            attrs = {local_name(k): v for k, v in element.attrib.items()}
            value = attrs.get("val", "").strip()
            if value:
                lines.append(f"{attrs.get('name', '').strip()}: {value}".strip(": "))
    return "\n".join(lines)


def _read_package(
    item: Item, ctx: Context, order: list[tuple[re.Pattern[str], int]], extra: Callable[[Package], str] | None = None
) -> None:
    texts: list[str] = []
    with open_package(item, ctx) as pkg:
        try:
            _read_parts(pkg, _ordered(_text_parts(pkg, set()), order), texts)
            if extra is not None:
                collect(texts, lambda: extra(pkg))
        finally:
            ctx.sink.add_text(item.location, "\n".join(texts), "attachment")
        _embeddings(pkg)


_DOCX_ORDER = [
    (re.compile(r"^word/document\d*\.xml$"), 0),
    (re.compile(r"^word/(header|footer)\d*\.xml$"), 1),
    (re.compile(r"^word/(footnotes|endnotes)\.xml$"), 2),
    (re.compile(r"^word/comments\.xml$"), 3),
    (re.compile(r"^docProps/"), 90),
    (re.compile(r"^customXml/"), 95),
]
_PPTX_ORDER = [
    (re.compile(r"^ppt/slides/"), 0),
    (re.compile(r"^ppt/notesSlides/"), 1),
    (re.compile(r"^ppt/comments/"), 2),
    (re.compile(r"^docProps/"), 90),
]


def _docx(item: Item, ctx: Context) -> None:
    _read_package(item, ctx, _DOCX_ORDER, _doc_vars)


def _pptx(item: Item, ctx: Context) -> None:
    _read_package(item, ctx, _PPTX_ORDER)


# XLSX ------------------------------------------------------------------------------------------------------
_BUILTIN_DATE_FORMATS = frozenset({*range(14, 23), *range(27, 37), 45, 46, 47, *range(50, 59)})
_QUOTED = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')
_DATE_CODE = re.compile(r"[dy]", re.I)
_SHEET_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
_HEADER_FOOTER = frozenset({"oddHeader", "oddFooter", "evenHeader", "evenFooter", "firstHeader", "firstFooter"})


def _xlsx(item: Item, ctx: Context) -> None:
    texts: list[str] = []
    with open_package(item, ctx) as pkg:
        try:
            shared = _shared_strings(pkg) if "xl/sharedStrings.xml" in pkg.infos else []
            date_styles = _date_styles(pkg) if "xl/styles.xml" in pkg.infos else frozenset()
            sheets, date1904 = _sheets(pkg)
            collect(texts, lambda: _defined_names(pkg))
            done = {"xl/sharedStrings.xml", "xl/workbook.xml"}
            for title, part in sheets:
                ctx.deadline.check()
                done.add(part)
                body = _sheet_text(pkg.read(part), shared, date_styles, date1904, ctx.deadline)
                texts.append(f"{title}\n{body}" if title else body)
            rest = _text_parts(pkg, done)
            _read_parts(pkg, _ordered(rest, [(re.compile(r"^docProps/"), 90)]), texts)
        finally:
            ctx.sink.add_text(item.location, "\n".join(texts), "attachment")
        _embeddings(pkg)


def _sheets(pkg: Package) -> tuple[list[tuple[str, str]], bool]:
    """(sheet title, part name) in workbook order, then any worksheet part the workbook does not list."""
    found: list[tuple[str, str]] = []
    date1904 = False
    if "xl/workbook.xml" in pkg.infos:
        root = xml_root(pkg.read("xl/workbook.xml"))
        targets = _relationships(pkg, "xl/_rels/workbook.xml.rels")
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            local = local_name(element.tag)
            if local == "workbookPr" and element.get("date1904") in ("1", "true"):
                date1904 = True
            if local == "sheet":
                rel_id = next((v for k, v in element.attrib.items() if local_name(k) == "id"), "")
                part = targets.get(rel_id, "")
                if part in pkg.infos:
                    found.append((element.get("name", ""), part))
    listed = {part for _, part in found}
    for name in pkg.names:
        if name.startswith("xl/worksheets/") and name.endswith(".xml") and name not in listed:
            found.append(("", name))
    return found, date1904


def _defined_names(pkg: Package) -> str:
    """Workbook defined names (``name: formula``): a constant there (``="Amy Brown"``) shows wherever it is used.
    Excel's own names (print areas, filters) are references, not text."""
    if "xl/workbook.xml" not in pkg.infos:
        return ""
    lines: list[str] = []
    for element in xml_root(pkg.read("xl/workbook.xml")).iter():
        if isinstance(element.tag, str) and local_name(element.tag) == "definedName":
            name = element.get("name", "")
            value = (element.text or "").strip()
            if name.startswith("_xlnm.") or not (name or value):
                continue
            literals = formula_literals(value)
            lines.append(f"{name}: {literals}" if literals else name)
    return "\n".join(lines)


_FORMULA_PIECE = re.compile(r'"((?:[^"]|"")*)"|(?<![A-Za-z$\d._!:])(\d+(?:\.\d+)?)(?![\d.]*[A-Za-z(!:])')
_JOINER = re.compile(r"^\s*&\s*$")


def formula_literals(formula: str) -> str:
    """The string and number literals of a formula as a reader would see them computed: literals joined by
    ``&`` run together (``"943 "&"476"`` -> ``943 476``), others separated by a space."""
    out: list[str] = []
    last_end = -1
    for m in _FORMULA_PIECE.finditer(formula[:20_000]):
        piece = m.group(1).replace('""', '"') if m.group(1) is not None else m.group(2)
        if out and last_end >= 0 and _JOINER.match(formula[last_end : m.start()]):
            out[-1] += piece
        else:
            out.append(piece)
        last_end = m.end()
    return " ".join(p for p in out if p.strip())


def _relationships(pkg: Package, rels_name: str) -> dict[str, str]:
    if rels_name not in pkg.infos:
        return {}
    base = rels_name.split("_rels/", 1)[0]
    out: dict[str, str] = {}
    for element in xml_root(pkg.read(rels_name)).iter():
        if isinstance(element.tag, str) and local_name(element.tag) == "Relationship":
            target = element.get("Target", "")
            out[element.get("Id", "")] = target.lstrip("/") if target.startswith("/") else base + target
    return out


def _shared_strings(pkg: Package) -> list[str]:
    strings: list[str] = []
    current: list[str] = []
    capture = 0
    phonetic = 0
    for event, element in etree.iterparse(
        _Reader(strip_doctype(pkg.read("xl/sharedStrings.xml"))),
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        recover=True,
    ):
        local = local_name(element.tag) if isinstance(element.tag, str) else ""
        if event == "start":
            if local == "si":
                current = []
            elif local == "rPh":
                phonetic += 1
            elif local == "t":
                capture += 1
            continue
        if local == "t":
            capture -= 1
            if not phonetic and element.text:
                current.append(element.text)
        elif local == "rPh":
            phonetic -= 1
        elif local == "si":
            strings.append("".join(current))
            element.clear()
            if len(strings) % 4096 == 0:
                pkg.ctx.deadline.check()
    return strings


class _Reader:
    """File-like view over bytes for ``iterparse`` (which wants ``read``)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._pos + size
        piece = self._data[self._pos : end]
        self._pos += len(piece)
        return piece


def _date_styles(pkg: Package) -> frozenset[int]:
    """Indexes of cell formats (``cellXfs``) that display numbers as dates."""
    root = xml_root(pkg.read("xl/styles.xml"))
    custom: dict[int, str] = {}
    formats: list[int] = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        local = local_name(element.tag)
        if local == "numFmt":
            try:
                custom[int(element.get("numFmtId", "-1"))] = element.get("formatCode", "")
            except ValueError:
                continue
        elif local == "xf" and _parent_name(element) == "cellXfs":
            try:
                formats.append(int(element.get("numFmtId", "0")))
            except ValueError:
                formats.append(0)
    dates = set()
    for index, fmt in enumerate(formats):
        code = custom.get(fmt)
        if fmt in _BUILTIN_DATE_FORMATS or (code is not None and _DATE_CODE.search(_QUOTED.sub("", code))):
            dates.add(index)
    return frozenset(dates)


def _parent_name(element: etree._Element) -> str:
    parent = element.getparent()
    return local_name(str(parent.tag)) if parent is not None else ""


def _excel_date(serial: str, date1904: bool) -> str | None:
    try:
        value = float(serial)
    except ValueError:
        return None
    if not 0 < value < 2958466:  # Excel's own range: 1900-01-01 .. 9999-12-31
        return None
    epoch = datetime(1904, 1, 1) if date1904 else datetime(1899, 12, 30)
    moment = epoch + timedelta(days=value)
    # UK order, as a reader of the sheet would see it in a UK locale.
    if moment.hour or moment.minute:
        return moment.strftime("%d/%m/%Y %H:%M")
    return moment.strftime("%d/%m/%Y")


class _SheetTarget:
    """Streams ``<row>``/``<c>`` into tab-separated lines, resolving shared strings and date formats."""

    def __init__(self, shared: list[str], date_styles: frozenset[int], date1904: bool, deadline: Deadline) -> None:
        self.shared = shared
        self.date_styles = date_styles
        self.date1904 = date1904
        self.deadline = deadline
        self.lines: list[str] = []
        self.row: list[str] = []
        self.value: list[str] = []
        self.cell_type = ""
        self.cell_style = -1
        self.capture = 0
        self.in_cell = False
        self.footer: list[str] = []
        self.in_footer = 0
        self.formula: list[str] = []
        self.in_formula = 0
        self.validation: list[str] = []
        self.in_validation = 0
        self.validation_formula: list[str] = []
        self.in_validation_formula = 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        local = local_name(tag)
        if local == "c":
            self.in_cell = True
            self.cell_type = attrib.get("t", "n")
            try:
                self.cell_style = int(attrib.get("s", "-1"))
            except ValueError:
                self.cell_style = -1
            self.value = []
            self.formula = []
        elif local in ("v", "t") and self.in_cell:
            self.capture += 1
        elif local == "f" and self.in_cell:
            self.in_formula += 1
        elif local in _HEADER_FOOTER:
            self.in_footer += 1
        elif local == "dataValidation":
            self.in_validation += 1
            for key in ("promptTitle", "prompt", "errorTitle", "error"):
                value = attrib.get(key, "").strip()
                if value:
                    self.validation.append(value)
        elif self.in_validation and local in ("formula1", "formula2", "f"):
            self.in_validation_formula += 1
            self.validation_formula = []

    def data(self, text: str) -> None:
        if self.capture:
            self.value.append(text)
        elif self.in_formula:
            self.formula.append(text)
        elif self.in_validation_formula:
            self.validation_formula.append(text)
        elif self.in_footer:
            self.footer.append(text)

    def end(self, tag: str) -> None:
        local = local_name(tag)
        if local in ("v", "t") and self.capture:
            self.capture -= 1
        elif local == "f" and self.in_formula:
            self.in_formula -= 1
        elif self.in_validation_formula and local in ("formula1", "formula2", "f"):
            self.in_validation_formula -= 1
            if not self.in_validation_formula:
                # a list source: "Amy Brown,Jo Bloggs" (quoted literal) or a range reference (no text)
                items = formula_literals("".join(self.validation_formula))
                if items:
                    self.validation.append(items.replace(",", ", "))
        elif local == "dataValidation" and self.in_validation:
            self.in_validation -= 1
        elif local == "c":
            self.in_cell = False
            value = self._format("".join(self.value))
            if not value and self.formula:  # no cached value: Excel shows what the formula computes
                value = formula_literals("".join(self.formula))
            if value:
                self.row.append(value)
        elif local == "row":
            if self.row:
                self.lines.append("\t".join(self.row))
            self.row = []
            if len(self.lines) % 2048 == 0:
                self.deadline.check()
        elif local in _HEADER_FOOTER:
            self.in_footer -= 1
            self.footer.append("\n")

    def _format(self, raw: str) -> str:
        if self.cell_type == "s":
            try:
                return self.shared[int(raw)]
            except (ValueError, IndexError):
                return ""
        if self.cell_type == "b":
            return {"1": "TRUE", "0": "FALSE"}.get(raw, raw)
        if self.cell_type == "n" and self.cell_style in self.date_styles:
            return _excel_date(raw, self.date1904) or raw
        return raw

    def close(self) -> str:
        if self.row:
            self.lines.append("\t".join(self.row))
        footer = _HEADER_CODES.sub(" ", "".join(self.footer)).strip()
        validation = "\n".join(self.validation)
        return "\n".join(self.lines) + ("\n" + footer if footer else "") + ("\n" + validation if validation else "")


def _sheet_text(data: bytes, shared: list[str], date_styles: frozenset[int], date1904: bool, deadline: Deadline) -> str:
    target = _SheetTarget(shared, date_styles, date1904, deadline)
    parser = etree.XMLParser(
        target=target, resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=True
    )
    data = strip_doctype(data)
    try:
        for offset in range(0, len(data), 1 << 16):
            parser.feed(data[offset : offset + (1 << 16)])
            deadline.check()
        return str(parser.close())
    except etree.LxmlError as exc:
        partial = target.close()
        if partial.strip():
            return partial
        raise CorruptContent("sheet unreadable") from exc


DOCX = Extractor("docx", frozenset({"docx"}), _docx)
XLSX = Extractor("xlsx", frozenset({"xlsx"}), _xlsx)
PPTX = Extractor("pptx", frozenset({"pptx"}), _pptx)
