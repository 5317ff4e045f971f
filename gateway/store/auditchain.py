"""The audit trail's hash chain (issue 14): each row carries the hash of the row before it and its own hash over
its content and that previous hash, so a deleted, inserted or edited row breaks the chain from there on.

Pure functions: the store computes a row's hash while it writes it (``StoreBase._audit``), the migration that
added the columns hashes the rows written before, and ``dlpgate audit verify`` walks the chain.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
"""The ``prev_hash`` of the first row."""

FIELDS = ("at", "actor", "node", "event", "reference", "old_status", "new_status", "reason", "detail", "source")


def _moment(value: datetime) -> str:
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(prev_hash: str, row: Mapping[Any, Any]) -> str:
    """SHA-256 over the previous hash and the row's fields as canonical JSON (sorted keys, UTC times to the
    microsecond, which both SQLite and PostgreSQL keep)."""
    body = {name: row.get(name) for name in FIELDS}
    body["at"] = _moment(row["at"])
    text = json.dumps([prev_hash, body], sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """``ok`` when every row's ``prev_hash`` is the hash of the row before and its ``row_hash`` matches its
    content; otherwise ``broken_at`` is the id of the first row that does not, and ``problem`` says how."""

    rows: int
    ok: bool
    broken_at: int | None = None
    problem: str | None = None


class ChainWalker:
    """Feed rows in id order; the first break is kept."""

    def __init__(self) -> None:
        self.prev = GENESIS
        self.rows = 0
        self.broken_at: int | None = None
        self.problem: str | None = None

    def feed(self, row: Mapping[Any, Any]) -> None:
        self.rows += 1
        if self.broken_at is not None:
            return
        if row.get("prev_hash") != self.prev:
            self.broken_at, self.problem = int(row["id"]), "does not follow the row before (a row was removed or added)"
            return
        expected = row_hash(self.prev, row)
        if row.get("row_hash") != expected:
            self.broken_at, self.problem = int(row["id"]), "its content does not match its hash (it was edited)"
            return
        self.prev = expected

    def report(self) -> ChainReport:
        return ChainReport(self.rows, self.broken_at is None, self.broken_at, self.problem)


_SOURCE: contextvars.ContextVar[str | None] = contextvars.ContextVar("dlpgate_audit_source", default=None)


def current_source() -> str | None:
    """Where the action being audited came from, when a caller said so (``acting_from``)."""
    return _SOURCE.get()


@contextlib.contextmanager
def acting_from(source: str | None) -> Iterator[None]:
    """Audit rows written inside this block record ``source`` (the console sets the client's address for each
    request, so a reveal or a release audited deep in the store still says where it came from)."""
    token = _SOURCE.set(source)
    try:
        yield
    finally:
        _SOURCE.reset(token)
