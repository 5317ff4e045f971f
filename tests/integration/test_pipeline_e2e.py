"""The whole pipeline over real SMTP with scanning on: client → dlpgate (worker pool, Presidio, policy, SQLite
store) → recording upstream. Uses the policy samples as the messages."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from gateway.app import App
from gateway.config import load
from gateway.notify.release import release
from gateway.store import Store
from tests.smtp_fixtures import REPO, Upstream, make_config, send

SAMPLES = REPO / "samples" / "policy"
pytestmark = pytest.mark.asyncio(loop_scope="module")


class Env:
    def __init__(self, app: App, upstream: Upstream) -> None:
        self.app = app
        self.upstream = upstream

    async def send_sample(self, name: str, mail_from: str, rcpts: list[str]) -> dict:
        raw = (SAMPLES / name).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        return await asyncio.to_thread(send, self.app.port, mail_from, rcpts, raw)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    tmp = tmp_path_factory.mktemp("e2e")
    up = Upstream()
    await up.start()
    cfg_dir = make_config(tmp, {"upstream": {"url": up.url}, "scan": {"enabled": True, "workers": 1},
                                "notifications": {"notify_sender_on_quarantine": False}})
    app = App(load(cfg_dir))
    await app.start()
    yield Env(app, up)
    await app.stop(grace=5)
    await up.stop()


def _sample_bytes(name: str) -> bytes:
    return (SAMPLES / name).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


async def test_protected_information_to_external_is_encrypted_by_subject_tag(env: Env) -> None:
    """Child's details to an external solicitor: relayed with the encryption trigger prefixed once and no X-DLP-*
    field (an outside recipient must not read what was detected)."""
    before = len(env.upstream.handler.messages)
    await env.send_sample("protected-info-fire.eml", "jane.smith@cafcass.gov.uk", ["n.okafor@okafor-law.co.uk"])
    msg = env.upstream.handler.messages[before]
    head = msg.data.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nSubject: [encrypt] Amelia - details\r\n" in head
    assert b"X-DLP-" not in head
    assert b"Amelia Rose Thompson" in msg.data  # the body itself is relayed unchanged
    assert b"943 476 5919" not in head  # no values in our headers


async def test_internal_only_mail_passes_byte_identical(env: Env) -> None:
    """Personal data between colleagues is not a content-rule matter: relayed with only a Received line added."""
    raw = _sample_bytes("protected-info-near-miss-internal.eml")
    before = len(env.upstream.handler.messages)
    await asyncio.to_thread(send, env.app.port, "jane.smith@cafcass.gov.uk", ["tom.jones@cafcass.gov.uk"], raw)
    got = env.upstream.handler.messages[before].data
    assert got.endswith(raw)
    assert got[: len(got) - len(raw)].startswith(b"Received: ") and got[: len(got) - len(raw)].count(b"\r\n") == 3


async def test_personal_address_is_rejected_with_policy_text(env: Env) -> None:
    """Mail to the sender's own gmail gets 550 5.7.1 naming the clause and a reference; nothing goes upstream."""
    before = len(env.upstream.handler.messages)
    with pytest.raises(smtplib.SMTPDataError) as exc:
        await env.send_sample("personal-address-fire.eml", "jane.smith@cafcass.gov.uk", ["janesmith84@gmail.com"])
    assert exc.value.smtp_code == 550
    text = exc.value.smtp_error.decode()
    assert "5.7.1" in text and "4.3" in text and "INC-" in text
    assert len(env.upstream.handler.messages) == before
    ref = text[text.index("INC-"):].split()[0].rstrip(".,)")
    store = env.app.store
    assert isinstance(store, Store)
    incident = await store.get_incident(ref)
    assert incident.action == "reject"


async def test_mixed_recipients_get_strictest_outcome(env: Env) -> None:
    """An internal colleague copied on a message to a personal address is refused too (one decision)."""
    with pytest.raises(smtplib.SMTPDataError) as exc:
        await env.send_sample("mixed-internal-and-personal.eml", "jane.smith@cafcass.gov.uk",
                              ["tom.jones@cafcass.gov.uk", "janesmith84@gmail.com"])
    assert exc.value.smtp_code == 550


async def test_lookalike_is_quarantined_then_released_once(env: Env) -> None:
    """Lookalike domain: 250 only after the quarantine commit, nothing upstream; release delivers it once."""
    before = len(env.upstream.handler.messages)
    raw = _sample_bytes("lookalike-typo-fire.eml")
    client = await asyncio.to_thread(smtplib.SMTP, "127.0.0.1", env.app.port)
    try:
        await asyncio.to_thread(client.ehlo, "c")
        await asyncio.to_thread(client.mail, "jane.smith@cafcass.gov.uk")
        await asyncio.to_thread(client.rcpt, "tom.jones@cafcas.gov.uk")
        code, text = await asyncio.to_thread(client.data, raw)
    finally:
        await asyncio.to_thread(client.quit)
    assert code == 250 and b"held for review" in text
    ref = text.decode().split("reference ")[1].split()[0]
    await asyncio.sleep(0.2)
    assert len(env.upstream.handler.messages) == before
    store = env.app.store
    assert isinstance(store, Store)
    held = await store.get_quarantined(ref)
    assert held is not None
    assert env.app.upstream is not None
    reply = await release(store, ref, env.app.upstream, actor="test", reason="checked with sender")
    assert reply.ok
    assert len(env.upstream.handler.messages) == before + 1
    assert env.upstream.handler.messages[-1].data == raw
    with pytest.raises(Exception):
        await release(store, ref, env.app.upstream, actor="test", reason="again")
    assert len(env.upstream.handler.messages) == before + 1


async def test_auto_forward_to_external_is_rejected(env: Env) -> None:
    """A mailbox-rule forward to an outside address is refused (IT 2.7n)."""
    with pytest.raises(smtplib.SMTPDataError) as exc:
        await env.send_sample("auto-forward-fire.eml", "jane.smith@cafcass.gov.uk", ["jsmith.personal@gmail.com"])
    assert exc.value.smtp_code == 550 and "2.7" in exc.value.smtp_error.decode()


async def test_benign_business_mail_to_external_passes(env: Env) -> None:
    """A benign email with only the sender's signature goes out untouched."""
    raw = _sample_bytes("protected-info-near-miss-benign.eml")
    before = len(env.upstream.handler.messages)
    await asyncio.to_thread(send, env.app.port, "jane.smith@cafcass.gov.uk", ["info@okafor-law.co.uk"], raw)
    assert env.upstream.handler.messages[before].data.endswith(raw)


async def test_scan_failure_is_a_temporary_failure(tmp_path: Path) -> None:
    """A scan that misses its deadline answers 451 (fail closed) and nothing goes upstream."""
    up = Upstream()
    await up.start()
    cfg_dir = make_config(tmp_path, {"upstream": {"url": up.url},
                                     "scan": {"enabled": True, "workers": 1, "deadline_seconds": 0.001}})
    app = App(load(cfg_dir))
    await app.start()
    try:
        with pytest.raises(smtplib.SMTPDataError) as exc:
            await asyncio.to_thread(send, app.port, "jane.smith@cafcass.gov.uk", ["n.okafor@okafor-law.co.uk"],
                                    _sample_bytes("protected-info-fire.eml"))
        assert exc.value.smtp_code == 451
        assert up.handler.messages == []
    finally:
        await app.stop(grace=2)
        await up.stop()
