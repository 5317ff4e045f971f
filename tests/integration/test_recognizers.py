"""Table-driven cases per recognizer: true positives, near misses and evasions, through the shipped config."""

from __future__ import annotations

import pytest

from detectors.content import ContentDetector
from detectors.recognizers.nhs import nhs_checksum_ok
from tests.integration.detector_fixtures import found, shared_detector


@pytest.fixture(scope="module")
def content_detector() -> ContentDetector:
    """The engine shared by the whole test session."""
    return shared_detector()

# (text, entity, expected matched text or None for "must not be found")
CASES: list[tuple[str, str, str | None]] = [
    # NHS numbers: mod-11 checksum, layouts, evasions
    ("NHS number 943 476 5919 on file", "UK_NHS", "943 476 5919"),
    ("Patient 943-476-5919 seen", "UK_NHS", "943-476-5919"),
    ("NHS ref 943.476.5919", "UK_NHS", "943.476.5919"),
    ("ref 943.476.5919", "UK_NHS", None),  # a checksum alone is not an NHS number (issue 11)
    ("Fax: 713-853-0005", "UK_NHS", None),  # passes mod 11; a fax number
    ("NHS: 9 4 3 4 7 6 5 9 1 9", "UK_NHS", "9 4 3 4 7 6 5 9 1 9"),
    ("NHS no ９４３ ４７６ ５９１９", "UK_NHS", "９４３ ４７６ ５９１９"),
    ("NHS 943\u200b476\u200b5919", "UK_NHS", "943\u200b476\u200b5919"),
    ("NHS &#57;43 476 5919", "UK_NHS", "&#57;43 476 5919"),
    ("NHS number: 4010232137", "UK_NHS", "4010232137"),
    ("NHS number 943 476 5918", "UK_NHS", None),  # checksum fails
    ("Order reference 4010232137 dispatched", "UK_NHS", None),  # valid checksum, bare, no context
    ("NHS 000 000 0000", "UK_NHS", None),  # repeated digit
    ("call 0113 476 5919 today", "UK_NHS", None),  # part of a longer number
    # National Insurance numbers
    ("NI number AB 12 34 56 C", "UK_NINO", "AB 12 34 56 C"),
    ("NINO: JZ015263A", "UK_NINO", "JZ015263A"),
    ("National insurance AB-12-34-56-C", "UK_NINO", "AB-12-34-56-C"),
    ("national insurance number GB123456A", "UK_NINO", None),  # unallocated prefix
    ("NI number ab 12 34 56 c", "UK_NINO", None),  # capitals matter
    ("code QQ123456C", "UK_NINO", None),  # Q never a first letter
    # postcodes
    ("She lives in LS6 2AB now", "UK_POSTCODE", "LS6 2AB"),
    ("Postcode: SW1A 1AA", "UK_POSTCODE", "SW1A 1AA"),
    ("postcode m1 1ae", "UK_POSTCODE", "m1 1ae"),
    ("the form ABC 123 was sent", "UK_POSTCODE", None),
    # family court case numbers
    ("Case number ZW24C50123 listed", "UK_FAMILY_CASE_NUMBER", "ZW24C50123"),
    ("Re: LS22P00456 hearing", "UK_FAMILY_CASE_NUMBER", "LS22P00456"),
    ("court ref ZW24 C 50123", "UK_FAMILY_CASE_NUMBER", "ZW24 C 50123"),
    ("case zw24c50123", "UK_FAMILY_CASE_NUMBER", "zw24c50123"),  # any case (issue 12)
    ("part AB1234567 shipped", "UK_FAMILY_CASE_NUMBER", None),
    # dates of birth need birth context
    ("DOB: 12/03/2015", "DATE_OF_BIRTH", "12/03/2015"),
    ("Amir (d.o.b. 1st March 2016) attends", "DATE_OF_BIRTH", "1st March 2016"),
    ("She was born on 3 Jan 2019 in Leeds", "DATE_OF_BIRTH", "3 Jan 2019"),
    ("Date of birth\n2014-07-30", "DATE_OF_BIRTH", "2014-07-30"),
    ("Amir Khan 12.03.2015 (DOB)", "DATE_OF_BIRTH", "12.03.2015"),
    ("The hearing is on 12/03/2025", "DATE_OF_BIRTH", None),
    ("DOB 31/02/2015", "DATE_OF_BIRTH", None),  # not a calendar date
    ("born 01/01/2090", "DATE_OF_BIRTH", None),  # in the future
    # bank accounts
    ("Sort code 20-00-00, account number 12345678", "UK_BANK_ACCOUNT", "20-00-00, account number 12345678"),
    ("bank details: 40 11 62 / 71234567", "UK_BANK_ACCOUNT", "40 11 62 / 71234567"),
    ("account number 12345678 only", "UK_BANK_ACCOUNT", None),
    ("review dates 12-03-15 and 14-05-16 for account 88776655", "UK_BANK_ACCOUNT", None),  # dates, no label
    # phone numbers (validated by libphonenumber)
    ("Mobile 07911 123456", "PHONE_NUMBER", "07911 123456"),
    ("ring +44 (0)161 234 5678", "PHONE_NUMBER", "+44 (0)161 234 5678"),
    ("Call 0161-234-5678 or", "PHONE_NUMBER", "0161-234-5678"),
    ("Paris office +33 1 42 68 53 00", "PHONE_NUMBER", "+33 1 42 68 53 00"),
    ("mobile ０７９１１ １２３４５６", "PHONE_NUMBER", "０７９１１ １２３４５６"),
    ("invoice 01632 960123 attached", "PHONE_NUMBER", None),  # reserved range, no phone context
    ("on 01.02.2015 at", "PHONE_NUMBER", None),
    # email, IBAN, card (Presidio's recognizers)
    ("write to jane.doe@example.co.uk please", "EMAIL_ADDRESS", "jane.doe@example.co.uk"),
    ("IBAN GB82 WEST 1234 5698 7654 32", "IBAN_CODE", "GB82 WEST 1234 5698 7654 32"),
    ("card 4111 1111 1111 1111", "CREDIT_CARD", "4111 1111 1111 1111"),
    ("card 4111 1111 1111 1112", "CREDIT_CARD", None),  # Luhn fails
    # passport and driving licence (Presidio's, passport needs context)
    ("passport number AB1234567", "UK_PASSPORT", "AB1234567"),
    ("product AB1234567", "UK_PASSPORT", None),
    ("driving licence MORGA753116SM9IJ", "UK_DRIVING_LICENCE", "MORGA753116SM9IJ"),
    # street addresses
    ("She lives at 14 Oak Road, Headingley, Leeds LS6 2AB", "UK_STREET_ADDRESS", "14 Oak Road, Headingley, Leeds LS6 2AB"),
    ("Flat 3, 22 Mill Lane, Bristol BS1 4DJ", "UK_STREET_ADDRESS", "Flat 3, 22 Mill Lane, Bristol BS1 4DJ"),
    ("moved to 7 Station Street last week", "UK_STREET_ADDRESS", "7 Station Street"),
    ("about 15 minutes walk away", "UK_STREET_ADDRESS", None),
    # protective markings
    ("OFFICIAL-SENSITIVE: PERSONAL", "PROTECTIVE_MARKING", "OFFICIAL-SENSITIVE"),
    ("[Official Sensitive]", "PROTECTIVE_MARKING", "Official Sensitive"),
    ("TOP SECRET", "PROTECTIVE_MARKING", "TOP SECRET"),
    ("it is no secret that", "PROTECTIVE_MARKING", None),
    ("Marked PROTECT - PERSONAL in 2012", "PROTECTIVE_MARKING", "PROTECT - PERSONAL"),
    # special-category topics, matched on light lemmas
    ("She disclosed domestic abuse by her ex-partner", "SPECIAL_CATEGORY", "domestic abuse"),
    ("history of self harming since 2021", "SPECIAL_CATEGORY", "self harming"),
    ("he was sexually abused as a child", "SPECIAL_CATEGORY", "sexually abused"),
    ("a recent hair strand test was positive", "SPECIAL_CATEGORY", "hair strand test"),
    ("Book onto our domestic abuse awareness training", "SPECIAL_CATEGORY", None),
    ("The mental health team meets on Friday", "SPECIAL_CATEGORY", None),
    # names found by structure
    ("I met the mother, Oluwaseun Adeyemi, at home.", "PERSON", "Oluwaseun Adeyemi"),
    ("Child: Amir Khan", "PERSON", "Amir Khan"),
    ("Jane Smith (maternal grandmother) attended", "PERSON", "Jane Smith"),
    ("Mrs Kowalczyk telephoned", "PERSON", "Kowalczyk"),
    ("Leah's NHS number is on file", "PERSON", "Leah"),
    ("Re: Kaitlyn Fisher\nCase details below", "PERSON", "Kaitlyn Fisher"),
    ("The Child Arrangements Order was made", "PERSON", None),
    ("Re: Leeds Family Court hearing", "PERSON", None),
    ("Child&nbsp;name: Kian O&#39;Connor&nbsp;&nbsp;DOB", "PERSON", "Kian O&#39;Connor"),
]


@pytest.mark.parametrize(("text", "entity", "expected"), CASES, ids=[f"{c[1]}:{c[0][:30]}" for c in CASES])
def test_recognizer_case(content_detector: ContentDetector, text: str, entity: str, expected: str | None) -> None:
    """Each recognizer finds its true positives (in any layout or evasion) and ignores its near misses."""
    hits = [t for e, t in found(content_detector, text) if e == entity]
    if expected is None:
        assert hits == []
    else:
        assert expected in hits


@pytest.mark.parametrize(
    ("value", "ok"),
    [("9434765919", True), ("4010232137", True), ("9434765918", False), ("1234567890", False)],
)
def test_nhs_checksum(value: str, ok: bool) -> None:
    """The mod-11 check accepts real NHS numbers and rejects one-digit changes."""
    assert nhs_checksum_ok(value) is ok


def test_date_time_and_other_noise_never_reported(content_detector: ContentDetector) -> None:
    """Dates, organisations, places and nationalities are not findings on their own."""
    text = "The meeting with Leeds City Council is on Monday 12 March 2025 at 10:00 in Manchester. British."
    entities = {e for e, _ in found(content_detector, text)}
    assert not entities & {"DATE_TIME", "NRP", "ORGANIZATION", "LOCATION"}
    assert "DATE_OF_BIRTH" not in entities
