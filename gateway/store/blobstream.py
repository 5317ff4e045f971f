"""A spooled message streamed into its quarantine row on SQLite (issue 13: bounded memory).

Bound as one value, a 30 MB message costs the gateway three copies on top of its own: the driver's copy of the
parameter, SQLite's record built around it, and the pages (about 100 MB in all, measured by ``bench/memory.py
--hold``). Here the row is inserted with a ``zeroblob`` of the stored length (a token's length is known from the
message's) and the stored form is written into it chunk by chunk through SQLite's incremental blob I/O, inside
the same transaction, so only a chunk and SQLite's page cache are ever held.

``sqlite3``'s blob handle is reached through aiosqlite's worker thread (``Connection._execute``, ``_conn``): not
public API, so when either is missing (another aiosqlite) ``available`` says no and the caller binds the value
as a whole, as it does on PostgreSQL. ``pyproject.toml`` bounds aiosqlite for this.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.crypto import MessageCipher


async def driver_of(conn: AsyncConnection) -> Any | None:
    """The aiosqlite connection under ``conn`` when its blob I/O can be reached, else None."""
    if conn.dialect.name != "sqlite":
        return None
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    if not callable(getattr(driver, "_execute", None)) or not hasattr(type(driver), "_conn"):
        return None
    return driver


async def write_blob(driver: Any, table: str, column: str, rowid: int, cipher: MessageCipher,
                     blocks: Iterable[bytes], size: int) -> str:
    """Fill the ``zeroblob`` at ``table.column`` of ``rowid`` with the sealed message; its sha256. Raises (and
    the caller's transaction rolls back) unless exactly the stored length was written."""
    digest = hashlib.sha256()
    expected = cipher.sealed_size(size)

    def fill() -> int:
        db: sqlite3.Connection = driver._conn
        written = 0
        with db.blobopen(table, column, rowid) as blob:
            for chunk in cipher.seal_chunks(blocks, size, digest):
                blob.write(chunk)
                written += len(chunk)
        return written

    written = await driver._execute(fill)
    if written != expected:
        raise ValueError(f"wrote {written} bytes into a blob of {expected}")
    return digest.hexdigest()
