"""Extraction throughput per format: builds a mixed attachment set in a temp dir and times ``extract``.

    .venv/bin/python bench/extract.py [--repeat 5] [--ocr]

Each file is attached to its own message and run through ``parse_message`` + ``extract`` (single process,
single thread, as one worker of the gateway's pool would). Prints MB/s (attachment bytes) and files/s per
format. OCR is off unless ``--ocr`` (tesseract dominates whatever it touches). Figures are for this machine.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gateway.mime.extract import extract  # noqa: E402
from gateway.mime.limits import ExtractionLimits  # noqa: E402
from gateway.mime.parse import parse_message  # noqa: E402
from tests import mime_fixtures as fx  # noqa: E402

SENTENCE = "The hearing concerning the child was listed for the morning and the social worker attended. "


def big_pdf() -> bytes:
    return fx.pdf_bytes([SENTENCE[:90]] * 40, pages=20)


def big_docx() -> bytes:
    import docx

    document = docx.Document()
    for n in range(1500):
        document.add_paragraph(f"{n}: {SENTENCE * 2}")
    table = document.add_table(rows=100, cols=4)
    for row in table.rows:
        for cell in row.cells:
            cell.text = "cell value 12345"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def big_xlsx() -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for n in range(5000):
        sheet.append([f"Person {n}", n * 7, f"Ref {n:08}", SENTENCE[:40], 1234.5])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def big_pptx() -> bytes:
    from pptx import Presentation

    deck = Presentation()
    for n in range(60):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = f"Slide {n}"
        slide.placeholders[1].text = SENTENCE * 3
        slide.notes_slide.notes_text_frame.text = SENTENCE
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def big_html() -> bytes:
    rows = "".join(f"<tr><td>{n}</td><td>{SENTENCE}</td></tr>" for n in range(3000))
    return f"<html><body><table>{rows}</table></body></html>".encode()


def big_csv() -> bytes:
    return "".join(f"{n},Person {n},01/02/2010,{SENTENCE[:50]}\n" for n in range(20000)).encode()


def mixed_zip() -> bytes:
    return fx.zip_bytes(
        {"a.pdf": fx.pdf_bytes([SENTENCE[:90]] * 30, pages=5), "b.docx": fx.docx_bytes(), "c.csv": big_csv()[:200_000]},
        zipfile.ZIP_DEFLATED,
    )


FORMATS: dict[str, tuple[str, Callable[[], bytes]]] = {
    "pdf": ("report.pdf", big_pdf),
    "docx": ("report.docx", big_docx),
    "xlsx": ("cases.xlsx", big_xlsx),
    "pptx": ("deck.pptx", big_pptx),
    "odt": ("letter.odt", lambda: fx.odt_bytes(SENTENCE * 2000)),
    "rtf": ("memo.rtf", lambda: fx.rtf_bytes(SENTENCE * 2000)),
    "html": ("page.html", big_html),
    "csv": ("people.csv", big_csv),
    "zip": ("bundle.zip", mixed_zip),
    "tar.gz": ("logs.tar.gz", lambda: fx.tar_bytes({"a.csv": big_csv(), "b.html": big_html()}, "w:gz")),
    "msg": ("fwd.msg", lambda: fx.msg_bytes("Subject", SENTENCE * 2000, [("a.csv", big_csv()[:100_000])])),
    "png": ("scan.png", lambda: fx.text_image(SENTENCE[:60])),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="extractions per format (median reported)")
    parser.add_argument("--ocr", action="store_true", help="OCR images when tesseract is installed")
    args = parser.parse_args()
    print(f"# re-run: .venv/bin/python bench/extract.py --repeat {args.repeat}" + (" --ocr" if args.ocr else ""))
    limits = ExtractionLimits(ocr=args.ocr)
    with tempfile.TemporaryDirectory(prefix="dlpgate-bench-") as folder:
        messages: dict[str, tuple[int, bytes]] = {}
        for label, (name, build) in FORMATS.items():
            data = build()
            (Path(folder) / name).write_bytes(data)
            raw = fx.raw(
                fx.message(subject="bench", body="bench", attachments=[(name, data, "application/octet-stream")])
            )
            messages[label] = (len(data), raw)
        print(f"# {len(messages)} files written to {folder}")
        print(f"{'format':8} {'size KB':>9} {'chars':>9} {'ms/file':>9} {'files/s':>9} {'MB/s':>8}")
        total_bytes = 0
        total_time = 0.0
        for label, (size, raw) in messages.items():
            timings: list[float] = []
            chars = 0
            for _ in range(args.repeat):
                start = time.perf_counter()
                result = extract(parse_message(raw), limits)
                timings.append(time.perf_counter() - start)
                chars = sum(len(c.text) for c in result.chunks)
                if result.unscannable:
                    print(f"  ! {label}: {[(u.location, u.reason, u.detail) for u in result.unscannable]}")
            median = statistics.median(timings)
            total_bytes += size
            total_time += median
            rate = size / median / 1e6
            print(f"{label:8} {size / 1024:9.1f} {chars:9d} {median * 1000:9.1f} {1 / median:9.1f} {rate:8.2f}")
        print(
            f"{'all':8} {total_bytes / 1024:9.1f} {'':>9} {total_time * 1000:9.1f} "
            f"{len(messages) / total_time:9.1f} {total_bytes / total_time / 1e6:8.2f}"
        )


if __name__ == "__main__":
    main()
