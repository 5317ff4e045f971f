"""Failed redactions (issue 12, section 7e): live text under a black box (PDF) or a redaction colour (DOCX).

Real files made here: PDFs with reportlab (and a hand-written PDF for annotation types reportlab cannot draw),
DOCX with python-docx (and raw WordprocessingML for shading forms python-docx has no API for). Several ways
to black out text per format, and the designs that look alike but hide nothing.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.mime.extract import extract
from gateway.mime.limits import ExtractionLimits
from gateway.mime.model import Extraction
from tests import mime_fixtures as fx
from tests.smtp_fixtures import REPO

SECRET = "Amelia Rose Thompson, NHS number 943 476 5919"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def attach(name: str, data: bytes, ctype: str) -> Extraction:
    return extract(fx.message(attachments=[(name, data, ctype)]), ExtractionLimits())


def all_text(result: Extraction) -> str:
    return "\n".join(c.text for c in result.chunks)


# --- PDF -----------------------------------------------------------------------------------------------------


def _pdf(draw: Callable[[Any], None], pages: int = 1) -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out)
    for page in range(pages):
        draw(pdf) if page == pages - 1 else pdf.drawString(72, 700, "Cover page")
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def _black_image() -> Any:
    from PIL import Image
    from reportlab.lib.utils import ImageReader

    buffer = io.BytesIO()
    Image.new("L", (40, 8), 0).save(buffer, format="PNG")
    return ImageReader(io.BytesIO(buffer.getvalue()))


def _raw_pdf(text: str, annotation: str) -> bytes:
    """A one-page PDF with one annotation (reportlab cannot write /Redact or dark /Highlight annotations)."""
    stream = f"BT /F1 12 Tf 72 700 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> /Annots [6 0 R] >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        annotation.encode(),
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _line_then(box: Callable[[Any], None]) -> Callable[[Any], None]:
    def draw(pdf: Any) -> None:
        pdf.drawString(72, 700, f"The child, {SECRET}, lives with her grandmother.")
        box(pdf)

    return draw


def _fill(pdf: Any, rgb: tuple[float, float, float], y: float = 695) -> None:
    pdf.setFillColorRGB(*rgb)
    pdf.rect(118, y, 230, 15, fill=1, stroke=0)


def _black_on_black(pdf: Any) -> None:
    _fill(pdf, (0, 0, 0))
    pdf.setFillColorRGB(0, 0, 0)
    pdf.drawString(120, 700, SECRET)


PDF_REDACTED = {
    "black-box": _pdf(_line_then(lambda pdf: _fill(pdf, (0, 0, 0)))),
    "navy-box": _pdf(_line_then(lambda pdf: _fill(pdf, (0.05, 0.05, 0.2)))),
    "black-image": _pdf(_line_then(lambda pdf: pdf.drawImage(_black_image(), 118, 695, 230, 15))),
    "black-text-on-black": _pdf(_black_on_black),
    "second-page": _pdf(_line_then(lambda pdf: _fill(pdf, (0, 0, 0))), pages=2),
    "redact-annotation": _raw_pdf(SECRET, "<< /Type /Annot /Subtype /Redact /Rect [70 695 330 712] >>"),
    "black-highlight": _raw_pdf(SECRET, "<< /Type /Annot /Subtype /Highlight /Rect [70 695 330 712] /C [0 0 0] "
                                        "/QuadPoints [70 712 330 712 70 695 330 695] >>"),
    "black-rectangle-annotation": _raw_pdf(SECRET, "<< /Type /Annot /Subtype /Square /Rect [70 695 330 712] "
                                                   "/IC [0 0 0] /C [0 0 0] >>"),
}


def _banner(pdf: Any) -> None:
    _fill(pdf, (0, 0, 0), y=745)
    pdf.setFillColorRGB(1, 1, 1)
    pdf.drawString(120, 750, "POSITION STATEMENT")
    pdf.setFillColorRGB(0, 0, 0)
    pdf.drawString(72, 700, "Ordinary text with a rule under it.")
    pdf.rect(72, 697, 300, 0.6, fill=1, stroke=0)
    pdf.rect(72, 650, 200, 14, fill=1, stroke=0)  # redacted properly: nothing under it


def _scan_with_ocr_layer(pdf: Any) -> None:
    pdf.drawImage(_black_image(), 0, 0, 612, 792)  # the scanned page, painted first
    text = pdf.beginText(72, 700)
    text.setTextRenderMode(3)  # invisible OCR text on top
    text.textLine(SECRET)
    pdf.drawText(text)


PDF_CLEAN = {
    "banner-rule-and-true-redaction": _pdf(_banner),
    "light-grey-box": _pdf(_line_then(lambda pdf: _fill(pdf, (0.85, 0.85, 0.85)))),
    "scan-with-ocr-layer": _pdf(_scan_with_ocr_layer),
    "yellow-highlight": _raw_pdf(SECRET, "<< /Type /Annot /Subtype /Highlight /Rect [70 695 330 712] /C [1 1 0] "
                                         "/QuadPoints [70 712 330 712 70 695 330 695] >>"),
}


@pytest.mark.parametrize("name", sorted(PDF_REDACTED))
def test_pdf_text_under_a_black_box_is_a_failed_redaction(name: str) -> None:
    """Text still in the text layer under a dark box, a black image, an unapplied redaction or a dark
    annotation (or black on black) is scanned and reported as a failed redaction, with the page."""
    result = attach("bundle.pdf", PDF_REDACTED[name], "application/pdf")
    assert [n.location for n in result.redaction_failed] == ["attachment:bundle.pdf"], result.redaction_failed
    assert "page" in result.redaction_failed[0].detail
    assert "943 476 5919" in all_text(result)


@pytest.mark.parametrize("name", sorted(PDF_CLEAN))
def test_pdf_designs_that_hide_nothing(name: str) -> None:
    """A white heading on a black banner, rule lines, a box with nothing under it, a light box, a yellow
    highlight and a scan's invisible OCR layer are not failed redactions."""
    assert attach("bundle.pdf", PDF_CLEAN[name], "application/pdf").redaction_failed == ()


# --- DOCX ----------------------------------------------------------------------------------------------------

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _docx_with(document_body: str, styles: str = "") -> bytes:
    """A python-docx document whose body is replaced by ``document_body`` (WordprocessingML)."""
    import docx

    out = io.BytesIO()
    docx.Document().save(out)
    source = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    result = io.BytesIO()
    with zipfile.ZipFile(result, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "word/document.xml":
                data = re.sub(rb"<w:body>.*</w:body>", f"<w:body>{document_body}</w:body>".encode(), data, flags=re.S)
            elif info.filename == "word/styles.xml" and styles:
                data = data.replace(b"</w:styles>", styles.encode() + b"</w:styles>")
            target.writestr(info, data)
    return result.getvalue()


def _run(props: str, text: str = SECRET) -> str:
    return f'<w:r><w:rPr>{props}</w:rPr><w:t xml:space="preserve">{text}</w:t></w:r>'


def _para(runs: str, props: str = "") -> str:
    return f"<w:p><w:pPr>{props}</w:pPr><w:r><w:t xml:space=\"preserve\">The child is </w:t></w:r>{runs}</w:p>"


BLACK = '<w:color w:val="000000"/>'
REDACTED_STYLE = (
    '<w:style w:type="character" w:styleId="Redacted"><w:name w:val="Redacted"/>'
    '<w:rPr><w:color w:val="000000"/><w:highlight w:val="black"/></w:rPr></w:style>'
    '<w:style w:type="character" w:styleId="RedactedChild"><w:name w:val="Redacted child"/>'
    '<w:basedOn w:val="Redacted"/><w:rPr><w:b/></w:rPr></w:style>'
)
DOCX_REDACTED = {
    "black-highlight": _docx_with(_para(_run('<w:highlight w:val="black"/>' + BLACK))),
    "run-shading": _docx_with(_para(_run('<w:shd w:val="clear" w:color="auto" w:fill="000000"/>' + BLACK))),
    "solid-pattern-paragraph": _docx_with(_para(_run(BLACK), '<w:shd w:val="solid" w:color="auto" w:fill="auto"/>')),
    "navy-highlight-near-black-text": _docx_with(_para(_run('<w:highlight w:val="darkBlue"/><w:color w:val="0A0A1E"/>'))),
    "table-cell": _docx_with(
        '<w:tbl><w:tblPr/><w:tblGrid><w:gridCol w:w="4000"/></w:tblGrid><w:tr><w:tc><w:tcPr><w:tcW w:w="4000" '
        'w:type="dxa"/><w:shd w:val="clear" w:color="auto" w:fill="000000"/></w:tcPr>'
        + _para(_run(BLACK)) + "</w:tc></w:tr></w:tbl><w:p/>"
    ),
    "character-style": _docx_with(_para(_run('<w:rStyle w:val="Redacted"/>')), REDACTED_STYLE),
    "based-on-style": _docx_with(_para(_run('<w:rStyle w:val="RedactedChild"/>')), REDACTED_STYLE),
}
DOCX_CLEAN = {
    "black-highlight-automatic-colour": _docx_with(_para(_run('<w:highlight w:val="black"/>'))),
    "white-on-black-shading": _docx_with(_para(_run('<w:shd w:val="clear" w:fill="000000"/><w:color w:val="FFFFFF"/>'))),
    "yellow-highlight": _docx_with(_para(_run('<w:highlight w:val="yellow"/>' + BLACK))),
    "grey-text": _docx_with(_para(_run('<w:color w:val="595959"/>'))),
    "paragraph-mark-only": _docx_with(_para(_run(BLACK), '<w:rPr><w:highlight w:val="black"/></w:rPr>')),
}


@pytest.mark.parametrize("name", sorted(DOCX_REDACTED))
def test_docx_redaction_colour_over_live_text(name: str) -> None:
    """Dark text on a dark highlight, run, paragraph or cell shading (direct or through styles) is a failed
    redaction; the hidden text is scanned like the rest."""
    result = attach("statement.docx", DOCX_REDACTED[name], DOCX_TYPE)
    assert [n.location for n in result.redaction_failed] == ["attachment:statement.docx"], result.redaction_failed
    assert "word/document.xml" in result.redaction_failed[0].detail
    assert "943 476 5919" in all_text(result)


@pytest.mark.parametrize("name", sorted(DOCX_CLEAN))
def test_docx_colours_that_hide_nothing(name: str) -> None:
    """Automatic text on black (Word shows it white), white on black, yellow highlighting, grey text and a
    highlighted paragraph mark are readable: no failed redaction."""
    result = attach("statement.docx", DOCX_CLEAN[name], DOCX_TYPE)
    assert result.redaction_failed == ()
    assert "943 476 5919" in all_text(result)


def test_docx_header_redaction_and_python_docx_api() -> None:
    """A black highlight applied through python-docx's own API, in the page header, is found too."""
    import docx
    from docx.enum.text import WD_COLOR_INDEX
    from docx.shared import RGBColor

    document = docx.Document()
    document.add_paragraph("Position statement")
    run = document.sections[0].header.paragraphs[0].add_run(SECRET)
    run.font.highlight_color = WD_COLOR_INDEX.BLACK
    run.font.color.rgb = RGBColor(0, 0, 0)
    out = io.BytesIO()
    document.save(out)
    result = attach("statement.docx", out.getvalue(), DOCX_TYPE)
    assert len(result.redaction_failed) == 1 and "header" in result.redaction_failed[0].detail


# --- scan --json and the default policy ----------------------------------------------------------------------


def test_scan_json_reports_redaction_failed_and_holds_it(tmp_path: Path) -> None:
    """`dlpgate scan --json` lists the failed redaction's location; the default policy holds it for an external
    recipient (IA 4.5/2.5) and passes the look-alike designs."""
    cases = {
        "pdf-fire.eml": (PDF_REDACTED["black-box"], "application/pdf", "quarantine"),
        "pdf-annotation-fire.eml": (PDF_REDACTED["redact-annotation"], "application/pdf", "quarantine"),
        "docx-fire.eml": (DOCX_REDACTED["character-style"], DOCX_TYPE, "quarantine"),
        "pdf-near-miss.eml": (PDF_CLEAN["banner-rule-and-true-redaction"], "application/pdf", "pass"),
    }
    for name, (data, ctype, _) in cases.items():
        msg = fx.message(subject="Statement", body="Please see the attached.",
                         attachments=[("statement" + (".pdf" if "pdf" in name else ".docx"), data, ctype)])
        (tmp_path / name).write_bytes(msg.as_bytes())
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "scan", "--json", "--config", str(REPO / "config"), "--mail-from",
         "jane.smith@cafcass.gov.uk", "--rcpt", "n.okafor@okafor-law.co.uk", str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )
    records = {Path(r["file"]).name: r for r in map(json.loads, proc.stdout.splitlines())}
    for name, (_, _, decision) in cases.items():
        record = records[name]
        assert record["decision"] == decision, (name, record)
        if decision == "quarantine":
            assert record["rules"] == ["redaction-failed-external"]
            assert record["redaction_failed"] and record["redaction_failed"][0].startswith("attachment:statement")
        else:
            assert record["redaction_failed"] == []
