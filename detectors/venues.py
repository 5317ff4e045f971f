"""Venue rules: an address introduced as a place of business (a venue, an office, a delivery address) is not
someone's home, so it is not personal data; one introduced as where someone lives always is.

The clause before the address decides: back to a sentence end, a blank line or a label, at most 120 characters.
An address that the message also shows as an organisation's (tagged so by the address recognizer) or inside a
signature is business furniture wherever it recurs: a reply quotes it, a letterhead repeats it.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence

from detectors.blocks import Candidate, ChunkWork
from detectors.recognizers.address import BUSINESS_TAG
from detectors.recognizers.business import organisation_word_owns
from detectors.recognizers.layout import Zone

_HOME_CUE = re.compile(
    r"\b(?:lives?|living|lived|resides?|residing|home|moved|moving|stays?|staying|tenancy|her\s+address|"
    r"his\s+address|their\s+address|address\s*:)",
    re.IGNORECASE,
)
# Words before an address that make it a place of business rather than someone's home.
_VENUE_CUE = re.compile(
    r"\b(?:held|hosted|venue|take[s]?\s+place|taking\s+place|located|based|our\s+(?:new\s+)?(?:office|offices|address|"
    r"premises|site|building)|office[s]?\s+(?:at|is|are)|head\s+office|registered\s+office|deliver(?:y|ed)?|"
    r"invoice\s+address|billing|reception|hotel|conference|meet(?:ing)?\s+(?:you\s+)?at|parking|car\s+park|"
    r"trading\s+address|business\s+address|return\s+address|collection)\b",
    re.IGNORECASE,
)


# Words of the organisation-word list that are there for NER's sake, not because they name an organisation.
_NOT_ORGANISATION = frozenset({"road", "street", "avenue", "regards", "thanks"})
_CLAUSE_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


def _organisation_before(clause: str, organisation_words: frozenset[str]) -> bool:
    """An organisation word among the clause's last six words, on the address's line or the line above, that the
    address belongs to: not a modifier of a later word (``NHS patient``, ``council tenant``) nor an identifier's
    label (``NHS No. 943...``) nor inside an aside (``business.organisation_word_owns``)."""
    near = "\n".join(clause.split("\n")[-2:])
    for m in list(_CLAUSE_WORD.finditer(near))[-6:]:
        if m.group().lower() not in organisation_words or m.group().lower() in _NOT_ORGANISATION:
            continue
        if organisation_word_owns(near[m.end() :]):
            return True
    return False


def business_addresses(
    text: str, raw: list[Candidate], organisation_words: frozenset[str]
) -> set[tuple[int, int]]:
    """Spans of addresses (and postcodes) introduced as a venue or an organisation's premises."""
    out: set[tuple[int, int]] = set()
    addresses = sorted((c for c in raw if c.entity == "UK_STREET_ADDRESS"), key=lambda c: c.start)
    address_starts = [a.start for a in addresses]
    longest = max((a.end - a.start for a in addresses), default=0)
    for c in raw:
        if c.entity not in ("UK_STREET_ADDRESS", "UK_POSTCODE"):
            continue
        anchor = c.start
        if c.entity == "UK_POSTCODE":
            lo = bisect_left(address_starts, c.start - longest)
            hi = bisect_right(address_starts, c.start)
            outer = next((a for a in addresses[lo:hi] if a.start <= c.start and c.end <= a.end), None)
            if outer is not None:
                anchor = outer.start
        # the clause that introduces the address: back to a sentence end, a blank line or a label
        window = text[max(0, anchor - 160) : anchor]
        clause = re.split(r"[.!?;]\s|\n[ \t]*\n", window)[-1][-120:]
        if _HOME_CUE.search(clause):
            continue
        if _VENUE_CUE.search(clause) or _organisation_before(clause, organisation_words):
            out.add((c.start, c.end))
    return out


def address_key(value: str) -> str:
    """The house number and street of an address, for "is this the same address": lower case, first line only."""
    first = re.split(r"[,\n]", value, maxsplit=1)[0]
    return " ".join(first.lower().split())


def furniture_address_keys(
    works: Sequence[ChunkWork],
    raws: Sequence[Sequence[Candidate]],
    in_zone: Callable[[Candidate, list[Zone], list[int]], bool],
) -> set[str]:
    """Keys of the addresses the message shows as an organisation's or inside a signature."""
    keys: set[str] = set()
    for w, raw in zip(works, raws, strict=True):
        zone_starts = [z.start for z in w.zones]
        for c in raw:
            if c.entity != "UK_STREET_ADDRESS":
                continue
            if c.detector.endswith(BUSINESS_TAG) or in_zone(c, w.zones, zone_starts):
                keys.add(address_key(w.norm.text[c.start : c.end]))
    return keys
