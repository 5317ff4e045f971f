"""Topic-list syntax and person cues (issue 11, point 5): a topic counts when it is about a person."""

from __future__ import annotations

import pytest

from detectors.recognizers.anchors import PersonCues
from detectors.recognizers.special import ANYWHERE, CLOSE, SENTENCE, parse_entry


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("domestic abuse", ("domestic abuse", ANYWHERE, False, False)),
        ("?harassment", ("harassment", SENTENCE, False, False)),
        ('??"disabled"', ("disabled", CLOSE, True, False)),
        ('"rape"', ("rape", ANYWHERE, True, False)),
        ("!miscarriage of justice", ("miscarriage of justice", ANYWHERE, False, True)),
    ],
)
def test_parse_entry(line: str, parsed: tuple[str, int, bool, bool]) -> None:
    """List markers: ? sentence about a person, ?? a person word close by, quotes exact form, ! not a topic."""
    assert parse_entry(line) == parsed


CUES = PersonCues(["the", "please", "training", "staff", "project", "it", "hr"])


@pytest.mark.parametrize(
    ("text", "initials", "cue"),
    [
        ("she reported harassment", False, True),
        ("the mother reported harassment", False, True),
        ("Amy reported harassment", False, True),
        ("F was arrested", False, True),
        ("A was accommodated", False, True),
        ("ZX was three weeks old", True, True),
        ("ZX's injuries", True, True),
        ("both parents were arrested", False, True),
        ("ZX was three weeks old", False, False),  # initials only where asked for
        ("Please complete the training", False, False),
        ("staff must report harassment", False, False),
        ("children attend the club", False, False),
        ("IT was down", True, False),
        ("A project was started", False, False),
    ],
)
def test_person_cues(text: str, initials: bool, cue: bool) -> None:
    """Pronouns, roles, names and anonymised letters are cues; policies and populations are not."""
    assert CUES.cue_in(text, 0, len(text), initials=initials) is cue


@pytest.mark.parametrize(
    ("text", "span", "cue"),
    [
        ("her disabled son", "disabled", True),
        ("he is disabled", "disabled", True),
        ("Acme has disabled the API for her account", "disabled", False),
        ("the feature is disabled", "disabled", False),
    ],
)
def test_near_cues(text: str, span: str, cue: bool) -> None:
    """A close cue is a pronoun or person word within a few words, not a company name."""
    start = text.index(span)
    assert CUES.near_cue(text, start, start + len(span)) is cue
