"""Normalisation before detection and the offset map back to the original text."""

from __future__ import annotations

import unicodedata

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


# Issue 12 (section 3): what a reader's eye undoes is undone before detection.
READER_CASES = [
    # default-ignorable code points, not only format characters
    ("943\ufe0f476\ufe0e5919", "9434765919"),  # variation selectors
    ("943\U000e0041476\U000e007f5919", "9434765919"),  # tag characters
    ("943\u034f476\u115f5919\u3164", "9434765919"),  # combining grapheme joiner, Hangul fillers
    ("ZW24\u2060C5\u200d0123", "ZW24C50123"),
    # decimal digits of every script (category Nd)
    ("NHS \u0669\u0664\u0663 \u0664\u0667\u0666 \u0665\u0669\u0661\u0669", "NHS 943 476 5919"),  # Arabic-Indic
    ("\u096f\u096a\u0969 \u096a\u096d\u096c \u096b\u096f\u0967\u096f", "943 476 5919"),  # Devanagari
    ("\u09ef\u09ea\u09e9 \u0e59\u0e54\u0e53 \U0001d7d7", "943 943 9"),  # Bengali, Thai, mathematical
    # confusables in mixed or look-alike-only words
    ("NINO \u0410\u0412123456\u0421", "NINO AB123456C"),  # Cyrillic A, B, C
    ("ZW24\u04215\u039f123", "ZW24C50123"),  # Cyrillic C, Greek capital O (a zero inside the digit run)
    ("ZW24\u0421\u039f0123", "ZW24CO0123"),  # a letter right after a letter stays a letter
    ("\u0410my Br\u043ewn", "Amy Brown"),
    ("\u0421\u0410\u0421", "CAC"),  # look-alikes only
    ("\u0421\u0435\u0440\u0433\u0435\u0439 \u041f\u0435\u0442\u0440\u043e\u0432", "Сергей Петров"),  # Russian stays
    ("\u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1", "Καλημέρα"),  # Greek stays
    # letters standing for digits inside a digit run
    ("NHS 943 476 59l9", "NHS 943 476 5919"),
    ("NHS 943 476 59I9", "NHS 943 476 5919"),
    ("ZW24C5O123", "ZW24C50123"),
    ("94\u0417 476 5919", "943 476 5919"),  # Cyrillic Ze
    ("hello2 school 10lbs Win10 I2C", "hello2 school 10lbs Win10 I2C"),  # words keep their letters
    # identifiers broken across a line
    ("NHS 943 476\n5919", "NHS 943 476 5919"),
    ("NHS 943-476-\n5919", "NHS 943-476-5919"),
    ("Case ZW24C\n50123", "Case ZW24C 50123"),
    ("NI AB 12 34 56\nC", "NI AB 12 34 56 C"),
    ("> NHS 943 476\n> 5919", "NHS 943 476 5919"),
    ("total 20\n\n30 more", "total 20\n\n30 more"),  # a blank line ends the identifier
    ("Tel 0123\nFax 0456", "Tel 0123\nFax 0456"),  # a word starts the next line
]


@pytest.mark.parametrize(("original", "expected"), READER_CASES)
def test_reader_normalisation(original: str, expected: str) -> None:
    """Ignorable code points vanish, Nd digits are digits, confusables fold, wrapped identifiers join."""
    assert normalize(original).text == expected


@pytest.mark.parametrize(
    ("original", "needle", "original_text"),
    [
        ("x NINO \u0410\u0412123456\u0421 y", "AB123456C", "\u0410\u0412123456\u0421"),
        ("NHS 943 476 59l9.", "943 476 5919", "943 476 59l9"),
        ("NHS 943 476\n5919 ok", "943 476 5919", "943 476\n5919"),
        ("NHS 943-476-\n5919 ok", "943-476-5919", "943-476-\n5919"),
        ("a 94\ufe0f3 \u0664\u0667\u0666 5919 b", "943 476 5919", "94\ufe0f3 \u0664\u0667\u0666 5919"),
    ],
)
def test_reader_offsets_point_at_the_original(original: str, needle: str, original_text: str) -> None:
    """A span found after folding, joining or digit mapping maps to exactly the characters the sender wrote."""
    norm = normalize(original)
    start = norm.text.index(needle)
    s, e = norm.to_original(start, start + len(needle))
    assert original[s:e] == original_text


_READER_ALPHABET = st.sampled_from(
    ["\ufe0f", "\U000e0041", "\u034f", "\u0663", "\u096f", "\u0410", "\u039f", "\u0417", "O", "l", "I", "\n",
     "-", " ", "\u200b", "&#57;", "> ", "\u2013", "\uff19"]
)


_DIGIT_SOURCES = frozenset("OolI|\u0417\u0437\u0431\u039f\u041e\u043e\u03bf\u0406\u0456\u04c0\u0399\u0131")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(alphabet="abcAZ0123456789 .-\n", min_size=1, max_size=6), _READER_ALPHABET),
                max_size=30))
def test_reader_map_is_exact(parts: list[str]) -> None:
    """With every new fold in play the map stays monotonic and in bounds, and each digit of the normalised text
    points at the one character that reads as that digit (a digit of any script, or a letter standing for one)."""
    original = "".join(parts)
    norm = normalize(original)
    previous = 0
    for i, ch in enumerate(norm.text):
        s, e = norm.to_original(i, i + 1)
        assert 0 <= s < e <= len(original)
        assert s >= previous
        previous = s
        if ch.isdigit() and e - s == 1:
            source = original[s]
            assert source.isdigit() or source in _DIGIT_SOURCES, (source, ch)
            if source.isdigit():
                assert unicodedata.decimal(source) == int(ch)
    if norm.text:
        s, e = norm.to_original(0, len(norm.text))
        assert s <= e <= len(original)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abcOlI0123456789 \u0410\u0412\u0421\u039f\u0417", max_size=40))
def test_one_for_one_folds_keep_positions(text: str) -> None:
    """Folds that replace one character by one keep every offset: the map is the identity."""
    norm = normalize(text)
    assert len(norm.text) == len(text)
    assert norm.to_original(0, len(text)) == (0, len(text))
    for i in range(len(text)):
        assert norm.to_original(i, i + 1) == (i, i + 1)
