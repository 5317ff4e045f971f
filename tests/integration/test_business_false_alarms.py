"""Business furniture is not personal data, and real third-party data still is (issue 11, false alarms).

Table-driven through the shipped config and the real spaCy model: each case is a message body (plain text,
an HTML part as the extractor turns it into text, or an attached letter) sent from a Cafcass mailbox, with
the sensitivity it must get, and optionally entities that must (or must not) be among its findings. The
business cases are written in the shapes ordinary US and UK company mail takes: signatures with and without
a sign-off, letterheads, law-firm blocks, newsletters, order confirmations, price tables, invoices, phone and
fax lines, headings and promotions. The protected cases are the near misses the fixes must not swallow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from detectors.content import ContentDetector, DetectionContext
from detectors.findings import Finding, Sensitivity
from detectors.sensitivity import assess_sensitivity
from gateway.mime.html_text import html_to_text
from gateway.mime.model import TextChunk
from tests.integration.detector_fixtures import shared_detector

NONE, PERSONAL, SPECIAL = Sensitivity.NONE, Sensitivity.PERSONAL, Sensitivity.SPECIAL_CATEGORY


@pytest.fixture(scope="module")
def content_detector() -> ContentDetector:
    """The engine shared by the whole test session."""
    return shared_detector()


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    level: Sensitivity
    location: str = "body"
    html: bool = False
    absent: tuple[str, ...] = ()
    """Entities that must not be among the findings."""
    present: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    """(entity, text) pairs that must be among the findings."""


# ------------------------------------------------------------------------------------------------ 1. numbers
NUMBERS = [
    Case("us-signature-phone-fax", """Sally,

The revised confirmation for the Transco deal is attached. Please have Legal sign and return it.

Mark Taylor
Enron North America Corp.
1400 Smith Street, EB 3801
Houston, TX 77002
(713) 853-0005
Fax 713-646-0018
""", NONE, absent=("UK_NHS",)),
    Case("us-inline-fax", "Louise Kitchen asked me to fax the executed ISDA to 713-646-0026 by noon and to call "
         "Sara Shackleton on 713 853 0013 once it has gone.", NONE, absent=("UK_NHS",)),
    Case("uk-phone-with-0-prefix", "Please ring Dave Patel on +44 (0)113 496 0018 or our switchboard "
         "+44 (0)113 496 0026 about the Leeds depot.", NONE, absent=("UK_NHS",)),
    Case("order-confirmation", """Thank you for your order, Jane!

Order number: 713 853 0021
Tracking: 2125550016
Item                               Qty    Price
Ergonomic chair (4111111111111111)   1    £249.00
Desk lamp                            2    £38.50
Delivery to: Acme Energy Ltd, Unit 4, Harbour Business Park, Bristol BS1 4RW
""", NONE, absent=("UK_NHS", "CREDIT_CARD")),
    Case("price-table-part-numbers", "Part no\tDescription\tUnit price\n5500000000000004\tToner cartridge\t$120.00\n"
         "4000123412341234\tA4 paper, box\t$35.00\nPlease confirm the order with Priya Shah by Friday.",
         NONE, absent=("CREDIT_CARD",)),
    Case("company-bank-details-invoice", """Invoice INV-20931

Please pay within 30 days to:
Account name: Northgate Consulting LLP
Sort code: 20-45-77
Account number: 43567890
Questions to our credit controller, Helen Marsh.
""", NONE, absent=("UK_BANK_ACCOUNT",)),
    Case("conference-call-passcode", "Conference call tomorrow at 10am CST.\nDial-in: 1-800-555-0199\n"
         "Participant passcode: 401 023 2137\nHost: Vince Kaminski", NONE, absent=("UK_NHS",)),
    Case("travel-itinerary", "Your itinerary\nPassenger: Jeff Dasovich\nConfirmation: 943-476-5919\n"
         "Hotel: Hilton San Francisco, 333 O'Farrell Street, San Francisco, CA 94102", NONE,
         absent=("UK_NHS", "UK_STREET_ADDRESS")),
    Case("invoice-footer-with-bank-details", """Hi Alan,

Invoice 4471 for the March consultancy is attached.

Thanks
Priya

Northgate Consulting LLP | 45 King Street, Manchester M2 4LQ | VAT No GB 123 4567 89
Bank: Barclays | Sort code 20-45-77 | Account 43567890""", NONE, absent=("UK_BANK_ACCOUNT", "UK_STREET_ADDRESS")),
    # still caught
    Case("nhs-number-with-label", "I write about Leah Carter (NHS No 943 476 5919), who attended clinic on 3 May.",
         PERSONAL, present=(("UK_NHS", "943 476 5919"),)),
    Case("nhs-number-patient-context", "The patient, Amir Khan, 943 476 5919, was discharged to his mother.",
         PERSONAL, present=(("UK_NHS", "943 476 5919"),)),
    Case("card-number-with-label", "Hi Paul, my card number is 4929 8044 6362 2139, expiry 04/27. Anne",
         PERSONAL, present=(("CREDIT_CARD", "4929 8044 6362 2139"),)),
    Case("personal-bank-account", "Please pay the refund to Mrs Jane Smith, sort code 20-45-77, account "
         "43567890.", PERSONAL, present=(("UK_BANK_ACCOUNT", "20-45-77, account 43567890"),)),
]

# ---------------------------------------------------------------------------------------------- 2. addresses
ADDRESSES = [
    Case("uk-signature-pipe-line", """Hello Sam,

Thanks for the call earlier. I've attached the proposal for the new framework; Michael Brown will send the
pricing schedule tomorrow.

Jane Doe | Account Director | Acme Energy Ltd | 12 Harbour Street, Suite 400, Bristol BS1 4RW
T: 0117 496 0000
""", NONE, absent=("UK_STREET_ADDRESS",)),
    Case("signature-without-sign-off", """Please find the minutes attached. Michael Brown from procurement will
confirm the dates next week.

Jane Doe
Head of Partnerships
Northgate Consulting LLP
Floor 3, 45 King Street
Manchester M2 4LQ
www.northgate-consulting.co.uk
""", NONE, absent=("UK_STREET_ADDRESS",)),
    Case("newsletter-footer", """THIS WEEK IN ENERGY
Prices rose again as traders weighed the outlook, said analyst Karen Lee.

You are receiving this because you subscribed at example.com. Unsubscribe here.
Copyright 2024 Example Media. All rights reserved.
c/o Example Media, 200 Market Street, San Francisco, CA 94105
""", NONE, absent=("UK_STREET_ADDRESS",)),
    Case("attached-letterhead", """SMITH JONES SOLICITORS LLP
14 Park Row
Leeds LS1 5HD
DX 12345 Leeds
Tel 0113 496 0000

Dear Sirs,

Supply agreement with Harbour Logistics

We act for Harbour Logistics in relation to the above. Please direct correspondence to Alison Grey at this
office.

Yours faithfully
Smith Jones Solicitors LLP
""", NONE, location="attachment:letter.pdf", absent=("UK_STREET_ADDRESS",)),
    Case("registered-office-footer", "Grace Kim will bring the samples on Tuesday.\n\nAcme Widgets Limited. "
         "Registered in England and Wales, company number 01234567. Registered office: 3 Mill Lane, "
         "Reading RG1 2AB.", NONE, absent=("UK_STREET_ADDRESS",)),
    Case("meeting-room", "The review meeting will be at 1400 Smith Street, Houston, in room 30C1. John Arnold "
         "and Greg Whalley will attend.", NONE, absent=("UK_STREET_ADDRESS",)),
    Case("office-move", "From Monday our new office is at 2nd Floor, 10 Wellington Street, Leeds LS1 4AP. "
         "Ask Tom Baker at reception for a visitor pass.", NONE, absent=("UK_STREET_ADDRESS",)),
    Case("contract-parties", "THIS AGREEMENT is made between Enron North America Corp., a Delaware corporation "
         "having its principal office at 1400 Smith Street, Houston, Texas 77002, and Calpine Energy Services, "
         "L.P., having its office at 50 West San Fernando Street, San Jose. Attention: Tracy Ngo.", NONE,
         absent=("UK_STREET_ADDRESS",)),
    Case("event-venue", "The United Way 5K is on Saturday at Memorial Park, 6501 Memorial Drive. Bring your "
         "family! Contact Cindy Olson to sign up.", NONE, absent=("UK_STREET_ADDRESS",)),
    # still caught
    Case("child-home-address", "Please note that Amelia Watson now lives with her grandmother at 27 Elm Grove, "
         "Harrogate HG1 2PL and attends St Peter's Primary.", PERSONAL,
         present=(("UK_STREET_ADDRESS", "27 Elm Grove, Harrogate HG1 2PL"),)),
    Case("letter-to-a-private-person", """Mrs Jane Whitfield
14 Oak Road
Leeds LS6 2AB

Dear Mrs Whitfield,

Thank you for your call about the contact arrangements.
""", PERSONAL, location="attachment:letter.docx"),
    Case("works-for-a-company-lives-at-home", "Daniel Harper, who works for Acme Ltd, lives at 9 Victoria "
         "Street, Leicester LE2 3GP with his partner.", PERSONAL,
         present=(("UK_STREET_ADDRESS", "9 Victoria Street, Leicester LE2 3GP"),)),
    Case("flat-in-a-named-court", "The father, Peter Mills, has moved to Flat 2, Rose Court, 14 Oak Road, "
         "Leeds LS6 2AB.", PERSONAL),
    Case("report-style-street-without-number", "Jo Bloggs, 24, of Elm Road, Swindon, was praised by the judge "
         "for her bravery.", PERSONAL, present=(("UK_STREET_ADDRESS", "Elm Road, Swindon"),)),
]

# ------------------------------------------------------------------------------------------- 3. family roles
ROLES = [
    Case("fathers-day-promotion", "Don't forget Father's Day is on Sunday! Our Mother Superior gift sets are 20% "
         "off, every order comes with our Parent Guarantee, and Brother, Where Art Thou? is back in cinemas. "
         "Order by 9pm at 12 High Street, Leeds LS1 6AB.", NONE),
    Case("father-of-lies", "The vicar said that Satan, the father of lies, was the subject of Sunday's sermon.",
         NONE),
    Case("mothers-day-notice", "It's Mother's Day on Sunday, so the canteen closes early on Friday. Happy "
         "Mothering Sunday to all mums from the Facilities Team, 10 Wellington Place, Leeds LS1 4AP.", NONE),
    Case("brother-printer", "The Brother International printer on the 3rd floor is broken; Mother Nature "
         "is not to blame. Ring Kevin Ashworth.", NONE),
    # still caught
    Case("role-then-name", "The mother, Jane Smith, told me that the father Peter Smith had left in March.",
         PERSONAL),
    Case("role-label", "Mother: Oluwaseun Adeyemi\nFather: Amir Khan", PERSONAL),
    Case("possessive-role", "I spoke to Amir's father yesterday.", PERSONAL),
]

# ------------------------------------------------------------------------------------- 4. titles and headings
HEADINGS = [
    Case("subject-and-heading-words", """Re: Budget Update

LEEDS Judgment
SITTING AT LEEDS COMBINED COURT

Master Cook gave directions. Tragically, the shipment was lost. The French delegation and the Germans arrived
late. Arial Narrow is our house font. Lincoln Elementary will host the fair. Enron North America Corp
signed the deal. Please send comments to 14 Park Row, Leeds LS1 5HD.""", NONE),
    Case("law-firms-named-after-people", "We have instructed Smith Jones Solicitors and Khan Reed LLP; Hogan "
         "Lovells act for the buyer. Their offices: 14 Park Row, Leeds LS1 5HD.", NONE),
    Case("judges-and-counsel", "Before Mr Justice Cobb and Lord Reed. Mr Adam Smith QC (instructed by Khan Reed "
         "LLP) for the appellant. Hearing at the Royal Courts of Justice, Strand, London WC2A 2LL.", NONE),
    # still caught
    Case("re-case-heading", "Re: Kaitlyn Fisher (A Child)\nThe child lives at 3 Mill Lane, Reading RG1 2AB.",
         PERSONAL, present=(("PERSON", "Kaitlyn Fisher"),)),
]

# ------------------------------------------------------------------------------------------------- HTML parts
OUTLOOK_HTML = """<html><body><div class=WordSection1>
<p class=MsoNormal>Hi Bob,<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p>
<p class=MsoNormal>Please find attached the revised quote. Michael Brown will be in touch about delivery.</p>
<p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>Kind regards<o:p></o:p></p>
<p class=MsoNormal><img src="cid:image001.png" alt="Central Perk logo"></p>
<p class=MsoNormal><img src="cid:image002.png" alt="LinkedIn"> <img src="cid:image003.png" alt="Twitter"></p>
<table><tr><td><p class=MsoNormal><b>Rachel Green</b><br>Sales Director<br>Central Perk Holdings Ltd</p></td>
<td><p class=MsoNormal>90 Bedford Street<br>London WC2E 9HE<br>T: <a href="tel:+442071234567">020 7123 4567</a>
<br><a href="mailto:rachel.green@centralperk.co.uk">rachel.green@centralperk.co.uk</a></p></td></tr></table>
<div style='border:none;border-top:solid #E1E1E1 1.0pt'>
<p class=MsoNormal><b>From:</b> Bob Stone &lt;bob.stone@example.com&gt;<br><b>Sent:</b> 12 March 2024 09:14<br>
<b>To:</b> Rachel Green &lt;rachel.green@centralperk.co.uk&gt;<br><b>Cc:</b> Monica Geller<br>
<b>Subject:</b> Quote</p></div>
<p class=MsoNormal>Hi Rachel, can you send the quote to Monica Geller at 90 Bedford Street? Thanks, Bob</p>
</div></body></html>"""

HTML_NO_SIGNOFF = """<html><body>
<p>The agenda for Thursday's supplier day is attached. Grace Kim will chair the morning session.</p>
<table><tr><td><b>Tom Baker</b></td></tr><tr><td>Procurement Manager</td></tr>
<tr><td>Harbour Logistics Ltd</td></tr><tr><td>45 King Street, Manchester M2 4LQ</td></tr>
<tr><td>Tel 0161 496 0000 | <a href="https://harbour-logistics.example">harbour-logistics.example</a></td></tr>
</table></body></html>"""

HTML_CHILD = """<html><body><p>Dear Ms Okafor,</p>
<p>Amelia Watson now lives with her grandmother at 27 Elm Grove, Harrogate HG1 2PL.</p>
<p>Kind regards,<br>Priya Patel</p></body></html>"""

GMAIL_HTML = """<div dir="ltr">Hi Tom,<div><br></div><div>Works for me. Grace Kim will bring the samples to 45 King
Street on Thursday.</div><div><br></div><div>Best,</div><div>Rachel</div><div><br></div>-- <br>
<div class="gmail_signature"><div>Rachel Green | Sales Director</div><div>Central Perk Holdings Ltd</div>
<div>90 Bedford Street, London WC2E 9HE</div></div></div><br><div class="gmail_quote">
<div class="gmail_attr">On Mon, 12 Mar 2024 at 09:14, Tom Baker &lt;<a href="mailto:tom.baker@harbour.example">
tom.baker@harbour.example</a>&gt; wrote:<br></div><blockquote class="gmail_quote">Hi Rachel,<br><br>Can we meet at
our office, 45 King Street, Manchester M2 4LQ on Thursday?<br><br>Thanks<br>Tom Baker<br>Procurement Manager<br>
Harbour Logistics Ltd<br>45 King Street, Manchester M2 4LQ</blockquote></div>"""

NEWSLETTER_HTML = """<html><body><table width="600"><tr><td><h1>Spring Update</h1><p>Our founder Maria Lopez shares
what's next for the studio, and we introduce our new head chef, Daniel Okoro.</p></td></tr>
<tr><td><p>Book now for Mother's Day lunch!</p></td></tr>
<tr><td style="font-size:11px;color:#999"><em>Copyright © 2024 Green Fork Kitchen, All rights reserved.</em><br>
You are receiving this email because you opted in via our website.<br><br><strong>Our mailing address is:</strong>
<br>Green Fork Kitchen<br>12 Canal Street<br>Manchester M1 3HE<br>United Kingdom<br><br>
<a href="*|UNSUB|*">unsubscribe from this list</a></td></tr></table></body></html>"""

TABLE_SIGNATURE_HTML = """<html><body><p>Hello Sam,</p><p>Attached is the signed contract. Any questions, ask Priya
Shah.</p><p>Regards</p><table><tr><td><img src="cid:logo.png" alt="Acme Energy"></td><td><b>Jane Doe</b> | Account
Director | Acme Energy Ltd<br>12 Harbour Street, Bristol BS1 4RW | T 0117 496 0000 | M 07700 900123 |
<a href="https://acme.example">acme.example</a></td></tr></table><p style="font-size:8pt">This email is
confidential. Acme Energy Ltd, registered in England No. 01234567. Registered office 12 Harbour Street, Bristol
BS1 4RW.</p></body></html>"""

HTML = [
    Case("gmail-html-signature-and-quote", GMAIL_HTML, NONE, location="body.html", html=True,
         absent=("UK_STREET_ADDRESS",)),
    Case("html-newsletter-footer", NEWSLETTER_HTML, NONE, location="body.html", html=True,
         absent=("UK_STREET_ADDRESS",)),
    Case("html-table-signature-and-disclaimer", TABLE_SIGNATURE_HTML, NONE, location="body.html", html=True,
         absent=("UK_STREET_ADDRESS",)),
    Case("outlook-html-signature-and-quoted-header", OUTLOOK_HTML, NONE, location="body.html", html=True,
         absent=("UK_STREET_ADDRESS",)),
    Case("html-signature-without-sign-off", HTML_NO_SIGNOFF, NONE, location="body.html", html=True,
         absent=("UK_STREET_ADDRESS",)),
    Case("html-child-home-address", HTML_CHILD, PERSONAL, location="body.html", html=True,
         present=(("UK_STREET_ADDRESS", "27 Elm Grove, Harrogate HG1 2PL"),)),
]

CASES = NUMBERS + ADDRESSES + ROLES + HEADINGS + HTML


def _analyse(detector: ContentDetector, case: Case) -> list[Finding]:
    text = html_to_text(case.text) if case.html else case.text
    chunks = [TextChunk(location="subject", text="Update", kind="subject"), TextChunk(location=case.location, text=text)]
    ctx = DetectionContext(sender_address="it.support@cafcass.gov.uk", sender_name="IT Support", reveal=True)
    return detector.analyze(chunks, ctx)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_sensitivity_of_business_and_personal_mail(content_detector: ContentDetector, case: Case) -> None:
    """Business furniture (numbers, organisations' addresses, role words in phrases, headings) leaves a
    message at none; third-party data beside it still makes it personal."""
    findings = _analyse(content_detector, case)
    shown = sorted({(f.entity, f.text) for f in findings}, key=str)
    level = assess_sensitivity(findings)
    assert level == case.level, shown
    for entity in case.absent:
        assert not [f for f in findings if f.entity == entity], shown
    for entity, text in case.present:
        assert (entity, text) in {(f.entity, f.text) for f in findings}, shown


def test_detect_mode_keeps_phrases_out_of_person(content_detector: ContentDetector) -> None:
    """With NER on everything, role phrases, judges, adverbs, demonyms, fonts, schools and firms are no PERSON."""
    text = ("Father's Day is on Sunday. Mother Superior gift sets are 20% off. Master Cook gave directions. "
            "Tragically, the French delegation arrived late. Arial Narrow is our font. Lincoln Elementary "
            "will host the fair. Smith Jones Solicitors and Khan Reed LLP act.")
    persons = [f.text for f in content_detector.analyze_text(text) if f.entity == "PERSON"]
    assert persons == []
