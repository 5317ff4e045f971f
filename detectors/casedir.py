"""Reading a case-directory CSV into keyed hashes (``dlpgate cases import``; the sample directory of
``check-config``).

The file comes from the case-management system: ``case_number,role,name,date_of_birth,email``, one row per person
per case. Each row is validated and hashed here, in memory, and only the hashes go on: the store, the snapshot
and the log never see a clear value. A rejected row is reported by line number and reason, never by its content
(the reason says which field is wrong, not what it holds).
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from detectors.cases import (
    KIND_CASE,
    KIND_NAME,
    KIND_NAME_DOB,
    KIND_RECIPIENT,
    KIND_ROW,
    SnapshotRow,
    canonical_case_number,
    canonical_dob,
    hex128,
    keyed,
    name_forms,
)

_EMAIL = re.compile(r"[^\s@]*@[^\s@.][^\s@]*\.[^\s@]+")
HEADER = ("case_number", "role", "name", "date_of_birth", "email")
DELTA_COLUMN = "action"
ROLES = ("child", "party", "professional")


@dataclass(frozen=True, slots=True)
class HashedRow:
    """One directory row, hashed. ``row_hash`` identifies the whole row (a delta removes rows by it)."""

    row_hash: str
    case_hash: str
    role: str
    name_hash: str | None
    name_short_hash: str | None
    name_dob_hash: str | None
    name_short_dob_hash: str | None
    recipient_hash: str | None

    def snapshot_row(self) -> SnapshotRow:
        return SnapshotRow(
            case_hash=self.case_hash,
            role=self.role,
            name_hashes=tuple(h for h in (self.name_hash, self.name_short_hash) if h),
            name_dob_hashes=tuple(h for h in (self.name_dob_hash, self.name_short_dob_hash) if h),
            recipient_hash=self.recipient_hash,
        )


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str


@dataclass
class ParsedDirectory:
    adds: list[HashedRow]
    removes: list[HashedRow]
    rejected: list[Rejected]


def _email(value: str) -> str | None:
    """An address, ``@domain`` for a whole organisation, lower case; None when neither."""
    v = value.strip().lower()
    return v if _EMAIL.fullmatch(v) else None


def hash_row(
    key: bytes, case_number: str, role: str, name: str, dob: str | None, email: str | None,
    case_cache: dict[str, str] | None = None, known_forms: list[str] | None = None,
) -> HashedRow:
    """The hashes of one valid row (``dob`` already ``YYYY-MM-DD``, ``email`` already checked). ``case_cache``
    keeps each case's hash across its rows (ten rows a case: nine HMACs saved)."""
    case = case_number if case_number.isalnum() and case_number.isupper() else canonical_case_number(case_number)
    case_hash = case_cache.get(case) if case_cache is not None else None
    if case_hash is None:
        case_hash = hex128(keyed(key, KIND_CASE, case))
        if case_cache is not None:
            if len(case_cache) > 100_000:
                case_cache.clear()
            case_cache[case] = case_hash
    forms = (name_forms(name) if name else []) if known_forms is None else known_forms
    name_h = [hex128(keyed(key, KIND_NAME, f)) for f in forms]
    dob_h = [hex128(keyed(key, KIND_NAME_DOB, f"{f}|{dob}")) for f in forms] if dob else []
    recipient = hex128(keyed(key, KIND_RECIPIENT, email)) if email else None
    # The row's identity (for --delta removal) from its keyed parts: as opaque as they are, without another HMAC.
    identity = "|".join((case_hash, role, name_h[0] if name_h else "", dob_h[0] if dob_h else "", recipient or ""))
    return HashedRow(
        row_hash=hashlib.blake2b(identity.encode(), digest_size=16, person=KIND_ROW.encode()).hexdigest(),
        case_hash=case_hash,
        role=role,
        name_hash=name_h[0] if name_h else None,
        name_short_hash=name_h[1] if len(name_h) > 1 else None,
        name_dob_hash=dob_h[0] if dob_h else None,
        name_short_dob_hash=dob_h[1] if len(dob_h) > 1 else None,
        recipient_hash=recipient,
    )


def read_directory(lines: Iterable[str], key: bytes, *, delta: bool = False) -> ParsedDirectory:
    """Validate and hash every row. The header must be exactly ``HEADER`` (plus ``action`` = ``add`` or
    ``remove`` in a delta). A header problem is one rejection on line 1 and nothing is read."""
    out = ParsedDirectory([], [], [])
    reader = csv.reader(lines)
    try:
        header = [h.strip().lower().lstrip("\ufeff") for h in next(reader)]
    except StopIteration:
        out.rejected.append(Rejected(1, "empty file: expected the header " + ",".join(HEADER)))
        return out
    allowed = [list(HEADER), [*HEADER, DELTA_COLUMN]] if delta else [list(HEADER)]
    if header not in allowed:
        extra = f" (and optionally {DELTA_COLUMN} for --delta)" if delta else ""
        out.rejected.append(Rejected(1, f"header must be {','.join(HEADER)}{extra}"))
        return out
    seen: set[str] = set()
    case_cache: dict[str, str] = {}
    for fields in reader:
        line = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            out.rejected.append(Rejected(line, f"expected {len(header)} fields, found {len(fields)}"))
            continue
        row = dict(zip(header, (f.strip() for f in fields), strict=True))
        action = row.get(DELTA_COLUMN, "add").lower() or "add"
        problem, hashed = _row(key, row, case_cache)
        if problem is None and action not in ("add", "remove"):
            problem = "action must be add or remove"
        if problem is not None or hashed is None:
            out.rejected.append(Rejected(line, problem or "invalid row"))
            continue
        if hashed.row_hash in seen:
            continue
        seen.add(hashed.row_hash)
        (out.removes if action == "remove" else out.adds).append(hashed)
    return out


def _row(key: bytes, row: dict[str, str], case_cache: dict[str, str]) -> tuple[str | None, HashedRow | None]:
    case = canonical_case_number(row["case_number"])
    if len(case) < 4:
        return "case_number is missing or too short", None
    role = row["role"].lower()
    if role not in ROLES:
        return "role must be child, party or professional", None
    name = row["name"]
    forms = name_forms(name) if name else []
    if name and not forms:
        return "name needs a forename and a surname", None
    if role in ("child", "party") and not name:
        return f"name is required for a {role}", None
    dob = None
    if row["date_of_birth"]:
        dob = canonical_dob(row["date_of_birth"])
        if dob is None:
            return "date_of_birth is not a date (YYYY-MM-DD or DD/MM/YYYY)", None
    email = None
    if row["email"]:
        email = _email(row["email"])
        if email is None:
            return "email is not an address or @domain", None
    if not name and email is None:
        return "a row needs a name or an email", None
    return None, hash_row(key, case, role, name, dob, email, case_cache, forms)
