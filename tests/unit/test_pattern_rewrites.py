"""Patterns rewritten for speed (issue 11's CPU budget) find exactly what the patterns as first written find.

Each ``*_AS_WRITTEN`` below is the earlier, plainer form of a pattern in detectors/ (re.IGNORECASE, no leading
lookahead); the rewritten one spells case out with ``ci`` and adds lookaheads. Compared on every text of the
corpus and the real-text set, and on random soup rich in the characters where case folding is subtle.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

import pytest

from detectors.recognizers import age, case_numbers
from detectors.recognizers.patterns import ci, ci_chars

_SHAPES_AS_WRITTEN = re.compile(
    r"""
    (?<![\w/.\-])
    (?:
      (?P<familyman>(?P<fm_court>[A-Z]{2})[ ]?\d{2}[ ]?[A-Z][ ]?\d{5})
    | (?P<familyman4>[A-Z]{2}\d{2}[A-Z]\d{4})
    | (?P<local>[A-Z]{2}\d{1,5}/(?:19|20)?\d{2})
    | (?P<coa>[ABC]\d[ ]?(?P<coa_sep>[/.])[ ]?(?:19|20)\d{2}[ ]?(?P=coa_sep)[ ]?\d{3,5}
              (?:[ ]?\([A-Z]\)|/[A-Z](?![\w/]))?)
    | (?P<cacd>(?:19|20)\d{2}/?\d{5}/?[ ]?[A-C]\d)
    | (?P<cefile>(?P<cf_list>[A-Z]{2})-[ ]?(?:19|20)\d{2}-[ ]?(?P<cf_region>[A-Z]{3}-[ ]?)?\d{5,6}(?:-[A-Z]{1,2})?)
    | (?P<admin>C[O0][ ]?/[ ]?\d{1,5}[ ]?/[ ]?(?:19|20)?\d{2})
    | (?P<slash>[A-Z]{2,5}/(?:\d{1,5}/(?:19|20)\d{2}|(?:19|20)\d{2}/\d{3,5}|\d{2}/\d{3,4}|\d{4}/\d{2})
                (?:/[A-Z]{1,3})?)
    | (?P<county>[A-Z]\d{2}[A-Z]{2}\d{3}|\d[A-Z]{2}\d{5})
    | (?P<ocmc>\d{3}MC\d{3})
    | (?P<crown>[TSA](?:19|20)\d{6})
    | (?P<et>\d{7}/(?:19|20)\d{2})
    | (?P<folio>(?:19|20)\d{2}[ ]Folio[ ]\d{1,5})
    | (?P<ccd>1\d{3}-\d{4}-\d{4}-\d{4})
    )
    (?![\w]|[/\-]\w)
    """,
    re.VERBOSE | re.IGNORECASE,
)
_LABEL_AS_WRITTEN = re.compile(
    r"""
    (?<![\w])
    (?:
      (?P<family>family\s*man(?:\s+case)?\s*(?:no|number|ref(?:erence)?)?
                |family\s+court\s+(?:case\s+)?(?:no|number|ref(?:erence)?)|icacu\s+(?:ref(?:erence)?|no|number)
                |ccd\s+(?:case\s+)?(?:no|number|ref(?:erence)?|id))
    | (?P<court>(?:appeal|court|tribunal|cop|hmcts|ce-?file)\s*(?:case\s*)?
                (?:no|nos|number|numbers|ref|refs|reference|id)s?\b
                |court\s+of\s+protection\s+(?:case\s+)?(?:no|number|ref(?:erence)?)|cop\b|appeal\s*:)
    | (?P<generic>(?:case|claim|matter|application|proceedings|action|petition)\s*
                (?:no|nos|number|numbers|ref|refs|reference|id)s?\b
                |case\s*:|claim\s*:|(?:our|your|my|their)\s+ref(?:erence)?(?:\s+no)?\b)
    )
    [\s.:#\-]{0,6}
    """,
    re.VERBOSE | re.IGNORECASE,
)
_AGE_TRIGGERS_AS_WRITTEN = re.compile(r"\b(?:aged|old|age|now)\b", re.IGNORECASE)
_NAME_AGE_SPOT_AS_WRITTEN = re.compile(r",[ \t]+\d{1,3}(?:,|[ \t]+[a-z])|[ \t]\(\d{1,3}\)")
_LEGAL_AS_WRITTEN = re.compile(
    r"\b(?:appeals?|courts?|tribunals?|judges?|judgments?|judgements?|hearings?(?![ \t]+(?:from|back|about))|"
    r"proceedings|claimant|defendant|appellant|respondent|litigation|magistrates|familyman|divorce|injunction|"
    r"hmcts|c100|deputyship|hague|icacu|family[ \t]+(?:court|division|case)|child[ \t]+arrangements)\b",
    re.IGNORECASE,
)

# Characters where case folding is subtle (dotted/dotless i, long s, Kelvin sign, Turkish and German letters),
# plus the shapes' own vocabulary.
_SUBTLE = "İıſKkKsSiIß\u0307µΜμ"


def _all_texts() -> list[str]:
    root = Path(__file__).resolve().parents[2] / "samples"
    out: list[str] = []
    for path in (root / "corpus" / "corpus.jsonl", root / "realtext" / "dev.jsonl", root / "realtext" / "test.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            out.extend(c["text"] for c in json.loads(line)["chunks"])
    return out


def _soup(n: int, pieces: list[str], seed: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = "AaBCcFfHLMOoSTQXZ0123456789 /.-()\n:#,\t" + _SUBTLE
    out = []
    for _ in range(n):
        parts = [rng.choice(pieces) if rng.random() < 0.35 else "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9)))
                 for _ in range(rng.randint(3, 25))]
        text = "".join(parts)
        # the same soup with case flipped and subtle letters swapped in, so every spelt-out class is exercised
        out += [text, text.swapcase(), text.replace("i", "ı").replace("I", "İ").replace("s", "ſ").replace("k", "K")]
    return out


_PIECES = ["Folio", "fOLıO", "CO/", "co/", "FD-", "qb-20", "B4/20", " 20", "MC", "mc", "Case No", "claim no.", "our ref ",
           "appeal:", "FamilyMan", "İcacu ref", "ccd case id", "court of protection no", "COP ", "ce-file nos",
           "aged", "AGED", "old", "ſtill", "now", "Age", "petition number", "my ref no", "their reference", "tribunal",
           "Tribunals", "appealſ", "hearing from", "HEARINGS back", "hearings", "c100", "C100x", "family  court",
           "child\tarrangements", "İnjunction", "judgement", "divorce", "Jo, 24, was", " (7)", ", 7 and", ",\t123,"]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return _all_texts() + _soup(3000, _PIECES, 11)


def _full(m: re.Match[str]) -> tuple[object, ...]:
    return m.span(), m.lastgroup, tuple(m.span(g) for g in range(len(m.groups()) + 1))


def test_ci_matches_what_ignorecase_matches_for_every_letter() -> None:
    """``ci(letter)`` accepts exactly the code points that ``re.IGNORECASE`` accepts for it."""
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    for letter in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ":
        assert re.findall(ci(letter), every) == re.findall(letter, every, re.IGNORECASE), letter
    assert re.findall(f"[{case_numbers._AZ}]", every) == re.findall("[A-Z]", every, re.IGNORECASE)
    assert ci_chars("is") == "Iiİı" + "Ssſ"


def test_case_number_shapes_as_written(texts: list[str]) -> None:
    """The spelt-out shape pattern finds the same matches, groups and kinds as the IGNORECASE original."""
    found = 0
    for t in texts:
        new = [_full(m) for m in case_numbers._SHAPES.finditer(t)]
        assert new == [_full(m) for m in _SHAPES_AS_WRITTEN.finditer(t)], t
        found += bool(new)
    assert found > 300


def test_case_labels_as_written(texts: list[str]) -> None:
    """The spelt-out label pattern finds the same labels of the same kinds as the IGNORECASE original."""
    found = 0
    for t in texts:
        new = [(m.span(), m.lastgroup) for m in case_numbers._LABEL.finditer(t)]
        assert new == [(m.span(), m.lastgroup) for m in _LABEL_AS_WRITTEN.finditer(t)], t
        found += bool(new)
    assert found > 300


def test_age_triggers_as_written(texts: list[str]) -> None:
    """The age recognizer's trigger scan finds the same words as the IGNORECASE original."""
    found = 0
    for t in texts:
        new = [m.span() for m in age._TRIGGERS.finditer(t)]
        assert new == [m.span() for m in _AGE_TRIGGERS_AS_WRITTEN.finditer(t)], t
        found += bool(new)
    assert found > 300


def test_unnumbered_address_cues_as_scanned(texts: list[str]) -> None:
    """Trying the unnumbered-address cue only where its first-character scan points finds the cues a scan of the
    whole text finds, including non-ASCII case partners (ſ, İ) and digits of other scripts."""
    from detectors.recognizers import address

    extra = _soup(3000, ["lives in ", "LIVING AT ", "reſides at ", "lİved in ", "moved to the ", "home in ", ", of ",
                         ", from ", ", aged 3, of ", ", ٣٤, from ", "Jo Bloggs, 24, of ", "relocated into ",
                         "homoving in ", "Elm Road", "Smith", ",,of "], 12)
    found = 0
    for t in texts + extra:
        new = [(m.span(), m.group("named")) for m in address.unnumbered_cues(t)]
        assert new == [(m.span(), m.group("named")) for m in address._UNNUMBERED_CUE.finditer(t)], t
        found += bool(new)
    assert found > 300


@pytest.mark.parametrize(("written", "rewritten"), [
    (_NAME_AGE_SPOT_AS_WRITTEN, age._NAME_AGE_SPOT),
    (_LEGAL_AS_WRITTEN, case_numbers._LEGAL),
], ids=["name-age spot", "legal words"])
def test_spots_as_written(texts: list[str], written: re.Pattern[str], rewritten: re.Pattern[str]) -> None:
    """Small scans rewritten for sre's fast first-character search find the same spans as first written."""
    found = 0
    for t in texts:
        new = [m.span() for m in rewritten.finditer(t)]
        assert new == [m.span() for m in written.finditer(t)], t
        found += bool(new)
    assert found > 300


def test_quote_starts_as_scanned(texts: list[str]) -> None:
    """Trying the quote-start pattern only at lines its first-character scan points to finds what a scan of the
    whole text finds."""
    from detectors.recognizers import layout

    extra = _soup(3000, ["\nOn Mon, Jo wrote:\n", "\n  on 3 May\nJo <a@b.c>\nwrote: \n", "\n-----Original Message-----",
                         "\n--- forwarded message ---\n", "\nBegin forwarded message:\n", "\n__________\n",
                         "\nFrom: Jo\nSent: today", "\nfrom: a\nx\nTo:", "\nÖn x wrote:\n", "\n\tFROM:  x\nDate:"], 14)
    found = 0
    for t in texts + extra:
        new = [m.span() for m in layout.quote_starts(t)]
        assert new == [m.span() for m in layout._QUOTE_START.finditer(t)], t
        found += bool(new)
    assert found > 300
