"""Running the gateway as an operator does (issue 17): a second ``serve`` on a busy port, ``dlpgate reload``
waiting for the gateway's answer, a metrics port clash that names the address."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import structlog

from gateway.app import reload_status_path
from gateway.metrics import MetricsServer, Probes
from tests.smtp_fixtures import Upstream, make_config

DLPGATE = [sys.executable, "-m", "gateway.cli"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def _busy_socket() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s


def test_second_serve_on_busy_port_says_so_in_one_line_and_keeps_the_pid_file(tmp_path: Path) -> None:
    busy = _busy_socket()
    port = busy.getsockname()[1]
    cfg = make_config(tmp_path, {"server": {"listen_port": port}})
    pidfile = tmp_path / "state" / "dlpgate.pid"
    pidfile.parent.mkdir(parents=True)
    pidfile.write_text("4242\n")  # the running instance's
    try:
        started = time.monotonic()
        proc = subprocess.run([*DLPGATE, "serve", "--config", str(cfg)], capture_output=True, text=True,
                              timeout=120, env=ENV)
    finally:
        busy.close()
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert f"127.0.0.1:{port}" in lines[0] and "Traceback" not in proc.stderr
    assert "in use" in lines[0].lower()
    assert pidfile.read_text() == "4242\n"
    assert time.monotonic() - started < 60


async def test_metrics_clash_names_the_address() -> None:
    busy = _busy_socket()
    listen = f"127.0.0.1:{busy.getsockname()[1]}"

    async def ready() -> dict[str, bool]:
        return {}

    probes = Probes(in_flight=lambda: 0, connections=lambda: 0, waiting=lambda: 0, running=lambda: 0,
                    readiness=ready, warnings=dict)
    import asyncio

    try:
        with structlog.testing.capture_logs() as logs:
            await MetricsServer(listen, probes).run(asyncio.Event())
    finally:
        busy.close()
    (failed,) = [e for e in logs if e["event"] == "metrics_listen_failed"]
    assert failed["listen"] == listen and failed["detail"]


async def test_reload_failure_is_reported_with_file_and_key(gateway_factory, upstream: Upstream) -> None:
    app = await gateway_factory({"upstream": {"url": upstream.url}})
    status = reload_status_path(app.cfg)
    assert await app.reload() is True
    assert json.loads(status.read_text())["ok"] is True
    policy = app.cfg.directory / "policy.yaml"
    policy.write_text(policy.read_text() + "\nno_such_key: 1\n")
    assert await app.reload() is False
    record = json.loads(status.read_text())
    assert record["ok"] is False and record["pid"] == os.getpid()
    assert any("policy.yaml: no_such_key: unknown key" in p for p in record["problems"]), record


def test_reload_command_waits_for_the_gateway(tmp_path: Path) -> None:
    port_sock = socket.socket()
    port_sock.bind(("127.0.0.1", 0))
    port = port_sock.getsockname()[1]
    port_sock.close()
    cfg = make_config(tmp_path, {"server": {"listen_port": port}, "upstream": {"url": "maildir:" + str(tmp_path / "md")}})
    pidfile = tmp_path / "state" / "dlpgate.pid"
    proc = subprocess.Popen([*DLPGATE, "serve", "--config", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        deadline = time.monotonic() + 120
        while not pidfile.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert pidfile.exists(), proc.stderr.read() if proc.poll() is not None else "no pid file"
        out = subprocess.run([*DLPGATE, "reload", "--config", str(cfg), "--timeout", "60"], capture_output=True,
                             text=True, timeout=90, env=ENV)
        assert out.returncode == 0, out.stderr
        assert "reloaded (generation 2)" in out.stdout
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    assert not pidfile.exists()  # its own pid file is removed on a clean stop
