"""Types are sniffed from content: names and declared types only break ties between text formats."""

from __future__ import annotations

import pytest

from gateway.mime.filetype import sniff
from tests import mime_fixtures as fx


@pytest.mark.parametrize(
    ("build", "kind"),
    [
        (lambda: fx.pdf_bytes(), "pdf"),
        (lambda: fx.docx_bytes(), "docx"),
        (lambda: fx.xlsx_bytes(), "xlsx"),
        (lambda: fx.pptx_bytes(), "pptx"),
        (lambda: fx.odt_bytes(), "odf"),
        (lambda: fx.rtf_bytes(), "rtf"),
        (lambda: fx.zip_bytes({"a.txt": b"x"}), "zip"),
        (lambda: fx.tar_bytes({"a.txt": b"x"}), "tar"),
        (lambda: fx.tar_bytes({"a.txt": b"x"}, "w:gz"), "gzip"),
        (lambda: fx.tar_bytes({"a.txt": b"x"}, "w:bz2"), "bzip2"),
        (lambda: fx.tar_bytes({"a.txt": b"x"}, "w:xz"), "xz"),
        (lambda: fx.sevenz_bytes({"a.txt": b"x"}), "7z"),
        (lambda: fx.encrypt_office(fx.docx_bytes()), "office-encrypted"),
        (lambda: fx.msg_bytes("s", "b"), "msg"),
        (lambda: fx.tnef_bytes("s", "b"), "tnef"),
        (lambda: fx.text_image("x"), "png"),
        (lambda: fx.text_image("x", "JPEG"), "jpeg"),
        (lambda: fx.text_image("x", "GIF"), "gif"),
        (lambda: fx.text_image("x", "TIFF"), "tiff"),
        (lambda: b"", "empty"),
        (lambda: b"\x00\x01\x02\x03" * 100, "binary"),
        (lambda: b"<!DOCTYPE html><html><body>x</body></html>", "html"),
        (lambda: b"name,dob\nJo,01/02/2010\n", "text"),
        (lambda: "caf\u00e9 ol\u00e9".encode("utf-16"), "text"),
    ],
)
def test_sniff_by_content(build: object, kind: str) -> None:
    """Each format is recognised from its bytes alone, with a misleading name and declared type."""
    data = build()  # type: ignore[operator]
    assert sniff(data, "misleading.txt", "text/plain").kind == kind


def test_pdf_named_txt_is_pdf() -> None:
    """A PDF named .txt and declared text/plain is still a PDF."""
    assert sniff(fx.pdf_bytes(), "notes.txt", "text/plain").mime == "application/pdf"


def test_mail_headers_make_eml_but_memo_stays_text() -> None:
    """Text with transport headers is a message; a memo starting To:/From:/Re: stays plain text."""
    mail = b"Received: from x\r\nFrom: a@b\r\nSubject: s\r\n\r\nbody"
    memo = b"To: Judge\nFrom: Social worker\nRe: child\n\nnotes"
    assert sniff(mail, "forwarded").kind == "eml"
    assert sniff(memo, "memo").kind == "text"
    assert sniff(mail, "notes.txt").kind == "text"


def test_html_by_declared_type() -> None:
    """Plain-looking text declared text/html is converted as HTML."""
    assert sniff(b"hello <b>there</b>", "", "text/html").kind == "html"
