"""One message in flight, held in memory while small and in a file once large (issue 13: bounded memory).

aiosmtpd kept every DATA line in a list and joined them at the end; with the scan's copies on top, a 30 MB
message cost 240-380 MB of RSS. The SMTP edge writes each line here as it arrives instead. The header block
stays in memory (the act step rewrites only it: the subject tag); the rest stays in memory up to
``memory_limit`` bytes and then moves to a file in the spool folder, written as records of whole lines, so it
can be relayed block by block (dot-stuffing needs line starts) and read back once by a scan worker
(``SpoolRef``). With ``store.encryption_key_env`` set, each record is a Fernet token made with the quarantine's
key, so no message lies on disk in clear. The file is removed when the transaction ends; files left by a
process that died are removed at the next start (``clear_stale``).

A plain leaf module: the SMTP edge writes spools and a scan worker reads them, and neither may import the
other's layer.
"""

from __future__ import annotations

import io
import itertools
import os
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.fernet import Fernet, MultiFernet

RECORD_BYTES = 256 * 1024
"""Plaintext bytes gathered before a record is written (whole lines; a longer line makes a longer record)."""
HEAD_LIMIT = 1024 * 1024
"""Most header bytes held in memory; a header block beyond it continues in the body records."""
_LENGTH = struct.Struct(">I")


def fernet_from_env(env_name: str | None) -> MultiFernet | None:
    """The quarantine's keys (``store.encryption_key_env``: comma-separated Fernet keys, the first encrypts),
    or None when no key is configured. The store validates the keys at start-up."""
    if not env_name:
        return None
    value = os.environ.get(env_name, "").strip()
    keys = [k.strip() for k in value.split(",") if k.strip()]
    return MultiFernet([Fernet(k.encode("ascii")) for k in keys]) if keys else None


@dataclass(frozen=True, slots=True)
class SpoolRef:
    """What a scan worker needs to read a spooled message: the file and the name of the key's variable (the
    worker inherited the gateway's environment; the key itself never crosses the process boundary)."""

    path: str
    head: bytes
    size: int
    key_env: str | None

    def blocks(self) -> Iterator[bytes]:
        """The message as written: ``head``, then each record (decrypted), every block whole lines. A scan worker
        parses from these (``gateway.mime.spooled``) without ever holding the whole message."""
        fernet = fernet_from_env(self.key_env)
        yield self.head
        with open(self.path, "rb") as fh:
            for record in _records(fh):
                yield fernet.decrypt(record) if fernet is not None else record

    def read(self) -> bytes:
        """The whole message in one buffer of exactly ``size`` bytes (no list of records joined at the end, no
        buffer grown and copied on the way)."""
        return _gather(self.blocks(), self.size)


def _gather(blocks: Iterator[bytes], size: int) -> bytes:
    """``blocks`` in one buffer sized for ``size`` bytes up front: ``BytesIO`` sizes its buffer exactly on the
    first jump, so ``getvalue`` hands that buffer over instead of copying a grown one."""
    out = io.BytesIO()
    if size > 0:
        out.seek(size - 1)
        out.write(b"\0")
        out.seek(0)
    for block in blocks:
        out.write(block)
    out.truncate()
    return out.getvalue()


def _records(fh: BinaryIO) -> Iterator[bytes]:
    while True:
        header = fh.read(_LENGTH.size)
        if not header:
            return
        if len(header) != _LENGTH.size:
            raise OSError("spool file truncated")
        (length,) = _LENGTH.unpack(header)
        record = fh.read(length)
        if len(record) != length:
            raise OSError("spool file truncated")
        yield record


class MessageSpool:
    """The bytes of one message as the SMTP edge receives them (see the module docstring). Lines are written
    whole and in order: header lines with ``write_head`` until the header ends, the rest with ``write``."""

    def __init__(self, directory: Path, *, memory_limit: int, fernet: MultiFernet | None = None,
                 key_env: str | None = None) -> None:
        self.directory = directory
        self.memory_limit = memory_limit
        self._fernet = fernet
        self._key_env = key_env if fernet is not None else None
        self._head = bytearray()
        self._head_open = True
        self._head_overflow = False
        self._pending = bytearray()
        self._file: BinaryIO | None = None
        self.path: Path | None = None
        self.size = 0

    # ------------------------------------------------------------------ writing

    def write_head(self, line: bytes) -> None:
        """One header line (a field or a continuation), kept in memory up to ``HEAD_LIMIT``."""
        if self._head_open and len(self._head) + len(line) <= HEAD_LIMIT:
            self._head += line
            self.size += len(line)
        else:
            self._head_overflow = True
            self.write(line)

    def write(self, line: bytes) -> None:
        """One line of the rest of the message (from the blank line that ends the header on)."""
        self._head_open = False
        self._pending += line
        self.size += len(line)
        if self._file is None and len(self._pending) <= self.memory_limit:
            return
        if len(self._pending) >= RECORD_BYTES:
            self._flush()

    def finish(self) -> None:
        """All lines are in: write what is pending (when spooling to disk) and make the file durable enough to
        be read by a worker (flushed; no fsync: the file never outlives the transaction)."""
        self._head_open = False
        if self._file is not None:
            if self._pending:
                self._flush()
            self._file.flush()

    def _flush(self) -> None:
        if self._file is None:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.path = self.directory / f"{os.getpid()}-{uuid.uuid4().hex}.spool"
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            self._file = os.fdopen(fd, "wb")
        record = bytes(self._pending)
        self._pending.clear()
        if self._fernet is not None:
            record = self._fernet.encrypt(record)
        self._file.write(_LENGTH.pack(len(record)))
        self._file.write(record)

    def discard(self) -> None:
        """Keep counting nothing more: the message will be refused (too large, a NUL...); free what is held."""
        self._head.clear()
        self._pending.clear()
        self._head_open = False
        self.close()

    # ------------------------------------------------------------------ reading

    @property
    def on_disk(self) -> bool:
        return self.path is not None

    @property
    def head(self) -> bytes:
        """The header lines held in memory (all of them unless the header block was over ``HEAD_LIMIT``)."""
        return bytes(self._head)

    @property
    def head_complete(self) -> bool:
        """``head`` holds the whole header block (the act step may rewrite it on its own)."""
        return not self._head_overflow

    def in_memory(self) -> bytes:
        """The whole message, for one that never left memory."""
        if self.on_disk:
            raise RuntimeError("the message is on disk: use ref(), body_blocks() or read()")
        return bytes(self._head + self._pending)

    def body_blocks(self) -> Iterator[bytes]:
        """Everything after ``head``, in blocks of whole lines (records as written)."""
        if self.path is None:
            if self._pending:
                yield bytes(self._pending)
            return
        with open(self.path, "rb") as fh:
            for record in _records(fh):
                yield self._fernet.decrypt(record) if self._fernet is not None else record

    def read(self) -> bytes:
        """The whole message in one buffer (for the paths that need it all: S/MIME, DKIM)."""
        if self.path is None:
            return self.in_memory()
        return _gather(itertools.chain((bytes(self._head),), self.body_blocks()), self.size)

    def ref(self) -> SpoolRef:
        if self.path is None:
            raise RuntimeError("the message is in memory")
        return SpoolRef(str(self.path), bytes(self._head), self.size, self._key_env)

    def close(self) -> None:
        """Remove the file (the transaction is over); safe to call more than once."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None


def clear_stale(directory: Path) -> int:
    """Remove spool files left by processes that are gone (a crash mid-transaction: the client never had a
    250 and sends the message again). Files of a live process (another gateway on this state folder) stay."""
    removed = 0
    if not directory.is_dir():
        return 0
    for path in directory.glob("*.spool"):
        try:
            pid = int(path.name.split("-", 1)[0])
        except ValueError:
            continue
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            continue  # that process is alive
        except ProcessLookupError:
            pass
        except PermissionError:
            continue  # alive, another user's
        path.unlink(missing_ok=True)
        removed += 1
    return removed
