"""Name rules: which PERSON spans are personal names, and whose names are the correspondents'.

NER's PERSON spans are cut down to the name inside them (punctuation, common words and titles off the ends) and
kept only when they look like a name: capitalised words or particles (``van``, ``de``, ``bin``), no digits, no
organisation word, not a known place, and nothing around them saying they are not a private person's name
(``detectors.recognizers.person_context``: judges and counsel, organisations and schools, headings, sentence
adverbs, demonyms, role words, fonts, citations). Name-shaped ORG spans become low-score PERSON candidates
(spaCy often tags unfamiliar names as organisations). The correspondents (the envelope sender, and the people
in greetings, signatures and quoted headers of the same text) are never third parties, so their name words are
collected here too.
"""

from __future__ import annotations

import re
from bisect import bisect_left

from detectors.blocks import Candidate, Raw
from detectors.overlaps import NEVER_CONFLICT
from detectors.recognizers.layout import Zone
from detectors.recognizers.person import DEFAULT_ROLES
from detectors.recognizers.person_context import person_span_problem

TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "lady", "lord", "master"})
_PARTICLES = frozenset({"van", "von", "de", "der", "den", "da", "di", "del", "du", "la", "le", "bin", "binti",
                        "ibn", "al", "el", "ap", "ben", "dos", "das", "y"})
_HEADER_NAMES = re.compile(r"^[ \t]*(?:From|To|Cc|Bcc|Reply-To)[ \t]*:[ \t]*(.+)$", re.MULTILINE | re.IGNORECASE)
WORDS = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
# A run of words inside an NER span, cut at punctuation that never sits inside a name (hyphens and
# apostrophes inside words are fine: Smith-Jones, O'Brien).
# Family and party role words: "the Claimant", "the Husband" are not names however NER reads them.
ROLE_WORDS = frozenset(w for r in DEFAULT_ROLES for w in re.split(r"[\s\-]+", r.lower()) if len(w) > 2) - {
    "the", "young", "person", "special", "new", "former", "first", "second"}
_NAME_PIECE = re.compile(r"[^\s,;:()\[\]{}|/\\\"<>!?]+(?:[ \t]+(?![-–][ \t])[^\s,;:()\[\]{}|/\\\"<>!?]+)*")


def words(text: str) -> list[str]:
    """The words of ``text``, lower case (letters and inner apostrophes only)."""
    return [w.lower() for w in WORDS.findall(text)]


def sender_words(sender_address: str, sender_name: str) -> tuple[str, frozenset[str]]:
    """(the sender's address, lower case; the words of the sender's name and of its mailbox name)."""
    names = set(words(sender_name))
    local = sender_address.partition("@")[0]
    names |= {w for w in re.split(r"[._\-+0-9]+", local.lower()) if len(w) > 1}
    return sender_address.lower().strip(), frozenset(w for w in names if len(w) > 1)


class NameRules:
    """The word lists that decide what a name is, and the rules built on them."""

    def __init__(
        self,
        *,
        common_words: frozenset[str],
        organisation_words: frozenset[str],
        places: frozenset[str],
        max_words: int,
    ) -> None:
        self.common_words = common_words
        self.organisation_words = organisation_words
        self.places = places
        self.max_words = max_words

    def clean_persons(self, text: str, raws: list[Raw], patterns: list[Raw]) -> list[Raw]:
        """Keep PERSON spans that look like a personal name; turn name-shaped ORG spans into PERSON."""
        out: list[Raw] = []
        taken = [(p.start, p.end) for p in patterns if p.entity not in NEVER_CONFLICT]
        for r in raws:
            if r.entity == "LOCATION":
                out.append(r)
                continue
            span = self.trim_name(text, r.start, r.end)
            if span is None:
                continue
            start, end = span
            if any(s < end and start < e for s, e in taken):
                continue
            if person_span_problem(text, start, end, ROLE_WORDS, self.common_words):
                continue  # a judge, counsel, an organisation, a heading, an adverb... (person_context)
            ws = text[start:end].split()
            if r.entity == "ORGANIZATION":
                if len(ws) < 2:
                    continue
                out.append(Raw("PERSON", start, end, r.score, "SpacyRecognizer:ORG"))
            elif r.entity == "PERSON":
                out.append(Raw("PERSON", start, end, r.score, "SpacyRecognizer"))
        return out

    def trim_name(self, text: str, start: int, end: int) -> tuple[int, int] | None:
        """The name inside an NER span, or None: cut at punctuation, common words off both ends, shape checks."""
        span = text[start:end]
        pieces = [m for m in _NAME_PIECE.finditer(span) if any(ch.isalpha() for ch in m.group())]
        if not pieces:
            return None
        piece = pieces[0]
        for m in pieces:
            if any(w[:1].isupper() and w.lower() not in self.common_words for w in m.group().split()):
                piece = m
                break
        parts = list(re.finditer(r"\S+", piece.group()))
        base = start + piece.start()

        def bare(m: re.Match[str]) -> str:
            return m.group().strip(".'’").removesuffix("'s").removesuffix("’s")

        while parts and (bare(parts[-1]).lower() in self.common_words or not bare(parts[-1])):
            parts.pop()
        while parts and (bare(parts[0]).lower() in self.common_words or bare(parts[0]).lower() in TITLES
                         or not bare(parts[0])):
            parts.pop(0)
        if not parts or len(parts) > self.max_words:
            return None
        names = [bare(w) for w in parts]
        if not self.plausible_name(names):
            return None
        s = base + parts[0].start()
        last = parts[-1].group()
        e = base + parts[-1].start() + len(last.rstrip(".'’").removesuffix("'s").removesuffix("’s"))
        return s, e

    def plausible_name(self, names: list[str], *, check_places: bool = True) -> bool:
        """Capitalised words (or particles), no digits, no organisation word, not a known place."""
        if check_places and " ".join(n.lower() for n in names) in self.places:
            return False
        has_proper = False
        for n in names:
            low = n.lower()
            if not n or any(ch.isdigit() for ch in n) or "@" in n or "/" in n:
                return False
            if low in self.organisation_words:
                return False
            if low in _PARTICLES:
                continue
            if not n[0].isupper():
                return False
            if len(n) > 1 and any(ch.islower() for ch in n):
                has_proper = True
        return has_proper

    def correspondent_words(self, text: str, zs: list[Zone], raw: list[Candidate]) -> frozenset[str]:
        """Name words of the people in greetings, signatures and quoted headers of this text."""
        found: set[str] = set()
        persons = sorted((c for c in raw if c.entity == "PERSON"), key=lambda c: c.start)
        person_starts = [c.start for c in persons]
        for z in zs:
            if z.kind == "header":
                for m in _HEADER_NAMES.finditer(text, z.start, z.end):
                    for part in re.split(r"[;,]", m.group(1)):
                        display = re.sub(r"<[^>]*>|\S+@\S+|[\"']", " ", part)
                        found.update(w for w in words(display) if len(w) > 1)
            else:
                for c in persons[bisect_left(person_starts, z.start) : bisect_left(person_starts, z.end)]:
                    found.update(w for w in words(text[c.start : c.end]) if len(w) > 1)
                if z.kind == "signature":
                    first = next((ln for ln in text[z.start : z.end].splitlines()[1:] if ln.strip()), "")
                    cand = first.strip()
                    if 0 < len(cand.split()) <= 4 and all(p[:1].isupper() for p in cand.split()):
                        found.update(w for w in words(cand) if len(w) > 1)
                if z.kind == "greeting":
                    line = text[z.start : z.end]
                    found.update(w.lower() for w in WORDS.findall(line) if w[:1].isupper())
        return frozenset(found - self.common_words - TITLES)
