"""Name rules: which PERSON spans are personal names, and whose names are the correspondents'.

NER's PERSON spans are cut down to the name inside them (punctuation, common words and titles off the ends) and
kept only when they look like a name: capitalised words or particles (``van``, ``de``, ``bin``), no digits, no
organisation word, not a known place, and nothing around them saying they are not a private person's name
(``detectors.recognizers.person_context``: judges and counsel, organisations and schools, headings, sentence
adverbs, demonyms, role words, fonts, citations). Name-shaped ORG spans become low-score PERSON candidates
(spaCy often tags unfamiliar names as organisations). The correspondents (the envelope sender, and the people
in greetings, signatures and quoted headers of the same text) are never third parties, so their name words are
collected here too. With an envelope, only what demonstrably belongs to the sender or a recipient is theirs
(``correspondents``, ``NameRules.zone_verdict``): names and details a sender writes into a display name, a
signature block, a greeting or a forwarded message's header are content.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from detectors.blocks import Candidate, ChunkLayout, ChunkWork, LayoutSlot, Raw
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

    def layout(self, work: ChunkWork) -> ChunkLayout:
        """Where the chunk's greetings, signatures and quoted headers name people (read once per chunk). A chunk
        at one of ``ADDRESS_HEADER_LOCATIONS`` holds display names, one a line."""
        if work.layout is None:
            shown = work.chunk.location.partition("#")[0].lower() in ADDRESS_HEADER_LOCATIONS
            work.layout = _read_layout(self, work.norm.text, work.zones, shown)
        return work.layout

    @staticmethod
    def layout_names(work: ChunkWork, layout: ChunkLayout) -> list[str]:
        """The names the layout puts where a correspondent's would be (for ``Correspondents.learn``)."""
        text = work.norm.text
        return [text[sl.name[0] : sl.name[1]] for sl in layout.slots if sl.name is not None]

    @staticmethod
    def zone_verdict(work: ChunkWork, layout: ChunkLayout, corr: Correspondents) -> ZoneVerdict:
        """How far this chunk's greetings, signatures and quoted headers are the correspondents' (``corr``):
        exempt regions, and the names in them of anyone else."""
        return _zone_verdict(work.norm.text, layout, corr)


# ---------------------------------------------------------------------------------------------------- correspondents
# Who this message's correspondents are, from what the sender cannot steer: the envelope (or authenticated) sender
# and the actual recipients. A display name counts only for the words that spell its own mailbox (``Jo Bloggs``
# <jbloggs@...>: jo, bloggs; ``Ngozi Okafor`` <ngozi@...>: ngozi only), so a third party's name written into a
# display name, a signature or a greeting is not exempted by being there.

ADDRESS_HEADER_LOCATIONS = frozenset(
    f"header:{name}" for name in ("from", "sender", "reply-to", "to", "cc", "bcc")
)
"""Chunks holding the display names of the message's own address fields (``gateway.mime.headers``)."""
_LOCAL_SPLIT = re.compile(r"[._\-+'0-9]+")
_MAX_DISPLAY_WORDS = 6


def _fold(word: str) -> str:
    """``José`` -> ``jose``: mailboxes are ASCII, display names need not be."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if c.isalpha() and not unicodedata.combining(c))


def mailbox_segments(address: str) -> list[str]:
    """The letter runs of an address's local part, lower case: ``j.bloggs84`` -> ``[j, bloggs]``."""
    local = address.strip().strip("<>").rpartition("@")[0].strip('"').lower()
    return [s for s in _LOCAL_SPLIT.split(local) if s.isalpha()]


def _cover(seg: str, pos: int, names: list[tuple[int, str]], used: frozenset[int]) -> list[tuple[int, bool]] | None:
    """Spell ``seg[pos:]`` from the display words (index, spelling), each used once, whole (True) or as its
    initial (False)."""
    if pos == len(seg):
        return []
    for i, n in names:
        if i in used or not n:
            continue
        if len(n) > 1 and seg.startswith(n, pos):
            rest = _cover(seg, pos + len(n), names, used | {i})
            if rest is not None:
                return [(i, True), *rest]
        if seg[pos] == n[0]:
            rest = _cover(seg, pos + 1, names, used | {i})
            if rest is not None:
                return [(i, False), *rest]
    return None


def _spelt(segments: list[str], names: list[tuple[int, str]]) -> tuple[set[int], bool, int]:
    """(display words used to spell the segments, whether one was used whole, how many segments were spelt)."""
    used: set[int] = set()
    whole = False
    covered = 0
    for seg in segments:
        cover = _cover(seg[:64], 0, names, frozenset())
        if cover is None:
            continue
        covered += 1
        used.update(i for i, _ in cover)
        whole = whole or any(full for _, full in cover)
    return used, whole, covered


def verified_display_words(display: str, address: str) -> frozenset[str]:
    """The words of ``display`` that its mailbox spells (whole, or as initials beside a whole word), and the one
    word left over when the mailbox is spelt entirely from the rest (a first-name mailbox); none when the mailbox
    is not spelt from the display name at all (``IT Support`` <jane.smith@...>). Accented letters are matched
    with their accent dropped (``José`` = ``jose``) or left out (``Şafak`` = ``afak``), as mail systems do."""
    shown = [w for w in words(display) if w not in TITLES][:_MAX_DISPLAY_WORDS]
    if not shown:
        return frozenset()
    segments = mailbox_segments(address)[:8]
    folded = [_fold(w) for w in shown]
    spellings = sorted({(i, f) for i, w in enumerate(shown)
                        for f in (folded[i], "".join(c for c in w if c.isascii() and c.isalpha()))})
    used, whole, covered = _spelt(segments, spellings)
    if not whole:
        return frozenset()
    if covered == len(segments) and len(shown) - len(used) == 1 and len(shown) <= 3:
        used = set(range(len(shown)))  # a first-name mailbox (karl@) of "Karl Skinner": the other word is the surname
    return frozenset(w for i in used for w in (shown[i], folded[i]) if len(w) > 1)


@dataclass(frozen=True, slots=True)
class Correspondents:
    """The addresses and name words that demonstrably belong to this message's sender and recipients."""

    addresses: frozenset[str] = frozenset()
    words: frozenset[str] = frozenset()
    known: bool = False
    """False when there is no envelope at all (``detect`` on plain text): layout alone then decides, as before."""

    def owns_name(self, name: str) -> bool:
        """Every word of ``name`` (titles aside) is a correspondent's name word."""
        ws = set(words(name)) - TITLES
        return bool(ws) and ws <= self.words

    def learn(self, names: Sequence[str]) -> Correspondents:
        """These correspondents, plus the words of each name (from a signature, a greeting, a quoted ``From:``)
        that spells a correspondent's mailbox with every one of its words (``Ngozi Okafor`` for
        ``n.okafor@...``): such a name is that person's whatever display name the fields gave them."""
        return _learn(self, tuple(names))


@lru_cache(maxsize=64)
def _learn(corr: Correspondents, names: tuple[str, ...]) -> Correspondents:
    """``Correspondents.learn``, remembered: both candidate passes of a message ask the same question."""
    found: set[str] = set()
    for name in dict.fromkeys(names):
        ws = set(words(name)) - TITLES
        if not ws or ws <= corr.words or len(ws) > _MAX_DISPLAY_WORDS:
            continue
        for address in sorted(corr.addresses):
            got = verified_display_words(name, address)
            if got and ws <= got:
                found |= got
                break
    if found <= corr.words:
        return corr
    return Correspondents(corr.addresses, corr.words | found, corr.known)


def correspondents(
    sender_address: str, sender_name: str, recipients: Sequence[tuple[str, str]] = ()
) -> Correspondents:
    """The sender (envelope address, From display name) and the recipients (envelope address, the display name
    the To/Cc fields give that address, or "")."""
    people = [(sender_address, sender_name), *recipients]
    addresses: set[str] = set()
    found: set[str] = set()
    for address, display in people:
        address = address.strip().strip("<>").lower()
        if "@" not in address:
            continue
        addresses.add(address)
        found.update(s for s in mailbox_segments(address) if len(s) > 1)
        if display:
            found |= verified_display_words(display, address)
    return Correspondents(frozenset(addresses), frozenset(found), known=bool(addresses))


# ---------------------------------------------------------------------------------------------------- zone verdicts
# Greetings, signatures and quoted headers are exempt only as far as they are a correspondent's: a signature whose
# name line is a correspondent's (down to the next line naming someone else), the addressee lines of a quoted
# header. A greeting, a signature or a quoted ``From:`` naming anyone else is content, and the name on it becomes a
# PERSON candidate (NER is not shown these zones: their shape already says where the name is).

LAYOUT_NAME_DETECTOR = "LayoutName"
LAYOUT_AUTHOR_DETECTOR = "LayoutAuthor"
"""A name the layout reads as the writer of the text around it (a quoted ``From:`` or "... wrote:" line, a
signature's name line): reported like any name, but what follows it is that person's writing or their job
title, not something said about them (``detectors.sensitivity``: no topic-after-name link)."""
LAYOUT_NAME_SCORE = 0.85
_CONTACT = frozenset({"PHONE_NUMBER", "EMAIL_ADDRESS", "UK_POSTCODE", "UK_STREET_ADDRESS", "LOCATION"})
_ADDRESSEES = frozenset({"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER"})
_LEADING_NAME = re.compile(
    r"[ \t]*(?:(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?[ \t]+)?"
    r"[^\W\d_][^\W\d_'’\-]*(?:['’\-][^\W\d_]+)*(?:[ \t]+[^\W\d_][^\W\d_'’\-]*(?:['’\-][^\W\d_]+)*\.?){0,4}"
)
_GREETING_OPENER = re.compile(
    r"[ \t]*(?:dear|hi|hiya|hello|hey|good[ \t]+(?:morning|afternoon|evening|day)|morning|afternoon|evening"
    r"|greetings|to)\b[ \t,]*",
    re.IGNORECASE,
)
_GREETING_SEP = re.compile(r"[ \t]*(?:[,&!:;/]|[ \t](?:and|or)(?=[ \t]))[ \t]*", re.IGNORECASE)
_QUOTED_FIELD = re.compile(r"[ \t]*(From|Sender|Reply-To|To|Cc|Bcc)[ \t]*:[ \t]*", re.IGNORECASE)
_WROTE = re.compile(r"(?:^|,)[ \t]*([^,<>\n]+?)[ \t]*(?:<[^>\n]*>)?[ \t]*wrote:[ \t]*$", re.MULTILINE)
_ANGLE = re.compile(r"<[^>\n]*>|\S+@\S+")


@dataclass(slots=True)
class ZoneVerdict:
    """One chunk's zones judged against the correspondents: where entities are exempt, and the layout's names of
    people who are not correspondents (chunk offsets)."""

    regions: list[tuple[int, int, frozenset[str]]] = field(default_factory=list)
    persons: list[tuple[int, int]] = field(default_factory=list)
    authors: set[tuple[int, int]] = field(default_factory=set)
    """Those of ``persons`` that are writers (quoted authors, signers): see ``LAYOUT_AUTHOR_DETECTOR``."""
    drop_topics: bool = False
    """An address field's display names: a special-category word there names a correspondent (a service, a
    team), not the message's subject."""
    _starts: list[int] = field(default_factory=list)

    def finish(self) -> ZoneVerdict:
        self.regions.sort()
        self._starts = [r[0] for r in self.regions]
        return self

    def exempts(self, entity: str, start: int) -> bool:
        """A region starting at or before ``start`` holds it and exempts this entity."""
        i = bisect_right(self._starts, start)
        return any(s <= start < e and entity in ents for s, e, ents in self.regions[max(0, i - 4) : i])


def _line_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    out = []
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl < 0 else nl
        if text[pos:stop].strip():
            out.append((pos, stop))
        pos = stop + 1
    return out


class _LayoutReader:
    """Reads a chunk's zones into ``LayoutSlot``s (message-independent: it depends on the text alone)."""

    def __init__(self, rules: NameRules, text: str) -> None:
        self.rules = rules
        self.text = text
        self.slots: list[LayoutSlot] = []

    def leading_name(self, start: int, end: int) -> tuple[int, int] | None:
        """The name a line (or the part of it from ``start``) begins with: capitalised words, titles dropped. Not
        a name: a label (``Mobile:``), a run that starts with a common word after any title (``The Events
        Team``, ``Kind regards``, ``Mr Justice Cobb``) or holds an organisation word (``Northfield Venues
        team``)."""
        m = _LEADING_NAME.match(self.text, start, end)
        if m is None or self.text[m.end() : end].lstrip(" \t").startswith(":"):
            return None
        run = [w for w in words(m.group()) if w not in TITLES]
        rules = self.rules
        if not run or run[0] in rules.common_words or any(w in rules.organisation_words for w in run):
            return None
        return rules.trim_name(self.text, m.start(), m.end())

    def add(self, kind: str, zone: int, start: int, end: int, name: tuple[int, int] | None) -> None:
        if name is not None or kind == "addressees":
            self.slots.append(LayoutSlot(kind, zone, start, end, name))

    def greeting(self, zi: int, s: int, e: int) -> None:
        """Each person greeted (``Dear Jo and Sam,``)."""
        m = _GREETING_OPENER.match(self.text, s, e)
        if m is None:
            return
        pos = m.end()
        for sep in (*_GREETING_SEP.finditer(self.text, pos, e), None):
            stop = e if sep is None else sep.start()
            if stop > pos:
                self.add("greeted", zi, pos, stop, self.leading_name(pos, stop))
            if sep is not None:
                pos = sep.end()

    def signature(self, zi: int, s: int, e: int) -> None:
        for ls, le in _line_spans(self.text, s, e):
            self.add("signer", zi, ls, le, self.leading_name(ls, le))

    def quoted_header(self, zi: int, s: int, e: int) -> None:
        for ls, le in _line_spans(self.text, s, e):
            m = _QUOTED_FIELD.match(self.text, ls, le)
            if m is None:
                wrote = _WROTE.search(self.text, ls, le)
                if wrote is not None:  # "On <date>, Amelia Brown <a@b.c> wrote:": the author is the last piece
                    self.add("author", zi, ls, le, self.leading_name(wrote.start(1), wrote.end(1)))
                continue
            if m.group(1).lower() in ("to", "cc", "bcc"):
                self.add("addressees", zi, ls, le, None)
                continue
            display = _ANGLE.sub(lambda x: " " * len(x.group()), self.text[m.end() : le])
            lead = len(display) - len(display.lstrip(" \t\"'"))
            self.add("author", zi, ls, le, self.leading_name(m.end() + lead, le))

    def display_names(self, zi: int, s: int, e: int) -> None:
        for ls, le in _line_spans(self.text, s, e):
            self.add("shown", zi, ls, le, self.leading_name(ls, le))


def _read_layout(rules: NameRules, text: str, zs: list[Zone], display_names: bool) -> ChunkLayout:
    reader = _LayoutReader(rules, text)
    signatures: list[tuple[int, int, int]] = []
    for zi, z in enumerate(zs):
        if z.kind == "greeting":
            reader.greeting(zi, z.start, z.end)
        elif z.kind == "signature":
            signatures.append((zi, z.start, z.end))
            reader.signature(zi, z.start, z.end)
        elif display_names:
            reader.display_names(zi, z.start, z.end)
        else:
            reader.quoted_header(zi, z.start, z.end)
    return ChunkLayout(tuple(reader.slots), tuple(signatures), display_names)


def _zone_verdict(text: str, layout: ChunkLayout, corr: Correspondents) -> ZoneVerdict:
    """Greeted, quoted authors and display names who are not correspondents are persons; quoted addressee lines
    are exempt; a signature's contact lines are exempt when its signer (the first name line) is a correspondent,
    down to a line naming someone else (two words or more: a lone word under a name is a team or a tagline)."""
    v = ZoneVerdict(drop_topics=layout.display_names)
    signers: dict[int, list[LayoutSlot]] = {}
    for slot in layout.slots:
        if slot.kind == "addressees":
            v.regions.append((slot.start, slot.end, _ADDRESSEES))
        elif slot.kind == "signer":
            signers.setdefault(slot.zone, []).append(slot)
        elif slot.name is not None and not corr.owns_name(text[slot.name[0] : slot.name[1]]):
            v.persons.append(slot.name)
            if slot.kind == "author":
                v.authors.add(slot.name)
    for zi, s, e in layout.signatures:
        state: bool | None = None  # True: inside a correspondent's part of the block
        region_start = s
        for slot in signers.get(zi, ()):
            assert slot.name is not None
            name = text[slot.name[0] : slot.name[1]]
            if state is not None and len(name.split()) < 2:
                continue
            if corr.owns_name(name):
                if state is not True:
                    region_start = s if state is None else slot.start
                    state = True
                continue
            v.persons.append(slot.name)
            v.authors.add(slot.name)
            if state is True:
                v.regions.append((region_start, slot.start, _CONTACT))
            state = False
        if state is True:
            v.regions.append((region_start, e, _CONTACT))
    return v.finish()
