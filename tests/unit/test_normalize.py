"""Normalisation before detection and the offset map back to the original text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.normalize import normalize

CASES = [
    # (original, normalised)
    ("plain ascii text", "plain ascii text"),
    ("NHS ９４３ ４７６ ５９１９", "NHS 943 476 5919"),
    ("943\u200b476\u200b5919", "9434765919"),
    ("soft\u00adhyphen and\ufeffbom", "softhyphen andbom"),
    ("&#57;43 476 5919 &amp; co", "943 476 5919 & co"),
    ("&#x39;&#x34;3", "943"),
    ("tel\u00a007700\u2013900123", "tel 07700-900123"),
    ("> quoted line\n>> deeper\nnot quoted", "quoted line\ndeeper\nnot quoted"),
    ("O\u2019Brien", "O'Brien"),
    ("&unknownentity; stays", "&unknownentity; stays"),
]


@pytest.mark.parametrize(("original", "expected"), CASES)
def test_normalised_form(original: str, expected: str) -> None:
    """Full-width digits, invisible characters, entities, dashes and quote prefixes reach canonical form."""
    assert normalize(original).text == expected


@pytest.mark.parametrize(
    ("original", "needle"),
    [
        ("NHS ９４３ ４７６ ５９１９ end", "943 476 5919"),
        ("x 943\u200b476\u200b5919 y", "9434765919"),
        ("a &#57;43 476 5919 b", "943 476 5919"),
        ("> Child: Jane Smith\n> DOB 01/02/2015", "Jane Smith"),
    ],
)
def test_offsets_map_back_to_the_original(original: str, needle: str) -> None:
    """A span found in the normalised text maps to exactly the original characters that produced it."""
    norm = normalize(original)
    start = norm.text.index(needle)
    s, e = norm.to_original(start, start + len(needle))
    assert normalize(original[s:e], strip_quote_prefixes=False).text == needle


def test_ascii_fast_path_is_identity() -> None:
    """Plain ASCII without entities or quotes skips the map entirely (the common case stays cheap)."""
    norm = normalize("Hello Jane, see you at 10.")
    assert norm.is_identity
    assert norm.to_original(6, 10) == (6, 10)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="abc XYZ019.-", min_size=1, max_size=6),
            st.sampled_from(["\u200b", "\ufeff", "\u00ad", "９", "Ａ", "&amp;", "&#49;", "\u2013", "\u00a0"]),
        ),
        max_size=20,
    )
)
def test_map_is_monotonic_and_in_bounds(parts: list[str]) -> None:
    """Every normalised span maps inside the original, in order, whatever mix of characters comes in."""
    original = "".join(parts)
    norm = normalize(original)
    previous = 0
    for i in range(len(norm.text)):
        s, e = norm.to_original(i, i + 1)
        assert 0 <= s < e <= len(original)
        assert s >= previous
        previous = s
