"""Issue 11's misses, through the shipped config: case numbers of every court, dates of birth as people write
them, ages, health/capacity and criminal-offence topics, and topic words in their business sense.

Every example is made up in the shape of real UK family-court text and business mail; none is taken from the
real-text evaluation set.
"""

from __future__ import annotations

import pytest

from detectors.content import ContentDetector
from detectors.findings import Sensitivity
from detectors.sensitivity import assess_sensitivity, distinct_case_numbers
from gateway.mime.model import TextChunk
from tests.integration.detector_fixtures import ctx, found, shared_detector


@pytest.fixture(scope="module")
def content_detector() -> ContentDetector:
    """The engine shared by the whole test session."""
    return shared_detector()


# (text, entity, expected matched text, or None for "this entity must not be found")
CASES: list[tuple[str, str, str | None]] = [
    # case numbers: family proceedings
    ("Re: ZW24C50123 hearing", "UK_FAMILY_CASE_NUMBER", "ZW24C50123"),
    ("Case No: ZW20P0119", "UK_FAMILY_CASE_NUMBER", "ZW20P0119"),
    ("Case No. LS123/21 in the family court", "UK_FAMILY_CASE_NUMBER", "LS123/21"),
    ("Case No: FD-2024-001234", "UK_FAMILY_CASE_NUMBER", "FD-2024-001234"),
    ("Case number: 1659-5436-7859-8849", "UK_FAMILY_CASE_NUMBER", "1659-5436-7859-8849"),
    # case numbers: other courts and tribunals
    ("Case No: B4/2021/1234", "UK_COURT_CASE_NUMBER", "B4/2021/1234"),
    ("Appeal ref B4/2021/1234(A)", "UK_COURT_CASE_NUMBER", "B4/2021/1234(A)"),
    ("Claim No F12YX345 at the County Court", "UK_COURT_CASE_NUMBER", "F12YX345"),
    ("Case No: QB-2019-000987", "UK_COURT_CASE_NUMBER", "QB-2019-000987"),
    ("Judicial review CO/1234/2021", "UK_COURT_CASE_NUMBER", "CO/1234/2021"),
    ("Case No: 14203804 in the Court of Protection", "UK_COURT_CASE_NUMBER", "14203804"),
    ("Appeal No. 18/72", "UK_COURT_CASE_NUMBER", "18/72"),
    ("Case No: B4/2021/1234", "UK_FAMILY_CASE_NUMBER", None),  # an appeal number is not a family number
    # case numbers: near misses
    ("Your claim number is 12345678. Regards, Acme Insurance", "UK_COURT_CASE_NUMBER", None),
    ("Order number 12345678 has shipped", "UK_COURT_CASE_NUMBER", None),
    ("Call 0113 496 0000 about invoice INV-2024-001234", "UK_COURT_CASE_NUMBER", None),
    ("Upgrade to version 3.16 on 12/03/2021", "UK_COURT_CASE_NUMBER", None),
    # dates of birth as people write them
    ("She was born in February 2019 in Leeds.", "DATE_OF_BIRTH", "February 2019"),
    ("Amy was born on the 31st of October 2016.", "DATE_OF_BIRTH", "31st of October 2016"),
    ("The mother gave birth to a son on 1 January 2014.", "DATE_OF_BIRTH", "1 January 2014"),
    ("This followed the birth of a baby girl on 18 September 2019.", "DATE_OF_BIRTH", "18 September 2019"),
    ("Child: Amy Smith DOB 12.3.16", "DATE_OF_BIRTH", "12.3.16"),
    ("Amy Smith, d.o.b. 12/03/2016", "DATE_OF_BIRTH", "12/03/2016"),
    ("He was born on 3rd\nMarch 2015 at home.", "DATE_OF_BIRTH", "3rd\nMarch 2015"),
    ("Ben (DOB: 03/2015) lives with his father.", "DATE_OF_BIRTH", "03/2015"),
    # dates that are not births
    ("He was born out of wedlock and the hearing was on 3 May 2021.", "DATE_OF_BIRTH", None),
    ("She was born in Leeds and the hearing was on 3 May 2021.", "DATE_OF_BIRTH", None),
    ("The scheme was born in March 2020.", "DATE_OF_BIRTH", None),
    ("The birth mother attended the hearing on 3 May 2021.", "DATE_OF_BIRTH", None),
    ("The hearing is listed on 3 May 2021.", "DATE_OF_BIRTH", None),
    ("Born in the USA was released on 4 June 1984 as version 3.16.", "DATE_OF_BIRTH", None),
    # ages of identified people
    ("Amy, aged 7, attends the local school.", "AGE", "7"),
    ("a 15-year-old boy was stabbed in Swindon", "AGE", "15-year-old"),
    ("Jo Bloggs, 24, of Elm Road, Swindon, was arrested.", "AGE", "24"),
    ("The mother, now 34, lives in Leeds.", "AGE", "34"),
    ("She is 9 years of age.", "AGE", "9 years of age"),
    ("The parties are now aged 59 and 56 respectively.", "AGE", "59 and 56"),
    # ages of nobody in particular
    ("Children aged 5 to 11 can attend the holiday club.", "AGE", None),
    ("Applicants must be under the age of 18.", "AGE", None),
    ("Our 10-year-old server needs replacing.", "AGE", None),
    ("The building is 100 years old.", "AGE", None),
    # health, capacity and criminal-offence topics about a person
    ("Sarah Jones has been on mechanical ventilation since March.", "SPECIAL_CATEGORY", "mechanical ventilation"),
    ("P lacks capacity to consent to the treatment.", "SPECIAL_CATEGORY", "lacks capacity to"),
    ("She is receiving palliative care at home.", "SPECIAL_CATEGORY", "palliative care"),
    ("He was sectioned under the Mental Health Act in 2020.", "SPECIAL_CATEGORY", "sectioned under"),
    ("The father was arrested and charged with assault.", "SPECIAL_CATEGORY", "arrested"),
    ("He pleaded guilty and was sentenced to 18 months.", "SPECIAL_CATEGORY", "pleaded guilty"),
    ("Her disabled son attends a special school.", "SPECIAL_CATEGORY", "disabled"),
    ("He was raped in 2019.", "SPECIAL_CATEGORY", "raped"),
    # the same words as business or legal nouns
    ("Our project transition is on track.", "SPECIAL_CATEGORY", None),
    ("Please disable the feature for all users.", "SPECIAL_CATEGORY", None),
    ("Acme has disabled the API for her account.", "SPECIAL_CATEGORY", None),
    ("Harassment & discrimination training is mandatory.", "SPECIAL_CATEGORY", None),
    ("Rap music night at the office.", "SPECIAL_CATEGORY", None),
    ("The transition period ends in December.", "SPECIAL_CATEGORY", None),
    ("We lack capacity to take on new work this month.", "SPECIAL_CATEGORY", None),
    ("The mechanical ventilation system needs servicing.", "SPECIAL_CATEGORY", None),
    ("There was a miscarriage of justice.", "SPECIAL_CATEGORY", None),
    ("Anti-harassment policy attached.", "SPECIAL_CATEGORY", None),
    ("Zero hits here after the upgrade.", "SPECIAL_CATEGORY", None),
]


@pytest.mark.parametrize(("text", "entity", "expected"), CASES, ids=[f"{c[1]}:{c[0][:30]}" for c in CASES])
def test_realtext_case(content_detector: ContentDetector, text: str, entity: str, expected: str | None) -> None:
    """Each issue-11 miss is found in the shape real text uses, and its look-alikes are not."""
    hits = [t for e, t in found(content_detector, text) if e == entity]
    if expected is None:
        assert hits == []
    else:
        assert expected in hits


def _level(detector: ContentDetector, text: str) -> tuple[Sensitivity, int]:
    findings = detector.analyze([TextChunk(location="body", text=text, kind="body")], ctx())
    return assess_sensitivity(findings), distinct_case_numbers(findings)


LEVELS: list[tuple[str, Sensitivity, int]] = [
    ("Please find the order in case ZW24C50123 attached.", Sensitivity.PERSONAL, 1),
    ("The appeal B4/2021/1234 concerns the order made in ZW24C50123.", Sensitivity.PERSONAL, 1),
    ("Case ZW24C50123 (digital case number 1659-5436-7859-8849).", Sensitivity.PERSONAL, 1),
    ("Cases ZW24C50123 and LS22P00456 are listed together.", Sensitivity.PERSONAL, 2),
    ("Judicial review CO/1234/2021 was refused.", Sensitivity.PERSONAL, 0),
    ("The appellant, aged 21, was arrested in 2016.", Sensitivity.SPECIAL_CATEGORY, 0),
    ("Children aged 5 to 11 can join the harassment awareness session.", Sensitivity.NONE, 0),
]


@pytest.mark.parametrize(("text", "level", "cases"), LEVELS, ids=[x[0][:40] for x in LEVELS])
def test_message_level(content_detector: ContentDetector, text: str, level: Sensitivity, cases: int) -> None:
    """Court numbers are personal but not children's data, and count as no second family case (IA 4.14)."""
    assert _level(content_detector, text) == (level, cases)
