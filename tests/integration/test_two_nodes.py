"""Two ``dlpgate serve`` processes on one PostgreSQL (issue 17): both relay; a message held by one is released
from the other exactly once; incident references from both never collide. Skipped without
DLPGATE_TEST_POSTGRES_URL (``scripts/test`` starts a throwaway cluster). One digest is sent per day."""

from __future__ import annotations

import asyncio
import os
import re
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.config import load
from gateway.store import Store
from tests.smtp_fixtures import MESSAGE, REPO, Upstream, make_config
from tests.store_fixtures import pg_url

__all__ = ["pg_url"]
pytestmark = pytest.mark.postgres

DLPGATE = [sys.executable, "-m", "gateway.cli"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
HELD = (REPO / "samples/policy/lookalike-typo-fire.eml").read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
HELD_FROM, HELD_TO = "jane.smith@cafcass.gov.uk", "tom.jones@cafcas.gov.uk"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _node(tmp_path: Path, name: str, db: str, upstream: Upstream, **extra: object) -> tuple[Path, int]:
    port = _free_port()
    cfg = make_config(tmp_path / name, extra | {
        "node_name": name,
        "server": {"listen_port": port},
        "upstream": {"url": upstream.url},
        "scan": {"enabled": True, "workers": 1},
        "store": {"url": db},
        "notifications": {"notify_sender_on_quarantine": False},
        "alerts": {"email": False},
        # Both nodes start after send_at, so both try to send yesterday's digest at once: one may.
        "digest": {"enabled": True, "to": "governance@cafcass.gov.uk", "sender": "dlpgate@cafcass.gov.uk",
                   "send_at": "00:00", "timezone": "UTC"},
    })
    return cfg, port


def _start(cfg: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([*DLPGATE, "serve", "--config", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=ENV)


def _wait_ready(proc: subprocess.Popen[str], cfg: Path) -> None:
    pidfile = load(cfg).state_dir / "dlpgate.pid"
    deadline = time.monotonic() + 240
    while not pidfile.exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "exited"
        assert time.monotonic() < deadline, "node did not start"
        time.sleep(0.3)


def _send(port: int, mail_from: str, rcpt: str, data: bytes) -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as c:
        c.ehlo("client.test")
        c.mail(mail_from)
        c.rcpt(rcpt)
        code, text = c.data(data)
        return code, text.decode()


@pytest.fixture
def nodes(tmp_path: Path, pg_url: str, upstream: Upstream) -> Iterator[list[tuple[Path, int]]]:
    a, b = _node(tmp_path, "node-a", pg_url, upstream), _node(tmp_path, "node-b", pg_url, upstream)
    up = subprocess.run([*DLPGATE, "db", "upgrade", "--config", str(a[0])], capture_output=True, text=True,
                        timeout=120, env=ENV)
    assert up.returncode == 0, up.stderr
    procs = [_start(a[0]), _start(b[0])]
    try:
        for proc, (cfg, _) in zip(procs, (a, b), strict=True):
            _wait_ready(proc, cfg)
        yield [a, b]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)


def _release(cfg: Path, ref: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DLPGATE, "quarantine", "release", ref, "--config", str(cfg), "--reason", "two-node test"],
                          capture_output=True, text=True, timeout=180, env=ENV)


async def test_two_nodes_share_one_database(nodes: list[tuple[Path, int]], upstream: Upstream) -> None:
    (cfg_a, port_a), (cfg_b, port_b) = nodes
    # Both relay.
    for port in (port_a, port_b):
        code, _ = await asyncio.to_thread(_send, port, "a@cafcass.gov.uk", "b@cafcass.gov.uk", MESSAGE)
        assert code == 250
    assert len([m for m in upstream.handler.messages if m.rcpt_tos == ["b@cafcass.gov.uk"]]) == 2

    # Held by A, released from B exactly once (two releases racing from B's side).
    code, text = await asyncio.to_thread(_send, port_a, HELD_FROM, HELD_TO, HELD)
    assert code == 250 and "held for review" in text, text
    ref = re.search(r"INC-\d{4}-\d+", text)
    assert ref is not None
    first, second = await asyncio.gather(asyncio.to_thread(_release, cfg_b, ref.group(0)),
                                         asyncio.to_thread(_release, cfg_b, ref.group(0)))
    assert sorted([first.returncode == 0, second.returncode == 0]) == [False, True], (first, second)
    released = [m for m in upstream.handler.messages if HELD_TO in m.rcpt_tos]
    assert len(released) == 1

    # References from both nodes, written at the same time, never collide.
    sends = [asyncio.to_thread(_send, port, HELD_FROM, HELD_TO, HELD) for port in (port_a, port_b) * 3]
    replies = await asyncio.gather(*sends)
    refs = [m.group(0) for _, t in replies if (m := re.search(r"INC-\d{4}-\d+", t))]
    assert len(refs) == 6 and len(set(refs)) == 6
    store = await Store.open(load(cfg_a))
    try:
        incidents = await store.list_incidents()
    finally:
        await store.close()
    all_refs = [i.reference for i in incidents]
    assert len(all_refs) == len(set(all_refs)) == 7
    assert {i.node for i in incidents} == {"node-a", "node-b"}

    # One digest for the day, whichever node sent it.
    digests = [m for m in upstream.handler.messages if m.rcpt_tos == ["governance@cafcass.gov.uk"]]
    assert len(digests) == 1


class _Proxy:
    """A TCP relay in front of PostgreSQL, so a test can make the database unreachable (every connection cut
    and new ones refused) and reachable again on the same address, as a network partition or a failover does."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = _free_port()
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.close()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        except asyncio.CancelledError:
            pass  # the test's loop is closing
        self._writers -= {writer, up_writer}

    async def cut(self) -> None:
        """Unreachable: refuse new connections and reset every open one."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()


def _readyz(port: int) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _wait_readyz(port: int, want: int, timeout: float = 60, line: str = "") -> str:
    """/readyz's body once it answers ``want`` with a line starting ``line`` (the write probe's result is
    reused for a few seconds, so it may lag the plain database check)."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = _readyz(port)
        found = status == want and any(x.startswith(line) for x in body.splitlines())
        if found or time.monotonic() > deadline:
            assert found, (status, body)
            return body
        time.sleep(0.5)


async def test_postgres_unreachable_gives_451_and_readyz_says_why(tmp_path: Path, pg_url: str,
                                                                  upstream: Upstream) -> None:
    """Two nodes on one PostgreSQL reached through a relay that the test cuts: while it is cut, a message the
    policy holds and one it rejects both get 451 (never "held" nor a 550 without its record), a clean message
    still flows (250), and each node's /readyz is 503 naming the database write and why. Once the database is
    reachable again both nodes are ready and hold messages again."""
    import sqlalchemy as sa

    url = sa.engine.make_url(pg_url)
    proxy = _Proxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    nodes = []
    for name in ("node-a", "node-b"):
        metrics = _free_port()
        cfg, port = _node(tmp_path, name, proxied, upstream, metrics={"listen": f"127.0.0.1:{metrics}"})
        nodes.append((cfg, port, metrics))
    up = await asyncio.to_thread(subprocess.run, [*DLPGATE, "db", "upgrade", "--config", str(nodes[0][0])],
                                 capture_output=True, text=True, timeout=120, env=ENV)
    assert up.returncode == 0, up.stderr
    procs = [_start(cfg) for cfg, _, _ in nodes]
    rejected = (REPO / "samples/policy/personal-address-fire.eml").read_bytes().replace(b"\r\n", b"\n")
    rejected = rejected.replace(b"\n", b"\r\n")
    try:
        for proc, (cfg, _, _) in zip(procs, nodes, strict=True):
            await asyncio.to_thread(_wait_ready, proc, cfg)
        for _, port, metrics in nodes:
            await asyncio.to_thread(_wait_readyz, metrics, 200, 240)

        await proxy.cut()
        for _, port, metrics in nodes:
            code, text = await asyncio.to_thread(_send, port, HELD_FROM, HELD_TO, HELD)
            assert code == 451 and "held" not in text, text
            code, text = await asyncio.to_thread(_send, port, HELD_FROM, "janesmith84@gmail.com", rejected)
            assert code == 451, text
            code, text = await asyncio.to_thread(_send, port, "a@cafcass.gov.uk", "b@cafcass.gov.uk", MESSAGE)
            assert code == 250, text
            body = await asyncio.to_thread(_wait_readyz, metrics, 503, 30, "database_write FAIL")
            line = next(x for x in body.splitlines() if x.startswith("database_write "))
            assert line.startswith("database_write FAIL ") and len(line) > len("database_write FAIL "), body
            assert "spool ok" in body and "models ok" in body, body
        assert not [m for m in upstream.handler.messages if HELD_TO in m.rcpt_tos]

        await proxy.start()
        for _, port, metrics in nodes:
            body = await asyncio.to_thread(_wait_readyz, metrics, 200, 60, "database_write ok")
            code, text = await asyncio.to_thread(_send, port, HELD_FROM, HELD_TO, HELD)
            assert code == 250 and "held for review" in text, text
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:  # waited for off the loop: the relay to the database runs on it
            await asyncio.to_thread(proc.wait, 60)
        await proxy.cut()
