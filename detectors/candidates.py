"""From raw results to candidates: what is left once everything that is not a finding is dropped.

Per chunk: results under their entity's threshold or of entities never reported; the correspondents' own details
(inside greetings, signatures and quoted headers, the envelope sender's address and name, names that also appear
in those zones); business addresses, and an address repeated from a signature or an organisation's address
elsewhere in the message (a reply quoting it); allow-listed values. Then overlapping claims are resolved.
"""

from __future__ import annotations

from bisect import bisect_right

from detectors.allowlist import AllowList
from detectors.blocks import Candidate, ChunkWork
from detectors.names import (
    LAYOUT_AUTHOR_DETECTOR,
    LAYOUT_NAME_DETECTOR,
    LAYOUT_NAME_SCORE,
    TITLES,
    Correspondents,
    NameRules,
    ZoneVerdict,
    words,
)
from detectors.overlaps import resolve_overlaps
from detectors.recognizers.layout import Zone
from detectors.settings import DetectorsSettings
from detectors.venues import address_key, business_addresses, furniture_address_keys

_SUPPRESSED_IN: dict[str, frozenset[str]] = {
    "signature": frozenset({"PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "UK_POSTCODE", "UK_STREET_ADDRESS",
                            "LOCATION"}),
    "greeting": frozenset({"PERSON"}),
    "header": frozenset({"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER"}),
}


def in_zone(c: Candidate, zs: list[Zone], zone_starts: list[int]) -> bool:
    """Inside a greeting, signature or quoted header whose kind suppresses this entity (zones are disjoint
    within a kind and few overlap, so only the last few zones starting before the finding can hold it)."""
    i = bisect_right(zone_starts, c.start)
    for z in zs[max(0, i - 3) : i]:
        if z.start <= c.start < z.end and c.entity in _SUPPRESSED_IN[z.kind]:
            return True
    return False


class CandidateFilter:
    """Built once per detector from its settings, allow list and name rules."""

    def __init__(self, settings: DetectorsSettings, allow: AllowList, names: NameRules) -> None:
        self.settings = settings
        self.allow = allow
        self.names = names

    def filtered(
        self, works: list[ChunkWork], corr: Correspondents, *, include_ner: bool
    ) -> list[Candidate]:
        """Candidates of every chunk (pattern results, plus NER results where NER has run if ``include_ner``).

        With an envelope (``corr.known``) greetings, signatures and quoted headers are exempt only as far as they
        are the correspondents' (``NameRules.zone_verdict``), and the names in them of anyone else join the NER
        results; without one (``detect`` on plain text) the layout alone decides."""
        report = set(self.settings.report_entities)
        thresholds = self.settings.thresholds
        default_threshold = thresholds.get("default", 0.5)
        organisation_words = self.names.organisation_words
        out: list[Candidate] = []
        layouts = [self.names.layout(w) for w in works] if corr.known else []
        if corr.known:
            corr = corr.learn([n for w, lay in zip(works, layouts, strict=True)
                               for n in self.names.layout_names(w, lay)])
        raws: list[list[Candidate]] = []
        verdicts: list[ZoneVerdict | None] = []
        for ci, w in enumerate(works):
            raw: list[Candidate] = []
            for b in w.blocks:
                sources = list(b.analysis.patterns)
                if include_ner and b.analysis.ner is not None:
                    sources.extend(b.analysis.ner)
                raw.extend(Candidate(ci, r.entity, b.start + r.start, b.start + r.end, r.score, r.detector,
                                     r.topic) for r in sources)
            raws.append(raw)
            if corr.known:
                v = self.names.zone_verdict(w, layouts[ci], corr)
                if include_ner:
                    ran = [(b.start, b.end) for b in w.blocks if b.analysis.ner is not None]
                    raw.extend(Candidate(ci, "PERSON", s, e, LAYOUT_NAME_SCORE,
                                         LAYOUT_AUTHOR_DETECTOR if (s, e) in v.authors else LAYOUT_NAME_DETECTOR)
                               for s, e in v.persons if any(bs <= s < be for bs, be in ran))
                verdicts.append(v)
            else:
                verdicts.append(None)

        def exempt(c: Candidate, zs: list[Zone], zone_starts: list[int]) -> bool:
            v = verdicts[c.chunk]
            return in_zone(c, zs, zone_starts) if v is None else v.exempts(c.entity, c.start)

        furniture = furniture_address_keys(works, raws, exempt)
        for ci, w in enumerate(works):
            text = w.norm.text
            raw = raws[ci]
            verdict = verdicts[ci]
            correspondents = self.names.correspondent_words(text, w.zones, raw) if verdict is None else frozenset()
            business = business_addresses(text, raw, organisation_words)
            zone_starts = [z.start for z in w.zones]
            kept: list[Candidate] = []
            for c in raw:
                if c.entity not in report or c.score < thresholds.get(c.entity, default_threshold):
                    continue
                if exempt(c, w.zones, zone_starts) or (c.start, c.end) in business:
                    continue
                if verdict is not None and verdict.drop_topics and c.entity == "SPECIAL_CATEGORY":
                    continue
                if c.entity == "UK_STREET_ADDRESS" and furniture and address_key(text[c.start : c.end]) in furniture:
                    continue  # the same address as a signature's or an organisation's elsewhere in the message
                value = text[c.start : c.end]
                if self.allow.allows(c.entity, value):
                    continue
                if c.entity == "EMAIL_ADDRESS" and value.lower() in corr.addresses:
                    continue
                if c.entity == "PERSON":
                    ws = set(words(value)) - TITLES
                    if ws and (ws <= corr.words or ws <= correspondents):
                        continue
                kept.append(c)
            out.extend(resolve_overlaps(kept))
        return out
