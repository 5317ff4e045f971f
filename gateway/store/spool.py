"""The incident spool: where the record of a relayed message goes when the database cannot take it.

A message that was tagged, encrypted or passed with monitor hits has already been handed to the next hop when
its incident is written, so a failed write must not become a 451 (the client would send it again). Losing the
record is no better: a potential breach nobody hears of. So the record goes to a local file instead, one per
incident under ``<state_dir>/spool/incidents/``, written to a temporary name, fsynced, renamed and the folder
fsynced (it survives a crash the moment ``spool_incident`` returns), owner-only like the database. The file holds
exactly the incident row ``incident_values`` builds (envelope, rule ids, types, redacted evidence) and nothing
of the message. ``replay_spool`` writes the files to the database and removes them; ``gateway.notify.scheduler``
calls it on every tick, the first of which runs at start-up.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import structlog

from gateway.oneline import one_line
from gateway.store.incidents import IncidentBook
from gateway.store.migrate import VERSION_TABLE
from gateway.store.records import incident_values

if TYPE_CHECKING:
    from gateway.facts import ScanResult
    from gateway.policy.model import Decision
    from gateway.submission import Submission

log = structlog.get_logger(__name__)

SPOOL_VERSION = 1
_TIMES = ("created_at", "received_at", "deadline_at", "status_changed_at", "alert_attempt_at", "alerted_at")


def _encode(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items() if k != "reference"}


def _decode(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (datetime.fromisoformat(v) if k in _TIMES and isinstance(v, str) else v) for k, v in data.items()}


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(folder: Path, name: str, data: bytes) -> Path:
    """Temporary file, fsync, rename, fsync the folder: the record is either wholly there or not at all."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    final = folder / name
    tmp = folder / f".{name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.rename(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(folder)
    return final


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    _fsync_dir(path.parent)


PROBE_TTL = 5.0
"""Seconds a write probe's result is reused: /readyz may be polled every second by a load balancer, and each
probe of the database is a committed (fsynced) transaction."""
PROBE_TIMEOUT = 5.0


def failure_reason(exc: BaseException) -> str:
    """One line saying why, for /readyz: the driver's own error where SQLAlchemy wraps it (never the SQL)."""
    orig = getattr(exc, "orig", None) or exc
    text = one_line(str(orig), 160)
    return f"{orig.__class__.__name__}: {text}" if text else orig.__class__.__name__


def _probe_folder(folder: Path) -> None:
    """Create, fsync and remove a small file in ``folder`` (made if missing): what a spool write needs."""
    name = f"probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    _remove(_write_durably(folder, name, b"probe\n"))


class IncidentSpool(IncidentBook):
    """``Store``'s spool part (see the module docstring)."""

    _spool_lock: asyncio.Lock | None = None
    _probe_cache: tuple[float, dict[str, str]] | None = None

    async def write_probe(self, folders: Sequence[tuple[str, Path]] = ()) -> dict[str, str]:
        """Readiness for writes (issue 13): what cannot be written now, by name, with the reason; empty when all
        is writable. ``database_write`` commits a transaction that changes nothing (the schema version row set
        to itself: a read alone succeeds on a read-only file, a deleted file or a PostgreSQL that still answers
        reads), and ``spool`` writes a file in the incident spool folder, as do the ``folders`` given (the
        message spool). The result is reused for ``PROBE_TTL`` seconds."""
        now = time.monotonic()
        if self._probe_cache is not None and now - self._probe_cache[0] < PROBE_TTL:
            return dict(self._probe_cache[1])
        failed: dict[str, str] = {}
        try:
            await asyncio.wait_for(self._probe_database(), PROBE_TIMEOUT)
        except TimeoutError:
            failed["database_write"] = f"no answer within {PROBE_TIMEOUT:g} s"
        except Exception as exc:
            failed["database_write"] = failure_reason(exc)
        for name, folder in (("spool", self.spool_dir), *folders):
            try:
                await asyncio.to_thread(_probe_folder, folder)
            except OSError as exc:
                failed[name] = f"{folder}: {exc.strerror or exc.__class__.__name__}"
        if failed:
            log.warning("store.write_probe_failed", failed=sorted(failed))
        self._probe_cache = (time.monotonic(), failed)
        return dict(failed)

    async def _probe_database(self) -> None:
        version = sa.table(VERSION_TABLE, sa.column("version_num"))
        async with self._write() as conn:
            await conn.execute(sa.update(version).values(version_num=version.c.version_num))

    @property
    def spool_dir(self) -> Path:
        return self.cfg.state_dir / "spool" / "incidents"

    async def spool_incident(
        self,
        sub: Submission,
        scan: ScanResult,
        decision: Decision,
        *,
        delivered: bool,
        upstream_reply: str | None = None,
    ) -> Path:
        """Keep the incident ``record_incident`` could not write; durable when this returns."""
        now = self.clock()
        values = incident_values(
            sub, scan, decision, reference="", node=self.node, now=now,
            delivered=delivered, quarantined=False, upstream_reply=upstream_reply,
        )
        record = {"version": SPOOL_VERSION, "incident": _encode(values)}
        name = f"{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex}.json"
        data = json.dumps(record, ensure_ascii=False, sort_keys=True).encode()
        path = await asyncio.to_thread(_write_durably, self.spool_dir, name, data)
        log.warning("incident.spooled", file=path.name, action=values["action"], status=values["status"])
        return path

    async def replay_spool(self) -> int:
        """Write every spooled incident to the database, oldest first, removing each file after its commit.
        A file whose incident is already there (the process died between the commit and the removal) is just
        removed. Stops at the first database failure (the rest wait for the next call); an unreadable file is
        set aside as ``*.bad`` for a person to look at, never deleted. Returns the incidents written."""
        if self._spool_lock is None:
            self._spool_lock = asyncio.Lock()
        async with self._spool_lock:
            folder = self.spool_dir
            if not folder.is_dir():
                return 0
            written = 0
            for path in sorted(folder.glob("*.json")):
                try:
                    record = json.loads(await asyncio.to_thread(path.read_bytes))
                    if record.get("version") != SPOOL_VERSION:
                        raise ValueError("unknown spool version")
                    values = _decode(record["incident"])
                except (OSError, ValueError, KeyError, TypeError) as exc:
                    log.error("incident.spool_unreadable", file=path.name, error=exc.__class__.__name__)
                    await asyncio.to_thread(os.replace, path, path.with_suffix(".bad"))
                    continue
                ref = await self._insert_incident(values, once=True)
                await asyncio.to_thread(_remove, path)
                if ref is not None:
                    written += 1
                    log.info("incident.unspooled", reference=ref, file=path.name)
            return written
