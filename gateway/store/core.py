"""The store: incidents, quarantined messages, the audit trail and the digest's once-a-day bookkeeping.

Durability is the point of this module. ``quarantine()`` returns only after the incident row and the message
bytes are committed in one transaction (SQLite: WAL with ``synchronous=FULL``, so the commit is on disk), which
is what lets the SMTP layer answer 250 and lets a crash right after that lose nothing.

Every state change is a conditional UPDATE (``... WHERE state = 'held'``) whose row count says who won, so two
governance officers, or two gateway nodes, can never release the same message twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import structlog
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from gateway.store import migrate
from gateway.store.crypto import MessageCipher
from gateway.store.errors import (
    Conflict,
    NotFound,
    ReleaseFailed,
    ReleaseUncertain,
    SchemaError,
    StoreError,
)
from gateway.store.records import MARKABLE, REPORTING_WINDOW, format_reference, incident_values, one_line
from gateway.store.schema import audit, digests_sent, incident_numbers, incidents, utcnow
from gateway.store.schema import quarantine as qtab
from gateway.upstream import Reply, Upstream, UpstreamError

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.facts import ScanResult
    from gateway.policy.model import Decision
    from gateway.submission import Submission

log = structlog.get_logger(__name__)

SQLITE_FILE = "dlpgate.db"
TASK_DRAIN_SECONDS = 15.0
ALERT_RETRY_AFTER = timedelta(minutes=5)
DIGEST_CLAIM_STALE = timedelta(minutes=15)

Clock = Callable[[], datetime]


# ------------------------------------------------------------------------------------------------ records


@dataclass(frozen=True)
class IncidentRecord:
    id: int
    reference: str
    created_at: datetime
    received_at: datetime
    node: str
    txn_id: str
    peer: str
    auth_user: str | None
    sender: str
    recipients: list[dict[str, str]]
    action: str
    encrypt_mode: str | None
    rules: list[dict[str, Any]]
    clauses: list[str]
    sensitivity: str
    entities: list[dict[str, Any]]
    unscannable: list[dict[str, Any]]
    attachments: list[dict[str, Any]]
    message_id: str | None
    size: int
    forwarded: bool
    encrypted: bool
    delivered: bool
    quarantined: bool
    upstream_reply: str | None
    status: str
    deadline_at: datetime | None
    status_changed_at: datetime
    alert_attempt_at: datetime | None
    alerted_at: datetime | None

    @classmethod
    def from_row(cls, row: sa.RowMapping) -> IncidentRecord:
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})

    @property
    def monitor_rules(self) -> list[dict[str, Any]]:
        return [r for r in self.rules if r.get("mode") == "monitor"]

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.pop("id")
        for key, value in out.items():
            if isinstance(value, datetime):
                out[key] = value.isoformat()
        return out


@dataclass(frozen=True)
class QuarantineRecord:
    reference: str
    stored_at: datetime
    state: str
    state_changed_at: datetime
    state_by: str | None
    mail_from: str
    rcpt_tos: list[str]
    size: int
    sha256: str
    encryption: str
    release_reply: str | None
    purged_at: datetime | None
    incident: IncidentRecord

    @property
    def has_message(self) -> bool:
        return self.purged_at is None


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    actor: str
    node: str
    event: str
    reference: str | None
    old_status: str | None
    new_status: str | None
    reason: str | None
    detail: dict[str, Any] | None


# ------------------------------------------------------------------------------------------------ engine


def database_url(cfg: Config) -> str:
    if cfg.gateway.store.url:
        return cfg.gateway.store.url
    return f"sqlite+aiosqlite:///{cfg.state_dir / SQLITE_FILE}"


def _prepare_sqlite_file(url: sa.engine.URL) -> None:
    """The file holds personal data: owner-only from the first byte (WAL and SHM files inherit its mode)."""
    if not url.database or url.database == ":memory:":
        return
    path = Path(url.database)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)


def make_engine(cfg: Config, url: str | None = None) -> AsyncEngine:
    settings = cfg.gateway.store
    parsed = sa.engine.make_url(url or database_url(cfg))
    if parsed.get_backend_name() == "sqlite":
        _prepare_sqlite_file(parsed)
        engine = create_async_engine(parsed, connect_args={"timeout": settings.busy_timeout_seconds})
        busy_ms = int(settings.busy_timeout_seconds * 1000)

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Driver-level autocommit, so that BEGIN is ours to issue (the pysqlite recipe in SQLAlchemy's docs).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            for pragma in (
                "PRAGMA journal_mode=WAL",
                "PRAGMA synchronous=FULL",
                "PRAGMA foreign_keys=ON",
                f"PRAGMA busy_timeout={busy_ms}",
                "PRAGMA secure_delete=ON",
            ):
                cur.execute(pragma)
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            # Writers take the write lock up front: a deferred transaction that reads and then writes can fail
            # at once with SQLITE_BUSY in WAL mode, where the busy timeout does not help.
            write = conn.get_execution_options().get("dlpgate_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return create_async_engine(parsed, pool_size=settings.pool_size, pool_pre_ping=True)


# ------------------------------------------------------------------------------------------------ store


class Store:
    """See the module docstring. Build with ``await Store.open(cfg)``; one per process."""

    def __init__(self, cfg: Config, engine: AsyncEngine, cipher: MessageCipher, clock: Clock | None = None) -> None:
        self.cfg = cfg
        self.engine = engine
        self.cipher = cipher
        self.clock: Clock = clock or utcnow
        self.node = cfg.gateway.node_name
        self.upstream: Upstream | None = None
        self._writer = engine.execution_options(dlpgate_write=True)
        self._tasks: set[asyncio.Task[None]] = set()

    # ---------------------------------------------------------------- lifecycle

    @classmethod
    async def open(cls, cfg: Config, *, clock: Clock | None = None, upgrade: bool | None = None) -> Store:
        """Connect, then check the schema: the embedded SQLite file is upgraded in place (a fresh machine just
        works); PostgreSQL, shared by several nodes, is only upgraded when asked (``store.auto_upgrade`` or
        ``dlpgate db upgrade``), otherwise start-up stops with a message saying so."""
        cipher = MessageCipher.from_env(
            cfg.gateway.store.encryption_key_env, required=cfg.gateway.store.encryption_key_env is not None
        )
        engine = make_engine(cfg)
        store = cls(cfg, engine, cipher, clock)
        try:
            await store._check_schema(upgrade)
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

    def attach_upstream(self, upstream: Upstream) -> None:
        """Alerts and sender notices go out through this upstream after each commit."""
        self.upstream = upstream

    async def close(self) -> None:
        """Let pending alerts and notices finish (briefly), then close the pool."""
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=TASK_DRAIN_SECONDS)
            for task in pending:
                task.cancel()
        await self.engine.dispose()

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            return True
        except Exception as exc:
            log.warning("store.ping_failed", error=exc.__class__.__name__)
            return False

    async def drain(self) -> None:
        """Wait for post-commit tasks (tests; graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*set(self._tasks), return_exceptions=True)

    def _spawn(self, factory: Callable[[], Awaitable[None]], what: str, reference: str) -> None:
        async def runner() -> None:
            try:
                await factory()
            except Exception as exc:
                log.error(f"{what}.failed", reference=reference, error=exc.__class__.__name__)

        task = asyncio.get_running_loop().create_task(runner())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        async with self._writer.begin() as conn:
            yield conn

    # ---------------------------------------------------------------- references

    async def _next_reference(self, conn: AsyncConnection, now: datetime) -> str:
        res = await conn.execute(sa.insert(incident_numbers).values(reserved_at=now, node=self.node))
        number = res.inserted_primary_key[0] if res.inserted_primary_key else None
        if number is None:
            raise StoreError("database gave no incident number")
        return format_reference(int(number), now.year)

    async def reserve_reference(self) -> str:
        """A reference before the incident exists (e.g. to put it in a header of a message about to be relayed);
        pass it back as ``reference=`` to ``record_incident`` or ``quarantine``."""
        async with self._write() as conn:
            return await self._next_reference(conn, self.clock())

    # ---------------------------------------------------------------- the SMTP path

    async def quarantine(
        self, sub: Submission, scan: ScanResult, decision: Decision, *, reference: str | None = None
    ) -> str:
        """Incident (``near_miss``) and message bytes in ONE transaction, committed before this returns."""
        now = self.clock()
        sha, (blob, scheme) = await asyncio.to_thread(self._seal, sub.raw)
        async with self._write() as conn:
            ref = reference or await self._next_reference(conn, now)
            values = incident_values(
                sub, scan, decision, reference=ref, node=self.node, now=now,
                delivered=False, quarantined=True, upstream_reply=None,
            )
            res = await conn.execute(sa.insert(incidents).values(**values))
            incident_id = res.inserted_primary_key[0] if res.inserted_primary_key else None
            await conn.execute(
                sa.insert(qtab).values(
                    incident_id=incident_id,
                    reference=ref,
                    stored_at=now,
                    mail_from=one_line(sub.mail_from),
                    rcpt_tos=list(sub.rcpt_tos),
                    raw=blob,
                    encryption=scheme,
                    sha256=sha,
                    size=len(sub.raw),
                    state="held",
                    state_changed_at=now,
                )
            )
        log.info("quarantine.stored", reference=ref, size=len(sub.raw), action=decision.action.label)
        if self.cfg.gateway.notifications.notify_sender_on_quarantine and sub.mail_from:
            self._spawn(lambda: self._notify_sender(ref, sub, scan, decision), "notice", ref)
        return ref

    def _seal(self, raw: bytes) -> tuple[str, tuple[bytes, str]]:
        return hashlib.sha256(raw).hexdigest(), self.cipher.seal(raw)

    async def record_incident(
        self,
        sub: Submission,
        scan: ScanResult,
        decision: Decision,
        *,
        delivered: bool,
        upstream_reply: str | None = None,
        reference: str | None = None,
    ) -> str:
        """For reject/encrypt/tag decisions and for passed messages with monitor hits. A delivered message that
        a monitor rule would have encrypted or stopped becomes a ``potential_breach`` with a 24-hour deadline,
        and raises an alert after the commit (the store does it; the caller need not)."""
        now = self.clock()
        async with self._write() as conn:
            ref = reference or await self._next_reference(conn, now)
            values = incident_values(
                sub, scan, decision, reference=ref, node=self.node, now=now,
                delivered=delivered, quarantined=False, upstream_reply=upstream_reply,
            )
            breach = values["status"] == "potential_breach"
            if breach and self._alerts_configured:
                values["alert_attempt_at"] = now
            await conn.execute(sa.insert(incidents).values(**values))
        log.info("incident.recorded", reference=ref, status=values["status"], action=decision.action.label)
        if breach and self._alerts_configured:
            self._spawn(lambda: self._send_alert(ref), "alert", ref)
        return ref

    # ---------------------------------------------------------------- alerts and notices

    @property
    def _alerts_configured(self) -> bool:
        alerts = self.cfg.gateway.alerts
        return alerts.email or alerts.webhook_url is not None

    async def _send_alert(self, ref: str, upstream: Upstream | None = None) -> None:
        from gateway.store.alerts import raise_alert

        record = await self.get_incident(ref)
        if record is None:
            return
        if await raise_alert(self.cfg, upstream or self.upstream, ref, record, now=self.clock()):
            async with self._write() as conn:
                await conn.execute(
                    sa.update(incidents).where(incidents.c.reference == ref).values(alerted_at=self.clock())
                )

    async def retry_alerts(self, upstream: Upstream | None = None, *, limit: int = 50) -> int:
        """Potential breaches whose alert never went out (the upstream was down, or the node died after the
        commit) are claimed and alerted again; the claim keeps two nodes from both sending."""
        if not self._alerts_configured:
            return 0
        now = self.clock()
        cutoff = now - ALERT_RETRY_AFTER
        pending = sa.and_(
            incidents.c.status == "potential_breach",
            incidents.c.alerted_at.is_(None),
            sa.or_(incidents.c.alert_attempt_at.is_(None), incidents.c.alert_attempt_at < cutoff),
        )
        async with self.engine.connect() as conn:
            refs = (
                await conn.execute(
                    sa.select(incidents.c.reference).where(pending).order_by(incidents.c.id).limit(limit)
                )
            ).scalars().all()
        sent = 0
        for ref in refs:
            async with self._write() as wconn:
                res = await wconn.execute(
                    sa.update(incidents)
                    .where(incidents.c.reference == ref, pending)
                    .values(alert_attempt_at=now)
                )
            if res.rowcount == 1:
                await self._send_alert(ref, upstream)
                sent += 1
        return sent

    async def _notify_sender(self, ref: str, sub: Submission, scan: ScanResult, decision: Decision) -> None:
        from gateway.store.notices import notify_sender

        if self.upstream is None:
            log.warning("notice.no_upstream", reference=ref)
            return
        await notify_sender(self.cfg, self.upstream, ref, sub, scan, decision, now=self.clock())

    # ---------------------------------------------------------------- reading

    async def get_incident(self, ref: str) -> IncidentRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(incidents).where(incidents.c.reference == ref))).mappings().first()
        return IncidentRecord.from_row(row) if row else None

    async def list_incidents(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        statuses: Sequence[str] | None = None,
        actions: Sequence[str] | None = None,
        limit: int | None = None,
        newest_first: bool = True,
    ) -> list[IncidentRecord]:
        q = sa.select(incidents)
        if since is not None:
            q = q.where(incidents.c.created_at >= since)
        if until is not None:
            q = q.where(incidents.c.created_at < until)
        if statuses:
            q = q.where(incidents.c.status.in_(list(statuses)))
        if actions:
            q = q.where(incidents.c.action.in_(list(actions)))
        q = q.order_by(incidents.c.id.desc() if newest_first else incidents.c.id.asc())
        if limit is not None:
            q = q.limit(limit)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(q)).mappings().all()
        return [IncidentRecord.from_row(r) for r in rows]

    _QCOLS = (
        qtab.c.reference,
        qtab.c.stored_at,
        qtab.c.state,
        qtab.c.state_changed_at,
        qtab.c.state_by,
        qtab.c.mail_from,
        qtab.c.rcpt_tos,
        qtab.c.size,
        qtab.c.sha256,
        qtab.c.encryption,
        qtab.c.release_reply,
        qtab.c.purged_at,
        qtab.c.incident_id,
    )

    async def _quarantine_records(self, where: Any, limit: int | None = None) -> list[QuarantineRecord]:
        q = sa.select(*self._QCOLS).where(where).order_by(qtab.c.id.desc())
        if limit is not None:
            q = q.limit(limit)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(q)).mappings().all()
            ids = [r["incident_id"] for r in rows]
            inc_rows = (
                (await conn.execute(sa.select(incidents).where(incidents.c.id.in_(ids)))).mappings().all()
                if ids
                else []
            )
        by_id = {r["id"]: IncidentRecord.from_row(r) for r in inc_rows}
        out = []
        for r in rows:
            fields = {k: r[k] for k in r.keys() if k != "incident_id"}
            out.append(QuarantineRecord(**fields, incident=by_id[r["incident_id"]]))
        return out

    async def get_quarantined(self, ref: str) -> QuarantineRecord | None:
        found = await self._quarantine_records(qtab.c.reference == ref)
        return found[0] if found else None

    async def list_quarantine(
        self, *, states: Sequence[str] | None = ("held", "releasing"), limit: int | None = None
    ) -> list[QuarantineRecord]:
        where = qtab.c.state.in_(list(states)) if states else sa.true()
        return await self._quarantine_records(where, limit)

    async def audit_entries(self, *, reference: str | None = None, limit: int | None = None) -> list[AuditRecord]:
        q = sa.select(audit).order_by(audit.c.id)
        if reference is not None:
            q = q.where(audit.c.reference == reference)
        if limit is not None:
            q = q.limit(limit)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(q)).mappings().all()
        return [AuditRecord(**{f.name: r[f.name] for f in dataclasses.fields(AuditRecord)}) for r in rows]

    # ---------------------------------------------------------------- governance actions

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
    ) -> None:
        await conn.execute(
            sa.insert(audit).values(
                at=now or self.clock(),
                actor=one_line(actor, 255),
                node=self.node,
                event=event_name,
                reference=reference,
                old_status=old,
                new_status=new,
                reason=reason,
                detail=detail,
            )
        )

    async def record_access(self, event_name: str, *, actor: str, reason: str | None, detail: dict[str, Any]) -> None:
        """Exports and other reads of personal data leave a trace too."""
        async with self._write() as conn:
            await self._audit(conn, event_name, actor=actor, reason=reason, detail=detail)

    async def reveal_message(self, ref: str, *, actor: str, reason: str) -> bytes:
        """The stored message, decrypted. The access is recorded (same transaction) before the bytes leave."""
        async with self._write() as conn:
            row = (
                await conn.execute(
                    sa.select(qtab.c.raw, qtab.c.encryption, qtab.c.sha256).where(
                        qtab.c.reference == ref
                    )
                )
            ).first()
            if row is None:
                raise NotFound(f"{ref}: no quarantined message with that reference")
            if row.raw is None:
                raise Conflict(f"{ref}: the message was purged")
            await self._audit(conn, "reveal", actor=actor, reference=ref, reason=reason)
        raw = self.cipher.open(row.raw, row.encryption)
        self._verify(ref, raw, row.sha256)
        return raw

    @staticmethod
    def _verify(ref: str, raw: bytes, sha: str) -> None:
        if hashlib.sha256(raw).hexdigest() != sha:
            raise StoreError(f"{ref}: stored message does not match its checksum; not using it")

    async def mark_incident(self, ref: str, status: str, *, actor: str, reason: str) -> IncidentRecord:
        if status not in MARKABLE:
            raise Conflict(f"status must be one of {', '.join(MARKABLE)} (``released`` is set by a release)")
        now = self.clock()
        async with self._write() as conn:
            row = (
                await conn.execute(
                    sa.select(incidents.c.status, incidents.c.deadline_at).where(incidents.c.reference == ref)
                )
            ).first()
            if row is None:
                raise NotFound(f"{ref}: no such incident")
            if row.status == status:
                raise Conflict(f"{ref} is already {status}")
            values: dict[str, Any] = {"status": status, "status_changed_at": now}
            if status == "potential_breach" and row.deadline_at is None:
                # The 24-hour clock starts when we became aware; a person marking it already knows, so no alert.
                values |= {"deadline_at": now + REPORTING_WINDOW, "alerted_at": now}
            res = await conn.execute(
                sa.update(incidents)
                .where(incidents.c.reference == ref, incidents.c.status == row.status)
                .values(**values)
            )
            if res.rowcount != 1:
                raise Conflict(f"{ref} changed while being marked; try again")
            await self._audit(conn, "status", actor=actor, reference=ref, old=row.status, new=status,
                              reason=reason, now=now)
        log.info("incident.marked", reference=ref, old=row.status, new=status)
        record = await self.get_incident(ref)
        assert record is not None
        return record

    async def _state_of(self, conn: AsyncConnection, ref: str) -> str:
        row = (
            await conn.execute(
                sa.select(qtab.c.state, qtab.c.purged_at).where(qtab.c.reference == ref)
            )
        ).first()
        if row is None:
            raise NotFound(f"{ref}: no quarantined message with that reference")
        return "purged" if row.purged_at is not None and row.state == "held" else str(row.state)

    async def reject(self, ref: str, *, actor: str, reason: str) -> None:
        """Decide not to send. The bytes stay until retention (evidence), but can no longer be released."""
        now = self.clock()
        async with self._write() as conn:
            res = await conn.execute(
                sa.update(qtab)
                .where(qtab.c.reference == ref, qtab.c.state == "held")
                .values(state="rejected", state_changed_at=now, state_by=one_line(actor, 255))
            )
            if res.rowcount != 1:
                state = await self._state_of(conn, ref)
                raise Conflict(f"{ref} is {state}: only a held message can be rejected")
            await self._audit(conn, "reject", actor=actor, reference=ref, old="held", new="rejected",
                              reason=reason, now=now)
        log.info("quarantine.rejected", reference=ref)

    async def release(
        self, ref: str, upstream: Upstream, *, actor: str, reason: str, force: bool = False
    ) -> Reply:
        """Send the stored bytes, unscanned and unchanged, to the original envelope recipients. At most once:
        the conditional claim (held → releasing) has exactly one winner; only a clear refusal before the
        message was handed over returns it to ``held``. ``force`` re-claims one stuck in ``releasing``."""
        now = self.clock()
        claim = uuid.uuid4().hex
        from_states = ["held", "releasing"] if force else ["held"]
        async with self._write() as conn:
            res = await conn.execute(
                sa.update(qtab)
                .where(
                    qtab.c.reference == ref,
                    qtab.c.state.in_(from_states),
                    qtab.c.raw.is_not(None),
                )
                .values(state="releasing", claim=claim, state_changed_at=now, state_by=one_line(actor, 255))
            )
            if res.rowcount != 1:
                state = await self._state_of(conn, ref)
                hint = " (it may have gone out: check, then use --force)" if state == "releasing" else ""
                raise Conflict(f"{ref} is {state}: cannot release{hint}")
            row = (
                await conn.execute(
                    sa.select(
                        qtab.c.raw, qtab.c.encryption, qtab.c.sha256,
                        qtab.c.mail_from, qtab.c.rcpt_tos,
                    ).where(qtab.c.reference == ref)
                )
            ).one()
            await self._audit(conn, "release_started", actor=actor, reference=ref, reason=reason, now=now,
                              detail={"force": force} if force else None)
        try:
            raw = self.cipher.open(row.raw, row.encryption)
            self._verify(ref, raw, row.sha256)
        except StoreError:
            await self._unclaim(ref, claim, actor, "release_failed", {"error": "cannot read stored message"})
            raise
        try:
            reply = await _deliver_phased(upstream, row.mail_from, list(row.rcpt_tos), raw)
        except _Uncertain as exc:
            async with self._write() as conn:
                await self._audit(conn, "release_uncertain", actor=actor, reference=ref,
                                  detail={"error": exc.detail})
            log.error("quarantine.release_uncertain", reference=ref)
            raise ReleaseUncertain(
                f"{ref}: the connection failed while the message was being handed over; it may have been "
                "delivered. It stays 'releasing': check with the recipients, then release --force if needed"
            ) from None
        except UpstreamError as exc:
            await self._unclaim(ref, claim, actor, "release_failed", {"error": exc.detail})
            raise ReleaseFailed(f"{ref}: upstream unreachable ({exc.detail}); still held, try again") from None
        if not reply.ok:
            await self._unclaim(ref, claim, actor, "release_failed", {"reply": str(reply)[:300]})
            raise ReleaseFailed(f"{ref}: upstream refused with {reply.code}; still held")
        done = self.clock()
        async with self._write() as conn:
            await conn.execute(
                sa.update(qtab)
                .where(qtab.c.reference == ref, qtab.c.claim == claim)
                .values(state="released", state_changed_at=done, release_reply=one_line(str(reply)))
            )
            old = (
                await conn.execute(sa.select(incidents.c.status).where(incidents.c.reference == ref))
            ).scalar_one()
            await conn.execute(
                sa.update(incidents)
                .where(incidents.c.reference == ref)
                .values(status="released", status_changed_at=done, delivered=True, upstream_reply=str(reply)[:512])
            )
            await self._audit(conn, "release", actor=actor, reference=ref, old=old, new="released",
                              reason=reason, detail={"reply_code": reply.code}, now=done)
        log.info("quarantine.released", reference=ref, reply_code=reply.code)
        return reply

    async def _unclaim(self, ref: str, claim: str, actor: str, event_name: str, detail: dict[str, Any]) -> None:
        async with self._write() as conn:
            await conn.execute(
                sa.update(qtab)
                .where(qtab.c.reference == ref, qtab.c.claim == claim)
                .values(state="held", claim=None, state_changed_at=self.clock())
            )
            await self._audit(conn, event_name, actor=actor, reference=ref, detail=detail)
        log.warning("quarantine.release_failed", reference=ref)

    async def purge_expired(
        self, *, older_than_days: int | None = None, actor: str = "retention", dry_run: bool = False
    ) -> list[str]:
        """Retention: drop message bytes older than ``store.retention_days``. The incident and the quarantine
        row stay (who, when, what kind), the content goes; a still-held message becomes ``expired``."""
        days = older_than_days if older_than_days is not None else self.cfg.gateway.store.retention_days
        now = self.clock()
        cutoff = now - timedelta(days=days)
        where = sa.and_(
            qtab.c.stored_at < cutoff, qtab.c.raw.is_not(None), qtab.c.state != "releasing"
        )
        if dry_run:
            async with self.engine.connect() as conn:
                return list((await conn.execute(sa.select(qtab.c.reference).where(where))).scalars())
        async with self._write() as conn:
            refs = list(
                (
                    await conn.execute(
                        sa.update(qtab)
                        .where(where)
                        .values(
                            raw=None,
                            purged_at=now,
                            state=sa.case((qtab.c.state == "held", "expired"), else_=qtab.c.state),
                            state_changed_at=now,
                        )
                        .returning(qtab.c.reference)
                    )
                ).scalars()
            )
            for ref in refs:
                await self._audit(conn, "purge", actor=actor, reference=ref,
                                  detail={"retention_days": days}, now=now)
        if refs:
            log.info("quarantine.purged", count=len(refs), retention_days=days)
        return refs

    # ---------------------------------------------------------------- digest bookkeeping

    async def digest_state(self, day: date) -> str | None:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(sa.select(digests_sent.c.state).where(digests_sent.c.day == day.isoformat()))
            ).scalar_one_or_none()

    async def claim_digest(self, day: date, *, force: bool = False) -> bool:
        """Take the day: True for exactly one caller across nodes and restarts. A claim older than
        ``DIGEST_CLAIM_STALE`` that never became ``sent`` (the node died mid-send) can be taken over."""
        now = self.clock()
        key = day.isoformat()
        try:
            async with self._write() as conn:
                row = (await conn.execute(sa.select(digests_sent).where(digests_sent.c.day == key))).first()
                if row is None:
                    await conn.execute(
                        sa.insert(digests_sent).values(day=key, state="sending", node=self.node, claimed_at=now)
                    )
                    return True
                stale = row.state == "sending" and row.claimed_at < now - DIGEST_CLAIM_STALE
                if not (force or stale):
                    return False
                res = await conn.execute(
                    sa.update(digests_sent)
                    .where(
                        digests_sent.c.day == key,
                        digests_sent.c.state == row.state,
                        digests_sent.c.claimed_at == row.claimed_at,
                    )
                    .values(state="sending", node=self.node, claimed_at=now, sent_at=None)
                )
                return res.rowcount == 1
        except IntegrityError:
            return False

    async def finish_digest(self, day: date, *, to: str, message_id: str) -> None:
        async with self._write() as conn:
            await conn.execute(
                sa.update(digests_sent)
                .where(digests_sent.c.day == day.isoformat(), digests_sent.c.node == self.node)
                .values(state="sent", sent_at=self.clock(), to_address=to, message_id=message_id[:255])
            )
            await self._audit(conn, "digest_sent", actor="digest", detail={"day": day.isoformat()})

    async def abandon_digest(self, day: date) -> None:
        async with self._write() as conn:
            await conn.execute(
                sa.delete(digests_sent).where(
                    digests_sent.c.day == day.isoformat(),
                    digests_sent.c.node == self.node,
                    digests_sent.c.state == "sending",
                )
            )

    @contextlib.asynccontextmanager
    async def digest_lock(self) -> AsyncIterator[bool]:
        """PostgreSQL: a session advisory lock on a dedicated connection, so only one node builds and sends at
        a time (the ``digests_sent`` row then says whether the day is done). SQLite has one node: always yes."""
        if self.backend != "postgresql":
            yield True
            return
        async with self.engine.connect() as conn:
            got = bool(
                (await conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": migrate.DIGEST_LOCK_KEY}))
                .scalar_one()
            )
            await conn.commit()
            try:
                yield got
            finally:
                if got:
                    await conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": migrate.DIGEST_LOCK_KEY})
                    await conn.commit()


# ------------------------------------------------------------------------------------------------ delivery


class _Uncertain(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


async def _deliver_phased(upstream: Upstream, mail_from: str, rcpts: list[str], data: bytes) -> Reply:
    """Like ``gateway.upstream.deliver`` but tells a failure before DATA (certainly not delivered) from one
    during DATA (perhaps delivered), which the at-most-once release needs to know."""
    txn = await upstream.begin()
    try:
        reply = await txn.mail(mail_from, [])
        if not reply.ok:
            await txn.abort()
            return reply
        for rcpt in rcpts:
            reply = await txn.rcpt(rcpt, [])
            if not reply.ok:
                await txn.abort()
                return reply
    except BaseException:
        await txn.abort()
        raise
    try:
        return await txn.data(data)
    except UpstreamError as exc:
        raise _Uncertain(exc.detail) from None
    except BaseException:
        await txn.abort()
        raise
