"""Message-level sensitivity from findings (DESIGN.md: ``none``, ``personal``, ``special_category``).

Correspondents' own names and contact details never reach this function (content detection drops them), so
every PERSON here is a third party. A name on its own, or a phone number or email address on its own, does not
make a message personal: business mail is full of both. What does:

* a strong identifier on its own (NHS, NINO, case number, date of birth, bank account, passport, licence, card);
* a name with a family or party role around it (``the mother, Jane Smith``): case context;
* a name near a street address or an IBAN (within ``PROXIMITY`` characters of the same text). A postcode on
  its own does not link: signatures, venues and office footers are full of them.

``special_category`` is personal data plus a special-category topic anywhere in the message, a topic right
next to a name (same clause: ``TOPIC_PROXIMITY``), or a family-court case number together with a name
(children's case data).

The function is monotone in PERSON findings (adding one never lowers the result), which is what lets content
detection skip NER when no PERSON could change the outcome.
"""

from __future__ import annotations

from collections.abc import Sequence

from detectors.findings import Finding
from gateway.facts import Sensitivity

STRONG_IDENTIFIERS = frozenset({
    "UK_NHS", "UK_NINO", "UK_FAMILY_CASE_NUMBER", "DATE_OF_BIRTH", "UK_BANK_ACCOUNT", "UK_PASSPORT",
    "UK_DRIVING_LICENCE", "CREDIT_CARD",
})
LINKING_IDENTIFIERS = frozenset({"UK_STREET_ADDRESS", "IBAN_CODE"})
CASE_CONTEXT_DETECTORS = frozenset({"FamilyRoleNameRecognizer"})
PROXIMITY = 250
TOPIC_PROXIMITY = 60


def _near(a: Finding, b: Finding, distance: int) -> bool:
    if a.location != b.location:
        return False
    gap = max(a.start, b.start) - min(a.end, b.end)
    return gap <= distance


def assess_sensitivity(findings: Sequence[Finding]) -> Sensitivity:
    """The message's level; see the module docstring for the rules."""
    persons = [f for f in findings if f.entity == "PERSON"]
    topics = [f for f in findings if f.entity == "SPECIAL_CATEGORY"]
    strong = any(f.entity in STRONG_IDENTIFIERS for f in findings)
    case_numbers = any(f.entity == "UK_FAMILY_CASE_NUMBER" for f in findings)
    role_named = any(p.detector in CASE_CONTEXT_DETECTORS for p in persons)
    linked = any(
        _near(p, f, PROXIMITY) for f in findings if f.entity in LINKING_IDENTIFIERS for p in persons
    )
    topic_named = any(_near(p, t, TOPIC_PROXIMITY) for t in topics for p in persons)
    personal = strong or role_named or linked or topic_named
    if not personal:
        return Sensitivity.NONE
    if topics or (case_numbers and persons):
        return Sensitivity.SPECIAL_CATEGORY
    return Sensitivity.PERSONAL


def distinct_case_numbers(findings: Sequence[Finding]) -> int:
    """How many different family-court case numbers the message holds (by keyed fingerprint)."""
    values = {f.fingerprint or f"{f.location}:{f.start}" for f in findings if f.entity == "UK_FAMILY_CASE_NUMBER"}
    return len(values)
