"""Incident triage in the review console, driven by a real browser (issue 15): an incident goes through the
statuses with a note at each step, the 24-hour internal and 72-hour ICO clocks count down on an injected clock
(no sleeps), an overdue one is listed first and highlighted, and the CSV export and printable page are
redacted. Incidents are written through the store's API (the SMTP path is covered by the console's own tests).

Screenshots go to the test's temp folder, and to docs/img/ when ``DLPGATE_UPDATE_SCREENSHOTS=1``.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from gateway.app import App
from gateway.config import load
from gateway.console.security import hash_password
from tests.integration.test_console_browser import (
    CHROMEDRIVER,
    CHROMIUM,
    HAVE_SELENIUM,
    PASSWORD,
    Browser,
    _client_signed_in,
    sample,
)
from tests.smtp_fixtures import Upstream, make_config
from tests.store_fixtures import (
    NHS_NUMBER,
    FrozenClock,
    assert_no_secrets,
    make_scan,
    make_submission,
    monitor_decision,
    quarantine_decision,
    reject_decision,
)

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER and HAVE_SELENIUM),
                       reason="needs Debian's chromium and chromium-driver and selenium (scripts/test installs them)"),
]


PUBLIC = "https://console.example.test/"


class Env:
    def __init__(self, app: App, upstream: Upstream, browser: Browser, clock: FrozenClock) -> None:
        self.app = app
        self.upstream = upstream
        self.browser = browser
        self.clock = clock
        assert app.console is not None
        self.base = app.console.url

    @property
    def store(self) -> Any:
        return self.app.store

    async def send(self, name: str, mail_from: str, rcpts: list[str]) -> tuple[int, str]:
        """A sample over real SMTP: the reply code and text."""
        import smtplib

        raw = sample(name)

        def go() -> tuple[int, bytes]:
            with smtplib.SMTP("127.0.0.1", self.app.port, timeout=60) as client:
                client.ehlo("client.test")
                client.mail(mail_from)
                for r in rcpts:
                    client.rcpt(r)
                return client.data(raw)

        code, text = await asyncio.to_thread(go)
        return code, text.decode()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    tmp = tmp_path_factory.mktemp("governance")
    up = Upstream()
    await up.start()
    cfg_dir = make_config(tmp, {
        "upstream": {"url": up.url},
        "scan": {"enabled": True, "workers": 1},
        "notifications": {"notify_sender_on_quarantine": True},
        "console": {"enabled": True, "listen": "127.0.0.1:0", "public_url": PUBLIC},
    })
    app = App(load(cfg_dir))
    await app.start()
    store = app.store
    assert store is not None
    clock = FrozenClock()
    store.clock = clock
    for name, role in (("rita", "reviewer"), ("ann", "approver"), ("aud", "auditor")):
        await store.add_account(name, role, hash_password(PASSWORD), actor="test")
    assert app.console is not None
    browser = await asyncio.to_thread(Browser, app.console.url, tmp)
    yield Env(app, up, browser, clock)
    await asyncio.to_thread(browser.close)
    await app.stop(grace=5)
    await up.stop()


async def mark(b: Browser, ref: str, status: str, note: str) -> None:
    await b.get(f"/incidents/{ref}")
    await b.click(f"#status-{status}")
    await b.fill("note", note)
    await b.submit(f"form[action='/incidents/{ref}/mark'] button[type=submit]")


async def test_triage_through_the_statuses_with_clocks(env: Env) -> None:
    store = env.store
    sub = make_submission(marker="held")
    held = await store.quarantine(sub, make_scan(sub), quarantine_decision())
    sub = make_submission(marker="breach")
    breach = await store.record_incident(sub, make_scan(sub), reject_decision(), delivered=False)
    sub = make_submission(marker="mon")
    monitored = await store.record_incident(sub, make_scan(sub), monitor_decision(), delivered=True)
    assert (await store.get_incident(monitored)).status == "new"

    b = env.browser
    await b.sign_in("rita")
    await b.get("/incidents")
    text = await b.text()
    assert held in text and breach in text and monitored in text and "Incidents" in await b.title()

    # new -> potential breach starts the 24-hour internal clock (London time: GMT in March)
    env.clock.advance(hours=1)
    await mark(b, breach, "potential_breach", "Sent to a personal address outside the organisation.")
    text = await b.text()
    assert "now potential breach" in text and "Internal: 24 h 00 min left" in text and "by 11 Mar 2026 10:00" in text

    # a note is required; a skipped step is refused
    await b.get(f"/incidents/{breach}")
    assert not await b.exists("#status-closed")  # only the flow's next steps are offered
    client, token = await _client_signed_in(env, "rita")  # type: ignore[arg-type]
    async with client:
        r = await client.post(f"/incidents/{breach}/mark", data={"csrf": token, "status": "reported_internally",
                                                                  "note": ""})
        assert r.status_code == 303
        r = await client.post(f"/incidents/{breach}/mark", data={"csrf": token, "status": "closed",
                                                                  "note": "skipping the reports"})
        assert r.status_code == 303
    assert (await store.get_incident(breach)).status == "potential_breach"

    # 25 hours on: overdue, first in the list and highlighted
    env.clock.advance(hours=25)
    await b.get("/incidents")
    first = await b.run(lambda: b.driver.find_element("css selector", "tbody tr").text)
    assert breach in first and "overdue by 1 h 00 min" in first
    assert await b.exists("tr.row--overdue") and "1 overdue" in await b.text()
    await b.screenshot("console-incidents.png")

    # reported internally: the ICO's 72 hours run from when it was first known (10 Mar 10:00)
    await mark(b, breach, "reported_internally", "Reported to the IA team by phone and email.")
    text = await b.text()
    assert "ICO: 47 h 00 min left" in text and "by 13 Mar 2026 10:00" in text
    await b.screenshot("console-incident.png")
    await mark(b, breach, "reported_to_ico", "Reportable: the ICO was told, case reference 123.")
    await mark(b, breach, "closed", "Recipient confirmed deletion in writing.")
    text = await b.text()
    assert "This incident is closed" in text and not await b.exists(f"form[action='/incidents/{breach}/mark']")
    trail = [(a.old_status, a.new_status, a.actor) for a in await store.audit_entries(reference=breach)
             if a.event == "status"]
    assert trail == [("new", "potential_breach", "rita"), ("potential_breach", "reported_internally", "rita"),
                     ("reported_internally", "reported_to_ico", "rita"), ("reported_to_ico", "closed", "rita")]
    assert "Recipient confirmed deletion in writing." in text  # the history on the page

    # a false positive closes too, and the held message is linked from its incident
    await mark(b, held, "false_positive", "A test record, not a real person.")
    assert await b.exists(f"a[href='/messages/{held}']")
    await mark(b, held, "closed", "Nothing more to do.")
    assert (await store.get_incident(held)).status == "closed"


async def test_trends_page(env: Env) -> None:
    """After the triage above: the false positive counts against its rule, the monitor hit shows what its rule
    would have done, and the charts are inline SVG (no script, no external asset)."""
    b = env.browser
    await b.sign_in("aud")
    await b.get("/trends")
    text = await b.text()
    assert "special-category-external" in text and "100% of 1" in text
    html = await b.run(lambda: b.driver.page_source)
    assert "<svg" in html and "<script" not in html and "http://www.w3.org/2000/svg" in html
    assert 'src="http' not in html and "href=\"http" not in html
    await b.screenshot("console-trends.png")
    await b.get("/trends?days=30")
    assert "last 30 days" in await b.run(lambda: b.driver.page_source)


async def test_export_and_print_are_redacted(env: Env) -> None:
    sub = make_submission(marker="export")
    ref = await env.store.record_incident(sub, make_scan(sub), reject_decision(), delivered=False)
    client, _ = await _client_signed_in(env, "aud")  # type: ignore[arg-type]
    async with client:
        r = await client.get("/incidents.csv?status=new")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert ref in [x["reference"] for x in rows]
        assert_no_secrets(r.text, "console CSV")
        page = await client.get(f"/incidents/{ref}/print")
        assert page.status_code == 200 and ref in page.text and "NHS *** *** 5919" in page.text
        assert NHS_NUMBER not in page.text and "<script" not in page.text
        assert "Record the change" not in (await client.get(f"/incidents/{ref}")).text  # auditors cannot mark
        r = await client.post(f"/incidents/{ref}/mark", data={"csrf": "x", "status": "near_miss", "note": "xxxxxx"})
        assert r.status_code == 403
    events = [a.event for a in await env.store.audit_entries()]
    assert "export" in events and "print" in events


SENDER, RCPT = "jane.smith@cafcass.gov.uk", "tom.jones@cafcas.gov.uk"


async def test_exception_requested_approved_used_and_expired(env: Env) -> None:
    code, text = await env.send("lookalike-typo-fire.eml", SENDER, [RCPT])
    assert code == 250 and "held for review" in text, text
    ref = text.split("reference ")[1].split()[0].rstrip(".,)")
    held_by = sorted({r["rule_id"] for r in (await env.store.get_incident(ref)).rules if r["mode"] == "enforce"})
    assert held_by

    b = env.browser
    await b.sign_in("rita")
    await b.get("/exceptions")
    assert await b.exists("#exc-rule-personal-address[disabled]")  # exemptable: false in config/policy.yaml
    # a forged request for a non-exemptable rule is refused by the console
    client, token = await _client_signed_in(env, "rita")  # type: ignore[arg-type]
    async with client:
        r = await client.post("/exceptions", data={"csrf": token, "sender": SENDER, "recipient": "gmail.com",
                                                   "rules": ["personal-address"], "until": "2026-03-20",
                                                   "reason": "Wants to work from home on a personal laptop."})
        assert r.status_code == 303
        r = await client.post("/exceptions", data={"csrf": token, "sender": SENDER, "recipient": "cafcas.gov.uk",
                                                   "rules": held_by, "until": "2026-12-31",
                                                   "reason": "Far too long an exception for anyone."})
        assert r.status_code == 303
    assert await env.store.list_exceptions() == []

    await b.fill("exc-sender", SENDER)
    await b.fill("exc-recipient", "cafcas.gov.uk")
    for rule in held_by:
        await b.click(f"#exc-rule-{rule}")
    await b.fill("exc-until", "2026-03-20")
    await b.fill("exc-reason", "The partner's real domain is cafcas.gov.uk, confirmed by phone with their IT.")
    await b.submit("form[action='/exceptions'] button[type=submit]")
    assert "requested" in await b.text()
    [exc] = await env.store.list_exceptions()
    assert exc.state == "pending" and exc.requested_by == "rita"
    assert not await b.exists(f"form[action='/exceptions/{exc.id}/decide']")  # reviewers cannot approve
    # not in force yet: the same message is still held
    code, text = await env.send("lookalike-typo-fire.eml", SENDER, [RCPT])
    assert "held for review" in text

    await b.sign_in("ann")
    await b.get("/exceptions")
    await b.fill(f"exc-why-{exc.id}", "Checked: a real partner domain.")
    await b.submit("button[name=decision][value=approve]")
    assert "approved" in await b.text()
    env.app.current_runtime().exemptions.invalidate()  # the cache re-reads every few seconds; no sleeping here

    def delivered() -> int:
        return sum(1 for m in env.upstream.handler.messages if m.rcpt_tos == [RCPT])

    before = delivered()
    code, text = await env.send("lookalike-typo-fire.eml", SENDER, [RCPT])
    assert code == 250 and "held for review" not in text, text
    assert delivered() == before + 1
    for _ in range(50):
        if (await env.store.get_exception(exc.id)).uses == 1:
            break
        await asyncio.sleep(0.1)
    assert (await env.store.get_exception(exc.id)).uses == 1
    # the digest lists it with its use
    from zoneinfo import ZoneInfo

    from gateway.digest import collect_digest

    day = env.clock.now.astimezone(ZoneInfo("Europe/London")).date()
    data = await collect_digest(env.app.cfg, env.store, day, env.clock.now)
    assert [(e.id, e.state, e.uses_day) for e in data.exceptions] == [(exc.id, "in force", 1)]
    # another recipient is not covered
    code, text = await env.send("lookalike-typo-fire.eml", SENDER, [RCPT, "someone@cafcass-gov.uk"])
    assert "held for review" in text
    await b.get("/exceptions")
    assert "in force" in await b.text()
    await b.screenshot("console-exceptions.png")

    # at expiry it stops applying on its own (the injected clock, no sleeps)
    env.clock.advance(days=11)
    code, text = await env.send("lookalike-typo-fire.eml", SENDER, [RCPT])
    assert "held for review" in text
    assert (await env.store.get_exception(exc.id)).uses == 1
    await b.get("/exceptions")
    assert "expired" in await b.text()


async def notice_link(env: Env, ref: str) -> str:
    """The release link in the held-message notice the sender got for ``ref`` (a path on this console)."""
    import email
    import email.policy

    for _ in range(100):
        for m in env.upstream.handler.messages:
            msg = email.message_from_bytes(m.data, policy=email.policy.default)
            if m.rcpt_tos == [SENDER] and msg["X-DLP-Incident"] == ref and "held" in str(msg["Subject"]):
                body = str(msg.get_body(("plain",)).get_content())  # type: ignore[union-attr]
                link = next(w for w in body.split() if w.startswith(PUBLIC))
                assert m.mail_from in ("", "<>")  # null envelope sender (RFC 3834)
                return "/" + link[len(PUBLIC):]
        await asyncio.sleep(0.1)
    raise AssertionError("no notice")


async def test_sender_release_link_once_and_expiring(env: Env) -> None:
    code, text = await env.send("lookalike-label-fire.eml", SENDER, ["tom.jones@cafcass-gov.uk"])
    assert code == 250 and "held for review" in text
    ref = text.split("reference ")[1].split()[0].rstrip(".,)")
    path = await notice_link(env, ref)
    assert path.startswith(f"/release/{ref}.")

    b = env.browser
    await b.run(b.driver.delete_all_cookies)  # the sender is not signed in
    await b.get(path)
    page = await b.text()
    assert ref in page and "tom.jones" not in page and SENDER not in page and "Queue" not in page
    await b.screenshot("console-release-request.png")
    await b.fill("justification", "The recipient is our partner's new domain; agreed with their IT today.")
    await b.submit("form[action^='/release/'] button[type=submit]")
    assert "with the reviewers" in await b.text()
    # single use
    await b.get(path)
    assert "has been used" in await b.text()
    # a token altered to point at another message is refused
    other_ref = ref[:-1] + ("1" if ref[-1] != "1" else "2")
    await b.get(path.replace(ref, other_ref))
    assert "not valid" in await b.text()

    # the reviewers see it in the queue and on the message; rejecting tells the sender
    await b.sign_in("rita")
    await b.get("/queue")
    assert "Senders asking for release" in await b.text()
    await b.get(f"/messages/{ref}")
    assert "partner's new domain" in await b.text()
    await b.click("input[name=action][value=reject]")
    await b.fill("justification", "The domain is not the partner's: confirmed with them.")
    await b.submit("form[action$='/decide'] button[type=submit]")
    told = []
    for _ in range(100):
        told = [m for m in env.upstream.handler.messages if m.rcpt_tos == [SENDER] and b"will not be sent" in m.data]
        if told:
            break
        await asyncio.sleep(0.1)
    assert len(told) == 1 and b"confirmed with them" not in told[0].data  # the reviewer's words stay in the audit
    assert (await env.store.get_release_request(ref)).state == "rejected"

    # a link expires: 8 days on, another message's link is refused
    code2, text = await env.send("lookalike-label-fire.eml", SENDER, ["tom.jones@cafcass-gov.uk"])
    assert code2 == 250
    ref2 = text.split("reference ")[1].split()[0].rstrip(".,)")
    path2 = await notice_link(env, ref2)
    env.clock.advance(days=8)
    await b.run(b.driver.delete_all_cookies)
    await b.get(path2)
    assert "expired" in await b.text()
