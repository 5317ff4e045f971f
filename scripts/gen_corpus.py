"""Generate the labelled synthetic corpus in ``samples/corpus/`` (JSON Lines, one message a line).

Each record: ``{"id", "kind", "sender": {"address", "name"}, "recipients": [..], "chunks": [{"location", "kind",
"text"}], "labels": [{"location", "start", "end", "entity"}], "expected": "none|personal|special_category"}``.

Labels mark what should be a *finding*: third parties' data. Correspondents' own names and contact details
(greetings, signatures, quoted header blocks) and the organisation's public numbers are deliberately left
unlabelled, as DESIGN.md says they are not findings. Values are valid where validity is checkable: NHS numbers
pass mod 11, NINOs use allocated prefixes, phone numbers pass libphonenumber, postcodes follow the Royal Mail
format. ``expected`` is decided from what each message was built from, by DESIGN.md's definitions, not by
running the detector.

    .venv/bin/python scripts/gen_corpus.py [--seed 7] [--out samples/corpus/corpus.jsonl]
"""

from __future__ import annotations

import argparse
import json
import random
import string
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import phonenumbers
from faker import Faker

ORG_DOMAIN = "cafcass.gov.uk"
ORG_PHONE = "0300 456 4000"
NAME_LOCALES = [
    ("en_GB", 50), ("en_IE", 5), ("en_IN", 6), ("en_PK", 4), ("en_NG", 3), ("yo_NG", 3), ("pl_PL", 5),
    ("ro_RO", 4), ("lt_LT", 2), ("pt_PT", 3), ("it_IT", 3), ("tr_TR", 3), ("fr_FR", 2), ("es_ES", 2),
    ("sk_SK", 2), ("en_BD", 2), ("tw_GH", 1),
]
STREET_WORDS = ["Oak", "Mill", "Church", "Station", "Victoria", "Park", "Queens", "Kings", "Manor", "Chapel",
                "Windsor", "Albert", "Grange", "Meadow", "Willow", "Cedar", "Elm", "Ash", "Beech", "Springfield",
                "Highfield", "Orchard", "Rose", "Primrose", "St Johns", "Castle", "Bridge", "Green", "Hollin",
                "Moor", "Cross", "Vicarage", "Northgate", "Stanley", "Clarendon", "Blenheim", "Lime", "Holly"]
STREET_TYPES = ["Road", "Street", "Lane", "Avenue", "Close", "Drive", "Crescent", "Grove", "Terrace", "Way",
                "Gardens", "Place", "Court", "Rise", "Mews", "View", "Walk"]
TOWNS = [("Leeds", "LS"), ("Manchester", "M"), ("Birmingham", "B"), ("Bristol", "BS"), ("Sheffield", "S"),
         ("Nottingham", "NG"), ("Leicester", "LE"), ("Coventry", "CV"), ("Bradford", "BD"), ("Liverpool", "L"),
         ("Newcastle upon Tyne", "NE"), ("Cardiff", "CF"), ("Plymouth", "PL"), ("Exeter", "EX"), ("Derby", "DE"),
         ("Stoke-on-Trent", "ST"), ("Wolverhampton", "WV"), ("Hull", "HU"), ("York", "YO"), ("Reading", "RG"),
         ("Brighton", "BN"), ("Oxford", "OX"), ("Cambridge", "CB"), ("Norwich", "NR"), ("Preston", "PR"),
         ("Bolton", "BL"), ("Stockport", "SK"), ("Wigan", "WN"), ("Huddersfield", "HD"), ("Sunderland", "SR"),
         ("London", "E"), ("London", "N"), ("London", "SE"), ("London", "SW"), ("Croydon", "CR"),
         ("Luton", "LU"), ("Milton Keynes", "MK"), ("Swindon", "SN"), ("Southampton", "SO"), ("Doncaster", "DN")]
LOCALITIES = ["Headingley", "Chapel Allerton", "Moss Side", "Handsworth", "Easton", "Hillsborough", "Sneinton",
              "Belgrave", "Tile Hill", "Manningham", "Anfield", "Heaton", "Splott", "Stoke", "Heavitree"]
COURT_CODES = ["LS", "MA", "BM", "BS", "SF", "NG", "LE", "CV", "BD", "LV", "NE", "CF", "PL", "EX", "ZW", "ZC",
               "ZE", "WD", "MK", "SO", "DN", "YO", "HU", "LU", "BH", "OX"]
POSTCODE_INWARD = "ABDEFGHJLNPQRSTUWXYZ"
STAFF_ROLES = ["Family Court Adviser", "Senior Family Court Adviser", "Practice Supervisor", "Service Manager",
               "Business Support Officer", "Head of Practice", "Children's Guardian", "Team Administrator",
               "Learning and Development Officer", "Finance Officer", "IT Service Desk Analyst",
               "Operations Manager", "HR Business Partner", "Facilities Coordinator"]
EXTERNAL_ORGS = [("Harrison & Co Solicitors", "harrisonco.co.uk", "Solicitor"),
                 ("Leeds City Council Children's Services", "leeds.gov.uk", "Social Worker"),
                 ("Northfield Primary School", "northfield.sch.uk", "Designated Safeguarding Lead"),
                 ("Bennett Family Law LLP", "bennettlaw.co.uk", "Associate Solicitor"),
                 ("West Yorkshire Police", "westyorkshire.police.uk", "Detective Constable"),
                 ("Manchester City Council", "manchester.gov.uk", "Team Manager"),
                 ("Greenway Training Ltd", "greenwaytraining.co.uk", "Account Manager"),
                 ("Office Supplies Direct Ltd", "osdirect.co.uk", "Customer Service Advisor"),
                 ("HM Courts & Tribunals Service", "justice.gov.uk", "Listing Officer"),
                 ("Oakwood Health Centre", "nhs.net", "Practice Manager")]

SPECIAL_SENTENCES = [
    ("She disclosed {domestic abuse} by {ex}, including {coercive and controlling behaviour}.", None),
    ("The police were called after {ex} {punched her} in front of the children.", None),
    ("{ex} has a history of {substance misuse} and a recent {hair strand test} was positive for {cocaine}.",
     None),
    ("{ex} was {arrested} in March and is currently on {bail conditions} not to contact the family.", None),
    ("There are concerns about {mental health}; she has been prescribed {antidepressants} by her GP.", None),
    ("The child has been {self-harming} and was referred to {CAMHS} last month.", None),
    ("{ex} has {previous convictions} for {assault} and {drug dealing}.", None),
    ("She told me she had been {sexually abused} by a family friend when she was younger.", None),
    ("The school reported that the child has {ADHD} and is awaiting an {autism} assessment.", None),
    ("{ex} was {detained under section} 2 of the {Mental Health Act} in 2022.", None),
    ("There was an {overdose} in January and a further {ligature} incident in February.", None),
    ("Mother reports {ex} is {drinking heavily} and has become {violent towards} her.", None),
]
CASE_SENTENCES = [
    "I visited the family home on {date} and spoke to both children.",
    "The next hearing is listed for {date} at {court} Family Court.",
    "Please find attached my safeguarding letter for the FHDRA.",
    "I have completed the police and local authority checks.",
    "The children were seen at school and presented as settled.",
    "I would be grateful if you could confirm the parties' positions before the hearing.",
    "Contact is currently taking place every other weekend, supervised by the maternal family.",
    "The section 7 report is due to be filed by {date}.",
]
BENIGN_BODIES = [
    "Just a reminder that the team meeting has moved to {date} at 10:30 in Room 4B. The agenda is attached; "
    "please add any items by Friday.",
    "Thanks for sending the invoice. I have passed it to Finance for payment and they will process it in the "
    "next payment run on {date}. Our purchase order number is {po}.",
    "The mandatory safeguarding refresher is now live on the learning platform. Please complete it before "
    "{date}. It takes about 45 minutes.",
    "Following our call, I have booked the venue for the regional practice day on {date}. Lunch will be "
    "provided; please let me know about any dietary requirements.",
    "The IT service desk will be carrying out maintenance on the case management system on {date} between "
    "18:00 and 22:00. Please save your work before then.",
    "Please find attached the quarterly performance report for Q3. Headline figures are on page 2 and the "
    "data tables are in the appendix.",
    "I can confirm that your annual leave request for {date} has been approved.",
    "We are running domestic abuse awareness training for new starters on {date}. Places are limited, so "
    "please book through the learning platform.",
    "As discussed, {third} from the local authority will join the next partnership meeting to talk about the "
    "new referral pathway.",
    "The mental health first aiders for this office are listed on the intranet page. Mental Health Awareness "
    "Week starts on {date}.",
    "Could you send me the updated rota for next month? I need it by {date} to finalise the duty cover.",
    "The contract renewal for the photocopiers is due on {date}. Supplier reference {ref}.",
    "Thank you for attending yesterday's session on the new practice framework. Slides are attached.",
    "Your parcel was delivered on {date}. Tracking reference {ref}. If you have any questions, reply to this "
    "email.",
    "I have spoken to {third} in Estates about the heating on the second floor; an engineer is booked for "
    "{date}.",
    "Reminder: the office will be closed on {date} for the bank holiday. Urgent matters should go to the "
    "duty manager.",
]
NAMED_SENTENCES = [
    "I spoke to {name} yesterday afternoon and she confirmed the arrangements.",
    "{name} told me that the children are settled at school.",
    "Can you confirm whether {first} has started at the new school?",
    "{first} and {first2} were seen together at the contact centre on {date}.",
    "{name} now lives at {address} with her partner.",
    "According to the school, {first} has missed eleven days this term.",
    "I understand {name} has instructed new solicitors.",
    "{name} (maternal grandmother) has offered to supervise contact.",
]
BENIGN_EXTRA = [
    "The training will be held at {venue}. {third} will meet you at reception.",
    "Please post the signed copy to Finance, Cafcass, {venue}.",
    "You can reach {third} on {phone} if the meeting room is locked.",
    "Dr {third_last} from Leeds Beckett University will present the findings of Project Phoenix.",
    "The Strategic Leadership Team approved the Bright Futures programme on {date}.",
    "Minutes from the Family Justice Board are on SharePoint; {third} has the Microsoft Teams link.",
    "Our new office address from {date} is {venue}.",
    "The Care Quality Commission report is attached for information.",
]
NEAR_MISS_LINES = [
    "Our order reference is {ten} and the invoice number is INV-{five}.",
    "The meeting is on {date} and the previous one was on {date2}.",
    "Please quote reference {bad_nhs} on all correspondence.",
    "Ticket {ten} has been resolved; the change number is CHG{six}.",
    "The building was born out of the 2019 refurbishment project, completed {date}.",
    "Room bookings for {date} are confirmed. Batch code AB12C and lot {five}.",
    "The phone system upgrade ({ten}) completes on {date}.",
]


@dataclass
class Builder:
    """Appends text and records labelled spans."""

    location: str
    kind: str = "body"
    parts: list[str] = field(default_factory=list)
    labels: list[dict[str, Any]] = field(default_factory=list)
    length: int = 0

    def add(self, text: str, entity: str | None = None) -> None:
        if entity:
            self.labels.append({"location": self.location, "start": self.length, "end": self.length + len(text),
                                "entity": entity})
        self.parts.append(text)
        self.length += len(text)

    def template(self, template: str, values: dict[str, tuple[str, str | None]]) -> None:
        """``{key}`` placeholders filled from values (text, entity or None); ``{phrase}`` unknown keys are
        special-category phrases (labelled)."""
        pos = 0
        while True:
            i = template.find("{", pos)
            if i < 0:
                self.add(template[pos:])
                return
            j = template.index("}", i)
            self.add(template[pos:i])
            key = template[i + 1 : j]
            if key in values:
                text, entity = values[key]
                self.add(text, entity)
            else:
                self.add(key, "SPECIAL_CATEGORY")
            pos = j + 1

    @property
    def text(self) -> str:
        return "".join(self.parts)


class Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        Faker.seed(seed)
        self.fakers = {loc: Faker(loc) for loc, _ in NAME_LOCALES}
        self.gb = self.fakers["en_GB"]
        self.n = 0
        self.attachment_special = False

    # ---- values
    def name(self) -> str:
        loc = self.r.choices([lc for lc, _ in NAME_LOCALES], [w for _, w in NAME_LOCALES])[0]
        f = self.fakers[loc]
        for _ in range(10):
            first, last = f.first_name(), f.last_name()
            if first.isascii() or self.r.random() < 0.5:
                if " " not in first and len(first) > 1 and len(last) > 1:
                    return f"{first} {last}"
        return f"{self.gb.first_name()} {self.gb.last_name()}"

    def first(self, full: str) -> str:
        return full.split()[0]

    def nhs(self) -> str:
        while True:
            d = [self.r.randint(0, 9) for _ in range(9)]
            d[0] = self.r.choice([4, 6, 7, 9])
            total = sum(x * w for x, w in zip(d, range(10, 1, -1), strict=True))
            check = (11 - total % 11) % 11
            if check != 10:
                return "".join(map(str, [*d, check]))

    def bad_nhs(self) -> str:
        v = self.nhs()
        last = (int(v[-1]) + self.r.randint(1, 9)) % 10
        return f"{v[:3]} {v[3:6]} {v[6:9]}{last}"

    def fmt_nhs(self, v: str) -> str:
        style = self.r.random()
        if style < 0.7:
            return f"{v[:3]} {v[3:6]} {v[6:]}"
        if style < 0.85:
            return v
        return f"{v[:3]}-{v[3:6]}-{v[6:]}"

    def nino(self) -> str:
        first = "ABCEGHJKLMNOPRSTWXYZ"
        second = "ABCEGHJKLMNPRSTWXYZ"
        while True:
            p = self.r.choice(first) + self.r.choice(second)
            if p not in {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}:
                break
        digits = "".join(str(self.r.randint(0, 9)) for _ in range(6))
        suffix = self.r.choice("ABCD")
        if self.r.random() < 0.6:
            return f"{p} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"
        return f"{p}{digits}{suffix}"

    def postcode(self, area: str | None = None) -> str:
        area = area or self.r.choice(TOWNS)[1]
        district = str(self.r.randint(1, 28 if len(area) == 2 else 20))
        inward = f"{self.r.randint(0, 9)}{self.r.choice(POSTCODE_INWARD)}{self.r.choice(POSTCODE_INWARD)}"
        return f"{area}{district} {inward}"

    def phone(self, mobile: bool | None = None) -> str:
        mobile = self.r.random() < 0.6 if mobile is None else mobile
        for _ in range(200):
            if mobile:
                raw = "07" + self.r.choice("123456789") + "".join(str(self.r.randint(0, 9)) for _ in range(8))
            else:
                area = self.r.choice(["0113", "0161", "0121", "0117", "0114", "0115", "0116", "0151", "0191",
                                      "020", "029", "01274", "01484", "01904"])
                rest = 11 - len(area)
                raw = area + str(self.r.randint(2, 8)) + "".join(str(self.r.randint(0, 9)) for _ in range(rest - 1))
            num = phonenumbers.parse(raw, "GB")
            if phonenumbers.is_valid_number(num):
                fmt = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL)
                if self.r.random() < 0.15:
                    fmt = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
                elif self.r.random() < 0.1:
                    fmt = raw
                return fmt
        raise RuntimeError("no valid phone number generated")

    def case_number(self) -> str:
        return (f"{self.r.choice(COURT_CODES)}{self.r.randint(18, 25)}{self.r.choice('CCCCPF')}"
                f"{self.r.randint(0, 99999):05d}")

    def dob(self, child: bool = True) -> str:
        start = date(2008, 1, 1) if child else date(1965, 1, 1)
        span = (date(2023, 12, 31) if child else date(2002, 12, 31)) - start
        d = start + timedelta(days=self.r.randint(0, span.days))
        style = self.r.randint(0, 4)
        if style == 0:
            return d.strftime("%d/%m/%Y")
        if style == 1:
            return f"{d.day} {d.strftime('%B %Y')}"
        if style == 2:
            return d.strftime("%d.%m.%Y")
        if style == 3:
            return d.strftime("%d/%m/%y")
        return f"{d.day} {d.strftime('%b %Y')}"

    def some_date(self) -> str:
        d = date(2024, 1, 1) + timedelta(days=self.r.randint(0, 700))
        return self.r.choice([d.strftime("%d/%m/%Y"), f"{d.day} {d.strftime('%B %Y')}",
                              d.strftime("%A %d %B"), d.strftime("%d %b")])

    def address(self) -> tuple[str, str, str, str]:
        """(street line, locality or '', town, postcode)."""
        town, area = self.r.choice(TOWNS)
        num = str(self.r.randint(1, 240)) + (self.r.choice("ab") if self.r.random() < 0.05 else "")
        street = f"{num} {self.r.choice(STREET_WORDS)} {self.r.choice(STREET_TYPES)}"
        if self.r.random() < 0.15:
            street = f"Flat {self.r.randint(1, 30)}, {street}"
        locality = self.r.choice(LOCALITIES) if self.r.random() < 0.3 else ""
        return street, locality, town, self.postcode(area)

    def add_address(self, b: Builder, multiline: bool = False) -> None:
        street, locality, town, pc = self.address()
        sep = "\n" if multiline else ", "
        start = b.length
        b.add(street)
        if locality:
            b.add(sep + locality)
        b.add(sep + town + (sep if multiline else " "))
        pc_start = b.length
        b.add(pc)
        b.labels.append({"location": b.location, "start": start, "end": b.length, "entity": "UK_STREET_ADDRESS"})
        b.labels.append({"location": b.location, "start": pc_start, "end": b.length, "entity": "UK_POSTCODE"})

    def ten(self) -> str:
        return str(self.r.randint(10**9, 10**10 - 1))

    # ---- pieces
    def staff(self) -> tuple[str, str, str]:
        name = self.name()
        first, last = name.split()[0], name.split()[-1]
        local = f"{first}.{last}".lower()
        local = "".join(c for c in local if c.isascii() and (c.isalnum() or c == "."))
        return name, f"{local}@{ORG_DOMAIN}", self.r.choice(STAFF_ROLES)

    def external(self) -> tuple[str, str, str, str]:
        org, domain, role = self.r.choice(EXTERNAL_ORGS)
        name = self.name()
        local = "".join(c for c in name.split()[0].lower() if c.isascii() and c.isalpha()) or "info"
        return name, f"{local}@{domain}", role, org

    def signature(self, b: Builder, name: str, role: str, org: str, internal: bool) -> None:
        b.add(self.r.choice(["\n\nKind regards,\n", "\n\nMany thanks\n", "\n\nBest wishes,\n", "\n\nRegards,\n\n",
                             "\n\nThanks,\n"]))
        b.add(f"{name}\n{role}\n{org}\n")
        if internal:
            if self.r.random() < 0.7:
                b.add(f"Mobile: {self.phone(mobile=True)}\n")
            b.add(f"Tel: {ORG_PHONE}\n")
            if self.r.random() < 0.3:
                b.add("Cafcass, Children and Family Court Advisory and Support Service\n")
        else:
            b.add(f"T: {self.phone(mobile=False)}\n")
            if self.r.random() < 0.6:
                street, _loc, town, pc = self.address()
                b.add(f"{street}, {town} {pc}\n")
        if self.r.random() < 0.4:
            b.add("\nThis email and any attachments are confidential and intended solely for the addressee. If "
                  "you have received it in error please notify the sender and delete it.\n")

    def greeting(self, b: Builder, name: str | None) -> None:
        if name and self.r.random() < 0.85:
            b.add(self.r.choice(["Hi {}", "Dear {}", "Hello {}", "Good morning {}"]).format(
                self.first(name) if self.r.random() < 0.8 else name) + ",\n\n")
        else:
            b.add(self.r.choice(["Hi all,\n\n", "Dear colleagues,\n\n", "Hello,\n\n", "Good afternoon,\n\n"]))

    # ---- messages
    def benign(self, idx: int) -> dict[str, Any]:
        internal_sender = self.r.random() < 0.6
        if internal_sender:
            sname, saddr, role = self.staff()
            org = "Cafcass"
        else:
            sname, saddr, role, org = self.external()
        rname = self.name()
        b = Builder("body")
        self.greeting(b, rname)
        body = self.r.choice(BENIGN_BODIES)
        third = self.name()
        b.template(body, {"date": (self.some_date(), None), "po": (str(self.r.randint(4500000000, 4599999999)), None),
                          "ref": ("".join(self.r.choices(string.ascii_uppercase, k=2))
                                  + str(self.r.randint(10**7, 10**8)), None),
                          "third": (third, "PERSON")})
        if self.r.random() < 0.5:
            b.add("\n\n")
            extra = self.r.choice(BENIGN_EXTRA)
            street, _loc, town, pc = self.address()
            venue = self.r.choice(["Northgate House", "the Civic Centre", "Park Plaza Hotel", "Unit 4"])
            b.template(extra, {"venue": (f"{venue}, {street}, {town} {pc}", None),
                               "third": (self.name(), "PERSON"), "third_last": (self.name().split()[-1], "PERSON"),
                               "phone": (self.phone(), "PHONE_NUMBER"), "date": (self.some_date(), None)})
        if self.r.random() < 0.3:
            b.add(f" If anything is unclear, {self.first(sname)} is the best person to ask.")
        self.signature(b, sname, role, org, internal_sender)
        subject = self.r.choice(["Team meeting", "Invoice query", "Training reminder", "Practice day", "Planned "
                                 "maintenance", "Q3 report", "Annual leave", "Partnership meeting", "Rota",
                                 "RE: Contract renewal", "Heating", "Office closure"])
        return self.record(f"benign-{idx:04d}", "benign", sname, saddr, [("subject", subject, [])], b, "none")

    def address_change(self, idx: int) -> dict[str, Any]:
        """A name and a home address with no role word and no identifier: only NER can link them."""
        sname, saddr, role, org = self.external()
        b = Builder("body")
        self.greeting(b, self.name())
        person = self.name()
        b.add(self.r.choice(["Please note that ", "Just to let you know, ", "For your records, ", ""]))
        b.add(person, "PERSON")
        b.add(self.r.choice([" has moved to ", " is now living at ", " now lives at ", "'s new address is "]))
        self.add_address(b)
        b.add(self.r.choice([". Please update your records.", " from next Monday.", ". Correspondence should go there "
                             "from now on."]))
        self.signature(b, sname, role, org, False)
        return self.record(f"address-{idx:04d}", "address_change", sname, saddr,
                           [("subject", self.r.choice(["Change of address", "Update", "Records"]), [])], b,
                           "personal")

    def near_miss(self, idx: int) -> dict[str, Any]:
        sname, saddr, role = self.staff()
        b = Builder("body")
        self.greeting(b, self.name())
        lines = self.r.sample(NEAR_MISS_LINES, 3)
        for line in lines:
            b.template(line, {"ten": (self.ten(), None), "five": (str(self.r.randint(10000, 99999)), None),
                              "six": (str(self.r.randint(100000, 999999)), None), "date": (self.some_date(), None),
                              "date2": (self.some_date(), None), "bad_nhs": (self.bad_nhs(), None)})
            b.add("\n")
        self.signature(b, sname, role, "Cafcass", True)
        return self.record(f"nearmiss-{idx:04d}", "near_miss", sname, saddr, [("subject", "References", [])], b,
                           "none")

    def casework(self, idx: int, special: bool) -> dict[str, Any]:
        sname, saddr, role = self.staff()
        rname, _raddr, _rrole, _rorg = self.external()
        child = self.name()
        mother = self.name()
        father = self.name()
        case_no = self.case_number() if self.r.random() < 0.7 else None
        b = Builder("body")
        subj = Builder("subject", kind="subject")
        subj.add(self.r.choice(["RE: ", "", "Fwd: "]))
        if case_no and self.r.random() < 0.6:
            subj.add(case_no, "UK_FAMILY_CASE_NUMBER")
            subj.add(" - ")
        subj.add(self.r.choice(["Safeguarding letter", "Section 7 report", "Hearing update", "Child arrangements",
                                "Information request", "Referral"]))
        self.greeting(b, rname)
        strong = False
        named_child = False
        style = self.r.random()
        if style < 0.5:
            b.add(self.r.choice(["Re: ", "Child: ", "Subject child: ", "Child's name: "]))
            b.add(child, "PERSON")
            named_child = True
            if self.r.random() < 0.75:
                b.add(self.r.choice([" (DOB ", ", DOB: ", ", date of birth ", " - D.O.B. "]))
                b.add(self.dob(), "DATE_OF_BIRTH")
                b.add(")" if b.parts[-2].startswith(" (") else "")
                strong = True
            b.add("\n")
        else:
            b.add(f"I am writing about {self.r.choice(['the child', 'the subject child', 'the children'])}, ")
            b.add(child, "PERSON")
            named_child = True
            if self.r.random() < 0.6:
                b.add(self.r.choice([", who was born on ", " (born ", ", born "]))
                b.add(self.dob(), "DATE_OF_BIRTH")
                if b.parts[-2] == " (born ":
                    b.add(")")
                strong = True
            b.add(".\n")
        if case_no:
            b.add(self.r.choice(["Case number: ", "Court ref ", "Our case no. ", "Case: "]))
            b.add(case_no, "UK_FAMILY_CASE_NUMBER")
            b.add("\n")
            strong = True
        b.add("\n")
        b.add(self.r.choice(["I met the mother, ", "I spoke with the mother, ", "Mother: ", "The applicant mother, "]))
        b.add(mother, "PERSON")
        b.add(self.r.choice([", at her home", " on the phone", "", " yesterday"]) + ". ")
        if self.r.random() < 0.6:
            b.add("She lives at ")
            self.add_address(b, multiline=False)
            b.add(". ")
        if self.r.random() < 0.5:
            b.add("Her mobile is ")
            b.add(self.phone(mobile=True), "PHONE_NUMBER")
            b.add(". ")
        b.add("\n")
        b.add(self.r.choice(["The father, ", "Father: ", "The respondent father, ", "I also spoke to the father, "]))
        b.add(father, "PERSON")
        b.add(self.r.choice([", by telephone.", ".", ", who attended the office."]) + "\n")
        if self.r.random() < 0.35:
            if self.r.random() < 0.5:
                b.add(child.split()[0], "PERSON")
                b.add("'s NHS number is ")
            else:
                b.add("NHS no: ")
            b.add(self.fmt_nhs(self.nhs()), "UK_NHS")
            b.add(".\n")
            strong = True
        if self.r.random() < 0.15:
            b.add("Mother's National Insurance number: ")
            b.add(self.nino(), "UK_NINO")
            b.add("\n")
            strong = True
        if self.r.random() < 0.08:
            b.add("For the contact costs, the father's bank details are sort code ")
            start = b.length
            sc = f"{self.r.randint(10, 99)}-{self.r.randint(10, 99)}-{self.r.randint(10, 99)}"
            b.add(f"{sc}, account number {self.r.randint(10**7, 10**8 - 1)}")
            b.labels.append({"location": "body", "start": start, "end": b.length, "entity": "UK_BANK_ACCOUNT"})
            b.add(".\n")
            strong = True
        if self.r.random() < 0.3:
            b.add("Father's email is ")
            domain = self.r.choice(["gmail.com", "outlook.com", "yahoo.co.uk"])
            em = f"{father.split()[0].lower()}{self.r.randint(1, 99)}@{domain}"
            em = "".join(c for c in em if c.isascii())
            b.add(em, "EMAIL_ADDRESS")
            b.add(".\n")
        if self.r.random() < 0.6:
            for s in self.r.sample(NAMED_SENTENCES, self.r.randint(1, 2)):
                other = self.name()
                other2 = self.name()
                vals: dict[str, tuple[str, str | None]] = {
                    "name": (other, "PERSON"), "first": (other.split()[0], "PERSON"),
                    "first2": (other2.split()[0], "PERSON"), "date": (self.some_date(), None)}
                if "{address}" in s:
                    pre, post = s.split("{address}")
                    b.template(pre, vals)
                    self.add_address(b)
                    b.template(post, vals)
                else:
                    b.template(s, vals)
                b.add(" ")
        for s in self.r.sample(CASE_SENTENCES, 2):
            b.template(s, {"date": (self.some_date(), None), "court": (self.r.choice(TOWNS)[0], None)})
            b.add(" ")
        has_special = False
        if special:
            for s, _ in self.r.sample(SPECIAL_SENTENCES, self.r.randint(1, 2)):
                b.add("\n")
                b.template(s, {"ex": (self.r.choice(["the father", "Mr " + father.split()[-1], "her partner"]),
                                      None)})
                # "Mr Surname" is a person reference
                has_special = True
        b.add("\n")
        # an extra named person by title
        if self.r.random() < 0.3:
            b.add("I have also written to ")
            b.add("Mrs ")
            b.add(self.name().split()[-1], "PERSON")
            b.add(", the maternal grandmother.")
        self.signature(b, sname, role, "Cafcass", True)
        # Mr Surname mentions in special sentences
        text = b.text
        needle = "Mr " + father.split()[-1]
        k = text.find(needle)
        while k >= 0:
            b.labels.append({"location": "body", "start": k + 3, "end": k + len(needle), "entity": "PERSON"})
            k = text.find(needle, k + 1)
        chunks: list[tuple[str, str, list[dict[str, Any]]]] = [("subject", subj.text, subj.labels)]
        attach = None
        if self.r.random() < 0.2:
            attach = self.report_attachment(child, mother, father, case_no)
        if attach is not None and self.attachment_special:
            has_special = True
        identifiable = strong or named_child  # a child named with a family role is case context
        expected = "personal" if identifiable else "none"
        if identifiable and (has_special or (case_no and named_child)):
            expected = "special_category"
        rec = self.record(f"{'special' if special else 'case'}-{idx:04d}", "special" if special else "casework",
                          sname, saddr, chunks, b, expected, attachment=attach)
        return rec

    def report_attachment(self, child: str, mother: str, father: str, case_no: str | None) -> Builder:
        a = Builder("attachment:letter.docx", kind="attachment")
        a.add("SAFEGUARDING LETTER\n\nOFFICIAL-SENSITIVE\n\n" if self.r.random() < 0.5 else "SAFEGUARDING LETTER\n\n")
        if "OFFICIAL" in a.text:
            k = a.text.find("OFFICIAL-SENSITIVE")
            a.labels.append({"location": a.location, "start": k, "end": k + 18, "entity": "PROTECTIVE_MARKING"})
        if case_no:
            a.add("Case number: ")
            a.add(case_no, "UK_FAMILY_CASE_NUMBER")
            a.add("\n")
        a.add("Child: ")
        a.add(child, "PERSON")
        a.add("\nDate of birth: ")
        a.add(self.dob(), "DATE_OF_BIRTH")
        a.add("\nApplicant: ")
        a.add(mother, "PERSON")
        a.add("\nAddress: ")
        self.add_address(a, multiline=False)
        a.add("\nRespondent: ")
        a.add(father, "PERSON")
        a.add("\n\n1. Police checks: ")
        police = self.r.choice(["No information held.", "Two call-outs to the address in 2023 for verbal arguments.",
                                "Father has a {caution for} possession of {cannabis} (2019)."])
        a.template(police, {})
        self.attachment_special = "{" in police
        a.add("\n2. Local authority checks: the family is not known to children's services.\n")
        a.add("3. " + " ".join(self.r.sample(CASE_SENTENCES, 3)).replace("{date}", self.some_date())
              .replace("{court}", "Leeds") + "\n")
        return a

    def record(self, rid: str, kind: str, sname: str, saddr: str,
               chunks: list[tuple[str, str, list[dict[str, Any]]]], body: Builder, expected: str,
               attachment: Builder | None = None) -> dict[str, Any]:
        out_chunks = [{"location": loc, "kind": "subject" if loc == "subject" else "body", "text": t}
                      for loc, t, _ in chunks]
        labels = [lab for _, _, labs in chunks for lab in labs]
        out_chunks.append({"location": "body", "kind": "body", "text": body.text})
        labels.extend(body.labels)
        if attachment is not None:
            out_chunks.append({"location": attachment.location, "kind": "attachment", "text": attachment.text})
            labels.extend(attachment.labels)
        if "Cannabis" in body.text or "cannabis" in (attachment.text if attachment else ""):
            pass
        return {"id": rid, "kind": kind, "sender": {"address": saddr, "name": sname},
                "recipients": ["someone@example.org"], "chunks": out_chunks, "labels": labels,
                "expected": expected}

    def thread(self, idx: int, base: dict[str, Any], replies: int) -> list[dict[str, Any]]:
        """The base message, then replies that quote everything before them (Outlook or '>' style)."""
        out = [base]
        history = next(c for c in base["chunks"] if c["location"] == "body")["text"]
        history_labels = [lab for lab in base["labels"] if lab["location"] == "body"]
        expected = base["expected"]
        names = [base["sender"]["name"], self.name()]
        addrs = [base["sender"]["address"], "reply@" + self.r.choice(EXTERNAL_ORGS)[1]]
        for k in range(1, replies + 1):
            who = k % 2
            sname, saddr = names[who], addrs[who]
            b = Builder("body")
            self.greeting(b, names[1 - who])
            b.add(self.r.choice(["Thanks for this. I will review and come back to you before the hearing.",
                                 "Noted, thank you. Can we speak tomorrow morning?",
                                 "Please see my comments below. I agree with the proposed next steps.",
                                 "Thanks, that is helpful. I have updated the file."]))
            if base["kind"] != "benign" and self.r.random() < 0.3:
                extra = self.name()
                b.add(" I have also spoken to the maternal aunt, ")
                b.add(extra, "PERSON")
                b.add(", who can supervise contact.")
                if expected == "none":
                    expected = "personal"
            self.signature(b, sname, "Family Court Adviser" if who == 0 else "Solicitor",
                           "Cafcass" if who == 0 else "Harrison & Co Solicitors", who == 0)
            b.add("\n")
            outlook = self.r.random() < 0.6
            if outlook:
                b.add("\nFrom: {} <{}>\nSent: {}\nTo: {} <{}>\nSubject: RE: update\n\n".format(
                    names[1 - who], addrs[1 - who], self.some_date() + " 10:14", sname, saddr))
                offset = b.length
                b.add(history)
                for lab in history_labels:
                    b.labels.append({**lab, "start": lab["start"] + offset, "end": lab["end"] + offset})
            else:
                b.add(f"\nOn {self.some_date()} at 09:12, {names[1 - who]} <{addrs[1 - who]}> wrote:\n")
                # quote each line with "> "; a character on history line L moves right by 2 * (L + 1)
                offset = b.length
                b.add("\n".join("> " + line for line in history.split("\n")))
                for lab in history_labels:
                    first_line = history.count("\n", 0, lab["start"])
                    last_line = history.count("\n", 0, lab["end"] - 1)
                    b.labels.append({**lab, "start": offset + lab["start"] + 2 * (first_line + 1),
                                     "end": offset + lab["end"] + 2 * (last_line + 1)})
            base_subject = next(c["text"] for c in base["chunks"] if c["location"] == "subject")
            subject_labels = [{**lab, "start": lab["start"] + 4, "end": lab["end"] + 4}
                              for lab in base["labels"] if lab["location"] == "subject"]
            subject = [("subject", "RE: " + base_subject, subject_labels)]
            rec = self.record(f"{base['id']}-r{k}", "thread", sname, saddr, subject, b, expected)
            out.append(rec)
            history = b.text
            history_labels = list(b.labels)
        return out

    def evasion(self, rec: dict[str, Any]) -> dict[str, Any]:
        """Rewrite identifiers in a record with full-width digits, zero-width spaces or dotted digits."""
        body = next(c for c in rec["chunks"] if c["location"] == "body")
        text = body["text"]
        labels = sorted([lab for lab in rec["labels"] if lab["location"] == "body"], key=lambda x: -x["start"])
        mode = self.r.choice(["fullwidth", "zwsp", "dots", "entity"])
        for lab in labels:
            if lab["entity"] not in ("UK_NHS", "UK_FAMILY_CASE_NUMBER", "PHONE_NUMBER", "DATE_OF_BIRTH", "UK_NINO"):
                continue
            value = text[lab["start"] : lab["end"]]
            if mode == "fullwidth":
                new = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in value)
            elif mode == "zwsp":
                new = "\u200b".join(value)
            elif mode == "entity" and lab["entity"] in ("UK_NHS", "PHONE_NUMBER"):
                new = "".join(f"&#{ord(c)};" if c.isdigit() and self.r.random() < 0.5 else c for c in value)
            elif mode == "dots" and lab["entity"] == "UK_NHS":
                digits = "".join(c for c in value if c.isdigit())
                new = ".".join(digits)
            else:
                continue
            delta = len(new) - len(value)
            old_start, old_end = lab["start"], lab["end"]
            text = text[:old_start] + new + text[old_end:]
            for other in rec["labels"]:
                if other["location"] != "body":
                    continue
                if other["start"] >= old_end:
                    other["start"] += delta
                    other["end"] += delta
                elif other["start"] <= old_start and other["end"] >= old_end:
                    other["end"] += delta
        body["text"] = text
        rec["id"] += f"-{mode}"
        rec["kind"] = "evasion"
        return rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default="samples/corpus/corpus.jsonl")
    ap.add_argument("--benign", type=int, default=170)
    ap.add_argument("--casework", type=int, default=110)
    ap.add_argument("--special", type=int, default=60)
    ap.add_argument("--near-miss", type=int, default=40)
    ap.add_argument("--threads", type=int, default=24)
    ap.add_argument("--evasions", type=int, default=20)
    ap.add_argument("--address-changes", type=int, default=16)
    args = ap.parse_args()
    g = Gen(args.seed)
    records: list[dict[str, Any]] = []
    records += [g.benign(i) for i in range(args.benign)]
    records += [g.casework(i, special=False) for i in range(args.casework)]
    records += [g.casework(i, special=True) for i in range(args.special)]
    records += [g.near_miss(i) for i in range(args.near_miss)]
    records += [g.address_change(i) for i in range(args.address_changes)]
    for i in range(args.threads):
        base = g.casework(1000 + i, special=g.r.random() < 0.3) if i % 3 else g.benign(1000 + i)
        records += g.thread(i, base, g.r.randint(2, 4))
    for i in range(args.evasions):
        records.append(g.evasion(g.casework(2000 + i, special=False)))
    g.r.shuffle(records)
    # keep each thread's messages in order (a worker sees a reply after the message it quotes)
    order = {r["id"]: i for i, r in enumerate(records)}
    records.sort(key=lambda r: (order[r["id"].split("-r")[0]] if "-r" in r["id"] else order[r["id"]],
                                r["id"]))
    for r in records:
        for lab in r["labels"]:
            chunk = next(c for c in r["chunks"] if c["location"] == lab["location"])
            span = chunk["text"][lab["start"] : lab["end"]]
            if not span.strip():
                raise SystemExit(f"empty label in {r['id']}: {lab}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    kinds: dict[str, int] = {}
    for r in records:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    print(f"wrote {len(records)} messages to {out}: {kinds}")


if __name__ == "__main__":
    main()
