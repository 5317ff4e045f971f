"""The review console over real HTTP (uvicorn on loopback) with a real store and a recording SMTP upstream
(issues 14 and 15): bulk reject with a sender notice and bulk release, each after a confirmation with the count
and with every message's outcome reported; release to chosen recipients from the message page; an admin's
exception revocation. The CSRF token is required on each."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest_asyncio

from gateway.console.security import hash_password
from gateway.console.server import ConsoleServer
from gateway.store import Store
from tests.store_fixtures import (
    RecordingUpstream,
    assert_no_secrets,
    load_config,
    make_scan,
    make_submission,
    quarantine_decision,
    smtp_upstream,
    store_url,
    write_config,
)

__all__ = ["smtp_upstream", "store_url"]

PASSWORD = "correct horse battery staple"
GMAIL, BOB = "someone@gmail.com", "bob@cafcass.gov.uk"


class _Client(httpx.AsyncClient):
    """Already in use when the test enters ``async with``: that only closes it at the end."""

    async def __aenter__(self) -> _Client:
        return self


@dataclass
class Env:
    store: Store
    base: str
    up: RecordingUpstream

    async def hold(self, marker: str, *, special: bool = False, sender: str = "alice@cafcass.gov.uk") -> str:
        sub = make_submission(marker=marker, mail_from=sender)
        return await self.store.quarantine(sub, make_scan(sub, with_findings=special), quarantine_decision(),
                                           route={"upstream": self.up.url}, release_plan={"action": "pass"})

    async def client(self, name: str) -> tuple[httpx.AsyncClient, str]:
        client = _Client(base_url=self.base)
        page = await client.get("/signin")
        token = _csrf(page.text)
        r = await client.post("/signin", data={"csrf": token, "username": name, "password": PASSWORD})
        assert r.status_code == 303, r.text
        return client, _csrf((await client.get("/queue")).text)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


@pytest_asyncio.fixture
async def env(tmp_path: Path, store_url: str | None, smtp_upstream: RecordingUpstream) -> AsyncIterator[Env]:
    cfg = load_config(write_config(tmp_path, upstream_port=smtp_upstream.port, store_url=store_url,
                                   console={"enabled": True, "listen": "127.0.0.1:0"}))
    store = await Store.open(cfg, upgrade=True if store_url else None)
    for name, role in (("rita", "reviewer"), ("ann", "approver"), ("adam", "admin")):
        await store.add_account(name, role, hash_password(PASSWORD), actor="test")
    server = ConsoleServer(cfg, store)
    await server.start()
    try:
        yield Env(store, server.url, smtp_upstream)
    finally:
        await server.stop()
        await store.close()


async def test_bulk_reject_confirms_the_count_and_tells_each_sender(env: Env) -> None:
    """Three ticked messages: no CSRF token, refused; the first step only shows the count; the confirmed step
    rejects each (its own audit line), sends each sender a notice with the picked reason and no personal data,
    and records the bulk action."""
    refs = [await env.hold(f"r{n}") for n in range(3)]
    client, token = await env.client("rita")
    async with client:
        form = {"action": "reject", "notify": "wrong_recipient", "justification": "sent to the wrong family",
                "scope": "selected", "ref": refs}
        assert (await client.post("/queue/bulk", data=form)).status_code == 403
        confirm = await client.post("/queue/bulk", data=form | {"csrf": token})
        assert confirm.status_code == 200 and "Reject: 3 messages." in confirm.text
        states = [q.state for r in refs if (q := await env.store.get_quarantined(r)) is not None]
        assert states == ["held"] * 3  # nothing decided before the confirmation
        done = await client.post("/queue/bulk", data=form | {"csrf": token, "confirmed": "1"})
    assert done.status_code == 200 and "3 of 3 done" in done.text and "could not be decided" not in done.text
    for ref in refs:
        q = await env.store.get_quarantined(ref)
        assert q is not None and q.state == "rejected" and q.state_by == "rita"
        events = [a.event for a in await env.store.audit_entries(reference=ref)]
        assert "reject" in events and "sender_notified" in events
    notices = env.up.messages
    assert sorted(m.rcpt_tos[0] for m in notices) == ["alice@cafcass.gov.uk"] * 3
    for m in notices:
        assert m.mail_from in ("", "<>") and b"addressed to the wrong recipient" in m.data
        assert_no_secrets(m.data, "the rejection notice")
        assert b"sent to the wrong family" not in m.data  # the reviewer's justification stays inside
    bulk = [a for a in await env.store.audit_entries() if a.event == "bulk_reject"]
    assert len(bulk) == 1 and bulk[0].detail is not None and bulk[0].detail["succeeded"] == 3


async def test_bulk_release_reports_every_outcome(env: Env) -> None:
    """Of four messages, two go out once each, a special-category one becomes an approval request (four eyes)
    and one already rejected fails, listed first with its reason: nothing is skipped silently."""
    plain = [await env.hold("a1"), await env.hold("a2")]
    special = await env.hold("s1", special=True)
    gone = await env.hold("g1")
    await env.store.reject(gone, actor="ann", reason="earlier")
    client, token = await env.client("rita")
    async with client:
        done = await client.post("/queue/bulk", data={
            "csrf": token, "confirmed": "1", "scope": "selected", "action": "release",
            "justification": "checked with the team", "ref": [*plain, special, gone]})
    assert done.status_code == 200
    assert "3 of 4 done" in done.text and "1 message could not be decided" in done.text
    rows = re.findall(r'<td><a href="/messages/([^"]+)">', done.text)
    assert rows[0] == gone and set(rows) == {*plain, special, gone}
    assert len(env.up.messages) == 2
    assert sorted(m.data.split(b"Message-ID: <")[1][:2] for m in env.up.messages) == [b"a1", b"a2"]
    assert [a.reference for a in await env.store.pending_approvals()] == [special]
    assert (await env.store.get_quarantined(special)).state == "held"  # type: ignore[union-attr]


async def test_bulk_on_the_filtered_set(env: Env) -> None:
    """'Every held message matching the filters' counts exactly those, and the confirmation carries them."""
    mine = [await env.hold(f"f{n}", sender="carl@cafcass.gov.uk") for n in range(2)]
    await env.hold("other")
    client, token = await env.client("rita")
    async with client:
        await client.post("/queue/filter", data={"csrf": token, "sender": "carl@"})
        confirm = await client.post("/queue/bulk", data={"csrf": token, "scope": "filtered", "action": "reject",
                                                          "justification": "duplicates of one email"})
    assert "Reject: 2 messages." in confirm.text
    assert set(re.findall(r'name="ref" value="([^"]+)"', confirm.text)) == set(mine)


async def test_release_to_a_chosen_recipient_from_the_page(env: Env) -> None:
    """The message page offers each recipient; releasing to one sends to that one only and keeps the other held,
    which the page then shows."""
    ref = await env.hold("c1")
    client, token = await env.client("rita")
    async with client:
        page = await client.get(f"/messages/{ref}")
        assert f'name="rcpt" value="{BOB}"' in page.text and f'name="rcpt" value="{GMAIL}"' in page.text
        r = await client.post(f"/messages/{ref}/decide", data={
            "csrf": token, "action": "release", "justification": "internal colleague only", "choose": "1",
            "rcpt": [BOB], "rest": "hold"})
        assert r.status_code == 303
        page = await client.get(f"/messages/{ref}")
    assert [m.rcpt_tos for m in env.up.messages] == [[BOB]]
    assert "Released to" in page.text and "Still held for" in page.text
    q = await env.store.get_quarantined(ref)
    assert q is not None and q.state == "held" and q.undecided == [GMAIL]


async def test_admin_revokes_an_exception(env: Env) -> None:
    """Only an admin may revoke; the exception is then listed as revoked and no longer active."""
    from datetime import timedelta

    exc_id = await env.store.request_exception(
        sender="@cafcass.gov.uk", recipient="okafor-law.co.uk", rules=["personal-data-freemail"],
        reason="court bundle this week", expires_at=env.store.clock() + timedelta(days=7), actor="rita")
    await env.store.decide_exception(exc_id, approver="ann", approve=True, reason="agreed")
    rita, rtoken = await env.client("rita")
    async with rita:
        r = await rita.post(f"/exceptions/{exc_id}/revoke", data={"csrf": rtoken, "justification": "not needed"})
        assert r.status_code == 403
    adam, token = await env.client("adam")
    async with adam:
        page = await adam.get("/exceptions")
        assert f'id="revoke-{exc_id}"' in page.text
        r = await adam.post(f"/exceptions/{exc_id}/revoke", data={"csrf": token, "justification": "case closed"})
        assert r.status_code == 303
        page = await adam.get("/exceptions")
    assert "revoked" in page.text and f'id="revoke-{exc_id}"' not in page.text
    assert await env.store.active_exemptions() == ()
