"""The sender's outcome mail never carries the reviewer's words (issue 15, privacy): a single reject without a
notice, of a message whose sender asked for release, sends the "will not be sent" mail through a real SMTP sink
with no free text from the justification (which may name the child or the family) and no personal value; the
justification stays in the audit trail. A reason is only ever one of the fixed ``REJECT_REASONS``."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio

from gateway.console.security import hash_password
from gateway.console.server import ConsoleServer
from gateway.notify.notices import REJECT_REASONS
from gateway.notify.outcome import tell_sender_outcome
from gateway.store import Store
from tests.store_fixtures import (
    CHILD_NAME,
    NHS_NUMBER,
    Received,
    RecordingUpstream,
    assert_no_secrets,
    load_config,
    make_scan,
    make_submission,
    quarantine_decision,
    smtp_upstream,
    write_config,
)

__all__ = ["smtp_upstream"]

PASSWORD = "correct horse battery staple"
SENDER = "alice@cafcass.gov.uk"
JUSTIFICATION = f"Mother of {CHILD_NAME} (NHS {NHS_NUMBER}) withdrew consent at the hearing on Tuesday"


class Env:
    def __init__(self, store: Store, server: ConsoleServer, up: RecordingUpstream) -> None:
        self.store = store
        self.server = server
        self.up = up

    async def held_and_asked(self, marker: str) -> str:
        """A held message whose sender asked for its release (so an outcome mail is due)."""
        sub = make_submission(marker=marker, mail_from=SENDER)
        ref = await self.store.quarantine(sub, make_scan(sub, with_findings=False), quarantine_decision(),
                                          route={"upstream": self.up.url}, release_plan={"action": "pass"})
        await self.store.request_release(ref, justification="The court asked for this bundle today.")
        return ref

    async def outcome_mail(self, ref: str) -> Received:
        for _ in range(100):
            found = [m for m in self.up.messages if m.rcpt_tos == [SENDER] and ref.encode() in m.data]
            if found:
                assert len(found) == 1
                return found[0]
            await asyncio.sleep(0.05)
        raise AssertionError("no outcome mail")


@pytest_asyncio.fixture
async def env(tmp_path: Path, smtp_upstream: RecordingUpstream) -> AsyncIterator[Env]:
    cfg = load_config(write_config(tmp_path, upstream_port=smtp_upstream.port,
                                   console={"enabled": True, "listen": "127.0.0.1:0"}))
    store = await Store.open(cfg)
    await store.add_account("rita", "reviewer", hash_password(PASSWORD), actor="test")
    server = ConsoleServer(cfg, store)
    await server.start()
    try:
        yield Env(store, server, smtp_upstream)
    finally:
        await server.stop()
        await store.close()


def body(mail: Received) -> str:
    """The decoded plain-text body (quoted-printable or base64 would hide words from a check on raw bytes)."""
    msg = email.message_from_bytes(mail.data, policy=email.policy.default)
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


async def test_single_reject_without_notice_sends_no_free_text(env: Env) -> None:
    """A reviewer rejects one message from its page without picking a notice reason: the sender who asked for
    release is told it will not be sent, and the mail holds nothing of the justification."""
    ref = await env.held_and_asked("p1")
    async with httpx.AsyncClient(base_url=env.server.url, follow_redirects=True, timeout=30) as client:
        token = _csrf((await client.get("/signin")).text)
        await client.post("/signin", data={"csrf": token, "username": "rita", "password": PASSWORD})
        page = await client.get(f"/messages/{ref}")
        assert page.status_code == 200
        r = await client.post(f"/messages/{ref}/decide", data={
            "csrf": _csrf(page.text), "action": "reject", "justification": JUSTIFICATION})
        assert r.status_code == 200
    mail = await env.outcome_mail(ref)
    text = body(mail)
    assert "will not be sent" in text and ref in text and mail.mail_from in ("", "<>")
    for words in (JUSTIFICATION, "withdrew consent", "hearing on Tuesday", "Reason:"):
        assert words not in text and words.encode() not in mail.data, words
    assert_no_secrets(mail.data, "the outcome mail")
    assert_no_secrets(text, "the outcome mail's text")
    rejected = [a for a in await env.store.audit_entries(reference=ref) if a.event == "reject"]
    assert rejected and rejected[0].reason == JUSTIFICATION  # the reviewer's words stay inside
    assert (await env.store.get_release_request(ref)).state == "rejected"  # type: ignore[union-attr]


async def test_outcome_reason_is_only_ever_a_fixed_one(env: Env) -> None:
    """Called with a fixed reason's key, the outcome mail gives that sentence; called with free text (as an
    older caller would), it gives none."""
    fixed, free = await env.held_and_asked("p2"), await env.held_and_asked("p3")
    cfg = env.server.cfg
    for ref in (fixed, free):
        await env.store.reject(ref, actor="rita", reason=JUSTIFICATION)
    assert await tell_sender_outcome(cfg, env.store, fixed, released=False, reason="secure_route")
    assert await tell_sender_outcome(cfg, env.store, free, released=False, reason=JUSTIFICATION)
    fixed_mail, free_mail = await env.outcome_mail(fixed), await env.outcome_mail(free)
    assert f"Why: {REJECT_REASONS['secure_route']}." in body(fixed_mail)
    assert "Why:" not in body(free_mail) and "will not be sent" in body(free_mail)
    for mail in (fixed_mail, free_mail):
        assert "withdrew consent" not in body(mail) and b"withdrew consent" not in mail.data
        assert_no_secrets(body(mail), "the outcome mail")
