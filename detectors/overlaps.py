"""Overlap resolution: where different entities claim the same characters, one wins.

The order of ``PRIORITY`` decides (a checksummed identifier beats a phone number reading of the same digits;
anything beats PERSON and LOCATION). A postcode may sit inside a street address and both are kept; special-category
topics and protective markings never conflict with other entities, only with themselves.
"""

from __future__ import annotations

from bisect import bisect_left

from detectors.blocks import Candidate

# When two different entities claim the same characters, the one earlier here wins.
PRIORITY = (
    "UK_NHS", "UK_NINO", "UK_FAMILY_CASE_NUMBER", "UK_COURT_CASE_NUMBER", "CREDIT_CARD", "IBAN_CODE",
    "UK_BANK_ACCOUNT", "UK_PASSPORT", "UK_DRIVING_LICENCE", "DATE_OF_BIRTH", "EMAIL_ADDRESS", "PHONE_NUMBER",
    "UK_STREET_ADDRESS", "UK_POSTCODE", "AGE", "PERSON", "LOCATION",
)
NESTING_ALLOWED = frozenset({("UK_STREET_ADDRESS", "UK_POSTCODE"), ("UK_POSTCODE", "UK_STREET_ADDRESS")})
NEVER_CONFLICT = frozenset({"SPECIAL_CATEGORY", "PROTECTIVE_MARKING"})
_RANK = {e: i for i, e in enumerate(PRIORITY)}


def resolve_overlaps(cands: list[Candidate]) -> list[Candidate]:
    """Where different entities claim the same characters, the higher-priority one wins (a postcode may
    sit inside an address). Accepted spans are kept sorted so each check looks only at near neighbours."""
    rank = _RANK
    ordered = sorted(cands, key=lambda c: (rank.get(c.entity, len(rank)), -c.score, c.start, -(c.end - c.start)))
    accepted: list[Candidate] = []
    starts: list[int] = []
    longest = 0
    for c in ordered:
        lo = bisect_left(starts, c.start - longest)
        hi = bisect_left(starts, c.end)
        clash = False
        for a in accepted[lo:hi]:
            if not (a.start < c.end and c.start < a.end):
                continue
            if c.entity in NEVER_CONFLICT or a.entity in NEVER_CONFLICT:
                if a.entity == c.entity:
                    clash = True
                    break
                continue
            if (a.entity, c.entity) in NESTING_ALLOWED:
                continue
            clash = True
            break
        if not clash:
            i = bisect_left(starts, c.start)
            starts.insert(i, c.start)
            accepted.insert(i, c)
            longest = max(longest, c.end - c.start)
    accepted.sort(key=lambda c: (c.start, c.end))
    return accepted
