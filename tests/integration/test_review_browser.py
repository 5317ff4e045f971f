"""Bulk reject with a sender notice and release to a chosen recipient, driven in a real browser (Debian's chromium
+ chromedriver through Selenium) against the console served by uvicorn, a real SQLite store and a recording SMTP
upstream (issue 14). Screenshots of the bulk confirmation and its result go to the test's temp folder, and to
docs/img/ when ``DLPGATE_UPDATE_SCREENSHOTS=1``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from gateway.console.security import hash_password
from gateway.console.server import ConsoleServer
from gateway.store import Store
from tests.integration.test_console_browser import CHROMEDRIVER, CHROMIUM, HAVE_SELENIUM, PASSWORD, Browser
from tests.store_fixtures import (
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

pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER and HAVE_SELENIUM),
                                reason="needs Debian's chromium and chromium-driver and selenium")


@pytest_asyncio.fixture
async def console(tmp_path: Path, smtp_upstream: RecordingUpstream) -> AsyncIterator[tuple[Store, Browser]]:
    cfg = load_config(write_config(tmp_path, upstream_port=smtp_upstream.port,
                                   console={"enabled": True, "listen": "127.0.0.1:0"}))
    store = await Store.open(cfg)
    await store.add_account("rita", "reviewer", hash_password(PASSWORD), actor="test")
    server = ConsoleServer(cfg, store)
    await server.start()
    browser = await asyncio.to_thread(Browser, server.url, tmp_path)
    try:
        yield store, browser
    finally:
        await asyncio.to_thread(browser.close)
        await server.stop()
        await store.close()


async def _hold(store: Store, up: RecordingUpstream, marker: str) -> str:
    sub = make_submission(marker=marker)
    return await store.quarantine(sub, make_scan(sub, with_findings=False), quarantine_decision(),
                                  route={"upstream": up.url}, release_plan={"action": "pass"})


async def test_bulk_reject_in_the_browser(console: tuple[Store, Browser], smtp_upstream: RecordingUpstream) -> None:
    """Tick two of three, pick reject with a notice, confirm the count, see every outcome; the third stays."""
    store, b = console
    refs = [await _hold(store, smtp_upstream, f"b{n}") for n in range(3)]
    await b.sign_in("rita")
    await b.get("/queue")
    for ref in refs[:2]:
        await b.click(f"#sel-{ref}")
    await b.run(lambda: b.driver.execute_script(
        "document.getElementById('bulk-action').value = 'reject';"
        "document.getElementById('bulk-notify').value = 'secure_route';"))
    await b.fill("bulk-justification", "must go by secure file transfer")
    await b.submit("#bulk-form button[type=submit]")
    assert "Reject: 2 messages." in await b.text()
    await b.screenshot("console-bulk-confirm.png")
    await b.submit("#bulk-confirm")
    text = await b.text()
    assert "2 of 2 done" in text and all(r in text for r in refs[:2])
    await b.screenshot("console-bulk-result.png")
    states = [q.state for r in refs if (q := await store.get_quarantined(r)) is not None]
    assert states == ["rejected", "rejected", "held"]
    assert len(smtp_upstream.messages) == 2
    for m in smtp_upstream.messages:
        assert b"secure route" in m.data
        assert_no_secrets(m.data, "the rejection notice")


async def test_release_to_one_recipient_in_the_browser(console: tuple[Store, Browser],
                                                       smtp_upstream: RecordingUpstream) -> None:
    """Untick the outside recipient on the message page: only the colleague gets it; the rest stays held."""
    store, b = console
    ref = await _hold(store, smtp_upstream, "c1")
    await b.sign_in("rita")
    await b.get(f"/messages/{ref}")
    await b.click("#rcpt-1")  # someone@gmail.com, first on the envelope
    await b.fill("justification", "the colleague needs it today")
    await b.submit("form[action$='/decide'] button[type=submit]")
    assert "Still held for" in await b.text()
    assert [m.rcpt_tos for m in smtp_upstream.messages] == [["bob@cafcass.gov.uk"]]
    q = await store.get_quarantined(ref)
    assert q is not None and q.state == "held" and q.undecided == ["someone@gmail.com"]
