"""The database connection: which database (``store.url``, else SQLite in the state folder) and the settings
that make a commit durable there.

SQLite gets WAL with ``synchronous=FULL`` (a commit is on disk when it returns, which is what lets the SMTP
layer answer 250) and ``BEGIN IMMEDIATE`` for writers; PostgreSQL gets a pre-pinged pool shared by the nodes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

if TYPE_CHECKING:
    from gateway.config import Config

SQLITE_FILE = "dlpgate.db"

WRITE_OPTION = "dlpgate_write"
"""Execution option that marks a connection as a writer (SQLite then takes the write lock at BEGIN)."""


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
            write = conn.get_execution_options().get(WRITE_OPTION, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return create_async_engine(parsed, pool_size=settings.pool_size, pool_pre_ping=True)


def writer(engine: AsyncEngine) -> AsyncEngine:
    """The same pool, marked so that each transaction begins as a writer."""
    return engine.execution_options(**{WRITE_OPTION: True})
