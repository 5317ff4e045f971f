"""Real documents of every supported format, built in the test, read end to end from a message."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from gateway.mime.extract import extract
from gateway.mime.limits import ExtractionLimits
from gateway.mime.model import Extraction
from gateway.mime.ocr import tesseract_path
from gateway.mime.parse import parse_message
from tests import mime_fixtures as fx

LIMITS = ExtractionLimits(ocr=False)
needs_tesseract = pytest.mark.skipif(tesseract_path() is None, reason="tesseract not installed")


def attach(
    name: str, data: bytes, ctype: str = "application/octet-stream", limits: ExtractionLimits = LIMITS
) -> Extraction:
    return extract(parse_message(fx.raw(fx.message(attachments=[(name, data, ctype)]))), limits)


def text_at(result: Extraction, location: str) -> str:
    return "\n".join(c.text for c in result.chunks if c.location == location or c.location.startswith(location + "#"))


def test_docx_every_part() -> None:
    """DOCX body, table row, hidden run, header, footer, comment and core properties are all scanned."""
    result = attach("report.docx", fx.docx_bytes())
    text = text_at(result, "attachment:report.docx")
    for expected in (
        "Body paragraph about Jane Example.",
        "Hidden run text",
        "Cell one\tCell two",
        "Header text OFFICIAL-SENSITIVE",
        "Footer text page",
        "Reviewer comment text",
        "creator: Author Person",
        "title: Title Property",
    ):
        assert expected in text
    info = result.attachments[0]
    assert info.content_type.endswith("wordprocessingml.document")
    assert result.unscannable == ()


def test_xlsx_cells_dates_hidden_sheets() -> None:
    """XLSX shared strings, numbers, dates (as dd/mm/yyyy), hidden sheets, comments and headers are read."""
    text = text_at(attach("cases.xlsx", fx.xlsx_bytes()), "attachment:cases.xlsx")
    assert "Cases\nName\tBorn\tRef\nAlice Example\t14/03/2015\t12345678" in text
    assert "Hidden sheet value" in text
    assert "Cell comment text" in text
    assert "Sheet header text" in text
    assert "&C" not in text


def test_xlsx_huge_dimension_is_fast() -> None:
    """A sheet declaring A1:XFD1048576 costs only its real cells (openpyxl read-only would hang)."""
    source = zipfile.ZipFile(io.BytesIO(fx.xlsx_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<dimension ref="A1:C2"/>', b'<dimension ref="A1:XFD1048576"/>')
                assert b"XFD1048576" in data
            target.writestr(info, data)
    result = attach("huge.xlsx", out.getvalue())
    assert "Alice Example" in text_at(result, "attachment:huge.xlsx")


def test_pptx_slides_notes_tables() -> None:
    """PPTX slide text, tables and speaker notes are scanned; master-slide prompts are not."""
    text = text_at(attach("deck.pptx", fx.pptx_bytes()), "attachment:deck.pptx")
    for expected in (
        "Slide title text",
        "Slide body text",
        "Table cell A\tTable cell B",
        "Speaker notes text",
        "Second slide title",
    ):
        assert expected in text
    assert "Click to edit Master" not in text


def test_odt() -> None:
    """ODT body, spans, spaces and tabs, header (styles.xml) and metadata are scanned."""
    text = text_at(attach("letter.odt", fx.odt_bytes("Letter about Sam")), "attachment:letter.odt")
    for expected in (
        "Heading line",
        "Letter about Sam with\tspace",
        "Second spanned paragraph",
        "ODT header text",
        "title: ODT title",
    ):
        assert expected in text


def test_encrypted_odt() -> None:
    """A password-protected OpenDocument file (manifest encryption-data) is unscannable: encrypted."""
    source = zipfile.ZipFile(io.BytesIO(fx.odt_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "META-INF/manifest.xml":
                data = data.replace(b"</manifest:manifest>", b"<manifest:encryption-data/></manifest:manifest>")
            target.writestr(info, data)
    result = attach("locked.odt", out.getvalue())
    assert [(u.location, u.reason) for u in result.unscannable] == [("attachment:locked.odt", "encrypted")]


def test_rtf() -> None:
    """RTF text including code-page escapes is read."""
    text = text_at(attach("memo.rtf", fx.rtf_bytes("Memo for Kim"), "application/rtf"), "attachment:memo.rtf")
    assert "Memo for Kim £100" in text
    assert "Next line" in text


def test_pdf_text_and_pages() -> None:
    """PDF text from every page plus its title metadata."""
    text = text_at(attach("order.pdf", fx.pdf_bytes(["Order concerning Lee"], pages=3)), "attachment:order.pdf")
    assert text.count("Order concerning Lee") == 3
    assert "Title: PDF title" in text


def test_pdf_form_field_values() -> None:
    """Filled-in form fields (not part of the page text) are scanned."""
    text = text_at(attach("form.pdf", fx.pdf_form_bytes("Child name Robin")), "attachment:form.pdf")
    assert "Child name Robin" in text


def test_pdf_named_txt_is_read_as_pdf() -> None:
    """Type comes from content: a PDF named notes.txt and sent as text/plain is read as a PDF."""
    result = attach("notes.txt", fx.pdf_bytes(["Disguised PDF text"]), "text/plain")
    assert "Disguised PDF text" in text_at(result, "attachment:notes.txt")
    assert result.attachments[0].content_type == "application/pdf"
    assert result.attachments[0].declared_type == "text/plain"


def test_encrypted_pdf() -> None:
    """A password-protected PDF is unscannable: encrypted."""
    result = attach("locked.pdf", fx.encrypt_pdf(fx.pdf_bytes()))
    assert [(u.location, u.reason) for u in result.unscannable] == [("attachment:locked.pdf", "encrypted")]


def test_encrypted_office() -> None:
    """Password-protected DOCX/XLSX (CFB with EncryptedPackage) are unscannable: encrypted."""
    for name, plain in (("locked.docx", fx.docx_bytes()), ("locked.xlsx", fx.xlsx_bytes())):
        result = attach(name, fx.encrypt_office(plain))
        assert [(u.location, u.reason) for u in result.unscannable] == [(f"attachment:{name}", "encrypted")]


def test_docx_whitespace_bomb_is_limit() -> None:
    """A small DOCX whose XML part expands ~1000x is unscannable: limit, without decompressing it."""
    source = zipfile.ZipFile(io.BytesIO(fx.docx_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "word/document.xml":
                data = data.replace(b"<w:body>", b"<w:body>" + b" " * 30_000_000)
            target.writestr(info.filename, data)
    bomb = out.getvalue()
    assert len(bomb) < 200_000
    result = attach("bomb.docx", bomb)
    assert [(u.location, u.reason) for u in result.unscannable] == [("attachment:bomb.docx", "limit")]
    assert "ratio" in result.unscannable[0].detail


@pytest.mark.parametrize(
    ("name", "data", "ctype", "expected"),
    [
        ("people.csv", b"name,dob\r\nJo Bloggs,01/02/2010\r\n", "text/csv", "Jo Bloggs,01/02/2010"),
        ("data.json", json.dumps({"child": "Sam Smith"}).encode(), "application/json", '"child": "Sam Smith"'),
        ("data.xml", b"<?xml version='1.0'?><case><name>Ali</name></case>", "application/xml", "<name>Ali</name>"),
        ("page.html", b"<html><body><p>Visible</p><p hidden>Hidden para</p></body></html>", "text/html", "Hidden para"),
        ("latin.txt", "Café £3".encode("cp1252"), "text/plain", "Café £3"),
        ("utf16.txt", "Zoë".encode("utf-16"), "text/plain", "Zoë"),
    ],
)
def test_text_formats(name: str, data: bytes, ctype: str, expected: str) -> None:
    """CSV, JSON, XML, HTML and text in assorted encodings are read as text."""
    assert expected in text_at(attach(name, data, ctype), f"attachment:{name}")


def test_outlook_msg() -> None:
    """An attached Outlook .msg yields its headers, body and its own attachments."""
    data = fx.msg_bytes("MSG subject", "MSG body about Pat", [("inner.txt", b"msg attachment text")])
    result = attach("forwarded.msg", data)
    assert "Subject: MSG subject" in text_at(result, "attachment:forwarded.msg/headers")
    assert "To: Recipient Name <recipient@example.com>" in text_at(result, "attachment:forwarded.msg/headers")
    assert text_at(result, "attachment:forwarded.msg/body") == "MSG body about Pat"
    assert text_at(result, "attachment:forwarded.msg/attachment:inner.txt") == "msg attachment text"
    assert "attachment:forwarded.msg/attachment:inner.txt" in {a.location for a in result.attachments}


def test_tnef_winmail() -> None:
    """winmail.dat (TNEF) yields its subject, body and attachments."""
    data = fx.tnef_bytes("TNEF subject", "TNEF body about Max", [("t.txt", b"tnef attachment text")])
    result = attach("winmail.dat", data, "application/ms-tnef")
    assert text_at(result, "attachment:winmail.dat/headers") == "Subject: TNEF subject"
    assert text_at(result, "attachment:winmail.dat/body") == "TNEF body about Max"
    assert text_at(result, "attachment:winmail.dat/attachment:t.txt") == "tnef attachment text"


def test_image_without_ocr_is_not_text_scanned() -> None:
    """With OCR off (or tesseract absent) an image is noted as not text-scanned, never unscannable."""
    result = attach("scan.png", fx.text_image("Hello"), "image/png")
    assert result.not_text_scanned == ("attachment:scan.png",)
    assert result.unscannable == ()


def test_scanned_pdf_without_ocr() -> None:
    """Image-only PDF pages without OCR are noted at <pdf>/ocr."""
    result = attach("scan.pdf", fx.scanned_pdf("Scanned words"))
    assert result.not_text_scanned == ("attachment:scan.pdf/ocr",)


@needs_tesseract
def test_image_ocr() -> None:
    """With tesseract installed, text in PNG/JPEG/TIFF images is read as an ocr chunk."""
    limits = ExtractionLimits(ocr=True)
    for fmt, ext in (("PNG", "png"), ("JPEG", "jpg"), ("TIFF", "tif")):
        result = attach(f"scan.{ext}", fx.text_image("Hearing on Monday", fmt), "application/octet-stream", limits)
        chunk = next(c for c in result.chunks if c.location == f"attachment:scan.{ext}")
        assert chunk.kind == "ocr"
        assert "Hearing on Monday" in chunk.text
        assert result.not_text_scanned == ()


@needs_tesseract
def test_scanned_pdf_ocr() -> None:
    """Image-only PDF pages are rendered and OCR'd into <pdf>/ocr."""
    result = attach("scan.pdf", fx.scanned_pdf("Court order for Robin"), limits=ExtractionLimits(ocr=True))
    chunk = next(c for c in result.chunks if c.location == "attachment:scan.pdf/ocr")
    assert chunk.kind == "ocr"
    assert "Court order for Robin" in chunk.text


def test_image_pixel_limit() -> None:
    """An image bigger than max_image_pixels is unscannable: limit when OCR would run."""
    if tesseract_path() is None:
        pytest.skip("tesseract not installed: images are only noted")
    limits = ExtractionLimits(ocr=True, max_image_pixels=1000)
    result = attach("big.png", fx.text_image("x"), "image/png", limits)
    assert [(u.location, u.reason) for u in result.unscannable] == [("attachment:big.png", "limit")]


def test_ods_rows() -> None:
    """ODS (written by odfpy) cells of one row stay on one tab-separated line."""
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    document = OpenDocumentSpreadsheet()
    table = Table(name="Sheet1")
    for values in (("Name", "Born"), ("Jo Bloggs", "01/02/2010")):
        row = TableRow()
        for value in values:
            cell = TableCell()
            cell.addElement(P(text=value))
            row.addElement(cell)
        table.addElement(row)
    document.spreadsheet.addElement(table)
    out = io.BytesIO()
    document.write(out)
    result = attach("people.ods", out.getvalue())
    assert result.attachments[0].content_type == "application/vnd.oasis.opendocument.spreadsheet"
    assert "Name\tBorn\nJo Bloggs\t01/02/2010" in text_at(result, "attachment:people.ods")


def test_legacy_word_and_ole_package() -> None:
    """A legacy compound document yields its text runs, and an OLE Package inside it is read as a file."""
    import struct

    from extract_msg import OleWriter

    embedded = fx.pdf_bytes(["Packaged PDF text"])
    native = b"\x02\x00" + b"report.pdf\0" + b"C:\\report.pdf\0" + b"\0\0\x03\0"
    native += struct.pack("<I", 4) + b"tmp\0" + struct.pack("<I", len(embedded)) + embedded
    writer = OleWriter()
    writer.addEntry("WordDocument", b"\x00" * 64 + "Legacy Word text about Robin".encode("utf-16-le") + b"\x00" * 64)
    writer.addEntry("ObjectPool/_1/\x01Ole10Native", struct.pack("<I", len(native)) + native)
    out = io.BytesIO()
    writer.write(out)
    result = attach("old.doc", out.getvalue())
    assert result.attachments[0].content_type == "application/msword"
    assert "Legacy Word text about Robin" in text_at(result, "attachment:old.doc")
    assert "Packaged PDF text" in text_at(result, "attachment:old.doc/report.pdf")
