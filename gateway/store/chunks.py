"""A quarantined message's bytes as rows of ``quarantine_chunks`` (revision 0008; issue 13: bounded memory).

Bound as one value, a 30 MB message cost the gateway several copies on top of its own: the driver's copy of the
parameter, the database's record built around it, its pages (``bench/memory.py --hold --messages 1`` measured
2.5x the message size on SQLite; PostgreSQL takes a bound value only whole). Here the message is cut into pieces
of ``PIECE`` bytes, each sealed on its own (``MessageCipher.seal``: a Fernet token under the first key, or the
bytes as they are) and inserted as one row, ``seq`` 0, 1, 2 ..., in the caller's transaction. Only one piece,
its sealed form and the driver's copy of it are held at a time, on both backends, with public driver API only.

Reading goes the same way, a few rows per query, each opened as it arrives. The whole message's checksum
(``quarantine.sha256``) and size are checked at the end: a missing, repeated, reordered or swapped chunk (each
is authenticated on its own, not as part of the whole) fails that check, and the message is not used.

Rows written before 0008 keep the whole stored form in ``quarantine.raw``; the readers take either
(``read_message``). ``raw`` is NULL for a chunked message, and for any message once ``purged_at`` is set.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.crypto import MessageCipher
from gateway.store.errors import StoreError
from gateway.store.schema import quarantine_chunks as ctab

PIECE = 512 * 1024
"""Message bytes per chunk row: sealed, under 700,000 bytes (the Fernet token of a piece is 4/3 of it plus 80)."""

READ_BATCH = 4
"""Chunk rows fetched per query when reading (about 2.8 MB at most in the driver at once)."""


def pieces(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """``blocks`` (of any sizes) cut again into pieces of exactly ``PIECE`` bytes, the last one shorter; at
    least one piece (empty for an empty message), so every stored message has a chunk 0."""
    buf = bytearray()
    sent = False
    for block in blocks:
        if not buf and len(block) == PIECE:
            sent = True
            yield bytes(block)
            continue
        buf += block
        while len(buf) >= PIECE:
            sent = True
            yield bytes(buf[:PIECE])
            del buf[:PIECE]
    if buf or not sent:
        yield bytes(buf)


def split(raw: bytes) -> Iterator[bytes]:
    """A message held in memory, as the pieces ``pieces`` would make of it (slices, no intermediate buffer)."""
    view = memoryview(raw)
    if not raw:
        yield b""
    for at in range(0, len(raw), PIECE):
        yield bytes(view[at:at + PIECE])


class _Sealer:
    """Pulls the next piece from its source and seals it, one call per chunk (run in a worker thread: reading a
    spool file and encrypting are blocking work that must not stall the event loop)."""

    def __init__(self, cipher: MessageCipher, source: Iterator[bytes]) -> None:
        self.cipher, self.source = cipher, source
        self.digest = hashlib.sha256()
        self.size = 0

    def next_sealed(self) -> bytes | None:
        piece = next(self.source, None)
        if piece is None:
            return None
        self.digest.update(piece)
        self.size += len(piece)
        return self.cipher.seal(piece)[0]


async def write_chunks(conn: AsyncConnection, qid: int, cipher: MessageCipher, source: Iterator[bytes],
                       size: int) -> str:
    """Insert the sealed pieces of ``source`` for quarantine row ``qid`` in ``conn``'s transaction; the sha256
    of the message. Raises ``StoreError`` (and the caller's transaction rolls back: no "held" is answered for a
    partial write) unless exactly ``size`` bytes came out of ``source``."""
    sealer = _Sealer(cipher, source)
    seq = 0
    while (sealed := await asyncio.to_thread(sealer.next_sealed)) is not None:
        await conn.execute(sa.insert(ctab).values(quarantine_id=qid, seq=seq, data=sealed))
        seq += 1
        del sealed
    if sealer.size != size:
        raise StoreError(f"the message read back for storing is {sealer.size} bytes, expected {size}")
    return sealer.digest.hexdigest()


def _open_all(cipher: MessageCipher, rows: list[bytes], scheme: str) -> list[bytes]:
    return [cipher.open(bytes(data), scheme) for data in rows]


async def read_message(conn: AsyncConnection, cipher: MessageCipher, ref: str, row: Any) -> bytes:
    """The stored message of a quarantine ``row`` (``id``, ``raw``, ``encryption``, ``sha256``, ``size``),
    opened and checked against its checksum: from ``raw`` (written before revision 0008) or from its chunk rows,
    fetched ``READ_BATCH`` at a time. Raises ``StoreError`` (wrong checksum, size, missing chunks) or
    ``EncryptionKeyError``."""
    if row.raw is not None:
        raw = await asyncio.to_thread(cipher.open, bytes(row.raw), row.encryption)
        _verify(ref, hashlib.sha256(raw).hexdigest(), len(raw), row.sha256, len(raw))
        return raw
    out = io.BytesIO()
    if row.size > 0:  # sized up front: getvalue() then hands this buffer over, no grown buffer or join to copy
        out.seek(int(row.size) - 1)
        out.write(b"\0")
        out.seek(0)
    digest = hashlib.sha256()
    got = seq = 0
    while True:
        batch = (await conn.execute(
            sa.select(ctab.c.seq, ctab.c.data)
            .where(ctab.c.quarantine_id == row.id, ctab.c.seq >= seq)
            .order_by(ctab.c.seq).limit(READ_BATCH)
        )).all()
        if not batch:
            break
        if [r.seq for r in batch] != list(range(seq, seq + len(batch))):
            raise StoreError(f"{ref}: the stored message has a chunk missing; not using it")
        opened = await asyncio.to_thread(_open_all, cipher, [r.data for r in batch], row.encryption)
        del batch
        seq += len(opened)
        for piece in opened:
            digest.update(piece)
            got += len(piece)
            out.write(piece)
        del opened
    if seq == 0:
        raise StoreError(f"{ref}: the stored message has no chunks; not using it")
    _verify(ref, digest.hexdigest(), got, row.sha256, int(row.size))
    return out.getvalue()


def _verify(ref: str, sha: str, size: int, want_sha: str, want_size: int) -> None:
    if sha != want_sha or size != want_size:
        raise StoreError(f"{ref}: stored message does not match its checksum; not using it")


def purge_chunks(ids: list[int]) -> sa.Delete:
    """The DELETE that drops the chunk rows of the quarantine rows ``ids`` (retention)."""
    return sa.delete(ctab).where(ctab.c.quarantine_id.in_(ids))
