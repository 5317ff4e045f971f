"""`dlpgate serve` as a real process: a quarantined message survives SIGKILL right after the 250, and the
process answers SIGTERM gracefully."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.smtp_fixtures import REPO, make_config

DLPGATE = [sys.executable, "-m", "gateway.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    end = time.time() + timeout
    while time.time() < end:
        assert proc.poll() is None, "gateway exited during start-up"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gateway did not start")


def test_quarantine_survives_sigkill_after_250(tmp_path: Path) -> None:
    """The 250 for a held message comes after the commit: killing the process at once loses nothing."""
    md = tmp_path / "maildir"
    cfg = make_config(tmp_path, {"upstream": {"url": f"maildir:{md}"}, "scan": {"enabled": True, "workers": 1},
                                 "notifications": {"notify_sender_on_quarantine": False}})
    port = _free_port()
    proc = subprocess.Popen([*DLPGATE, "serve", "--config", str(cfg), "--listen", f"127.0.0.1:{port}"],
                            cwd=tmp_path, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, proc)
        raw = (REPO / "samples/policy/lookalike-typo-fire.eml").read_bytes().replace(b"\r\n", b"\n")
        raw = raw.replace(b"\n", b"\r\n")
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as c:
            c.ehlo("x")
            c.mail("jane.smith@cafcass.gov.uk")
            c.rcpt("tom.jones@cafcas.gov.uk")
            code, text = c.data(raw)
            os.kill(proc.pid, signal.SIGKILL)  # no chance to flush anything after the reply
        assert code == 250
        ref = text.decode().split("reference ")[1].split()[0]
    finally:
        proc.kill()
        proc.wait(10)
    out = subprocess.run([*DLPGATE, "quarantine", "list", "--json", "--config", str(cfg)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    refs = [json.loads(line).get("reference") for line in out.stdout.splitlines()]
    assert ref in refs
    assert not (md / "new").exists() or not list((md / "new").iterdir())


def test_sigterm_stops_gracefully(tmp_path: Path) -> None:
    """SIGTERM: the process stops accepting, finishes, and exits 0."""
    cfg = make_config(tmp_path, {"upstream": {"url": f"maildir:{tmp_path / 'md'}"}})
    port = _free_port()
    proc = subprocess.Popen([*DLPGATE, "serve", "--config", str(cfg), "--listen", f"127.0.0.1:{port}"],
                            cwd=tmp_path, stderr=subprocess.PIPE)
    _wait_port(port, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert b'"event": "stopped"' in err


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out.extend(int(c) for c in text)
    return out


def test_workers_die_with_a_killed_gateway(tmp_path: Path) -> None:
    """SIGKILL on the gateway leaves no orphaned scan workers behind."""
    cfg = make_config(tmp_path, {"upstream": {"url": f"maildir:{tmp_path / 'md'}"},
                                 "scan": {"enabled": True, "workers": 2}})
    port = _free_port()
    proc = subprocess.Popen([*DLPGATE, "serve", "--config", str(cfg), "--listen", f"127.0.0.1:{port}"],
                            cwd=tmp_path, stderr=subprocess.DEVNULL)
    _wait_port(port, proc)
    workers: list[int] = []
    end = time.time() + 60
    while time.time() < end and len(workers) < 2:  # the listener may open before every worker has spawned
        workers = [c for c in _children(proc.pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
        time.sleep(0.2)
    assert len(workers) == 2
    proc.kill()
    proc.wait(10)
    end = time.time() + 10
    while time.time() < end and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.1)
    alive = [w for w in workers if Path(f"/proc/{w}").exists()
             and b"spawn_main" in Path(f"/proc/{w}/cmdline").read_bytes()]
    assert alive == []
