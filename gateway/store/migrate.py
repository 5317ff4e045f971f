"""Alembic, run programmatically on a connection we own, so a wheel needs no alembic.ini and several nodes can
serialise upgrades with a PostgreSQL advisory lock."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

VERSION_TABLE = "dlpgate_alembic_version"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
UPGRADE_LOCK_KEY = 0x646C7067_0001  # "dlpg" + 1: advisory lock id for schema upgrades
DIGEST_LOCK_KEY = 0x646C7067_0002


def alembic_config(url: str | None = None, *, output: io.StringIO | None = None) -> AlembicConfig:
    cfg = AlembicConfig(output_buffer=output) if output is not None else AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    return {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None
    head: str
    known: bool
    """False when the database was migrated by a newer dlpgate than this one."""

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def behind(self) -> bool:
        return self.known and not self.up_to_date

    def describe(self) -> str:
        cur = self.current or "empty"
        if self.up_to_date:
            return f"schema at {cur} (current)"
        if not self.known:
            return f"schema at {cur}, unknown to this dlpgate (head {self.head}): a newer version migrated it"
        return f"schema at {cur}, this dlpgate needs {self.head}"


def schema_status(conn: Connection) -> SchemaStatus:
    ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    current = ctx.get_current_revision()
    head = head_revision()
    return SchemaStatus(current, head, current is None or current in known_revisions())


def upgrade(conn: Connection, target: str = "head") -> None:
    """Upgrade on the caller's connection (inside its transaction); other nodes wait on the advisory lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": UPGRADE_LOCK_KEY})
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, target)


def offline_sql(url: str, target: str = "head") -> str:
    """The DDL for a DBA to review or apply by hand (``dlpgate db upgrade --sql``)."""
    out = io.StringIO()
    command.upgrade(alembic_config(url, output=out), target, sql=True)
    return out.getvalue()
