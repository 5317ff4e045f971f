"""Every place a person can read is extracted (issue 12, section 2): real files and messages made in the test."""

from __future__ import annotations

import io
import zipfile

import pytest

from gateway.mime.extract import extract
from gateway.mime.limits import ExtractionLimits
from gateway.mime.model import Extraction
from gateway.mime.parse import parse_message
from tests import mime_fixtures as fx

LIMITS = ExtractionLimits(ocr=False)


def run(raw: bytes) -> Extraction:
    return extract(parse_message(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")), LIMITS)


def attach(name: str, data: bytes, ctype: str = "application/octet-stream") -> Extraction:
    return extract(parse_message(fx.raw(fx.message(attachments=[(name, data, ctype)]))), LIMITS)


def at(result: Extraction, location: str) -> str:
    return "\n".join(c.text for c in result.chunks if c.location == location or c.location.startswith(location + "#"))


def kinds(result: Extraction) -> dict[str, str]:
    return {c.location: c.kind for c in result.chunks}


HEADERS = b"""From: "Jane Smith" <jane.smith@cafcass.gov.uk>
To: "Amy Brown DOB 01/02/2015" <x@gmail.com>, plain@example.org, "Case team": a@b.org, c@d.org;
Cc: =?utf-8?q?Jo_Bloggs_ZW24C50123?= <jo@example.org>
Subject: notes
Comments: about NHS 943 476 5919
Keywords: ZW24C50124, review
Thread-Topic: Amelia Thompson contact
X-Child-NHS: 943 476 5919
X-Custom-Note: =?utf-8?b?QW1lbGlhIFRob21wc29u?=
Message-ID: <9434765919.ZW24C50123@mail.example>
Received: from mail.example ([10.1.2.3]) by mx 9434765919
DKIM-Signature: v=1; a=rsa-sha256; b=ZW24C50123abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH
List-Unsubscribe: <https://lists.example/u?id=9434765919>
X-MS-Exchange-Organization-SCL: 9434765919
X-Mailer: Outlook ZW24C50123
X-Tracking: QW1lbGlhIFRob21wc29uIE5IUyA5NDMgNDc2IDU5MTkgcGFkcGFkcGFkcGFk
Content-Type: text/plain

body
"""


def test_display_names_and_unstructured_headers_are_read() -> None:
    """Display names (not addresses) of address fields, and person-written fields, each at header:<name>."""
    result = run(HEADERS)
    assert at(result, "header:To").splitlines() == ["Amy Brown DOB 01/02/2015", "Case team"]
    assert at(result, "header:Cc") == "Jo Bloggs ZW24C50123"
    assert at(result, "header:From") == "Jane Smith"
    assert at(result, "header:Comments") == "Comments: about NHS 943 476 5919"
    assert at(result, "header:Keywords") == "Keywords: ZW24C50124, review"
    assert at(result, "header:Thread-Topic") == "Thread Topic: Amelia Thompson contact"
    assert at(result, "header:X-Child-NHS") == "Child NHS: 943 476 5919"
    assert at(result, "header:X-Custom-Note") == "Custom Note: Amelia Thompson"
    assert all(kind == "header" for loc, kind in kinds(result).items() if loc.startswith("header:"))
    assert "@" not in at(result, "header:To")


def test_machine_headers_are_not_read() -> None:
    """Message-ID, Received, DKIM, List-*, Exchange and mailer fields, and long tokens, are never text."""
    result = run(HEADERS)
    locations = set(kinds(result))
    for name in ("Message-ID", "Received", "DKIM-Signature", "List-Unsubscribe", "X-MS-Exchange-Organization-SCL",
                 "X-Mailer", "Content-Type", "Subject"):
        assert f"header:{name}" not in locations
    assert at(result, "header:X-Tracking") == ""  # a base64 blob is one long token: dropped


def test_preamble_and_epilogue() -> None:
    """The MIME preamble and epilogue are scanned (nested multiparts too)."""
    raw = b"""From: a@b.c
Content-Type: multipart/mixed; boundary=outer

Preamble NHS 943 476 5919
--outer
Content-Type: multipart/alternative; boundary=inner

inner preamble ZW24C50123
--inner
Content-Type: text/plain

body text
--inner--
inner epilogue
--outer--
Epilogue DOB 01/02/2015
"""
    result = run(raw)
    assert "Preamble NHS 943 476 5919" in at(result, "preamble")
    assert "inner preamble ZW24C50123" in at(result, "preamble")
    assert "Epilogue DOB 01/02/2015" in at(result, "epilogue")
    assert "inner epilogue" in at(result, "epilogue")


@pytest.mark.parametrize("top", [True, False])
def test_message_partial_is_unscannable_partial(top: bool) -> None:
    """A message/partial fragment (whole message or a part) is unscannable: partial, and read as far as it goes."""
    fragment = b"""Content-Type: message/partial; id="abc@x"; number=2; total=3

continued text NHS 943 476 5919
"""
    if top:
        raw = b"From: a@b.c\nSubject: s\n" + fragment
    else:
        raw = (b"From: a@b.c\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n--b\n"
               + fragment + b"--b--\n")
    result = run(raw)
    [item] = result.unscannable
    assert item.reason == "partial" and "2 of 3" in item.detail
    assert item.location == ("message" if top else "attachment:part-3.partial")
    assert "943 476 5919" in at(result, item.location)


def test_attachment_names_are_read() -> None:
    """File names, archive member paths included, are text at attachment-name:<path>; generated names are not."""
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("Thompson family/Amelia_ZW24C50123.txt", b"x")
        z.writestr("Thompson family/notes.txt", b"y")
    msg = fx.message(attachments=[("Amy_Brown NHS 943 476 5919.pdf", b"%PDF-1.4 not really", "application/pdf"),
                                  ("bundle.zip", zipped.getvalue(), "application/zip")])
    result = extract(parse_message(fx.raw(msg)), LIMITS)
    assert at(result, "attachment-name:Amy_Brown NHS 943 476 5919.pdf") == "Amy Brown NHS 943 476 5919"
    assert at(result, "attachment-name:bundle.zip") == "bundle"
    assert at(result, "attachment-name:bundle.zip/Thompson family/Amelia_ZW24C50123.txt") == (
        "Thompson family\nAmelia ZW24C50123")
    assert at(result, "attachment-name:bundle.zip/Thompson family/notes.txt") == "notes"  # the folder once
    assert not any(c.location.startswith("attachment-name:part-") for c in result.chunks)


def test_html_links_css_content_and_hidden_digits() -> None:
    """Link targets' decoded queries at body.html:link; CSS content is text; hidden text between digits moves."""
    html = (b'<html><head><style>.c::after { content: "Child: Amy \\42 rown" }</style></head><body>'
            b'<p>NHS 943 476 59<span style="font-size:0px">88</span>19 ok</p>'
            b'<p>ZW24C5<!-- x -->0123</p>'
            b'<a href="https://files.example/share?child=Amelia%20Thompson&amp;nhs=943%2B476%2B5919">open</a>'
            b'<a href="https://safe.example/?url=https%3A%2F%2Fx.example%2F%3Fdob%3D01%252F02%252F2015">go</a>'
            b'<img src="https://t.example/p.gif?d=QW15IEJyb3duIFpXMjRDNTAxMjM=">'
            b'<a href="mailto:jo@example.org">mail</a></body></html>')
    raw = b"From: a@b.c\nContent-Type: text/html; charset=utf-8\n\n" + html + b"\n"
    result = run(raw)
    body = at(result, "body.html")
    assert "Child: Amy Brown" in body
    assert "NHS 943 476 5919 ok" in body and "88" in body  # the run as seen; the hidden digits still scanned
    assert "ZW24C50123" in body
    links = at(result, "body.html:link")
    assert "child: Amelia Thompson" in links and "nhs: 943 476 5919" in links
    assert "dob: 01/02/2015" in links  # a redirect wrapper's inner URL, double-encoded
    assert "Amy Brown ZW24C50123" in links  # a base64 parameter
    assert "mailto" not in links
    assert kinds(result)["body.html:link"] == "link"


def test_plain_text_links_are_decoded() -> None:
    """A URL written in a plain-text body has its encoded query read too (body:link)."""
    raw = b"From: a@b.c\nContent-Type: text/plain\n\nsee https://x.example/f?name=Amy%20Brown&nhs=943%20476%205919\n"
    assert "nhs: 943 476 5919" in at(run(raw), "body:link")


def _docx_with(settings_vars: bytes, custom: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(fx.docx_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "word/settings.xml":
                data = data.replace(b"</w:settings>", settings_vars + b"</w:settings>")
            if info.filename == "customXml/item1.xml":
                data = custom
            target.writestr(info.filename, data)
    return out.getvalue()


def test_docx_document_variables_and_custom_xml() -> None:
    """DOCX document variables and custom XML attribute values are read."""
    data = _docx_with(
        b'<w:docVars><w:docVar w:name="ChildName" w:val="Amelia Thompson"/>'
        b'<w:docVar w:name="CaseRef" w:val="ZW24C50123"/></w:docVars>',
        b'<?xml version="1.0"?><case xmlns="urn:example:case"><child name="Jo Bloggs" nhs="943 476 5919">'
        b"Element text</child></case>",
    )
    text = at(attach("report.docx", data), "attachment:report.docx")
    for expected in ("ChildName: Amelia Thompson", "CaseRef: ZW24C50123", "name: Jo Bloggs", "nhs: 943 476 5919",
                     "Element text", "Body paragraph about Jane Example."):
        assert expected in text


def test_xlsx_defined_names_validation_and_uncached_formulas() -> None:
    """Excel defined names, data-validation lists and messages, and literals of formulas with no cached value."""
    import openpyxl
    from openpyxl.workbook.defined_name import DefinedName
    from openpyxl.worksheet.datavalidation import DataValidation

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Cases"
    sheet["A1"] = "Header"
    sheet["B2"] = '="NHS "&"943 476 "&"5919"'
    sheet["B3"] = "=SUM(A1:A2)+12"
    validation = DataValidation(type="list", formula1='"Amelia Thompson,Jo Bloggs"', promptTitle="Child",
                                prompt="Enter ZW24C50123", errorTitle="Wrong", error="Only Amy Brown")
    sheet.add_data_validation(validation)
    validation.add("C1")
    book.defined_names["ChildName"] = DefinedName("ChildName", attr_text='"Amelia Thompson DOB 01/02/2015"')
    book.defined_names["Area"] = DefinedName("Area", attr_text="Cases!$A$1:$B$2")
    out = io.BytesIO()
    book.save(out)
    text = at(attach("cases.xlsx", out.getvalue()), "attachment:cases.xlsx")
    for expected in ("ChildName: Amelia Thompson DOB 01/02/2015", "NHS 943 476 5919", "Enter ZW24C50123",
                     "Only Amy Brown", "Amelia Thompson, Jo Bloggs", "Child", "Wrong"):
        assert expected in text
    assert "SUM" not in text and "$A$1" not in text


def test_odf_hidden_text_fields() -> None:
    """ODF hidden text, conditional text and user fields keep their words in attributes: read."""
    data = fx.odt_bytes(
        'Visible <text:hidden-text text:condition="ooow:1==1" text:string-value="Hidden NHS 943 476 5919"/>'
        '<text:conditional-text text:condition="ooow:0" text:string-value-if-true="Amelia Thompson" '
        'text:string-value-if-false="ZW24C50123">ZW24C50123</text:conditional-text>'
    )
    text = at(attach("notes.odt", data, "application/vnd.oasis.opendocument.text"), "attachment:notes.odt")
    for expected in ("Visible", "Hidden NHS 943 476 5919", "Amelia Thompson", "ZW24C50123"):
        assert expected in text


def test_docx_hidden_or_tiny_run_between_digits_does_not_split_them() -> None:
    """A hidden or 1-point Word run inside a number moves after the text: the number reads as the reader sees it."""
    import docx
    from docx.shared import Pt

    document = docx.Document()
    para = document.add_paragraph("NHS number 943 476 59")
    hidden = para.add_run("88")
    hidden.font.hidden = True
    para.add_run("19 and case ZW24C5")
    tiny = para.add_run("x")
    tiny.font.size = Pt(1)
    para.add_run("0123.")
    document.add_paragraph().add_run("Hidden paragraph stays").font.hidden = True
    out = io.BytesIO()
    document.save(out)
    text = at(attach("r.docx", out.getvalue()), "attachment:r.docx")
    assert "NHS number 943 476 5919 and case ZW24C50123." in text
    assert "88" in text and "x" in text.split("ZW24C50123.", 1)[1]
    assert "Hidden paragraph stays" in text
