"""HTML to text keeps everything a sender could hide from the reader, and drops only code."""

from __future__ import annotations

from gateway.mime.html_text import _stdlib_text, html_to_text, tidy

PAGE = """<!-- before html --><html><head><title>Page title</title>
<style>.secret { color: white }</style><script>var token = "SCRIPTVALUE";</script></head>
<body><p>Visible &amp; decoded &pound;5</p>
<div style="display:none">Hidden AB123456C</div>
<span style="color:#ffffff;font-size:1px">white tiny text</span>
<img src="logo.png" alt="Alt text here" title="Title text here">
<a href="mailto:jane@example.org">write to us</a>
<!-- a comment with <b>markup</b> inside -->
<table><tr><td>Name</td><td>Jo Bloggs</td></tr></table>
</body></html><!-- after html -->"""


def test_hidden_text_is_kept() -> None:
    """display:none, white and tiny text are scanned: hidden data still leaves the organisation."""
    text = html_to_text(PAGE)
    assert "Hidden AB123456C" in text
    assert "white tiny text" in text


def test_comments_and_attributes_are_kept() -> None:
    """Comments (inside and outside <html>), alt/title and mailto targets are part of the text."""
    text = html_to_text(PAGE)
    for expected in (
        "before html",
        "a comment with markup inside",
        "after html",
        "Alt text here",
        "Title text here",
        "mailto:jane@example.org",
        "Page title",
    ):
        assert expected in text


def test_script_and_style_dropped_entities_decoded() -> None:
    """Script and style bodies are code, not prose; entities are decoded."""
    text = html_to_text(PAGE)
    assert "SCRIPTVALUE" not in text
    assert "color: white" not in text
    assert "Visible & decoded £5" in text


def test_table_rows_stay_on_one_line() -> None:
    """Cells of one row are separated by a tab so a label stays next to its value."""
    assert "Name\tJo Bloggs" in html_to_text(PAGE)


def test_xml_declaration_and_nul() -> None:
    """An XHTML declaration or NUL bytes do not break the lxml path."""
    assert html_to_text('<?xml version="1.0" encoding="iso-8859-1"?><html><body>x\x00y</body></html>') == "xy"


def test_empty_and_plain() -> None:
    """Empty markup gives empty text; plain text passes through."""
    assert html_to_text("  ") == ""
    assert html_to_text("just words") == "just words"


def test_stdlib_fallback_same_rules() -> None:
    """The html.parser fallback keeps comments and attributes and drops scripts too."""
    text = tidy(_stdlib_text(PAGE))
    assert "Hidden AB123456C" in text
    assert "a comment with markup inside" in text
    assert "Alt text here" in text
    assert "SCRIPTVALUE" not in text


def test_deadline_is_checked() -> None:
    """Long documents call the deadline hook so a huge HTML body cannot run unbounded."""
    calls: list[int] = []
    html_to_text("<div>x</div>" * 10_000, lambda: calls.append(1))
    assert calls
