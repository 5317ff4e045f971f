"""STARTTLS certificates re-read on SIGHUP (issue 17): a renewal is served to new connections without a restart;
a pair that does not load keeps the running certificate and is reported with its file and key."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from cryptography import x509

from gateway.app import reload_status_path
from tests.smtp_fixtures import MESSAGE, Upstream, make_config
from tests.tls_fixtures import CertAuthority, send_tls, served_certificate

DLPGATE = [sys.executable, "-m", "gateway.cli"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def _rotate(ca: CertAuthority, folder: Path, live: tuple[Path, Path], stem: str) -> int:
    """Issue a new certificate and move it over the live files as a renewal tool does (rename, not rewrite);
    returns the new serial."""
    crt, key = ca.issue(folder, stem, cn="dlpgate.test", dns=["dlpgate.test"], client=False, ips=("127.0.0.1",))
    serial = x509.load_pem_x509_certificate(crt.read_bytes()).serial_number
    os.replace(key, live[1])
    os.replace(crt, live[0])
    return serial


async def test_reload_serves_the_renewed_certificate(gateway_factory, upstream: Upstream, tmp_path: Path) -> None:
    """After the files are replaced and the gateway reloads, a new connection gets the new certificate and mail
    still relays over it; before the reload the old one is still served."""
    ca = CertAuthority.create(tmp_path / "pki", "Reload Test Root")
    live = ca.issue(tmp_path / "tls", "live", cn="dlpgate.test", dns=["dlpgate.test"], client=False,
                    ips=("127.0.0.1",))
    first = x509.load_pem_x509_certificate(live[0].read_bytes()).serial_number
    app = await gateway_factory({"upstream": {"url": upstream.url},
                                 "server": {"tls": {"cert": str(live[0]), "key": str(live[1])}}})
    assert (await asyncio.to_thread(served_certificate, app.port, ca.path)).serial_number == first
    second = _rotate(ca, tmp_path / "new", live, "renewed")
    assert (await asyncio.to_thread(served_certificate, app.port, ca.path)).serial_number == first
    assert await app.reload() is True
    assert (await asyncio.to_thread(served_certificate, app.port, ca.path)).serial_number == second != first
    await asyncio.to_thread(send_tls, app.port, ca.path, MESSAGE, client=None, source="127.0.0.1",
                            rcpts=("bob@cafcass.gov.uk",))
    assert len(upstream.handler.messages) == 1


async def test_broken_pair_keeps_the_running_certificate(gateway_factory, upstream: Upstream,
                                                         tmp_path: Path) -> None:
    """A key that does not match the new certificate (a half-done renewal): the reload fails naming
    gateway.yaml and server.tls.cert, nothing changes, and the old certificate is still served."""
    ca = CertAuthority.create(tmp_path / "pki", "Reload Test Root")
    live = ca.issue(tmp_path / "tls", "live", cn="dlpgate.test", dns=["dlpgate.test"], client=False,
                    ips=("127.0.0.1",))
    first = x509.load_pem_x509_certificate(live[0].read_bytes()).serial_number
    app = await gateway_factory({"upstream": {"url": upstream.url},
                                 "server": {"tls": {"cert": str(live[0]), "key": str(live[1])}}})
    generation = app.generation
    saved_key = live[1].read_bytes()
    other_crt, _ = ca.issue(tmp_path / "new", "other", cn="dlpgate.test", dns=["dlpgate.test"], client=False)
    shutil.copy(other_crt, live[0])  # certificate renewed, key not yet
    assert await app.reload() is False
    record = json.loads(reload_status_path(app.cfg).read_text())
    assert record["ok"] is False
    assert any("gateway.yaml: server.tls.cert: cannot load the certificate" in p for p in record["problems"]), record
    assert app.generation == generation
    live[1].write_bytes(saved_key)  # the files are still inconsistent; the running context is unaffected
    assert (await asyncio.to_thread(served_certificate, app.port, ca.path)).serial_number == first


def test_sighup_through_dlpgate_reload(tmp_path: Path) -> None:
    """The operator's path: `dlpgate serve`, rotate the files, `dlpgate reload` (SIGHUP, waits for the answer),
    and the next connection to the same process gets the new certificate."""
    ca = CertAuthority.create(tmp_path / "pki", "Reload Test Root")
    live = ca.issue(tmp_path / "tls", "live", cn="dlpgate.test", dns=["dlpgate.test"], client=False,
                    ips=("127.0.0.1",))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = make_config(tmp_path, {"server": {"listen_port": port, "tls": {"cert": str(live[0]), "key": str(live[1])}},
                                 "upstream": {"url": "maildir:" + str(tmp_path / "md")}})
    pidfile = tmp_path / "state" / "dlpgate.pid"
    proc = subprocess.Popen([*DLPGATE, "serve", "--config", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        deadline = time.monotonic() + 120
        while not pidfile.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert pidfile.exists(), proc.stderr.read() if proc.poll() is not None else "no pid file"
        pid = int(pidfile.read_text())
        before = served_certificate(port, ca.path).serial_number
        after = _rotate(ca, tmp_path / "new", live, "renewed")
        out = subprocess.run([*DLPGATE, "reload", "--config", str(cfg), "--timeout", "60"], capture_output=True,
                             text=True, timeout=90, env=ENV)
        assert out.returncode == 0, out.stderr
        assert served_certificate(port, ca.path).serial_number == after != before
        assert int(pidfile.read_text()) == pid and proc.poll() is None  # same process, no restart
    finally:
        proc.terminate()
        proc.wait(timeout=60)
