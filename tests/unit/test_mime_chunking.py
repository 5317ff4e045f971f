"""Long texts split into stable, bounded chunks; the text budget cuts with an explicit limit item."""

from __future__ import annotations

from gateway.mime.chunking import CHUNK_CHARS, split_text
from gateway.mime.extract import extract
from gateway.mime.limits import ExtractionLimits
from gateway.mime.parse import parse_message
from tests import mime_fixtures as fx


def test_split_on_line_boundaries() -> None:
    """Chunks end at a newline and never exceed the chunk size; joined they give the text back."""
    text = "".join(f"line {n} of a long body\n" for n in range(5000))
    pieces = split_text(text)
    assert len(pieces) > 1
    assert all(len(p) <= CHUNK_CHARS for p in pieces)
    assert all(p.endswith("\n") for p in pieces[:-1])
    assert "".join(pieces) == text


def test_split_single_long_line() -> None:
    """A line longer than a chunk is cut at a space, or hard-cut when there is none."""
    assert all(len(p) <= 100 for p in split_text("word " * 100, 100))
    assert [len(p) for p in split_text("x" * 250, 100)] == [100, 100, 50]


def test_long_body_locations() -> None:
    """A long body becomes body, body#2, body#3 (stable names for the detection cache)."""
    body = "".join(f"Paragraph {n} mentions nothing in particular.\n" for n in range(3000))
    result = extract(parse_message(fx.raw(fx.message(body=body))), ExtractionLimits(ocr=False))
    locations = [c.location for c in result.chunks if c.location.startswith("body")]
    assert locations[:3] == ["body", "body#2", "body#3"]
    assert "".join(c.text for c in result.chunks if c.location.startswith("body")) == body


def test_text_budget_is_a_limit_item() -> None:
    """Text beyond max_text_chars is cut and the cut location is reported unscannable: limit."""
    body = "a" * 800 + "\n" + "b" * 800
    attachments = [("more.txt", b"c" * 2000, "text/plain")]
    limits = ExtractionLimits(ocr=False, max_text_chars=1000)
    result = extract(parse_message(fx.raw(fx.message(body=body, attachments=attachments))), limits)
    assert sum(len(c.text) for c in result.chunks) <= 1000
    reasons = {(u.location, u.reason) for u in result.unscannable}
    assert ("body", "limit") in reasons
    assert ("attachment:more.txt", "limit") in reasons
