"""Message-level sensitivity from findings (DESIGN.md: ``none``, ``personal``, ``special_category``).

Correspondents' own names and contact details never reach this function (content detection drops them), so
every PERSON here is a third party. A name on its own, or a phone number or email address on its own, does not
make a message personal: business mail is full of both. What does:

* a strong identifier on its own (NHS, NINO, case number of any court or tribunal, date of birth, bank account,
  passport, licence, card; plus whatever ``detectors.yaml`` ``entity_weights`` declares ``strong``): a court
  reference identifies a case and the people in it;
* the age of a particular person (``Amy, aged 7``, ``the appellant, now 34``, ``a 15-year-old boy``): the age
  recognizer reports an age only when its sentence is about someone, and judgments, reports and case notes
  that anonymise people still give their role and age;
* a name with a family or party role around it (``the mother, Jane Smith``): case context;
* a name near a street address or an IBAN, or an entity declared ``linking`` (within ``PROXIMITY`` characters of
  the same text). A postcode on its own does not link: signatures, venues and office footers are full of them.
  Only homes arrive here as street addresses: an organisation's address (premises parts, a company line above
  it, a signature, letterhead or footer, the same address repeated in a reply) is not a finding at all.

``special_category`` is personal data plus a special-category topic anywhere in the message, a topic just
after a name (``Sarah Jones disclosed she was sexually abused``: same clause, ``TOPIC_PROXIMITY``), or a
family-court case number together with a name (children's case data). Other courts' numbers (appeals, claims,
the Court of Protection) are strong identifiers but not children's data. A topic *before* a name does not
count on its own: event listings and training notices put the subject first and the speaker after it. Nor does
a topic after a name the layout reads as the writer (a quoted author, a signer): what follows is their own text
or their job title ("Jane Doe\nMental Health Nurse").

The function is monotone in PERSON findings (adding one never lowers the result), which is what lets content
detection skip NER when no PERSON could change the outcome.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from detectors.findings import Finding, Sensitivity
from detectors.redact import case_number_system

EntityWeight = Literal["strong", "linking", "none"]
"""``strong``: personal on its own; ``linking``: makes a name near it personal; ``none``: neither."""

STRONG_IDENTIFIERS = frozenset({
    "UK_NHS", "UK_NINO", "UK_FAMILY_CASE_NUMBER", "UK_COURT_CASE_NUMBER", "DATE_OF_BIRTH", "AGE",
    "UK_BANK_ACCOUNT", "UK_PASSPORT", "UK_DRIVING_LICENCE", "CREDIT_CARD",
})
LINKING_IDENTIFIERS = frozenset({"UK_STREET_ADDRESS", "IBAN_CODE"})
CHILDREN_CASE_DATA = frozenset({"KNOWN_CHILD"})
"""A child named in the organisation's case directory (``detectors.cases``): special category on its own."""


@dataclass(frozen=True, slots=True)
class Weights:
    """Which entities are strong identifiers and which link a name; the defaults above unless
    ``detectors.yaml`` ``entity_weights`` says otherwise (a security team's own recognizer, say ``CHILD_REF``)."""

    strong: frozenset[str] = STRONG_IDENTIFIERS
    linking: frozenset[str] = LINKING_IDENTIFIERS

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, EntityWeight]) -> Weights:
        """The defaults with each named entity moved to its declared weight (``none`` takes it out of both)."""
        strong, linking = set(STRONG_IDENTIFIERS), set(LINKING_IDENTIFIERS)
        for entity, weight in overrides.items():
            strong.discard(entity)
            linking.discard(entity)
            if weight == "strong":
                strong.add(entity)
            elif weight == "linking":
                linking.add(entity)
        return cls(frozenset(strong), frozenset(linking))


DEFAULT_WEIGHTS = Weights()
CASE_CONTEXT_DETECTORS = frozenset({"FamilyRoleNameRecognizer"})
WRITER_DETECTORS = frozenset({"LayoutAuthor"})
"""Names read as the writer of what follows (``detectors.names.LAYOUT_AUTHOR_DETECTOR``): a quoted author's own
words or a signer's job title after the name are not a topic about that person."""
PROXIMITY = 250
TOPIC_PROXIMITY = 60


class _Index:
    """Findings by location, sorted by start, for "is any of them within d characters of x" questions."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self._by_loc: dict[str, tuple[list[int], list[Finding], int]] = {}
        grouped: dict[str, list[Finding]] = {}
        for f in findings:
            grouped.setdefault(f.location, []).append(f)
        for loc, fs in grouped.items():
            fs.sort(key=lambda f: f.start)
            self._by_loc[loc] = ([f.start for f in fs], fs, max(f.end - f.start for f in fs))

    def follows(self, x: Finding, distance: int) -> bool:
        """Any finding starting after ``x`` ends, within ``distance`` characters."""
        entry = self._by_loc.get(x.location)
        if entry is None:
            return False
        starts, _fs, _longest = entry
        lo = bisect_left(starts, x.end)
        hi = bisect_right(starts, x.end + distance)
        return hi > lo

    def near(self, x: Finding, distance: int) -> bool:
        entry = self._by_loc.get(x.location)
        if entry is None:
            return False
        starts, fs, longest = entry
        lo = bisect_left(starts, x.start - distance - longest)
        hi = bisect_right(starts, x.end + distance)
        return any(max(f.start, x.start) - min(f.end, x.end) <= distance for f in fs[lo:hi])


def assess_sensitivity(findings: Sequence[Finding], weights: Weights = DEFAULT_WEIGHTS) -> Sensitivity:
    """The message's level; see the module docstring for the rules. ``weights`` says which entities are strong
    and which link a name (``Weights.with_overrides`` of the detectors settings' ``entity_weights``)."""
    if any(f.entity in CHILDREN_CASE_DATA for f in findings):
        return Sensitivity.SPECIAL_CATEGORY
    persons = [f for f in findings if f.entity == "PERSON"]
    topics = [f for f in findings if f.entity == "SPECIAL_CATEGORY"]
    strong = any(f.entity in weights.strong for f in findings)
    case_numbers = any(f.entity == "UK_FAMILY_CASE_NUMBER" for f in findings)
    role_named = any(p.detector in CASE_CONTEXT_DETECTORS for p in persons)
    personal = strong or role_named
    if not personal and persons:
        links = _Index([f for f in findings if f.entity in weights.linking])
        personal = any(links.near(p, PROXIMITY) for p in persons)
    topic_named = False
    if persons and topics:
        near_topics = _Index(topics)
        topic_named = any(near_topics.follows(p, TOPIC_PROXIMITY) for p in persons
                          if p.detector not in WRITER_DETECTORS)
    personal = personal or topic_named
    if not personal:
        return Sensitivity.NONE
    if topics or (case_numbers and persons):
        return Sensitivity.SPECIAL_CATEGORY
    return Sensitivity.PERSONAL


def distinct_case_numbers(findings: Sequence[Finding]) -> int:
    """How many different family cases the message is about (IA 4.14), by keyed fingerprint.

    Only family case numbers count: an appeal, claim or other court's number beside the family number of the
    same matter is not a second case. One matter carries one number per numbering system (its FamilyMan number
    and the family court's digital case number, say), and two matters give two numbers in the same system, so
    the count is the largest number of different values within one system."""
    by_system: dict[str, set[str]] = {}
    for f in findings:
        if f.entity == "UK_FAMILY_CASE_NUMBER":
            key = f.fingerprint or f"{f.location}:{f.start}"
            by_system.setdefault(case_number_system(f.redacted), set()).add(key)
    return max((len(v) for v in by_system.values()), default=0)
