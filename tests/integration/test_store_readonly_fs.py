"""The database's files going bad under a running `dlpgate serve` (issue 13): journal or shared-memory files cut
short or made read-only, or the whole state folder turning read-only, give replies (451 when a write cannot be
made), never a crash (SIGBUS from a memory-mapped SQLite index) and never a "held" that is not in the database.

CI runs as root, where chmod does not stop writes, so the read-only folder is a read-only bind mount laid over the
state folder inside a private mount namespace (`unshare -m`); that test skips when namespaces are not available.
"""

from __future__ import annotations

import json
import os
import shutil
import smtplib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.integration.test_crash_safety import _free_port, _wait_port
from tests.smtp_fixtures import REPO, make_config

DLPGATE = [sys.executable, "-m", "gateway.cli"]
SENDER = "jane.smith@cafcass.gov.uk"
RCPT = "tom.jones@cafcas.gov.uk"  # a lookalike domain: the shipped policy holds it


def _held_message(i: int) -> bytes:
    raw = (REPO / "samples/policy/lookalike-typo-fire.eml").read_bytes().replace(b"\r\n", b"\n")
    raw = raw.replace(b"\nSubject: ", b"\nSubject: %d " % i, 1)
    return raw.replace(b"\n", b"\r\n")


def _send(port: int, i: int) -> tuple[int, str]:
    """DATA reply for one held-class message; (-1, error) when the connection died instead of answering."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            client.ehlo("client.test")
            client.mail(SENDER)
            client.rcpt(RCPT)
            code, text = client.data(_held_message(i))
            return code, text.decode()
    except (smtplib.SMTPServerDisconnected, ConnectionError) as exc:
        return -1, exc.__class__.__name__


def _held_refs(cfg: Path, cwd: Path) -> set[str]:
    out = subprocess.run([*DLPGATE, "quarantine", "list", "--all", "--json", "--config", str(cfg)], cwd=cwd,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return {json.loads(line)["reference"] for line in out.stdout.splitlines()}


def _ref(text: str) -> str:
    return text.split("reference ")[1].split()[0]


def _config(tmp_path: Path, state: Path, metrics_port: int | None = None) -> Path:
    metrics = {"listen": f"127.0.0.1:{metrics_port}" if metrics_port else None}
    return make_config(tmp_path, {"state_dir": str(state), "upstream": {"url": f"maildir:{tmp_path / 'md'}"},
                                  "scan": {"enabled": True, "workers": 1},
                                  "store": {"busy_timeout_seconds": 1}, "metrics": metrics,
                                  "notifications": {"notify_sender_on_quarantine": False}})


def _readyz(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _readyz_line(port: int, prefix: str, timeout: float = 30) -> tuple[int, str]:
    """(status, line) once /readyz has a line starting ``prefix`` (write probes are reused for a few seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = _readyz(port)
        line = next((x for x in body.splitlines() if x.startswith(prefix)), "")
        if line or time.monotonic() > deadline:
            return status, line or body
        time.sleep(0.5)


def test_database_side_files_cut_short_do_not_crash_the_gateway(tmp_path: Path) -> None:
    """Every -wal/-shm/-journal file beside the database truncated and made read-only under a running gateway:
    the next messages are still answered (the process survives), and every "held" reference is in the store."""
    state = tmp_path / "state"
    cfg = _config(tmp_path, state)
    port = _free_port()
    proc = subprocess.Popen([*DLPGATE, "serve", "--config", str(cfg), "--listen", f"127.0.0.1:{port}"],
                            cwd=tmp_path, stderr=subprocess.DEVNULL)
    held: set[str] = set()
    try:
        _wait_port(port, proc)
        code, text = _send(port, 0)
        assert code == 250, text
        held.add(_ref(text))
        for side in sorted(state.glob("dlpgate.db-*")):
            os.truncate(side, 0)
            side.chmod(0o444)
        for i in range(1, 4):
            code, text = _send(port, i)
            assert code in (250, 451), f"message {i}: {code} {text}"
            assert proc.poll() is None, f"gateway died with {proc.returncode}"
            if code == 250:
                held.add(_ref(text))
    finally:
        proc.kill()
        proc.wait(10)
    assert proc.returncode == -9  # killed by us, not by SIGBUS
    assert held <= _held_refs(cfg, tmp_path)


def _namespaces_work() -> str | None:
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        return "needs unshare and nsenter (util-linux)"
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                            "d=$(mktemp -d) && mount -t tmpfs tmpfs $d && mount --bind $d $d "
                            "&& mount -o remount,bind,ro $d"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"cannot make a private read-only mount here: {probe.stderr.strip()[:200]}"
    return None


def test_read_only_state_folder_gives_451_then_recovers(tmp_path: Path) -> None:
    """The state folder (a tmpfs) turns read-only under the running gateway: held messages get 451, never a
    crash and never a 250 that is not in the database, and /readyz is 503 naming the database write and the
    spool folders with the reason; once it is writable again they are held (250) and it is ready again."""
    why = _namespaces_work()
    if why:
        pytest.skip(why)
    state = tmp_path / "state"
    state.mkdir()
    metrics_port = _free_port()
    cfg = _config(tmp_path, state, metrics_port)
    port = _free_port()
    serve = " ".join([*DLPGATE, "serve", "--config", str(cfg), "--listen", f"127.0.0.1:{port}"])
    proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c",
                             f"mount -t tmpfs -o size=64m,mode=0700 tmpfs {state} && exec {serve}"],
                            cwd=tmp_path, stderr=subprocess.DEVNULL)

    def in_namespace(script: str) -> None:
        subprocess.run(["nsenter", "-t", str(proc.pid), "-m", "sh", "-c", script], check=True, timeout=30)

    held: set[str] = set()
    replies: list[int] = []
    try:
        _wait_port(port, proc)
        code, text = _send(port, 0)
        assert code == 250, text
        held.add(_ref(text))
        assert _readyz_line(metrics_port, "database_write ok") == (200, "database_write ok")
        in_namespace(f"mount --bind {state} {state} && mount -o remount,bind,ro {state}")
        for i in range(1, 4):
            code, text = _send(port, i)
            replies.append(code)
            assert proc.poll() is None, f"gateway died with {proc.returncode}"
            if code == 250:
                held.add(_ref(text))
        status, db_line = _readyz_line(metrics_port, "database_write FAIL")
        _, spool_line = _readyz_line(metrics_port, "spool FAIL")
        _, message_spool_line = _readyz_line(metrics_port, "message_spool FAIL")
        in_namespace(f"umount {state}")
        time.sleep(0.2)
        ready_again = _readyz_line(metrics_port, "database_write ok")
        code, text = _send(port, 9)
        assert code == 250, text
        held.add(_ref(text))
        listed = subprocess.run(["nsenter", "-t", str(proc.pid), "-m", *DLPGATE, "quarantine", "list", "--all",
                                 "--json", "--config", str(cfg)], cwd=tmp_path, capture_output=True, text=True,
                                timeout=120)
        assert listed.returncode == 0, listed.stderr
        stored = {json.loads(line)["reference"] for line in listed.stdout.splitlines()}
    finally:
        proc.kill()
        proc.wait(10)
    assert replies == [451, 451, 451]
    assert held <= stored
    assert status == 503 and len(db_line) > len("database_write FAIL "), db_line
    assert spool_line.endswith("Read-only file system") and "incidents" in spool_line, spool_line
    assert message_spool_line.endswith("Read-only file system"), message_spool_line
    assert ready_again == (200, "database_write ok")
