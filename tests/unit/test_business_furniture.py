"""Pure rules that keep business furniture out of findings (issue 11): no spaCy, no engine, one recognizer or
function at a time. The end-to-end table is tests/integration/test_business_false_alarms.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.recognizers.address import UkStreetAddressRecognizer
from detectors.recognizers.bank import PaymentCardRecognizer, UkBankAccountRecognizer, luhn_ok
from detectors.recognizers.business import business_reason
from detectors.recognizers.layout import zones
from detectors.recognizers.nhs import number_support
from detectors.recognizers.person import DEFAULT_ROLES, FamilyRoleNameRecognizer, TitledNameRecognizer
from detectors.recognizers.person_context import person_span_problem

LISTS = Path(__file__).resolve().parents[2] / "config" / "lists"
FLAGS = 26  # the global_regex_flags of config/detectors.yaml
ROLES = frozenset(w for r in DEFAULT_ROLES for w in r.split())


def _span(text: str, part: str) -> tuple[int, int]:
    i = text.index(part)
    return i, i + len(part)


# ------------------------------------------------------------------------------------------- NHS numbers
@pytest.mark.parametrize(
    ("text", "number", "support"),
    [
        ("NHS No 943 476 5919", "943 476 5919", "nhs"),
        ("NHS ref 943.476.5919", "943.476.5919", "nhs"),
        ("Patient: 943-476-5919", "943-476-5919", "nhs"),
        ("NHS number\n943 476 5919", "943 476 5919", "nhs"),
        ("943 476 5919 (NHS)", "943 476 5919", "nhs"),
        ("Father: Joy Abiola, by telephone.\nNHS no: 444 476 5623", "444 476 5623", "nhs"),
        ("Fax 713-646-0018", "713-646-0018", "other"),
        ("T: 713 853 0005", "713 853 0005", "other"),
        ("Hospital switchboard 943 476 5919", "943 476 5919", "other"),  # nearest label wins
        ("Order number: 713 853 0021", "713 853 0021", "other"),
        ("+44 (0)113 496 0018", "113 496 0018", "other"),
        ("call 943 476 5919 x204", "943 476 5919", "other"),
        ("Jane Doe | 943 476 5919 | jane@acme.example", "943 476 5919", ""),
    ],
)
def test_nhs_number_needs_support(text: str, number: str, support: str) -> None:
    """An NHS label supports a checksum-valid number; a phone, fax or order label or layout rules it out."""
    assert number_support(text, *_span(text, number)) == support


# ------------------------------------------------------------------------------------------ payment cards
@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("card 4111 1111 1111 1111", True),
        ("Hi Paul, my card number is 4929 8044 6362 2139, expiry 04/27", True),
        ("Please charge 4929804463622139 exp 04/27", True),
        ("Amex 3782 822463 10005", True),
        ("Pay with 4929 8044 6362 2139 today", True),  # card layout, nothing against it
        ("card 4111 1111 1111 1112", False),  # Luhn fails
        ("Order no 4929804463622139 shipped", False),
        ("1     4111111111111111    Toner cartridge x4         £120.00", False),  # a table row
        ("Widget A (SKU 4929804463622139)   2   $14.99", False),
        ("ref: 5500 0000 0000 0004", False),
        ("the number 5500000000000004 again", False),  # a bare run of digits needs card context
    ],
)
def test_card_numbers_need_card_evidence(text: str, found: bool) -> None:
    """Issuer prefix and Luhn make a candidate; a card label or layout makes a card, an order line never."""
    results = [r for r in PaymentCardRecognizer().analyze(text, ["CREDIT_CARD"]) if r.score >= 0.5]
    assert bool(results) is found


def test_luhn() -> None:
    """The Luhn check accepts known-good test numbers and rejects a one-digit change."""
    assert luhn_ok("4111111111111111") and luhn_ok("378282246310005")
    assert not luhn_ok("4111111111111112")


@pytest.mark.parametrize(
    ("text", "personal"),
    [
        ("Account name: Northgate Consulting LLP\nSort code: 20-45-77\nAccount number: 43567890", False),
        ("Please pay Acme Widgets Ltd, sort code 20-45-77, account 43567890.", False),
        ("Please pay Mrs Jane Smith, sort code 20-45-77, account 43567890.", True),
        ("Her bank details: sort code 20-45-77, account number 43567890", True),
    ],
)
def test_organisation_accounts_are_not_personal(text: str, personal: bool) -> None:
    """A company's account on an invoice is business furniture; a person's account is a strong identifier."""
    scores = [r.score for r in UkBankAccountRecognizer().analyze(text, ["UK_BANK_ACCOUNT"])]
    assert scores and (max(scores) >= 0.5) is personal


# ------------------------------------------------------------------------------------------------ addresses
@pytest.mark.parametrize(
    ("text", "address", "business"),
    [
        ("Jane Doe | Acme Energy Ltd | 12 Harbour Street, Suite 400, Bristol BS1 4RW", "12 Harbour Street", True),
        ("Central Perk Holdings Ltd\n\n90 Bedford Street\n\nLondon WC2E 9HE", "90 Bedford Street", True),
        ("SMITH JONES SOLICITORS LLP\n14 Park Row\nLeeds LS1 5HD\nDX 12345 Leeds", "14 Park Row", True),
        ("Harbour Logistics\n14 Park Row\nLeeds LS1 5HD\nwww.harbour.example", "14 Park Row", True),
        ("Unsubscribe here. Copyright 2024 Example Media.\nc/o Example Media, 200 Market Street, CA 94105",
         "200 Market Street", True),
        ("She lives at 14 Oak Road, Leeds LS6 2AB.", "14 Oak Road", False),
        ("Daniel Harper, who works for Acme Ltd, lives at 9 Victoria Street, Leicester.", "9 Victoria Street",
         False),
        ("Mrs Jane Whitfield\n14 Oak Road\nLeeds LS6 2AB", "14 Oak Road", False),
        ("Flat 2, Rose Court\n14 Oak Road\nLeeds LS6 2AB", "14 Oak Road", False),
    ],
)
def test_business_address_signs(text: str, address: str, business: bool) -> None:
    """Premises parts, organisation lines, contact lines and footers mark an address as an organisation's;
    a home cue or a person's name above it does not."""
    assert bool(business_reason(text, *_span(text, address))) is business


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jo Bloggs, 24, of Elm Road, Swindon, was praised.", "Elm Road, Swindon"),
        ("Amir Khan, aged 31, from Mill Lane, Luton, was charged.", "Mill Lane, Luton"),
        ("The family lives in Elm Road and the children walk to school.", "Elm Road"),
        ("Jane Smith, Head of Park Lane Capital, spoke.", None),
        ("Mark Taylor of Park Lane Capital Ltd said so.", None),
    ],
)
def test_street_without_house_number_placing_a_person(text: str, expected: str | None) -> None:
    """A report's "Name, age, of Street, Town" or "lives in Street" is a home address without a number."""
    recognizer = UkStreetAddressRecognizer()
    found = [text[r.start : r.end] for r in recognizer.analyze(text, ["UK_STREET_ADDRESS"], None, FLAGS)
             if r.score >= 0.5]
    assert found == ([expected] if expected else [])


# ---------------------------------------------------------------------------------------------------- layout
def test_html_quoted_header_runs_through_blank_lines() -> None:
    """An HTML reply header ("From:", blank, "Sent:", blank, "To:") is one quoted header block."""
    text = ("Thanks\n\nFrom: Bob Stone <bob@example.com>\n\nSent: 12 March 2024\n\nTo: Rachel Green\n\n"
            "Cc: Monica Geller\n\nSubject: Quote\n\nHi Rachel")
    headers = [z for z in zones(text) if z.kind == "header"]
    assert headers and text[headers[0].start : headers[0].end].endswith("Subject: Quote")


def test_signature_without_sign_off_is_a_signature() -> None:
    """A closing block with a name, a job title and an organisation is the sender's signature."""
    text = ("Please find the minutes attached.\n\nJane Doe\nHead of Partnerships\nNorthgate Consulting LLP\n"
            "Floor 3, 45 King Street\nManchester M2 4LQ\n")
    sigs = [z for z in zones(text) if z.kind == "signature"]
    assert sigs and "Floor 3" in text[sigs[0].start : sigs[0].end]


def test_closing_block_of_home_details_is_not_a_signature() -> None:
    """A person's details at the end of a message (no job title, no organisation and contact) stay findings."""
    text = "The child now lives with her grandmother:\n\nMary Watson\n27 Elm Grove\nHarrogate HG1 2PL\n"
    assert not [z for z in zones(text) if z.kind == "signature"]


def test_signature_logo_and_link_lines_do_not_use_up_the_budget() -> None:
    """Image alt texts and bare links in an HTML signature do not push its address out of the zone."""
    lines = ["Acme logo", "LinkedIn", "Twitter", "https://acme.example", "Jane Doe", "Director", "Acme Ltd",
             "1 High Street", "Leeds LS1 1AA", "T 0113 496 0000", "M 07700 900123", "jane@acme.example"]
    text = "See attached.\n\nKind regards\n" + "\n".join(lines) + "\n"
    sigs = [z for z in zones(text) if z.kind == "signature"]
    assert sigs and text[sigs[0].start : sigs[0].end].rstrip().endswith("1 High Street\nLeeds LS1 1AA\n"
                                                                        "T 0113 496 0000\nM 07700 900123\n"
                                                                        "jane@acme.example")


# ------------------------------------------------------------------------------------------------ names
@pytest.fixture(scope="module")
def role_recognizer() -> FamilyRoleNameRecognizer:
    """Built from the shipped word lists."""
    return FamilyRoleNameRecognizer(
        common_words_file=str(LISTS / "detect_common_words.txt"),
        organisation_words_file=str(LISTS / "detect_org_words.txt"),
        places_file=str(LISTS / "detect_places.txt"),
    )


@pytest.fixture(scope="module")
def titled_recognizer() -> TitledNameRecognizer:
    """Built from the shipped word lists."""
    return TitledNameRecognizer(
        common_words_file=str(LISTS / "detect_common_words.txt"),
        organisation_words_file=str(LISTS / "detect_org_words.txt"),
        places_file=str(LISTS / "detect_places.txt"),
    )


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Don't forget Father's Day on Sunday!", []),
        ("Our Mother Superior gift sets are 20% off.", []),
        ("Every order comes with our Parent Guarantee.", []),
        ("Brother, Where Art Thou? is back in cinemas.", []),
        ("The Brother International printer is broken.", []),
        ("Satan, the father of lies, was the subject.", []),
        ("Commissioners for Her Majesty's Revenue and Customs (Appellant)", []),
        ("For the First Respondent: Richard Bailey of the ICO", []),
        ("resources provided by the Husband's father", []),
        ("The mother, Jane Smith, told me the father Peter Smith had left.", ["Jane Smith", "Peter Smith"]),
        ("Mother: Oluwaseun Adeyemi", ["Oluwaseun Adeyemi"]),
        ("Jane Smith (maternal grandmother) attended", ["Jane Smith"]),
        ("Amir's father telephoned", ["Amir"]),
        ("The claimant in this action is Harry Junior.", ["Harry"]),  # "Junior" is a common word at the end
        ("John Smith, the father of the child, attended.", ["John Smith"]),
        ("Between:\nNATASHA PALMER\nClaimant\n- and -\n(1) MR SEFERIF MANTAS\n(2) LIVERPOOL VICTORIA INSURANCE "
         "COMPANY LIMITED\nDefendants", ["NATASHA PALMER", "SEFERIF MANTAS"]),
        ("Between:\nSUNDERLAND CITY COUNCIL\nClaimant\n-and-\nTHE INFORMATION COMMISSIONER\nRespondent", []),
    ],
)
def test_family_role_needs_a_name(role_recognizer: FamilyRoleNameRecognizer, text: str, names: list[str]) -> None:
    """A role word counts only with a plausible name next to it, not in a phrase, title or product."""
    found = sorted(text[r.start : r.end] for r in role_recognizer.analyze(text, ["PERSON"]))
    assert found == sorted(names)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Master Cook gave directions.", []),
        ("Before Lord Reed and Lady Black.", []),
        ("Mr Justice Cobb gave judgment.", []),
        ("Mr Adam Smith QC (instructed by Khan Reed LLP) for the appellant", []),
        ("Mr E Seller appeared on behalf of the Applicant", []),
        ("Before :\nLord Neuberger\nSir Terence Etherton\nJUDGMENT", []),
        ("Re: Budget Update\nPlease see below.", []),
        ("Mrs Kowalczyk telephoned", ["Kowalczyk"]),
        ("Master Amir Khan attends Year 3.", ["Amir Khan"]),
        ("Re: Kaitlyn Fisher (A Child)\n", ["Kaitlyn Fisher"]),
        ("Re: Barry West (DOB 8 May 2016)\n", ["Barry"]),  # "West" is a common word at the end
    ],
)
def test_titles_of_judges_counsel_and_subjects(titled_recognizer: TitledNameRecognizer, text: str,
                                               names: list[str]) -> None:
    """Judges, counsel and email subjects are not private persons; a titled private person still is."""
    found = sorted(text[r.start : r.end] for r in titled_recognizer.analyze(text, ["PERSON"]))
    assert found == sorted(names)


@pytest.mark.parametrize(
    ("text", "span", "problem"),
    [
        ("Tragically, the shipment was lost.", "Tragically", True),
        ("The French delegation arrived.", "French", True),
        ("We hired three Italians.", "Italians", True),
        ("Master Cook gave directions.", "Cook", True),
        ("LEEDS Judgment", "LEEDS Judgment", True),
        ("Enron North America Corp signed", "Enron North America", True),
        ("Lincoln Elementary will host the fair.", "Lincoln Elementary", True),
        ("We instructed Smith Jones Solicitors.", "Smith Jones", True),
        ("Arial Narrow is our house font.", "Arial Narrow", True),
        ("see Ficcara v James [2005] EWCA Civ 1", "Ficcara", True),
        ("the Claimant was injured", "Claimant", True),
        ("Lord Justice Moylan", "Moylan", True),
        ("Jane Smith attended; her mother did not.", "Jane Smith", False),
        ("Emily, can you call me?", "Emily", False),
        ("Kelly said she would come.", "Kelly", False),
        ("Harry Fitzhugh is the claimant.", "Harry Fitzhugh", False),
        ("Sugar (Deceased) (Represented by Fiona Paveley) (Appellant)", "Fiona Paveley", False),
    ],
)
def test_person_span_context(text: str, span: str, problem: bool) -> None:
    """Adverbs, demonyms, judges, headings, organisations, schools, fonts, citations and role words are not
    private persons' names; ordinary names in running text are."""
    assert bool(person_span_problem(text, *_span(text, span), ROLES)) is problem
