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


class Env:
    def __init__(self, app: App, browser: Browser, clock: FrozenClock) -> None:
        self.app = app
        self.browser = browser
        self.clock = clock
        assert app.console is not None
        self.base = app.console.url

    @property
    def store(self) -> Any:
        return self.app.store


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    tmp = tmp_path_factory.mktemp("governance")
    up = Upstream()
    await up.start()
    cfg_dir = make_config(tmp, {
        "upstream": {"url": up.url},
        "notifications": {"notify_sender_on_quarantine": False},
        "console": {"enabled": True, "listen": "127.0.0.1:0"},
    })
    app = App(load(cfg_dir))
    await app.start()
    store = app.store
    assert store is not None
    clock = FrozenClock()
    store.clock = clock
    for name, role in (("rita", "reviewer"), ("aud", "auditor")):
        await store.add_account(name, role, hash_password(PASSWORD), actor="test")
    assert app.console is not None
    browser = await asyncio.to_thread(Browser, app.console.url, tmp)
    yield Env(app, browser, clock)
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
