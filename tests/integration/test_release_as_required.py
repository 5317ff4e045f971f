"""Release does what the policy required (issue 13): `quarantine release` applies the actions the holding rule
outranked (here: encryption by subject tag), unless the reviewer chooses `--as-is` with a reason; it delivers where
the gateway delivered when it held the message (`serve --upstream` included), or refuses when that is not
known; the audit trail names the operating-system user, with `--by` kept as a note."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import pwd
import smtplib
import subprocess
from pathlib import Path

from gateway.app import App, apply_overrides
from gateway.config import load
from gateway.store import Store
from tests.smtp_fixtures import REPO, Upstream, make_config
from tests.store_fixtures import (
    load_config,
    make_scan,
    make_submission,
    quarantine_decision,
    run_cli,
    write_config,
)

SAMPLES = REPO / "samples" / "policy"
SENDER = "jane.smith@cafcass.gov.uk"
RCPT = "n.okafor@okafor-law.co.uk"
OS_USER = pwd.getpwuid(os.getuid()).pw_name


def _zip_part() -> bytes:
    """The password-protected ZIP of the unscannable sample, base64 as it is there."""
    text = (SAMPLES / "unscannable-fire.eml").read_bytes().replace(b"\r\n", b"\n")
    b64 = text.split(b'filename="documents.zip"\nContent-Transfer-Encoding: base64\n\n', 1)[1]
    b64 = b64.split(b"\n--", 1)[0]
    base64.b64decode(b64)  # still a valid attachment
    return b64


def held_with_protected_info(marker: str) -> bytes:
    """Protected information about a child (encrypt) plus a password-protected ZIP (quarantine), to an external
    solicitor: held for the attachment, with protected-info-unencrypted outranked."""
    body = (SAMPLES / "protected-info-fire.eml").read_bytes().replace(b"\r\n", b"\n").split(b"\n\n", 1)[1]
    raw = (
        b"From: Jane Smith <jane.smith@cafcass.gov.uk>\nTo: Ms Okafor <n.okafor@okafor-law.co.uk>\n"
        b"Date: Tue, 16 Jan 2024 09:25:00 +0000\nMessage-ID: <" + marker.encode() + b"@cafcass.gov.uk>\n"
        b"Subject: Amelia - documents\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="=_b"\n\n'
        b"--=_b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + body + b"\n"
        b'--=_b\nContent-Type: application/zip; name="documents.zip"\n'
        b'Content-Disposition: attachment; filename="documents.zip"\nContent-Transfer-Encoding: base64\n\n'
        + _zip_part() + b"\n--=_b--\n"
    )
    return raw.replace(b"\n", b"\r\n")


def _send(port: int, raw: bytes) -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
        client.ehlo("client.test")
        client.mail(SENDER)
        client.rcpt(RCPT)
        code, text = client.data(raw)
    return code, text.decode()


def _subject(data: bytes) -> bytes:
    return next(line for line in data.split(b"\r\n") if line.startswith(b"Subject:"))


async def test_release_encrypts_and_goes_where_the_gateway_delivered(tmp_path: Path) -> None:
    """The gateway runs with `--upstream` over a Maildir gateway.yaml: a held message whose outranked rule asked
    for encryption is released to that upstream with the encryption trigger; `--as-is` with a reason sends a
    second one unchanged; both releases are audited under the OS user with `--by` as a note."""
    up = Upstream()
    await up.start()
    maildir = tmp_path / "md"
    cfg_dir = make_config(tmp_path, {"upstream": {"url": f"maildir:{maildir}"},
                                     "scan": {"enabled": True, "workers": 1},
                                     "notifications": {"notify_sender_on_quarantine": False}})
    app = App(apply_overrides(load(cfg_dir), upstream=up.url))  # as `dlpgate serve --upstream URL`
    await app.start()
    try:
        refs = []
        for marker in ("first", "second"):
            code, text = await asyncio.to_thread(_send, app.port, held_with_protected_info(marker))
            assert code == 250 and "held for review" in text, text
            refs.append(text.split("reference ")[1].split()[0])
    finally:
        await app.stop(grace=2)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:  # a new process; the upstream runs on this loop
        return run_cli(*args, "--config", str(cfg_dir), cwd=tmp_path)

    shown = await asyncio.to_thread(cli, "quarantine", "show", refs[0])
    assert shown.returncode == 0, shown.stderr
    assert "encrypt (subject_tag)" in shown.stdout and up.url in shown.stdout

    first = await asyncio.to_thread(cli, "quarantine", "release", refs[0], "--reason", "checked with FCA",
                                    "--by", "gov.officer")
    assert first.returncode == 0, first.stderr
    assert f"{refs[0]}: released (250)" in first.stdout
    second = await asyncio.to_thread(cli, "quarantine", "release", refs[1], "--as-is",
                                     "--reason", "recipient has no encryption service")
    assert second.returncode == 0, second.stderr

    assert not maildir.exists() or not any(maildir.rglob("*.dlpgate*"))
    assert len(up.handler.messages) == 2
    encrypted, as_is = up.handler.messages
    assert _subject(encrypted.data) == b"Subject: [encrypt] Amelia - documents"
    assert _subject(as_is.data) == b"Subject: Amelia - documents"
    assert encrypted.rcpt_tos == [RCPT] and encrypted.mail_from == SENDER

    audit = json.loads((await asyncio.to_thread(cli, "quarantine", "show", refs[0], "--json")).stdout)["audit"]
    release = [a for a in audit if a["event"] == "release"]
    assert [(a["actor"], a["note"]) for a in release] == [(OS_USER, "gov.officer")]
    assert release[0]["applied"] == ["encrypt:subject_tag"]
    audit = json.loads((await asyncio.to_thread(cli, "quarantine", "show", refs[1], "--json")).stdout)["audit"]
    [release] = [a for a in audit if a["event"] == "release"]
    assert release["actor"] == OS_USER and release["as_is"] is True
    assert release["skipped"] == ["encrypt:subject_tag"]
    await up.stop()


def test_release_refuses_when_the_route_is_unknown(tmp_path: Path) -> None:
    """A message held without a recorded route (before this version) is not sent to a guess: the release is
    refused, the message stays held; naming the upstream with `--upstream` releases it there."""
    from tests.store_fixtures import RecordingUpstream

    up = RecordingUpstream()
    up.start()
    try:
        cfg = load_config(write_config(tmp_path, upstream_port=up.port))

        async def seed() -> str:
            store = await Store.open(cfg)
            try:
                sub = make_submission()
                return await store.quarantine(sub, make_scan(sub), quarantine_decision())
            finally:
                await store.close()

        ref = asyncio.run(seed())
        refused = run_cli("quarantine", "release", ref, "--config", str(cfg.directory), "--reason", "ok",
                          cwd=tmp_path)
        assert refused.returncode == 1
        assert "not recorded" in refused.stderr and "--upstream" in refused.stderr
        assert up.messages == []
        listed = run_cli("quarantine", "list", "--json", "--config", str(cfg.directory), cwd=tmp_path)
        assert json.loads(listed.stdout)["state"] == "held"
        done = run_cli("quarantine", "release", ref, "--config", str(cfg.directory), "--reason", "ok",
                       "--upstream", up.url, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert len(up.messages) == 1
    finally:
        up.stop()
