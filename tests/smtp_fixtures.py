"""Real SMTP on loopback for tests: a recording aiosmtpd upstream and a gateway started from a temp config."""

from __future__ import annotations

import asyncio
import shutil
import smtplib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiosmtpd.smtp import SMTP, Envelope, Session

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


class RecordingHandler:
    """Upstream behaviour under test control: refuse some recipients, fail DATA, delay DATA."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.refuse_rcpt: dict[str, str] = {}
        self.data_reply: str | None = None
        self.data_delay = 0.0
        self.transactions = 0

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        self.transactions += 1
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.data_reply:
            return self.data_reply
        self.messages.append(Received(envelope.mail_from or "", list(envelope.rcpt_tos),
                                      bytes(envelope.original_content or b"")))
        return f"250 2.0.0 Ok: queued as Q{len(self.messages)}"


class LongLineSMTP(SMTP):
    line_length_limit = 1_000_000


@dataclass
class Upstream:
    handler: RecordingHandler = field(default_factory=RecordingHandler)
    port: int = 0
    server: asyncio.base_events.Server | None = None
    protocols: list[SMTP] = field(default_factory=list)

    async def start(self, port: int = 0) -> None:
        loop = asyncio.get_running_loop()

        def factory() -> SMTP:
            proto = LongLineSMTP(self.handler, hostname="upstream.test", enable_SMTPUTF8=True,
                                 data_size_limit=None, loop=loop)
            self.protocols.append(proto)
            return proto

        self.server = await loop.create_server(factory, "127.0.0.1", port or self.port, reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for p in self.protocols:
                if p.transport is not None:
                    p.transport.close()
            self.protocols.clear()
            await self.server.wait_closed()
            self.server = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


def deep_update(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            deep_update(base[k], v)
        else:
            base[k] = v
    return base


def make_config(tmp: Path, gateway: dict[str, Any], policy: dict[str, Any] | None = None) -> Path:
    """A config folder in tmp: the repo's policy/detectors/lists plus a gateway.yaml for the test."""
    cfg = tmp / "config"
    if cfg.exists():
        shutil.rmtree(cfg)
    shutil.copytree(REPO / "config", cfg)
    for name in ("policy.yaml", "detectors.yaml"):
        if not (cfg / name).exists():  # scan-off relay tests need only a loadable file
            (cfg / name).write_text("{}\n")
    base: dict[str, Any] = {
        "state_dir": str(tmp / "state"),
        "server": {"listen_host": "127.0.0.1", "listen_port": 0, "hostname": "dlpgate.test"},
        "scan": {"enabled": False, "workers": 1},
        "metrics": {"listen": None},
        "digest": {"enabled": False},
        "console": {"enabled": False},
    }
    (cfg / "gateway.yaml").write_text(yaml.safe_dump(deep_update(base, gateway)))
    if policy is not None:
        data = yaml.safe_load((cfg / "policy.yaml").read_text()) or {}
        (cfg / "policy.yaml").write_text(yaml.safe_dump(deep_update(data, policy)))
    return cfg


def send(port: int, mail_from: str, rcpts: list[str], data: bytes, *, source: str | None = None,
         timeout: float = 30) -> dict[str, tuple[int, bytes]]:
    """Send with smtplib (a real client), raising its exceptions; returns refused recipients."""
    kw: dict[str, Any] = {"timeout": timeout}
    if source:
        kw["source_address"] = (source, 0)
    with smtplib.SMTP("127.0.0.1", port, **kw) as client:
        client.ehlo("client.test")
        return client.sendmail(mail_from, rcpts, data)


MESSAGE = (
    b"From: Alice Example <alice@cafcass.gov.uk>\r\n"
    b"To: Bob <bob@cafcass.gov.uk>\r\n"
    b"Subject: Quarterly figures\r\n"
    b"Message-ID: <m1@test>\r\n"
    b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Hello Bob,\r\n"
    b".leading dot line stays\r\n"
    b"caf\xc3\xa9 8-bit text\r\n"
    b"trailing spaces   \r\n"
    b"\r\n"
    b"Alice\r\n"
)
