"""Exact data match against the organisation's case directory, on keyed hashes only (issue 16).

The directory (case numbers, children's names and dates of birth, the addresses of everyone on a case) is never
held in clear after import: every value is an HMAC-SHA256 under a key the database never sees. A scan worker gets
a *snapshot* of those hashes (sorted 64-bit prefixes in numpy arrays, so a million rows cost tens of megabytes
rather than the hundreds a Python dict would) and the key, and hashes what it reads in the message the same way:
a match is proof of equality without the directory ever being readable in the worker's memory or on disk.

What it reports:

* which directory cases a message is about: its case numbers that are in the directory, plus the cases of the
  known children it names;
* ``KNOWN_CHILD`` findings: a child's name from the directory (normalised as detection does, in any word order so
  "surname, forename" matches, initials dropped) together with that child's date of birth or any case number in
  the same message. This needs no NER: the directory is the evidence;
* for each recipient, whether its address or domain is linked to every such case.

This module receives values (the snapshot, the key, texts, addresses) and knows nothing of the gateway.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from detectors.findings import Finding
from detectors.normalize import normalize
from detectors.redact import redact

# The word pattern of ``detectors.names`` (kept here so that the gateway process, which imports this module for
# first-time recipients, never loads the recognizers and with them Presidio and spaCy; a test keeps them equal).
WORDS = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")

KNOWN_CHILD = "KNOWN_CHILD"
"""A child's name from the case directory (with their date of birth or a case number): children's case data."""

KIND_CASE = "case"
KIND_NAME = "name"
KIND_NAME_DOB = "namedob"
KIND_RECIPIENT = "rcpt"
KIND_ROW = "row"
KIND_HISTORY = "history"

_MAX_NAME_WORDS = 4
_MONTHS = {m: i + 1 for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)[a-z]*\.?"
_DATES = re.compile(
    r"(?<![\w/.-])(?:"
    r"(?P<d1>\d{1,2})[ \t]*[/.\-][ \t]*(?P<m1>\d{1,2})[ \t]*[/.\-][ \t]*(?P<y1>(?:19|20)\d{2})"
    r"|(?P<y2>(?:19|20)\d{2})-(?P<m2>\d{1,2})-(?P<d2>\d{1,2})"
    rf"|(?P<d3>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m3>{_MONTH}),?\s+(?P<y3>(?:19|20)\d{{2}})"
    rf"|(?P<m4>{_MONTH})\s+(?P<d4>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y4>(?:19|20)\d{{2}})"
    r")(?![\w/])",
    re.IGNORECASE,
)


def keyed(key: bytes, kind: str, value: str) -> bytes:
    """HMAC-SHA256 of ``value`` in the domain ``kind`` (so a name never hashes like an address)."""
    return hmac.digest(key, kind.encode() + b"\0" + value.encode("utf-8"), "sha256")


def hex128(digest: bytes) -> str:
    """The stored form: 128 bits are plenty to tell a million rows apart, and half the size of the whole."""
    return digest[:16].hex()


def h64(value: bytes | str) -> int:
    """The snapshot's form: the first 64 bits of a digest (or of its stored hex)."""
    if isinstance(value, str):
        return int(value[:16], 16)
    return int.from_bytes(value[:8], "big")


def key_id(key: bytes) -> str:
    """A short public fingerprint of the key: ``cases status`` shows it and a snapshot carries it, so a worker
    with another key (a rotation half done) notices instead of silently matching nothing."""
    return hmac.digest(key, b"dlpgate-cases-key-id", "sha256")[:4].hex()


def case_id(key: bytes, case_number: str) -> str:
    """The hashed id of a case (what facts, ``scan --json`` and incidents show), from its number."""
    return hex128(keyed(key, KIND_CASE, canonical_case_number(case_number)))[:16]


_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]+")


def canonical_case_number(text: str) -> str:
    """Letters and digits only, upper case: ``zw24 c 50123`` and ``ZW24C50123`` are one case. Plain ASCII (every
    row of a directory export, nearly every number in mail) skips the normaliser: it would change nothing."""
    if text.isascii():
        return _NOT_ALNUM.sub("", text).upper()
    return "".join(c for c in normalize(text).text if c.isalnum()).upper()


def name_words(text: str) -> list[str]:
    """The name's words as detection sees them (confusables folded, lower case), initials dropped."""
    plain = text if text.isascii() else normalize(text).text
    return [w for w in (m.lower() for m in WORDS.findall(plain)) if len(w) > 1]


def name_forms(name: str) -> list[str]:
    """Keys for a directory name: all its words, and forename + surname when there are middle names. Words are
    sorted, so "Smith, Jane" in a report matches "Jane Smith" in the directory."""
    words = name_words(name)
    if len(words) < 2:
        return []
    forms = [" ".join(sorted(words))]
    short = " ".join(sorted((words[0], words[-1])))
    if short not in forms:
        forms.append(short)
    return forms


def _date(y: str, m: str, d: str) -> str | None:
    month = int(m) if m.isdigit() else _MONTHS.get(m.lower()[:3], 0)
    try:
        yy, mm, dd = int(y), month, int(d)
        if not (1 <= mm <= 12 and 1 <= dd <= 31):
            return None
        return dt.date(yy, mm, dd).isoformat()
    except ValueError:
        return None


def parse_dates(text: str) -> set[str]:
    """Every full calendar date in ``text`` as ``YYYY-MM-DD`` (day first, as UK writers write them)."""
    out: set[str] = set()
    for m in _DATES.finditer(text):
        for i in range(1, 5):
            if m.group(f"y{i}"):
                iso = _date(m.group(f"y{i}"), m.group(f"m{i}"), m.group(f"d{i}"))
                if iso:
                    out.add(iso)
                break
    return out


def canonical_dob(text: str) -> str | None:
    """A directory date of birth (``YYYY-MM-DD`` or ``DD/MM/YYYY``) as ``YYYY-MM-DD``; None when not a date."""
    text = text.strip()
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        try:
            return dt.date.fromisoformat(text).isoformat()
        except ValueError:
            return None
    dates = parse_dates(text)
    return next(iter(dates)) if len(dates) == 1 else None


def recipient_forms(address: str) -> list[str]:
    """An address links to a case by itself or by its domain (``@domain`` in the directory)."""
    address = address.strip().strip("<>").lower()
    domain = address.rpartition("@")[2]
    return [address, f"@{domain}"] if domain else [address]


class Table:
    """Sorted 64-bit keys with a case index each (duplicates allowed): a compact multimap."""

    def __init__(self, keys: npt.NDArray[np.uint64], values: npt.NDArray[np.int32]) -> None:
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self.values = values[order]

    @classmethod
    def build(cls, pairs: Iterable[tuple[int, int]]) -> Table:
        items = list(pairs)
        keys = np.fromiter((k for k, _ in items), dtype=np.uint64, count=len(items))
        values = np.fromiter((v for _, v in items), dtype=np.int32, count=len(items))
        return cls(keys, values)

    def get(self, key: int) -> set[int]:
        k = np.uint64(key)
        lo = int(np.searchsorted(self.keys, k, side="left"))
        hi = int(np.searchsorted(self.keys, k, side="right"))
        return {int(v) for v in self.values[lo:hi]}

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.keys.nbytes + self.values.nbytes)


@dataclass(frozen=True)
class SnapshotRow:
    """One directory row as the store holds it (hex keyed hashes; None where the row has no such value)."""

    case_hash: str
    role: str
    name_hashes: tuple[str, ...] = ()
    name_dob_hashes: tuple[str, ...] = ()
    recipient_hash: str | None = None


@dataclass(frozen=True)
class CaseSnapshot:
    """The hashed directory of one import generation, as a worker holds it."""

    generation: str
    key_id: str
    case_ids: npt.NDArray[np.uint64]
    """Index -> the case's 64-bit id (its hashed number); shown as 16 hex digits."""
    numbers: Table
    names: Table
    name_dobs: Table
    links: Table

    @classmethod
    def build(cls, generation: str, key_ident: str, rows: Iterable[SnapshotRow]) -> CaseSnapshot:
        index: dict[int, int] = {}
        names: list[tuple[int, int]] = []
        name_dobs: list[tuple[int, int]] = []
        links: list[tuple[int, int]] = []
        for row in rows:
            cid = h64(row.case_hash)
            i = index.setdefault(cid, len(index))
            if row.role == "child":
                names.extend((h64(h), i) for h in row.name_hashes)
                name_dobs.extend((h64(h), i) for h in row.name_dob_hashes)
            if row.recipient_hash:
                links.append((h64(row.recipient_hash), i))
        ids = np.fromiter(index.keys(), dtype=np.uint64, count=len(index))
        numbers = Table(ids.copy(), np.arange(len(index), dtype=np.int32))
        return cls(generation, key_ident, ids, numbers, Table.build(names), Table.build(name_dobs),
                   Table.build(links))

    @classmethod
    def from_tuples(
        cls, generation: str, key_ident: str,
        rows: Iterable[tuple[str, str, str | None, str | None, str | None, str | None, str | None]],
    ) -> CaseSnapshot:
        """From the store's columns: (case, role, name, short name, name+dob, short name+dob, recipient)."""
        return cls.build(generation, key_ident, (
            SnapshotRow(r[0], r[1], tuple(h for h in (r[2], r[3]) if h), tuple(h for h in (r[4], r[5]) if h), r[6])
            for r in rows
        ))

    def save(self, path: Path) -> None:
        """Write atomically (a temporary file renamed into place), so a worker never loads half a snapshot."""
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as fh:
            np.savez(
                fh, meta=np.array([self.generation, self.key_id]), case_ids=self.case_ids,
                names_k=self.names.keys, names_v=self.names.values,
                name_dobs_k=self.name_dobs.keys, name_dobs_v=self.name_dobs.values,
                links_k=self.links.keys, links_v=self.links.values,
            )
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> CaseSnapshot:
        with np.load(path, allow_pickle=False) as data:
            generation, key_ident = (str(x) for x in data["meta"])
            ids = data["case_ids"]
            return cls(
                generation, key_ident, ids, Table(ids.copy(), np.arange(len(ids), dtype=np.int32)),
                Table(data["names_k"], data["names_v"]), Table(data["name_dobs_k"], data["name_dobs_v"]),
                Table(data["links_k"], data["links_v"]),
            )

    @property
    def nbytes(self) -> int:
        return int(self.case_ids.nbytes) + sum(t.nbytes for t in (self.numbers, self.names, self.name_dobs,
                                                                     self.links))

    def case_hex(self, index: int) -> str:
        return f"{int(self.case_ids[index]):016x}"


@dataclass(frozen=True)
class CaseMatch:
    """What the directory says about one message."""

    cases: tuple[str, ...] = ()
    """Hashed ids of the directory cases the message is about (its case numbers and its known children)."""
    indexes: frozenset[int] = frozenset()
    distinct: int = 0
    """Distinct cases identified either way, directory or not (IA 4.14)."""
    findings: tuple[Finding, ...] = ()
    """``KNOWN_CHILD`` findings."""
    unlinked: tuple[str, ...] = field(default=())
    """Recipients (as given) not linked to every directory case of the message."""


class CaseMatcher:
    """Looks a message's values up in a snapshot; built once per worker (or per ``scan`` run)."""

    def __init__(self, snapshot: CaseSnapshot, key: bytes) -> None:
        if key_id(key) != snapshot.key_id:
            raise ValueError(
                f"the case key (id {key_id(key)}) is not the key the directory was imported with "
                f"(id {snapshot.key_id}); import the directory again with the current key"
            )
        self.snapshot = snapshot
        self.key = key

    def _case_index(self, number: str) -> tuple[int, int | None]:
        digest = keyed(self.key, KIND_CASE, canonical_case_number(number))
        found = self.snapshot.numbers.get(h64(digest))
        return h64(digest), (min(found) if found else None)

    def match(
        self,
        texts: Sequence[tuple[str, str]],
        case_numbers: Sequence[str],
        recipients: Sequence[str],
        *,
        reveal: bool = False,
    ) -> CaseMatch:
        """``texts``: (location, text) of every readable part; ``case_numbers``: the family case numbers detection
        found (clear text, in memory only); ``recipients``: the external recipients to check for links."""
        ids: set[int] = set()
        indexes: set[int] = set()
        for number in case_numbers:
            hid, idx = self._case_index(number)
            ids.add(hid)
            if idx is not None:
                indexes.add(idx)
        findings: list[Finding] = []
        child_cases: set[int] = set()
        if len(self.snapshot.names):
            dates = sorted({d for _, t in texts for d in parse_dates(t)})
            for location, text in texts:
                for f, cases in self._children(location, text, dates, bool(case_numbers), reveal):
                    findings.append(f)
                    child_cases |= cases
        indexes |= child_cases
        ids |= {int(self.snapshot.case_ids[i]) for i in child_cases}
        return CaseMatch(
            cases=tuple(sorted(self.snapshot.case_hex(i) for i in indexes)),
            indexes=frozenset(indexes),
            distinct=len(ids),
            findings=tuple(findings),
            unlinked=self.unlinked(indexes, recipients),
        )

    def _children(
        self, location: str, text: str, dates: Sequence[str], any_case_number: bool, reveal: bool
    ) -> Iterable[tuple[Finding, set[int]]]:
        """Capitalised word runs of two to four words (initials skipped) whose sorted words are a child's name;
        confirmed by the child's date of birth in the message, or by a case number beside it."""
        norm = normalize(text)
        words = [(m.group(0), m.start(), m.end()) for m in WORDS.finditer(norm.text) if m.end() - m.start() > 1]
        caps = [w[0][0].isupper() for w in words]
        i = 0
        while i < len(words):
            run_end = i
            while run_end < len(words) and caps[run_end] and run_end - i < _MAX_NAME_WORDS:
                run_end += 1
            if run_end - i < 2:
                i += 1
                continue
            hit = None
            for n in range(run_end - i, 1, -1):
                run = words[i:i + n]
                key = " ".join(sorted(w[0].lower() for w in run))
                cases = self.snapshot.names.get(h64(keyed(self.key, KIND_NAME, key)))
                if not cases:
                    continue
                confirmed = set()
                for d in dates:
                    confirmed |= self.snapshot.name_dobs.get(h64(keyed(self.key, KIND_NAME_DOB, f"{key}|{d}")))
                if not confirmed and any_case_number:
                    confirmed = cases
                if confirmed:
                    hit = (n, run, confirmed)
                    break
            if hit is None:
                i += 1
                continue
            n, run, confirmed = hit
            start, end = norm.to_original(run[0][1], run[-1][2])
            value = text[start:end]
            yield Finding(
                entity=KNOWN_CHILD, score=1.0, location=location, start=start, end=end, detector="CaseDirectory",
                redacted=redact("PERSON", value), text=value if reveal else None,
            ), confirmed
            i += n

    def unlinked(self, indexes: Iterable[int], recipients: Sequence[str]) -> tuple[str, ...]:
        """Recipients whose address and domain together are not linked to every one of ``indexes``."""
        wanted = set(indexes)
        if not wanted:
            return ()
        out = []
        for address in recipients:
            linked: set[int] = set()
            for form in recipient_forms(address):
                linked |= self.snapshot.links.get(h64(keyed(self.key, KIND_RECIPIENT, form)))
            if not wanted <= linked:
                out.append(address)
        return tuple(out)
