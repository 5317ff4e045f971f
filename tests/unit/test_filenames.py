"""Attachment names and the locations that contain them, masked for incident records (issue 13)."""

from __future__ import annotations

import pytest

from gateway.store.filenames import redact_filename, redact_location, redact_names_in


@pytest.mark.parametrize(("name", "masked"), [
    ("Amelia Thompson ZW12C00345.pdf", "A***** T******* Z*********.pdf"),
    ("Thompson family/Amelia notes.txt", "T******* f*****/A***** n****.txt"),
    ("report", "r*****"),
    ("x.pdf", "x*.pdf"),
    ("Zoë_Ünal-2019.docx", "Z**_Ü***-2***.docx"),
    (".hidden", ".h*****"),
])
def test_filename_keeps_first_letters_and_type(name: str, masked: str) -> None:
    """Every word keeps its first character and the extension stays; nothing else of the name survives."""
    assert redact_filename(name) == masked


@pytest.mark.parametrize(("location", "masked"), [
    ("attachment:Amelia.pdf", "attachment:A*****.pdf"),
    ("attachment:a.zip/dir/Amelia.pdf#2", "attachment:a*.zip/d**/A*****.pdf#2"),
    ("attachment:fwd.eml/attachment:Amelia.pdf", "attachment:f**.eml/attachment:A*****.pdf"),
    ("attachment:fwd.eml/body.html", "attachment:f**.eml/body.html"),
    ("attachment-name:Amelia.pdf", "attachment-name:A*****.pdf"),
    ("body#3", "body#3"),
    ("subject", "subject"),
    ("header:To", "header:To"),
    ("body.html:link#2", "body.html:link#2"),
    ("attachment:fwd.eml/preamble", "attachment:f**.eml/preamble"),
])
def test_location_masks_names_and_keeps_structure(location: str, masked: str) -> None:
    """Locations keep the scan's own words (body, headers, attachment:) and mask every file name in them."""
    assert redact_location(location) == masked


def test_names_in_parser_detail_are_masked() -> None:
    """A parser's detail that quotes a member name gets the masked name; short names are left alone."""
    detail = "Bad CRC-32 for file 'Amelia notes.txt' in a"
    assert redact_names_in(detail, ["Amelia notes.txt", "a"]) == "Bad CRC-32 for file 'A***** n****.txt' in a"
