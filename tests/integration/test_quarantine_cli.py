"""The governance CLI as an operator runs it: `dlpgate quarantine ...` in a NEW process against a real
upstream on loopback (release once; a second release refused with exit 1; nothing lost when the process that
stored the message is killed right after the commit), plus `incidents` and `db` in process."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import pwd
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import structlog

from gateway.cli import main
from gateway.config import Config
from gateway.store import Store, migrate
from gateway.store.schema import utcnow
from tests.store_fixtures import (
    CHILD_NAME,
    FrozenClock,
    RecordingUpstream,
    assert_no_secrets,
    load_config,
    make_scan,
    make_submission,
    monitor_decision,
    pg_url,
    quarantine_decision,
    run_cli,
    smtp_upstream,
    store_url,
    write_config,
)

__all__ = ["pg_url", "smtp_upstream", "store_url"]

OS_USER = pwd.getpwuid(os.getuid()).pw_name


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    """In-process CLI runs configure structlog for stderr; put the defaults back for other tests."""
    yield
    structlog.reset_defaults()


def setup_config(tmp_path: Path, url: str | None, port: int) -> Config:
    return load_config(write_config(tmp_path, upstream_port=port, store_url=url,
                                    store={"url": url, "auto_upgrade": True} if url else {}))


def seed(cfg: Config, *, markers: tuple[str, ...] = ("m1",), monitor: bool = False,
         clock: FrozenClock | None = None) -> list[tuple[str, bytes]]:
    """Quarantine messages in a private event loop (these tests are synchronous, like an operator)."""

    async def go() -> list[tuple[str, bytes]]:
        store = await Store.open(cfg, clock=clock or FrozenClock())
        out = []
        try:
            for m in markers:
                sub = make_submission(marker=m)
                out.append((await store.quarantine(sub, make_scan(sub), quarantine_decision(),
                                                   route={"upstream": cfg.gateway.upstream.url}), sub.raw))
            if monitor:
                sub = make_submission(marker="mon")
                ref = await store.record_incident(sub, make_scan(sub), monitor_decision(), delivered=True)
                await store.mark_incident(ref, "potential_breach", actor="gina", reason="a personal address")
                out.append((ref, sub.raw))
        finally:
            await store.close()
        return out

    return asyncio.run(go())


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def test_release_in_a_new_process_delivers_once(tmp_path: Path, store_url: str | None,
                                                smtp_upstream: RecordingUpstream) -> None:
    """`quarantine release` sends the stored bytes once; a second release is refused with exit code 1."""
    cfg = setup_config(tmp_path, store_url, smtp_upstream.port)
    [(ref, raw)] = seed(cfg)
    first = run_cli("quarantine", "release", ref, "--config", str(cfg.directory), "--reason", "checked",
                    "--by", "gov.officer", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"{ref}: released (250)" in first.stdout
    second = run_cli("quarantine", "release", ref, "--config", str(cfg.directory), "--reason", "again",
                     cwd=tmp_path)
    assert second.returncode == 1
    assert f"{ref} is released: cannot release" in second.stderr
    assert len(smtp_upstream.messages) == 1
    got = smtp_upstream.messages[0]
    assert got.data == raw
    assert got.rcpt_tos == ["someone@gmail.com", "bob@cafcass.gov.uk"]
    for proc in (first, second):
        assert_no_secrets(proc.stdout + proc.stderr, "CLI output and logs")
        assert "someone@gmail.com" not in proc.stderr


def test_two_officers_releasing_at_once(tmp_path: Path, smtp_upstream: RecordingUpstream) -> None:
    """Two processes releasing the same message at the same moment deliver it once."""
    cfg = setup_config(tmp_path, None, smtp_upstream.port)
    [(ref, _)] = seed(cfg)
    cmd = [sys.executable, "-m", "gateway.cli", "quarantine", "release", ref, "--config", str(cfg.directory),
           "--reason", "race"]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    codes = sorted(p.wait(timeout=60) for p in procs)
    for p in procs:
        p.communicate()
    assert codes == [0, 1]
    assert len(smtp_upstream.messages) == 1


def test_killed_right_after_commit_loses_nothing(tmp_path: Path, smtp_upstream: RecordingUpstream) -> None:
    """A process SIGKILLed the instant quarantine() returned (when SMTP would say 250) lost nothing."""
    cfg = setup_config(tmp_path, None, smtp_upstream.port)
    script = textwrap.dedent(f"""
        import asyncio, os, signal, sys
        from gateway.config import load
        from gateway.store import Store
        from tests.store_fixtures import make_scan, make_submission, quarantine_decision

        async def go():
            store = await Store.open(load({str(cfg.directory)!r}))
            sub = make_submission(marker="killed")
            ref = await store.quarantine(sub, make_scan(sub), quarantine_decision(),
                                         route={{"upstream": {cfg.gateway.upstream.url!r}}})
            sys.stdout.write("REF=" + ref + "\\n")
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(go())
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    ref = next(line[4:] for line in proc.stdout.splitlines() if line.startswith("REF="))
    released = run_cli("quarantine", "release", ref, "--config", str(cfg.directory), "--reason", "after crash",
                       cwd=tmp_path)
    assert released.returncode == 0, released.stderr
    assert smtp_upstream.messages[0].data == make_submission(marker="killed").raw


def test_show_hides_content_unless_revealed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`show` prints metadata only; `--reveal` needs a reason, prints the message and is audited."""
    cfg = setup_config(tmp_path, None, 9)
    [(ref, _raw)] = seed(cfg)
    conf = str(cfg.directory)
    rc, out, _ = cli(capsys, "quarantine", "show", ref, "--config", conf)
    assert rc == 0
    assert "someone@gmail.com (freemail)" in out and "content not shown" in out
    assert "r*****.pdf" in out and "report.pdf" not in out  # attachment names masked (issue 13)
    assert_no_secrets(out, "quarantine show")
    rc, _, err = cli(capsys, "quarantine", "show", ref, "--config", conf, "--reveal")
    assert rc == 2 and "--reason" in err
    rc, _, _ = cli(capsys, "quarantine", "show", ref, "--config", conf, "--reveal", "--reason", "assess",
                   "--by", "ivy")
    assert rc == 0
    rc, out, _ = cli(capsys, "quarantine", "show", ref, "--config", conf, "--json")
    data = json.loads(out)
    assert [(a["event"], a["actor"], a["note"], a["reason"]) for a in data["audit"]] == [
        ("reveal", OS_USER, "ivy", "assess")]  # --by is a note; the actor is the operating-system user


def test_reveal_prints_the_exact_message(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """`show --reveal` writes the stored bytes unchanged to stdout."""
    cfg = setup_config(tmp_path, None, 9)
    [(ref, raw)] = seed(cfg)
    capsysbinary.readouterr()  # the seeding's own log lines
    rc = main(["quarantine", "show", ref, "--config", str(cfg.directory), "--reveal", "--reason", "assess"])
    out = capsysbinary.readouterr().out
    assert rc == 0
    assert out == raw and CHILD_NAME.encode() in out


def test_list_reject_and_purge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Held messages are listed; reject needs a reason and is final; purge applies retention."""
    cfg = setup_config(tmp_path, None, 9)
    (a, _), (b, _) = seed(cfg, markers=("m1", "m2"), clock=FrozenClock(utcnow() - timedelta(days=2)))
    conf = str(cfg.directory)
    rc, out, _ = cli(capsys, "quarantine", "list", "--config", conf)
    assert rc == 0 and a in out and b in out and "alice@cafcass.gov.uk" in out
    with pytest.raises(SystemExit) as exc:
        main(["quarantine", "reject", a, "--config", conf])
    assert exc.value.code == 2
    rc, out, _ = cli(capsys, "quarantine", "reject", a, "--config", conf, "--reason", "not needed", "--by", "gina")
    assert rc == 0
    rc, _, err = cli(capsys, "quarantine", "reject", a, "--config", conf, "--reason", "twice")
    assert rc == 1 and "is rejected" in err
    rc, out, _ = cli(capsys, "quarantine", "list", "--config", conf, "--json")
    assert [json.loads(line)["reference"] for line in out.splitlines()] == [b]
    rc, out, _ = cli(capsys, "quarantine", "purge", "--config", conf, "--older-than", "3")
    assert rc == 0 and "purged 0 messages" in out
    rc, out, _ = cli(capsys, "quarantine", "purge", "--config", conf, "--older-than", "1", "--dry-run")
    assert rc == 0 and "would purge 2 messages" in out
    rc, out, _ = cli(capsys, "quarantine", "purge", "--config", conf, "--older-than", "1")
    assert rc == 0 and "purged 2 messages" in out
    rc, out, _ = cli(capsys, "quarantine", "list", "--config", conf, "--state", "expired")
    assert b in out and a not in out
    rc, out, _ = cli(capsys, "quarantine", "show", "NOPE-1", "--config", conf)
    assert rc == 1


def test_incidents_list_show_mark_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The incident commands show metadata and redacted evidence only; marks and exports are audited."""
    cfg = setup_config(tmp_path, None, 9)
    (held, _), (breach, _) = seed(cfg, monitor=True)
    conf = str(cfg.directory)
    rc, out, _ = cli(capsys, "incidents", "list", "--config", conf, "--since", "2026-03-01")
    assert rc == 0 and held in out and breach in out and "potential_breach" in out
    rc, out, _ = cli(capsys, "incidents", "list", "--config", conf, "--status", "potential_breach", "--json")
    assert [json.loads(x)["reference"] for x in out.splitlines()] == [breach]
    rc, out, _ = cli(capsys, "incidents", "show", breach, "--config", conf)
    assert rc == 0 and "NHS *** *** 5919" in out and "report to the IA team by 2026-03-11 09:00" in out
    assert_no_secrets(out, "incidents show")
    rc, out, _ = cli(capsys, "incidents", "mark", breach, "reported_internally", "--config", conf,
                     "--reason", "went to a parent", "--by", "hal")
    assert rc == 0 and "potential_breach -> reported_internally" in out
    rc, out, _ = cli(capsys, "incidents", "show", breach, "--config", conf)
    assert "report to the ICO by 2026-03-13 09:00" in out
    with pytest.raises(SystemExit):
        main(["incidents", "mark", breach, "released", "--config", conf, "--reason", "x"])
    capsys.readouterr()
    rc, out, _ = cli(capsys, "incidents", "export", "--config", conf, "--format", "csv", "--since", "2026-03-10",
                     "--until", "2026-03-11")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["reference"] for r in rows] == [held, breach]
    assert rows[1]["status"] == "reported_internally" and "someone@gmail.com (freemail)" in rows[1]["recipients"]
    assert_no_secrets(out, "CSV export")
    target = tmp_path / "out.json"
    rc, _, _ = cli(capsys, "incidents", "export", "--config", conf, "--format", "json", "-o", str(target))
    assert rc == 0 and len(json.loads(target.read_text())) == 2
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    rc, out, _ = cli(capsys, "incidents", "show", breach, "--config", conf, "--json")
    marks = [(a["actor"], a.get("note")) for a in json.loads(out)["audit"] if a["event"] == "status"]
    assert marks[-1] == (OS_USER, "hal")  # --by is a note; the actor is the operating-system user
    rc, _, err = cli(capsys, "incidents", "list", "--config", conf, "--since", "last tuesday")
    assert rc == 2 and "not a date" in err


def test_db_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`db current` reports an empty or old schema (exit 1), `db upgrade` fixes it, `--sql` prints DDL."""
    cfg = load_config(write_config(tmp_path))
    conf = str(cfg.directory)
    rc, out, _ = cli(capsys, "db", "current", "--config", conf)
    assert rc == 1 and f"needs {migrate.head_revision()}" in out
    rc, out, _ = cli(capsys, "db", "upgrade", "--sql", "--config", conf)
    assert rc == 0 and "CREATE TABLE incidents" in out
    rc, out, _ = cli(capsys, "db", "upgrade", "--config", conf)
    assert rc == 0 and f"upgraded from empty to {migrate.head_revision()}" in out
    rc, out, _ = cli(capsys, "db", "current", "--config", conf)
    assert rc == 0 and "(current)" in out
    rc, out, _ = cli(capsys, "db", "keygen")
    assert rc == 0 and len(out.strip()) == 44


def test_postgres_needs_db_upgrade(tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A PostgreSQL store is not upgraded behind the operators' backs: commands say to run `db upgrade`."""
    cfg = load_config(write_config(tmp_path, store={"url": pg_url}))
    conf = str(cfg.directory)
    rc, _, err = cli(capsys, "quarantine", "list", "--config", conf)
    assert rc == 1 and "dlpgate db upgrade" in err
    rc, out, _ = cli(capsys, "db", "upgrade", "--config", conf)
    assert rc == 0
    rc, out, _ = cli(capsys, "quarantine", "list", "--config", conf)
    assert rc == 0 and "no messages" in out
