"""What every part of the store shares: the connection, the clock, the node name, the schema check at start-up,
incident references and the audit trail.

The parts (``incidents``, ``quarantine``, ``digests``, ``retention``) each build on ``StoreBase``;
``gateway.store.core.Store`` puts them together. Nothing here sends mail: after a commit the store tells an
``AfterCommit`` listener (``gateway.notify`` attaches one in ``serve``), which does its work in the background
so the SMTP reply never waits for it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.oneline import one_line
from gateway.store import migrate
from gateway.store.auditchain import GENESIS, current_source, row_hash
from gateway.store.crypto import MessageCipher
from gateway.store.engine import make_engine, sqlite_file, writer
from gateway.store.errors import SchemaError, StoreChanged, StoreError, StoreMissing
from gateway.store.records import AuditRecord, format_reference
from gateway.store.schema import audit, incident_numbers, utcnow

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.facts import ScanResult
    from gateway.policy.model import Decision
    from gateway.submission import Submission

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]

AUDIT_LOCK_KEY = 0x646C7067_0003  # "dlpg" + 3: keeps the audit hash chain linear across nodes


class AfterCommit(Protocol):
    """Told about a commit after it, never before, and must return at once (start a task, do not await one):
    the caller is the SMTP path, whose 250 waits for the commit and for nothing else."""

    @property
    def sends_alerts(self) -> bool:
        """True when potential breaches are alerted: the store then claims the alert in the incident's own
        insert, so another node's retry leaves it to this one."""
        ...

    def potential_breach(self, ref: str) -> None:
        """A potential breach was committed and its alert claimed for this listener."""
        ...

    def quarantined(self, ref: str, sub: Submission, scan: ScanResult, decision: Decision) -> None:
        """A message and its incident were committed to quarantine."""
        ...

    def incident_recorded(self, ref: str, row: Mapping[str, Any]) -> None:
        """Any incident row was committed (relayed, rejected, quarantined, or a spooled one written late): the row
        as ``records.incident_values`` built it, for the SIEM event (issue 17; the listener picks the fields)."""
        ...


class StoreBase:
    """The shared half of ``Store``. Build with ``await Store.open(cfg)``; one per process."""

    def __init__(self, cfg: Config, engine: AsyncEngine, cipher: MessageCipher, clock: Clock | None = None) -> None:
        self.cfg = cfg
        self.engine = engine
        self.cipher = cipher
        self.clock: Clock = clock or utcnow
        self.node = cfg.gateway.node_name
        self._writer = writer(engine)
        self._listener: AfterCommit | None = None
        self._file: Path | None = None
        self._identity: tuple[int, int] | None = None
        self._changed_logged = False

    # ---------------------------------------------------------------- lifecycle

    @classmethod
    async def open(
        cls, cfg: Config, *, clock: Clock | None = None, upgrade: bool | None = None, create: bool = True
    ) -> Self:
        """Connect, then check the schema: the embedded SQLite file is upgraded in place (a fresh machine just
        works); PostgreSQL, shared by several nodes, is only upgraded when asked (``store.auto_upgrade`` or
        ``dlpgate db upgrade``), otherwise start-up stops with a message saying so.

        ``create=False`` (the governance commands) refuses a SQLite database that does not exist or holds no
        schema (``StoreMissing``) instead of creating one: an empty new file would tell an operator that run the
        command from the wrong place that the quarantine is empty. The SQLite file's identity is recorded here
        and checked around every write (see ``_check_file``)."""
        cipher = MessageCipher.from_env(
            cfg.gateway.store.encryption_key_env, required=cfg.gateway.store.encryption_key_env is not None
        )
        path = sqlite_file(cfg)
        if path is not None and not create and not path.is_file():
            raise StoreMissing(_missing_message(cfg, path, "does not exist"))
        engine = make_engine(cfg)
        store = cls(cfg, engine, cipher, clock)
        try:
            if path is not None and not create and (await store.schema_status()).current is None:
                raise StoreMissing(_missing_message(cfg, path, "holds no dlpgate data"))
            await store._check_schema(upgrade)
            if path is not None:
                store._file = path
                st = os.stat(path)
                store._identity = (st.st_dev, st.st_ino)
        except BaseException:
            await engine.dispose()
            raise
        log.info("store.opened", backend=store.backend, encrypted_at_rest=cipher.enabled)
        return store

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    async def schema_status(self) -> migrate.SchemaStatus:
        async with self.engine.connect() as conn:
            return await conn.run_sync(migrate.schema_status)

    async def upgrade_schema(self) -> migrate.SchemaStatus:
        async with self._writer.begin() as conn:
            await conn.run_sync(migrate.upgrade)
        return await self.schema_status()

    async def _check_schema(self, upgrade: bool | None) -> None:
        status = await self.schema_status()
        if status.up_to_date:
            return
        if not status.known:
            raise SchemaError(f"{status.describe()}; install that version of dlpgate or newer")
        setting = self.cfg.gateway.store.auto_upgrade
        allowed = upgrade if upgrade is not None else (setting if setting is not None else self.is_sqlite)
        if not allowed:
            raise SchemaError(
                f"database {status.describe()}: run `dlpgate db upgrade` once (or set store.auto_upgrade: true)"
            )
        after = await self.upgrade_schema()
        log.info("store.schema_upgraded", old=status.current, new=after.current)

    def attach_listener(self, listener: AfterCommit) -> None:
        """Alerts and sender notices follow each commit through this listener (``gateway.notify.notifier.Notifier``)."""
        self._listener = listener

    @property
    def _claims_alerts(self) -> bool:
        return self._listener is not None and self._listener.sends_alerts

    def _after_commit(self, what: str, ref: str, tell: Callable[[AfterCommit], None]) -> None:
        """The data is committed whatever the listener does: a failure here is logged, never raised, so it
        cannot turn a stored message into a temporary SMTP failure (and a duplicate on the client's retry)."""
        if self._listener is None:
            return
        try:
            tell(self._listener)
        except Exception as exc:
            log.error(f"{what}.failed", reference=ref, error=exc.__class__.__name__)

    async def close(self) -> None:
        await self.engine.dispose()

    async def ping(self) -> bool:
        """Readiness: the database answers, and (SQLite) it is still the file configured."""
        try:
            self._check_file()
            async with self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            return True
        except Exception as exc:
            log.warning("store.ping_failed", error=exc.__class__.__name__)
            return False

    def _check_file(self) -> None:
        """An open SQLite connection keeps writing into its file after that file was deleted or replaced at the
        configured path (a restore, a clean-up script): commits succeed, and vanish at the next restart. So the
        file's identity (device and inode, taken at open) is compared with the path's before and after every
        write; a mismatch raises ``StoreChanged`` (a 451 on the SMTP path, never "held"). PostgreSQL: no-op."""
        if self._file is None:
            return
        try:
            st = os.stat(self._file)
            same = (st.st_dev, st.st_ino) == self._identity
        except OSError:
            same = False
        if same:
            return
        if not self._changed_logged:
            self._changed_logged = True
            log.error("store.file_changed", file=str(self._file))
        raise StoreChanged(
            f"the database file {self._file} was removed or replaced while dlpgate had it open; writes are "
            "refused until dlpgate is restarted"
        )

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction, committed when the block ends. The file check after the commit is what makes
        "committed" mean "in the configured database": only then may the caller answer 250."""
        self._check_file()
        async with self._writer.begin() as conn:
            yield conn
        self._check_file()

    # ---------------------------------------------------------------- references

    async def _next_reference(self, conn: AsyncConnection, now: datetime) -> str:
        res = await conn.execute(sa.insert(incident_numbers).values(reserved_at=now, node=self.node))
        number = res.inserted_primary_key[0] if res.inserted_primary_key else None
        if number is None:
            raise StoreError("database gave no incident number")
        return format_reference(int(number), now.year)

    # ---------------------------------------------------------------- audit trail

    async def _audit(
        self,
        conn: AsyncConnection,
        event_name: str,
        *,
        actor: str,
        reference: str | None = None,
        old: str | None = None,
        new: str | None = None,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
        now: datetime | None = None,
        note: str | None = None,
        source: str | None = None,
    ) -> None:
        """One audit line. ``actor`` is who the system knows is acting (the operating-system user of a CLI
        command); ``note`` is what they typed about themselves (``--by``), kept beside it in ``detail`` and
        never in its place, since anyone can type any name."""
        if note:
            detail = (detail or {}) | {"note": one_line(note, 255)}
        await self._chain_audit(conn, {
            "at": now or self.clock(), "actor": one_line(actor, 255), "node": self.node, "event": event_name,
            "reference": reference, "old_status": old, "new_status": new, "reason": reason, "detail": detail,
            "source": one_line(src, 64) if (src := source or current_source()) else None,
        })

    async def _chain_audit(self, conn: AsyncConnection, values: dict[str, Any]) -> None:
        """Insert one audit row hash-chained to the row before (``gateway/store/auditchain.py``). Writers are
        serialised for the chain: SQLite's write transactions already are; PostgreSQL takes an advisory lock."""
        if conn.dialect.name == "postgresql":
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})
        prev = (
            await conn.execute(sa.select(audit.c.row_hash).order_by(audit.c.id.desc()).limit(1))
        ).scalar_one_or_none() or GENESIS
        await conn.execute(sa.insert(audit).values(**values, prev_hash=prev, row_hash=row_hash(prev, values)))

    async def record_access(
        self, event_name: str, *, actor: str, reason: str | None, detail: dict[str, Any], note: str | None = None,
        reference: str | None = None, source: str | None = None,
    ) -> None:
        """Exports, sign-ins and other reads of personal data leave a trace too (``source``: the client's address)."""
        async with self._write() as conn:
            await self._audit(conn, event_name, actor=actor, reason=reason, detail=detail, note=note,
                              reference=reference, source=source)

    async def audit_entries(self, *, reference: str | None = None, limit: int | None = None) -> list[AuditRecord]:
        q = sa.select(audit).order_by(audit.c.id)
        if reference is not None:
            q = q.where(audit.c.reference == reference)
        if limit is not None:
            q = q.limit(limit)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(q)).mappings().all()
        return [AuditRecord.from_row(r) for r in rows]


def _missing_message(cfg: Config, path: Path, what: str) -> str:
    return (
        f"no database: {path} {what}. Nothing has been stored with this configuration ({cfg.directory}); "
        "check --config (a relative state_dir is relative to the folder that holds the config folder)"
    )
