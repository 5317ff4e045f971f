"""PostgreSQL unreachable under a running gateway (issue 17, docs/postgresql-ha.md): quarantine answers 451 and
never a false "held", /readyz says why, mail that passes (here: encrypted) keeps flowing with its incident
spooled, and holding works again once the database is back. The test runs its own throwaway cluster so it can
stop and start it (``scripts/pg-test-cluster`` with a private folder and port)."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import smtplib
import socket
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.smtp_fixtures import REPO, Upstream

pytestmark = pytest.mark.postgres

SENDER = "jane.smith@cafcass.gov.uk"
HELD = ("lookalike-typo-fire.eml", "tom.jones@cafcas.gov.uk")
ENCRYPTED = ("protected-info-fire.eml", "n.okafor@okafor-law.co.uk")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A PostgreSQL cluster of our own, stopped and started by the test."""

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not bins:
            pytest.skip("PostgreSQL server binaries not installed")
        self.pg_ctl = bins[-1]
        self.dir = Path(tempfile.mkdtemp(prefix="dlpgate-pg-outage-"))
        self.dir.rmdir()  # the script makes it, owned by the postgres user
        self.port = _free_port()
        self.env = {**os.environ, "DLPGATE_PG_DIR": str(self.dir), "DLPGATE_PG_PORT": str(self.port)}

    def create(self) -> str:
        out = subprocess.run([str(REPO / "scripts/pg-test-cluster"), "start"], capture_output=True, text=True,
                             env=self.env, timeout=120)
        if out.returncode != 0:
            pytest.skip(f"could not start PostgreSQL: {out.stderr.strip()[:200]}")
        return out.stdout.strip()

    def _as_pg(self, *cmd: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else list(cmd)

    def stop(self) -> None:
        subprocess.run(self._as_pg(self.pg_ctl, "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop"),
                       check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        subprocess.run(self._as_pg(self.pg_ctl, "-D", str(self.dir / "data"), "-l", str(self.dir / "server.log"),
                                   "-w", "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                                   "-c fsync=off", "start"), check=True, capture_output=True, timeout=60)

    def remove(self) -> None:
        subprocess.run(self._as_pg(self.pg_ctl, "-D", str(self.dir / "data"), "-m", "immediate", "stop"),
                       capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    c = Cluster()
    try:
        yield c
    finally:
        c.remove()


def _send(port: int, which: tuple[str, str]) -> tuple[int, str]:
    name, rcpt = which
    data = (REPO / "samples/policy" / name).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
        client.ehlo("client.test")
        client.mail(SENDER)
        client.rcpt(rcpt)
        code, text = client.data(data)
    return code, text.decode()


def _ready(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def test_database_outage_tempfails_holds_and_keeps_passing_mail(gateway_factory, upstream: Upstream,
                                                                       cluster: Cluster) -> None:
    """With PostgreSQL stopped: a message the policy holds gets 451 (no "held"), /readyz is 503 naming the
    database, an encrypted (passing) message is relayed with its incident spooled; restarted: held again."""
    url = cluster.create()
    mport = _free_port()
    app = await gateway_factory({
        "upstream": {"url": upstream.url}, "scan": {"enabled": True, "workers": 1},
        "store": {"url": url, "auto_upgrade": True}, "metrics": {"listen": f"127.0.0.1:{mport}"},
        "notifications": {"notify_sender_on_quarantine": False}, "alerts": {"email": False},
    })
    code, text = await asyncio.to_thread(_send, app.port, HELD)
    assert code == 250 and "held for review" in text, text
    for _ in range(100):
        if app.metrics is not None and app.metrics.port:
            break
        await asyncio.sleep(0.02)

    await asyncio.to_thread(cluster.stop)
    code, text = await asyncio.to_thread(_send, app.port, HELD)
    assert code == 451 and "held" not in text, text
    status, body = await asyncio.to_thread(_ready, mport)
    assert status == 503 and "database FAIL" in body, body
    code, text = await asyncio.to_thread(_send, app.port, ENCRYPTED)
    assert code == 250, text
    assert len(upstream.handler.messages) == 1  # the encrypted one; nothing held was delivered
    spooled = list((app.cfg.state_dir / "spool" / "incidents").glob("*"))
    assert spooled, "the relayed message's incident was not spooled"

    await asyncio.to_thread(cluster.start)
    code, text = await asyncio.to_thread(_send, app.port, HELD)
    assert code == 250 and "held for review" in text, text
