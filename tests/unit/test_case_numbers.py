"""Case numbers of every court (issue 11, point 6): shapes, context, labels and near misses, without spaCy."""

from __future__ import annotations

import pytest

from detectors.recognizers import case_numbers
from detectors.recognizers.case_numbers import (
    COURT,
    FAMILY,
    UkCaseNumberRecognizer,
    ccd_reference_ok,
    luhn_ok,
)

RECOGNIZER = UkCaseNumberRecognizer()

# (text, expected [(entity, matched text)]): every case number in the text, in order; [] for none.
CASES: list[tuple[str, list[tuple[str, str]]]] = [
    # family: FamilyMan (alone), older four-digit serials and local numbers (with context), digital, FD CE-File
    ("Re: ZW24C50123 hearing", [(FAMILY, "ZW24C50123")]),
    ("court ref ZW24 C 50123", [(FAMILY, "ZW24 C 50123")]),
    ("In the matter of FD21P00683 (Hague Convention)", [(FAMILY, "FD21P00683")]),
    ("Case No: ZW20P0119", [(FAMILY, "ZW20P0119")]),
    ("listed before the Family Court as MK22F0327", [(FAMILY, "MK22F0327")]),
    ("Case No. LS123/21 in the family court", [(FAMILY, "LS123/21")]),
    ("the judge transferred MA456/2021 to Leeds", [(FAMILY, "MA456/2021")]),
    ("Case number: 1659-5436-7859-8849", [(FAMILY, "1659-5436-7859-8849")]),
    ("Case No: FD-2024-001234", [(FAMILY, "FD-2024-001234")]),
    ("FamilyMan case number 123456", [(FAMILY, "123456")]),
    # other courts: strong shapes alone
    ("Case No: B4/2021/1234", [(COURT, "B4/2021/1234")]),
    ("appeal B4/2021/1234(A) and B4.2021.1235", [(COURT, "B4/2021/1234(A)"), (COURT, "B4.2021.1235")]),
    ("Case No: B4 / 2021 / 1234", [(COURT, "B4 / 2021 / 1234")]),
    ("QB-2019-000987", [(COURT, "QB-2019-000987")]),
    ("Case No: CA-2022-001378", [(COURT, "CA-2022-001378")]),
    ("Case No: AC-2023-LON-003465", [(COURT, "AC-2023-LON-003465")]),
    ("QB- 2017- 001637", [(COURT, "QB- 2017- 001637")]),  # a PDF's hyphen-space
    ("Case Nos: FA-2024-000319, FA-2024-000330", [(COURT, "FA-2024-000319"), (COURT, "FA-2024-000330")]),
    ("CO/1234/2021", [(COURT, "CO/1234/2021")]),
    ("Case No: 2021/01379/B1", [(COURT, "2021/01379/B1")]),
    ("Case No. HQ17P03347", [(COURT, "HQ17P03347")]),  # FamilyMan's shape, Queen's Bench prefix
    # other courts: shapes that need a word of court business
    ("Claim No F12YX345 at the County Court at York", [(COURT, "F12YX345")]),
    ("The claim F02YM752 was issued in the county court.", [(COURT, "F02YM752")]),
    ("T20200493 at the Crown Court", [(COURT, "T20200493")]),
    ("Case No: EA/2023/0132 (First-tier Tribunal)", [(COURT, "EA/2023/0132")]),
    ("Case No: UKEAT/0238/20/OO", [(COURT, "UKEAT/0238/20/OO")]),
    ("Case No: C0/1892/2003 and CCO/490/2021", [(COURT, "C0/1892/2003"), (COURT, "CCO/490/2021")]),
    ("Case No: 2009 Folio 462\nCOMMERCIAL COURT", [(COURT, "2009 Folio 462")]),
    ("CR-2021-00584 in the High Court", [(COURT, "CR-2021-00584")]),
    # weak shapes after a label
    ("Case No: 14203804\nIN THE COURT OF PROTECTION", [(COURT, "14203804")]),
    ("COP 13258625", [(COURT, "13258625")]),
    ("Appeal No. 18/72", [(COURT, "18/72")]),
    ("Case No. 18/72 before the court", [(COURT, "18/72")]),
    ("Claim No: 12345678 in the County Court at Leeds", [(COURT, "12345678")]),
    ("Our ref: 12345678 regarding the hearing on Monday.", [(COURT, "12345678")]),
    # near misses: other references, dates, phones, versions, citations
    ("MA456/2021", []),
    ("part AB1234567 shipped", []),
    ("case zw24c50123", [(FAMILY, "zw24c50123")]),  # any case (issue 12): a reader sees the same number
    ("case Zw24c50123 and co/1234/2021", [(FAMILY, "Zw24c50123"), (COURT, "co/1234/2021")]),
    ("appeal b4/2021/1234 and hq17p03347 and fd-2024-001234",
     [(COURT, "b4/2021/1234"), (COURT, "hq17p03347"), (FAMILY, "fd-2024-001234")]),
    ("ticket ab12c34567x and id=zw24c501234", []),
    ("Case number 01234567 for your support ticket has been updated.", []),
    ("Your claim number is 12345678. Regards, Acme Insurance", []),
    ("Our ref: 12345678 regarding your invoice.", []),
    ("I look forward to hearing from you. Our ref: 12345678", []),
    ("Invoice INV-2024-001234 and PO-2024-000123 attached.", []),
    ("CR-2021-00123 deployed to production", []),
    ("Ticket TC08547 closed.", []),
    ("FOI/2021/0123: you may appeal to the First-tier Tribunal.", []),
    ("Call 0161 234 5678 or quote order 12345678.", []),
    ("Version 3.16 released on 12/03/2021.", []),
    ("Claim No: 2 March 2021", []),
    ("Card 4111-1111-1111-1111", []),
    ("Case number: 1234-5678-9012-3456", []),  # CCD layout, checksum fails
    ("[2022] EWHC 396 (Fam) and [2022] EWCA Civ 201", []),  # neutral citations
    ("Product code A12BC345 is out of stock.", []),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_case_numbers(text: str, expected: list[tuple[str, str]]) -> None:
    """Each court's reference is found as family or court data; look-alike references are not."""
    found = [(r.entity_type, text[r.start : r.end]) for r in sorted(RECOGNIZER.analyze(text, []), key=lambda r: r.start)]
    assert found == expected


@pytest.mark.parametrize(
    ("value", "ok"),
    [("1659-5436-7859-8849", True), ("1659-5436-7859-8848", False), ("9659-5436-7859-8849", False),
     ("1000-0000-0000-0009", False)],
)
def test_ccd_reference(value: str, ok: bool) -> None:
    """A digital case number needs its Luhn check digit and an issue time since 2016."""
    assert ccd_reference_ok(value) is ok


def test_luhn() -> None:
    """The Luhn check accepts a valid number and rejects a one-digit change."""
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")


def _all_texts() -> list[str]:
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "samples"
    out: list[str] = []
    for path in (root / "corpus" / "corpus.jsonl", root / "realtext" / "dev.jsonl", root / "realtext" / "test.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            out.extend(c["text"] for c in json.loads(line)["chunks"])
    return out


def _random_texts(n: int) -> list[str]:
    import random

    rng = random.Random(7)
    alphabet = "AaBCcFfHLMOSTQXZ0123456789 /.-()\n:#" + "olio "
    pieces = ["Folio", "CO/", "FD-", "QB-20", "B4/20", " 20", "MC", "Case No", "claim no.", "our ref ", "appeal:"]
    out = []
    for _ in range(n):
        parts = [rng.choice(pieces) if rng.random() < 0.3 else "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9)))
                 for _ in range(rng.randint(3, 25))]
        out.append("".join(parts))
    return out


def test_digit_windows_find_exactly_what_a_whole_text_scan_finds() -> None:
    """The windowed shape scan is an optimisation only: on real mail, court text and random shape soup it returns
    the same matches as scanning the whole text."""
    texts = _all_texts() + _random_texts(4000)
    assert sum(1 for t in texts if list(case_numbers._SHAPES.finditer(t))) > 100
    for t in texts:
        whole = [(m.span(), m.lastgroup) for m in case_numbers._SHAPES.finditer(t)]
        windowed = [(m.span(), m.lastgroup) for m in case_numbers.shape_matches(t)]
        assert windowed == whole, t


def test_label_lookahead_names_every_first_letter() -> None:
    """The label pattern's leading lookahead skips no alternative: same matches as the pattern without it."""
    import re

    lookahead = re.match(r"\s*\(\?=\[[^\]]*\]\)", case_numbers._LABEL.pattern)
    assert lookahead is not None
    plain = re.compile(case_numbers._LABEL.pattern.replace(lookahead.group(), "", 1), case_numbers._LABEL.flags)
    assert plain.pattern != case_numbers._LABEL.pattern
    texts = _all_texts() + _random_texts(2000)
    assert sum(1 for t in texts if plain.search(t)) > 50
    for t in texts:
        assert [m.span() for m in case_numbers._LABEL.finditer(t)] == [m.span() for m in plain.finditer(t)], t
