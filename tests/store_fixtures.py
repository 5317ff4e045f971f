"""Helpers for the store, quarantine CLI and digest tests: a temp config folder, builders for Submission /
ScanResult / Decision with known personal values, a recording SMTP upstream and webhook receiver on loopback
(threads, so they also serve subprocesses), a frozen clock, and a fresh PostgreSQL database per test when
``DLPGATE_TEST_POSTGRES_URL`` is set.

Import the fixtures you use into the test module (``from tests.store_fixtures import smtp_upstream``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import http.server
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from detectors.findings import Finding, RecipientInfo, Sensitivity
from gateway.config import Config, load
from gateway.config_errors import ConfigError
from gateway.facts import ScanResult
from gateway.mime.model import AttachmentInfo, Unscannable
from gateway.policy.model import Action, Decision, RuleHit
from gateway.submission import Submission

REPO = Path(__file__).resolve().parents[1]
PG_ENV = "DLPGATE_TEST_POSTGRES_URL"

# ------------------------------------------------------------------ personal values that must never leak

CHILD_NAME = "Peregrine Oakhurst"
PARENT_NAME = "Matilda Oakhurst"
NHS_NUMBER = "943 476 5919"
NINO = "QQ 12 34 56 C"
CASE_NUMBER = "ZW24C50123"
SUBJECT = "Contact arrangements for Peregrine"
SECRET_VALUES = (CHILD_NAME, PARENT_NAME, "Peregrine", "Oakhurst", NHS_NUMBER, "9434765919", NINO, CASE_NUMBER,
                 SUBJECT, "Matilda")


def message_bytes(*, sender: str = "alice@cafcass.gov.uk", to: str = "someone@gmail.com",
                  marker: str = "m1") -> bytes:
    return (
        f"From: Alice <{sender}>\r\nTo: <{to}>\r\nSubject: {SUBJECT}\r\n"
        f"Message-ID: <{marker}@dlpgate.test>\r\nDate: Tue, 10 Mar 2026 09:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{CHILD_NAME} (NHS {NHS_NUMBER}, NI {NINO}) lives with {PARENT_NAME}. Case {CASE_NUMBER}.\r\n"
        "caf\u00e9 line with 8-bit text\r\n.leading dot\r\n"
    ).encode()


def findings() -> tuple[Finding, ...]:
    """Findings as the worker would return them with --reveal: ``text`` set, to prove the store ignores it."""
    return (
        Finding("PERSON", 0.85, "body", 0, 18, "SpacyRecognizer", "P******** O*******", text=CHILD_NAME),
        Finding("PERSON", 0.85, "body", 60, 76, "SpacyRecognizer", "M****** O*******", text=PARENT_NAME),
        Finding("UK_NHS", 1.0, "body", 24, 36, "NhsRecognizer", "NHS *** *** 5919", text=NHS_NUMBER),
        Finding("UK_NINO", 0.85, "attachment:report.pdf", 3, 16, "UkNinoRecognizer", "QQ ** ** ** C", text=NINO),
        Finding("UK_FAMILY_CASE_NUMBER", 0.9, "subject", 0, 10, "CaseNumberRecognizer", "ZW24C*****",
                text=CASE_NUMBER),
    )


def make_submission(
    *,
    mail_from: str = "alice@cafcass.gov.uk",
    rcpt_tos: tuple[str, ...] = ("someone@gmail.com", "bob@cafcass.gov.uk"),
    received_at: datetime | None = None,
    marker: str = "m1",
) -> Submission:
    return Submission(
        txn_id=uuid.uuid4().hex[:12],
        peer="127.0.0.1",
        helo="client.test",
        mail_from=mail_from,
        rcpt_tos=rcpt_tos,
        raw=message_bytes(sender=mail_from or "nobody@cafcass.gov.uk", to=rcpt_tos[0], marker=marker),
        received_at=received_at or datetime(2026, 3, 10, 9, 0, tzinfo=UTC),
    )


def make_scan(sub: Submission, *, with_findings: bool = True) -> ScanResult:
    classes = {"someone@gmail.com": "freemail", "bob@cafcass.gov.uk": "internal"}
    return ScanResult(
        sender=sub.mail_from,
        recipients=tuple(RecipientInfo(a, classes.get(a, "external")) for a in sub.rcpt_tos),  # type: ignore[arg-type]
        findings=findings() if with_findings else (),
        sensitivity=Sensitivity.SPECIAL_CATEGORY if with_findings else Sensitivity.NONE,
        unscannable=(Unscannable("attachment:old.zip", "encrypted", "zip entry encrypted"),),
        attachments=(
            AttachmentInfo("attachment:report.pdf", "report.pdf", "application/pdf", "application/pdf", 2048),
            AttachmentInfo("attachment:old.zip", "old.zip", "application/zip", "application/zip", 512),
        ),
        message_id="<m1@dlpgate.test>",
        size=len(sub.raw),
        headers=(("Subject", SUBJECT),),
    )


def hit(rule_id: str, action: Action, *, clause: str = "IA 4.3", mode: str = "enforce") -> RuleHit:
    return RuleHit(rule_id, clause, action, mode, "Personal data (NHS number, person's name) to a personal "  # type: ignore[arg-type]
                   "email account; reference {ref}", "test rule")


def quarantine_decision() -> Decision:
    return Decision(Action.QUARANTINE, hits=(hit("personal-data-freemail", Action.QUARANTINE),))


def reject_decision() -> Decision:
    return Decision(Action.REJECT, hits=(hit("case-data-to-ai", Action.REJECT, clause="IA 4.9"),))


def monitor_decision(monitor_action: Action = Action.QUARANTINE, action: Action = Action.PASS) -> Decision:
    hits = (hit("bcc-reminder", action, clause="IA 4.6"),) if action > Action.PASS else ()
    return Decision(action, hits=hits, monitor=(hit("special-category-external", monitor_action,
                                                    clause="IA 4.5", mode="monitor"),))


# ------------------------------------------------------------------ clock


@dataclass
class FrozenClock:
    now: datetime = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


# ------------------------------------------------------------------ config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _deep_update(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _deep_update(base[k], v)
        else:
            base[k] = v
    return base


def write_config(tmp: Path, *, upstream_port: int | None = None, store_url: str | None = None,
                 **gateway: Any) -> Path:
    """A config folder with our gateway.yaml and minimal policy/detector files (the repo's if ``{}`` no longer
    validates), so these tests do not depend on the rules other modules are editing."""
    cfg = tmp / "config"
    cfg.mkdir(parents=True, exist_ok=True)
    base: dict[str, Any] = {
        "node_name": "node-a",
        "state_dir": str(tmp / "state"),
        "server": {"hostname": "dlpgate.test"},
        "upstream": {"url": f"smtp://127.0.0.1:{upstream_port or 9}", "timeout": 5},
        "store": {"url": store_url} if store_url else {},
        "digest": {"to": "governance@cafcass.gov.uk", "sender": "dlpgate@cafcass.gov.uk", "send_at": "07:00",
                   "timezone": "Europe/London"},
        "alerts": {"email": True},
        "notifications": {"notify_sender_on_quarantine": False},
        "metrics": {"listen": None},
        "console": {"enabled": False},
    }
    (cfg / "gateway.yaml").write_text(yaml.safe_dump(_deep_update(base, gateway)))
    for name in ("policy.yaml", "detectors.yaml"):
        if not (cfg / name).exists():
            (cfg / name).write_text("{}\n")
    try:
        load(cfg)
    except ConfigError:
        for name in ("policy.yaml", "detectors.yaml"):
            if (REPO / "config" / name).exists():
                shutil.copy(REPO / "config" / name, cfg / name)
        if (REPO / "config" / "lists").is_dir() and not (cfg / "lists").exists():
            shutil.copytree(REPO / "config" / "lists", cfg / "lists")
        load(cfg)
    return cfg


def load_config(cfg_dir: Path) -> Config:
    return load(cfg_dir)


# ------------------------------------------------------------------ SMTP upstream (thread)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class RecordingHandler:
    messages: list[Received] = field(default_factory=list)
    refuse_data: str | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse_data:
            return self.refuse_data
        self.messages.append(Received(envelope.mail_from or "", list(envelope.rcpt_tos),
                                      bytes(envelope.original_content or b"")))
        return f"250 2.0.0 Ok: queued as Q{len(self.messages)}"


class RecordingUpstream:
    """aiosmtpd on 127.0.0.1 in its own thread: serves this process's event loop and subprocesses alike."""

    def __init__(self) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     server_hostname="upstream.test", enable_SMTPUTF8=True)

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def smtp_upstream() -> Iterator[RecordingUpstream]:
    """A recording SMTP server on loopback (thread)."""
    up = RecordingUpstream()
    up.start()
    yield up
    up.stop()


class _WebhookHandler(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.server.received.append(json.loads(self.rfile.read(length)))  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An HTTP server on loopback recording JSON POST bodies; yields (url, bodies)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _WebhookHandler)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", server.received  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


# ------------------------------------------------------------------ databases


def _in_thread(coro_fn: Any, *args: Any) -> Any:
    """Run a coroutine on a private loop in a worker thread: fixtures must not touch pytest-asyncio's loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(coro_fn(*args))).result()


async def _pg_admin(url: str, sql: str) -> None:
    import asyncpg

    u = sa.engine.make_url(url)
    conn = await asyncpg.connect(user=u.username, password=u.password, host=u.host, port=u.port,
                                 database=u.database)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def postgres_database() -> Iterator[str]:
    """A fresh database on the test server, dropped afterwards (the role needs CREATEDB)."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} not set")
    name = f"dlpgate_t_{uuid.uuid4().hex[:10]}"
    _in_thread(_pg_admin, base, f'CREATE DATABASE "{name}"')
    try:
        yield str(sa.engine.make_url(base).set(database=name).render_as_string(hide_password=False))
    finally:
        _in_thread(_pg_admin, base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for the embedded SQLite default; a fresh PostgreSQL database when DLPGATE_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        yield None
    else:
        yield from postgres_database()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database (skips without DLPGATE_TEST_POSTGRES_URL)."""
    yield from postgres_database()


# ------------------------------------------------------------------ looking for leaks


async def dump_tables(cfg: Config, tables: tuple[str, ...] = ("incidents", "audit", "digests_sent",
                                                               "incident_numbers")) -> str:
    """Every value of the named tables as text (JSON columns included), for "no personal value" checks."""
    from gateway.store.engine import make_engine

    engine = make_engine(cfg)
    try:
        async with engine.connect() as conn:
            out = []
            for name in tables:
                rows = (await conn.execute(sa.text(f"SELECT * FROM {name}"))).all()
                out.extend(json.dumps([str(v) for v in row], ensure_ascii=False) for row in rows)
        return "\n".join(out)
    finally:
        await engine.dispose()


def sqlite_file_bytes(cfg: Config) -> bytes:
    """The whole SQLite database as bytes after a checkpoint: what a stolen disk would show."""
    path = cfg.state_dir / "dlpgate.db"
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def assert_no_secrets(text: str | bytes, where: str) -> None:
    blob = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    for value in SECRET_VALUES:
        assert value not in blob, f"{value!r} found in {where}"


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``dlpgate ARGS`` in a NEW process (as an operator would run it)."""
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )
