"""Message-level sensitivity rules (DESIGN.md) and the masked forms kept in incident records."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detectors.findings import Finding, Sensitivity
from detectors.redact import redact
from detectors.sensitivity import assess_sensitivity, distinct_case_numbers

N, P, S = Sensitivity.NONE, Sensitivity.PERSONAL, Sensitivity.SPECIAL_CATEGORY


def f(entity: str, start: int, detector: str = "x", location: str = "body", fp: str = "", masked: str = "") -> Finding:
    return Finding(entity, 0.9, location, start, start + 10, detector, masked, fingerprint=fp)


RULES: list[tuple[str, list[Finding], Sensitivity]] = [
    ("nothing", [], N),
    ("a bare name", [f("PERSON", 0, "SpacyRecognizer")], N),
    ("names, phones and emails of business contacts",
     [f("PERSON", 0), f("PHONE_NUMBER", 20), f("EMAIL_ADDRESS", 40)], N),
    ("an address with no name", [f("UK_STREET_ADDRESS", 0), f("UK_POSTCODE", 5)], N),
    ("a special topic with no person", [f("SPECIAL_CATEGORY", 0)], N),
    ("a protective marking alone", [f("PROTECTIVE_MARKING", 0)], N),
    ("an NHS number alone", [f("UK_NHS", 0)], P),
    ("a NINO alone", [f("UK_NINO", 0)], P),
    ("a date of birth alone", [f("DATE_OF_BIRTH", 0)], P),
    ("a bank account alone", [f("UK_BANK_ACCOUNT", 0)], P),
    ("a case number alone", [f("UK_FAMILY_CASE_NUMBER", 0)], P),
    ("a name next to a home address", [f("PERSON", 0), f("UK_STREET_ADDRESS", 30)], P),
    ("a name near a lone postcode (signatures, venues)", [f("PERSON", 0), f("UK_POSTCODE", 30)], N),
    ("a name far from an address", [f("PERSON", 0), f("UK_STREET_ADDRESS", 2000)], N),
    ("a name and an address in different chunks",
     [f("PERSON", 0, location="subject"), f("UK_POSTCODE", 5)], N),
    ("a name with a family role", [f("PERSON", 0, "FamilyRoleNameRecognizer")], P),
    ("a name just before a special topic", [f("PERSON", 0), f("SPECIAL_CATEGORY", 40)], S),
    ("a topic then a speaker's name (event listing)", [f("SPECIAL_CATEGORY", 0), f("PERSON", 40)], N),
    ("a name a paragraph away from a topic", [f("PERSON", 0), f("SPECIAL_CATEGORY", 200)], N),
    ("an identifier plus a special topic anywhere", [f("UK_NHS", 0), f("SPECIAL_CATEGORY", 5000)], S),
    ("a case number with a name (children's case data)", [f("UK_FAMILY_CASE_NUMBER", 0), f("PERSON", 900)], S),
    ("another court's case number alone", [f("UK_COURT_CASE_NUMBER", 0)], P),
    ("an appeal number with a name (not children's data)", [f("UK_COURT_CASE_NUMBER", 0), f("PERSON", 900)], P),
    ("the age of an identified person", [f("AGE", 0)], P),
    ("an age with a special topic", [f("AGE", 0), f("SPECIAL_CATEGORY", 40)], S),
]


@pytest.mark.parametrize(("why", "findings", "level"), RULES, ids=[r[0] for r in RULES])
def test_sensitivity_rule(why: str, findings: list[Finding], level: Sensitivity) -> None:
    """Each DESIGN.md sensitivity rule gives its level (benign business mail stays none)."""
    assert assess_sensitivity(findings) == level


ENTITIES = ["PERSON", "UK_NHS", "UK_POSTCODE", "UK_STREET_ADDRESS", "SPECIAL_CATEGORY", "UK_FAMILY_CASE_NUMBER",
            "PHONE_NUMBER", "EMAIL_ADDRESS", "DATE_OF_BIRTH", "IBAN_CODE", "UK_COURT_CASE_NUMBER", "AGE"]


@given(
    st.lists(st.tuples(st.sampled_from(ENTITIES), st.integers(0, 3000), st.sampled_from(["body", "subject"])),
             max_size=12),
    st.integers(0, 3000),
    st.sampled_from(["body", "subject"]),
    st.sampled_from(["SpacyRecognizer", "FamilyRoleNameRecognizer"]),
)
def test_adding_a_person_never_lowers_sensitivity(findings: list[tuple[str, int, str]], at: int, loc: str,
                                                  detector: str) -> None:
    """Monotone in PERSON: what lets detection skip NER when no name could change the outcome."""
    base = [f(e, s, location=lc) for e, s, lc in findings]
    assert assess_sensitivity([*base, f("PERSON", at, detector, loc)]) >= assess_sensitivity(base)


def test_distinct_case_numbers_by_fingerprint() -> None:
    """Case numbers count by value (fingerprint), not by occurrence."""
    fs = [f("UK_FAMILY_CASE_NUMBER", 0, fp="a"), f("UK_FAMILY_CASE_NUMBER", 50, fp="a"),
          f("UK_FAMILY_CASE_NUMBER", 90, fp="b"), f("UK_NHS", 10, fp="a")]
    assert distinct_case_numbers(fs) == 2


def test_distinct_case_numbers_one_matter_several_systems() -> None:
    """IA 4.14: an appeal number, or the digital number of the same matter, is not a second family case."""
    fm = redact("UK_FAMILY_CASE_NUMBER", "ZW24C50123")
    digital = redact("UK_FAMILY_CASE_NUMBER", "1659-5436-7859-8849")
    one_matter = [f("UK_FAMILY_CASE_NUMBER", 0, fp="a", masked=fm), f("UK_COURT_CASE_NUMBER", 30, fp="b"),
                  f("UK_FAMILY_CASE_NUMBER", 60, fp="c", masked=digital)]
    assert distinct_case_numbers(one_matter) == 1
    two_matters = [*one_matter, f("UK_FAMILY_CASE_NUMBER", 90, fp="d", masked=fm)]
    assert distinct_case_numbers(two_matters) == 2


@pytest.mark.parametrize(
    ("entity", "text", "masked"),
    [
        ("UK_NHS", "943 476 5919", "NHS *** *** 5919"),
        ("UK_NHS", "９４３４７６５９１９", "NHS *** *** 5919"),
        ("PERSON", "Jane Smith", "J*** S****"),
        ("UK_FAMILY_CASE_NUMBER", "ZW24C50123", "ZW** *****23"),
        ("UK_FAMILY_CASE_NUMBER", "1659-5436-7859-8849", "****-****-****-8849"),
        ("UK_COURT_CASE_NUMBER", "B4/2021/1234", "B4/****/**34"),
        ("AGE", "aged 7", "[age]"),
        ("UK_NINO", "AB 12 34 56 C", "** ** ** *6 C"),
        ("PHONE_NUMBER", "07911 123456", "***** ***456"),
        ("EMAIL_ADDRESS", "jane.doe@example.co.uk", "j***@example.co.uk"),
        ("DATE_OF_BIRTH", "12/03/2015", "**/**/2015"),
        ("UK_POSTCODE", "LS6 2AB", "LS6 ***"),
        ("UK_STREET_ADDRESS", "14 Oak Road, Leeds LS6 2AB", "[address] LS6 ***"),
        ("UK_BANK_ACCOUNT", "20-00-00, account 12345678", "**-**-** ****5678"),
        ("PROTECTIVE_MARKING", "Official Sensitive", "OFFICIAL-SENSITIVE"),
    ],
)
def test_redacted_forms(entity: str, text: str, masked: str) -> None:
    """Masked forms keep enough to recognise an item and never the whole value."""
    assert redact(entity, text) == masked
