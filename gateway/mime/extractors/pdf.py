"""PDF through pdfium: page text, comments and form-field values, metadata, embedded files, OCR of scans.

Filled-in forms matter here (court forms carry their data in fields, not in page text), so widget values are
read from the annotations. Page text is read whatever is painted over it, so text "redacted" with a black box
is scanned like the rest, and the box itself is a ``redaction_failed`` note (``redaction.hidden_pdf_chars``).
Pages with no text layer but with images are scanned pages: OCR'd when tesseract is present, else listed as
not text-scanned at ``<location>/ocr``.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import math
from collections.abc import Callable
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from gateway.mime.extractors.base import Context, Extractor, Item
from gateway.mime.extractors.redaction import MIN_HIDDEN_CHARS, hidden_pdf_chars
from gateway.mime.guards import CorruptContent, EncryptedContent
from gateway.mime.names import clean_name
from gateway.mime.ocr import OcrFailed, ocr_available, ocr_png, to_png

OCR_DPI = 200
_MAX_ANNOTATIONS = 2000
_METADATA_KEYS = ("Title", "Author", "Subject", "Keywords")
_PASSWORD_ERRORS = frozenset({pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY})


def _pdf(item: Item, ctx: Context) -> None:
    try:
        pdf = pdfium.PdfDocument(item.data)
    except pdfium.PdfiumError as exc:
        if exc.err_code in _PASSWORD_ERRORS:
            raise EncryptedContent("pdf password-protected") from exc
        raise CorruptContent("pdf unreadable") from exc
    try:
        _read(pdf, item, ctx)
    except pdfium.PdfiumError as exc:
        raise CorruptContent("pdf page unreadable") from exc
    finally:
        pdf.close()


def _read(pdf: pdfium.PdfDocument, item: Item, ctx: Context) -> None:
    with contextlib.suppress(Exception):  # forms are a bonus; page text is still readable without them
        pdf.init_forms()
    form_handle = pdf.formenv.raw if pdf.formenv else None
    texts: list[str] = []
    scanned_pages: list[int] = []
    redacted_pages: list[int] = []
    for index in range(len(pdf)):
        ctx.deadline.check()
        page = pdf[index]
        try:
            textpage = page.get_textpage()
            try:
                text = str(textpage.get_text_range())
                if text.strip() and _hidden_chars(page, textpage) >= MIN_HIDDEN_CHARS:
                    redacted_pages.append(index + 1)
            finally:
                textpage.close()
            if text.strip():
                texts.append(text)
            elif _has_images(page):
                scanned_pages.append(index)
            texts.extend(_annotation_texts(page, form_handle))
        finally:
            page.close()
    texts.extend(_metadata(pdf))
    ctx.sink.add_text(item.location, "\n\n".join(texts), "attachment")
    if redacted_pages:
        pages = ", ".join(str(n) for n in redacted_pages[:10]) + (" ..." if len(redacted_pages) > 10 else "")
        ctx.sink.add_note(ctx.sink.redaction_failed, item.location, f"live text under a black box on page {pages}")
    if scanned_pages:
        _ocr_pages(pdf, scanned_pages, item, ctx)
    _embedded_files(pdf, item, ctx)


def _hidden_chars(page: pdfium.PdfPage, textpage: pdfium.PdfTextPage) -> int:
    """Characters under a black box (a failed redaction); a failure to tell never stops the text itself."""
    try:
        return hidden_pdf_chars(page, textpage)
    except Exception:
        return 0


def _has_images(page: pdfium.PdfPage) -> bool:
    return any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=4))


def _utf16_value(getter: Callable[[Any, int], int]) -> str:
    """Call a pdfium ``(buffer, length) -> needed`` UTF-16 getter twice: once for the size, once for the data."""
    needed = int(getter(None, 0))
    if needed <= 2:
        return ""
    buffer = ctypes.create_string_buffer(needed)
    getter(ctypes.cast(buffer, ctypes.POINTER(pdfium_c.FPDF_WCHAR)), needed)
    return buffer.raw[: needed - 2].decode("utf-16-le", "replace")


def _annot_string(annot: Any, key: bytes, buffer: Any, size: int) -> int:
    return int(pdfium_c.FPDFAnnot_GetStringValue(annot, key, buffer, size))


def _field_value(form_handle: Any, annot: Any, buffer: Any, size: int) -> int:
    return int(pdfium_c.FPDFAnnot_GetFormFieldValue(form_handle, annot, buffer, size))


def _annotation_texts(page: pdfium.PdfPage, form_handle: Any) -> list[str]:
    """Comment text (``/Contents``, author ``/T``) and form-field values: none of it is in the page text."""
    out: list[str] = []
    count = min(int(pdfium_c.FPDFPage_GetAnnotCount(page.raw)), _MAX_ANNOTATIONS)
    for index in range(count):
        annot = pdfium_c.FPDFPage_GetAnnot(page.raw, index)
        if not annot:
            continue
        try:
            for key in (b"Contents", b"T"):
                value = _utf16_value(functools.partial(_annot_string, annot, key))
                if value.strip():
                    out.append(value)
            if form_handle is not None and pdfium_c.FPDFAnnot_GetSubtype(annot) == pdfium_c.FPDF_ANNOT_WIDGET:
                value = _utf16_value(functools.partial(_field_value, form_handle, annot))
                if value.strip():
                    out.append(value)
        finally:
            pdfium_c.FPDFPage_CloseAnnot(annot)
    return out


def _metadata(pdf: pdfium.PdfDocument) -> list[str]:
    try:
        meta = pdf.get_metadata_dict(skip_empty=True)
    except Exception:
        return []
    return [f"{key}: {meta[key]}" for key in _METADATA_KEYS if str(meta.get(key, "")).strip()]


def _ocr_pages(pdf: pdfium.PdfDocument, pages: list[int], item: Item, ctx: Context) -> None:
    location = f"{item.location}/ocr"
    if not ocr_available(ctx.limits):
        ctx.sink.add_not_text_scanned(location)
        return
    texts: list[str] = []
    for index in pages:
        ctx.deadline.check()
        page = pdf[index]
        try:
            width, height = page.get_size()
            scale = OCR_DPI / 72
            area = max(width * height, 1.0)
            # Never render past the pixel limit: a 200-inch page at 200 dpi would need gigabytes.
            scale = min(scale, math.sqrt(ctx.limits.max_image_pixels / area))
            bitmap = page.render(scale=scale, grayscale=True)
            png = to_png(bitmap.to_pil())
        finally:
            page.close()
        try:
            texts.append(ocr_png(png, ctx.deadline))
        except OcrFailed:
            ctx.sink.add_not_text_scanned(location)
    ctx.sink.add_text(location, "\n\n".join(texts), "ocr")


def _embedded_files(pdf: pdfium.PdfDocument, item: Item, ctx: Context) -> None:
    """Files attached inside the PDF (``/EmbeddedFiles``): read like archive members."""
    try:
        count = int(pdf.count_attachments())
    except Exception:
        return
    for index in range(count):
        ctx.deadline.check()
        attachment = pdf.get_attachment(index)
        name = clean_name(str(attachment.get_name() or "")) or f"embedded-{index + 1}"
        location = f"{item.location}/{name}"
        try:
            data = bytes(attachment.get_data())
        except pdfium.PdfiumError:
            ctx.walker.unreadable_member(location=location, name=name, size=0, reason="corrupt", detail="pdf embed")
            continue
        ctx.sink.take_bytes(len(data))
        ctx.walker.extract_member(data, location=location, name=name, declared_type="", depth=item.depth + 1)


PDF = Extractor("pdf", frozenset({"pdf"}), _pdf)
