"""The case directory and the first-time-recipient history (issue 16), as keyed hashes only.

Rows arrive already hashed (``detectors/casedir.py``): the store never sees a clear case number, name, date of
birth or address, and has no key to make one. A full import replaces the directory in one transaction (a
failure leaves the old one whole); a delta adds and removes rows by their row hash, and only under the key the
directory was imported with (a new key means a full re-import: that is key rotation). Every import gets a new
``generation`` id; a node's next configuration generation sees it and gives its workers a fresh snapshot
(``write_case_snapshot``), so workers never query the database per message.

The history holds hashes of (sender, recipient) pairs and of recipients alone, with first and last delivery
times, and forgets pairs not used within the configured time (``expire_history``).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from detectors.casedir import HashedRow
from detectors.cases import CaseSnapshot
from gateway.store.base import StoreBase
from gateway.store.errors import Conflict
from gateway.store.schema import case_directory, case_rows, recipient_history

_BATCH = 5000


@dataclass(frozen=True)
class DirectoryStatus:
    generation: str
    key_id: str
    imported_at: datetime
    imported_by: str
    rows: int
    cases: int


_COLUMNS = ("row_hash", "case_hash", "role", "name_hash", "name_short_hash", "name_dob_hash",
            "name_short_dob_hash", "recipient_hash")


def _tuple(r: HashedRow) -> tuple[str | None, ...]:
    return (r.row_hash, r.case_hash, r.role, r.name_hash, r.name_short_hash, r.name_dob_hash,
            r.name_short_dob_hash, r.recipient_hash)


def _save_snapshot(folder: Path, snapshot: CaseSnapshot) -> Path:
    """Write this generation's file and remove older generations' (a thread: file I/O and numpy work)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"cases-{snapshot.generation}.npz"
    snapshot.save(path)
    for old in folder.glob("cases-*.npz"):
        if old != path:
            old.unlink(missing_ok=True)
    return path


class CaseBook(StoreBase):
    """``Store``'s case-directory and recipient-history part (see the module docstring)."""

    async def case_directory_status(self) -> DirectoryStatus | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(case_directory).where(case_directory.c.id == 1))).first()
        if row is None:
            return None
        return DirectoryStatus(str(row.generation), str(row.key_id), row.imported_at, str(row.imported_by),
                               int(row.rows), int(row.cases))

    async def replace_case_directory(self, rows: Sequence[HashedRow], *, key_id: str, actor: str) -> DirectoryStatus:
        """Replace the whole directory atomically (one transaction: readers see the old one or the new one)."""
        async with self._write() as conn:
            await conn.execute(sa.delete(case_rows))
            await self._insert(conn, rows)
            return await self._stamp(conn, key_id=key_id, actor=actor, event_name="cases.imported")

    async def apply_case_delta(
        self, adds: Sequence[HashedRow], removes: Sequence[HashedRow], *, key_id: str, actor: str
    ) -> DirectoryStatus:
        """Add and remove rows in one transaction; refused when the directory was imported under another key."""
        async with self._write() as conn:
            current = (await conn.execute(sa.select(case_directory.c.key_id).where(case_directory.c.id == 1))
                       ).scalar_one_or_none()
            if current is None:
                raise Conflict("no case directory has been imported yet: run `dlpgate cases import FILE` first")
            if current != key_id:
                raise Conflict(f"the directory was imported with key id {current}, this key is {key_id}: a new key "
                               "needs a full import (`dlpgate cases import FILE` without --delta)")
            gone = [r.row_hash for r in removes]
            for i in range(0, len(gone), _BATCH):
                await conn.execute(sa.delete(case_rows).where(case_rows.c.row_hash.in_(gone[i:i + _BATCH])))
            have = set()
            hashes = [r.row_hash for r in adds]
            for i in range(0, len(hashes), _BATCH):
                have |= set((await conn.execute(
                    sa.select(case_rows.c.row_hash).where(case_rows.c.row_hash.in_(hashes[i:i + _BATCH]))
                )).scalars())
            await self._insert(conn, [r for r in adds if r.row_hash not in have])
            return await self._stamp(conn, key_id=key_id, actor=actor, event_name="cases.delta")

    async def _insert(self, conn: AsyncConnection, rows: Sequence[HashedRow]) -> None:
        """Plain tuples straight to the driver's executemany: a million rows spend their time in the database,
        not in per-row parameter processing (the values are all short strings; nothing to convert)."""
        style = conn.dialect.paramstyle
        marks = [("?" if style == "qmark" else f"${n + 1}" if style.startswith("numeric") else "%s")
                 for n in range(len(_COLUMNS))]
        sql = f"INSERT INTO case_rows ({', '.join(_COLUMNS)}) VALUES ({', '.join(marks)})"
        for i in range(0, len(rows), _BATCH):
            await conn.exec_driver_sql(sql, [_tuple(r) for r in rows[i:i + _BATCH]])

    async def _stamp(self, conn: AsyncConnection, *, key_id: str, actor: str, event_name: str) -> DirectoryStatus:
        count = (await conn.execute(sa.select(sa.func.count()).select_from(case_rows))).scalar_one()
        ncases = (await conn.execute(sa.select(sa.func.count(sa.distinct(case_rows.c.case_hash))))).scalar_one()
        now = self.clock()
        status = DirectoryStatus(secrets.token_hex(8), key_id, now, actor[:255], int(count), int(ncases))
        await conn.execute(sa.delete(case_directory))
        await conn.execute(sa.insert(case_directory).values(
            id=1, generation=status.generation, key_id=key_id, imported_at=now, imported_by=status.imported_by,
            rows=status.rows, cases=status.cases))
        await self._audit(conn, event_name, actor=actor, now=now,
                          detail={"rows": status.rows, "cases": status.cases, "key_id": key_id})
        return status

    async def case_snapshot(self) -> CaseSnapshot | None:
        """The directory as workers hold it, read in one pass; None when none was imported."""
        async with self.engine.connect() as conn:
            meta = (await conn.execute(sa.select(case_directory).where(case_directory.c.id == 1))).first()
            if meta is None:
                return None
            # One fetch (the driver's fetchall in its thread), not a row-by-row stream: a million rows a few
            # seconds rather than a minute; the tuples are short-lived (the arrays built from them are what stays).
            rows: Sequence[Any] = (await conn.exec_driver_sql(
                "SELECT case_hash, role, name_hash, name_short_hash, name_dob_hash, name_short_dob_hash, "
                "recipient_hash FROM case_rows"
            )).tuples().all()
        return await asyncio.to_thread(CaseSnapshot.from_tuples, str(meta.generation), str(meta.key_id), rows)

    async def write_case_snapshot(self, folder: Path) -> Path | None:
        """The snapshot file of the current import generation under ``folder`` (written once per generation and
        node, atomically; older generations' files are removed); None when no directory was imported."""
        status = await self.case_directory_status()
        if status is None:
            return None
        path = folder / f"cases-{status.generation}.npz"
        if await asyncio.to_thread(path.is_file):
            return path
        snapshot = await self.case_snapshot()
        if snapshot is None:
            return None
        return await asyncio.to_thread(_save_snapshot, folder, snapshot)

    # ---------------------------------------------------------------- first-time recipients

    async def known_pairs(self, hashes: Sequence[str], *, since: datetime | None = None) -> set[str]:
        """Which of these history hashes have been delivered to before (last used at or after ``since``)."""
        if not hashes:
            return set()
        q = sa.select(recipient_history.c.pair_hash).where(recipient_history.c.pair_hash.in_(list(hashes)))
        if since is not None:
            q = q.where(recipient_history.c.last_at >= since)
        async with self.engine.connect() as conn:
            rows = await conn.execute(q)
            return set(rows.scalars())

    async def record_pairs(self, hashes: Sequence[str], when: datetime | None = None) -> None:
        """Remember deliveries (after the upstream's 250): new hashes are inserted, known ones touched."""
        if not hashes:
            return
        now = when or self.clock()
        try:
            await self._record_pairs(hashes, now)
        except IntegrityError:
            # Another node inserted the same pair between our read and our insert: it is known, which is all
            # the history needs to say; touch it once more.
            await self._record_pairs(hashes, now)

    async def _record_pairs(self, hashes: Sequence[str], now: datetime) -> None:
        async with self._write() as conn:
            have = set((await conn.execute(
                sa.select(recipient_history.c.pair_hash).where(recipient_history.c.pair_hash.in_(list(hashes)))
            )).scalars())
            if have:
                await conn.execute(sa.update(recipient_history)
                                   .where(recipient_history.c.pair_hash.in_(list(have))).values(last_at=now))
            new = [h for h in dict.fromkeys(hashes) if h not in have]
            if new:
                await conn.execute(sa.insert(recipient_history),
                                   [{"pair_hash": h, "first_at": now, "last_at": now} for h in new])

    async def expire_history(self, before: datetime) -> int:
        """Forget pairs last used before ``before``; returns how many."""
        async with self._write() as conn:
            res = await conn.execute(sa.delete(recipient_history).where(recipient_history.c.last_at < before))
            return int(res.rowcount or 0)
