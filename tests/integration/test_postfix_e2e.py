"""End to end with a real MTA: swaks → dlpgate (scanning on) → Postfix → Maildir."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from gateway.app import App
from gateway.config import load
from tests.postfix_fixtures import Postfix, new_root, postfix_available
from tests.smtp_fixtures import REPO, make_config

SAMPLES = REPO / "samples" / "policy"
pytestmark = [
    pytest.mark.postfix,
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(not postfix_available(), reason="needs Debian's postfix and swaks, as root"),
]


class Env:
    def __init__(self, app: App, postfix: Postfix) -> None:
        self.app = app
        self.postfix = postfix

    async def swaks(self, sample: str, mail_from: str, rcpt: str) -> subprocess.CompletedProcess[str]:
        args = ["swaks", "--server", f"127.0.0.1:{self.app.port}", "--from", mail_from, "--to", rcpt,
                "--data", f"@{SAMPLES / sample}", "--timeout", "60"]
        return await asyncio.to_thread(subprocess.run, args, capture_output=True, text=True, timeout=120)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    postfix = Postfix(new_root())
    await asyncio.to_thread(postfix.start)
    tmp = tmp_path_factory.mktemp("pf")
    cfg_dir = make_config(tmp, {"upstream": {"url": f"smtp://127.0.0.1:{postfix.port}"},
                                "scan": {"enabled": True, "workers": 1},
                                "notifications": {"notify_sender_on_quarantine": False}})
    app = App(load(cfg_dir))
    await app.start()
    try:
        yield Env(app, postfix)
    finally:
        await app.stop(grace=5)
        await asyncio.to_thread(postfix.stop)
        shutil.rmtree(postfix.root, ignore_errors=True)


async def test_postfix_clean_protected_rejected_and_quarantined(env: Env) -> None:
    """Clean mail is delivered; protected mail arrives tagged for encryption; a self-forward is refused with the
    policy text in swaks' transcript; a quarantined message never reaches the Maildir."""
    clean = await env.swaks("protected-info-near-miss-benign.eml", "jane.smith@cafcass.gov.uk",
                            "d.harris@northfield-venues.co.uk")
    assert clean.returncode == 0, clean.stdout[-2000:]
    protected = await env.swaks("protected-info-fire.eml", "jane.smith@cafcass.gov.uk",
                                "n.okafor@okafor-law.co.uk")
    assert protected.returncode == 0, protected.stdout[-2000:]
    rejected = await env.swaks("personal-address-fire.eml", "jane.smith@cafcass.gov.uk", "janesmith84@gmail.com")
    assert rejected.returncode != 0
    assert "<** 550" in rejected.stdout and "5.7.1" in rejected.stdout and "INC-" in rejected.stdout
    held = await env.swaks("lookalike-typo-fire.eml", "jane.smith@cafcass.gov.uk", "tom.jones@cafcas.gov.uk")
    assert held.returncode == 0 and "held for review" in held.stdout

    messages = await asyncio.to_thread(env.postfix.wait_for, 2)
    await asyncio.sleep(1.0)  # give Postfix time to (wrongly) deliver anything else
    messages = env.postfix.messages()
    assert len(messages) == 2
    subjects = sorted(line for m in messages for line in m.split(b"\n") if line.startswith(b"Subject:"))
    assert any(s.startswith(b"Subject: [encrypt] Amelia") for s in subjects)
    assert not any(b"Rota" in s or b"notes for tomorrow" in s for s in subjects)
    tagged = next(m for m in messages if b"[encrypt]" in m)
    assert b"X-DLP-" not in tagged and b"Received: from" in tagged  # nothing tells the outsider what was found


async def test_postfix_refuses_smuggling_that_dlpgate_would_refuse_first(env: Env) -> None:
    """The Postfix instance runs with smtpd_forbid_bare_newline (as the deploy example documents); dlpgate itself
    never forwards bare newlines."""
    out = await asyncio.to_thread(
        subprocess.run, ["postconf", "-c", str(env.postfix.root / "etc"), "smtpd_forbid_bare_newline"],
        capture_output=True, text=True,
    )
    assert out.stdout.strip() == "smtpd_forbid_bare_newline = yes"
