"""The review console driven by a real browser (Debian's chromium + chromedriver through Selenium), against a
gateway with scanning on that quarantined the messages over real SMTP (issue 14).

Covers sign-in and lockout, a reviewer's release reaching the upstream exactly once, four eyes (the requester
cannot approve; a second approver releases, with the encryption the policy still requires), an auditor who
cannot reveal, CSRF refusal, the security headers, and the audit page with its hash chain. Screenshots of the
queue, a message page and the audit page go to the test's temp folder, and to docs/img/ when
``DLPGATE_UPDATE_SCREENSHOTS=1``.

Selenium calls block, and the console is served by this test's event loop: every browser call runs in a thread.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import yaml

from gateway.app import App
from gateway.config import load
from gateway.console.security import hash_password
from tests.smtp_fixtures import REPO, Upstream, make_config

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
try:
    import selenium  # noqa: F401

    HAVE_SELENIUM = True
except ImportError:  # pragma: no cover
    HAVE_SELENIUM = False

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER and HAVE_SELENIUM),
                       reason="needs Debian's chromium and chromium-driver and selenium (scripts/test installs them)"),
]

SAMPLES = REPO / "samples" / "policy"
PASSWORD = "correct horse battery staple"
IMG = REPO / "docs" / "img"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class Browser:
    """A headless chromium, each call in a thread (see the module docstring)."""

    def __init__(self, base: str, shots: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.base = base
        self.shots = shots
        self.profile = tempfile.mkdtemp(prefix="dlpgate-chromium-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM or ""
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                     f"--user-data-dir={self.profile}", "--window-size=1280,1000", "--force-device-scale-factor=1"):
            opts.add_argument(flag)
        self.driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER or ""), options=opts)
        self.driver.set_page_load_timeout(30)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def get(self, path: str) -> None:
        await self.run(self.driver.get, self.base + path)

    async def fill(self, element_id: str, text: str) -> None:
        from selenium.webdriver.common.by import By

        def do() -> None:
            el = self.driver.find_element(By.ID, element_id)
            el.clear()
            el.send_keys(text)

        await self.run(do)

    async def click(self, css: str) -> None:
        from selenium.webdriver.common.by import By

        await self.run(lambda: self.driver.find_element(By.CSS_SELECTOR, css).click())

    async def submit(self, css: str) -> None:
        """Click something that loads a new page, and wait for it."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        def do() -> None:
            old = self.driver.find_element(By.TAG_NAME, "html")
            self.driver.find_element(By.CSS_SELECTOR, css).click()
            # Chromium's inspector can answer "unknown error" while the page is being replaced: ask again.
            wait = WebDriverWait(self.driver, 30, ignored_exceptions=(WebDriverException,))
            wait.until(expected_conditions.staleness_of(old))
            wait.until(lambda d: d.execute_script("return document.readyState") == "complete")

        await self.run(do)

    async def exists(self, css: str) -> bool:
        from selenium.webdriver.common.by import By

        return bool(await self.run(lambda: self.driver.find_elements(By.CSS_SELECTOR, css)))

    async def text(self) -> str:
        from selenium.webdriver.common.by import By

        return str(await self.run(lambda: self.driver.find_element(By.TAG_NAME, "body").text))

    async def title(self) -> str:
        return str(await self.run(lambda: self.driver.title))

    async def url(self) -> str:
        return str(await self.run(lambda: self.driver.current_url))

    async def sign_in(self, name: str, password: str = PASSWORD) -> None:
        await self.run(self.driver.delete_all_cookies)
        await self.get("/signin")
        await self.fill("username", name)
        await self.fill("password", password)
        await self.submit("form[action='/signin'] button[type=submit]")

    async def screenshot(self, name: str) -> None:
        def do() -> None:
            height = self.driver.execute_script("return document.body.scrollHeight")
            self.driver.set_window_size(1280, min(max(int(height) + 40, 700), 2400))
            self.driver.save_screenshot(str(self.shots / name))
            self.driver.set_window_size(1280, 1000)

        await self.run(do)
        if os.environ.get("DLPGATE_UPDATE_SCREENSHOTS") == "1":
            IMG.mkdir(parents=True, exist_ok=True)
            shutil.copy(self.shots / name, IMG / name)

    def close(self) -> None:
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)


class Env:
    def __init__(self, app: App, upstream: Upstream, browser: Browser) -> None:
        self.app = app
        self.upstream = upstream
        self.browser = browser
        assert app.console is not None
        self.base = app.console.url

    @property
    def store(self) -> Any:
        return self.app.store

    async def hold(self, name: str, mail_from: str, rcpts: list[str]) -> str:
        """Send a sample over SMTP; it must be held. Returns its reference."""
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
        assert code == 250 and b"held for review" in text, text
        return text.decode().split("reference ")[1].split()[0].rstrip(".,)")

    async def decide(self, ref: str, action: str, why: str) -> None:
        b = self.browser
        await b.get(f"/messages/{ref}")
        await b.click(f"input[name=action][value={action}]")
        await b.fill("justification", why)
        await b.submit("form[action$='/decide'] button[type=submit]")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    tmp = tmp_path_factory.mktemp("console")
    up = Upstream()
    await up.start()
    policy = yaml.safe_load((REPO / "config" / "policy.yaml").read_text())
    for rule in policy["rules"]:
        if rule["id"] == "multiple-cases-external":
            rule["four_eyes"] = True
    cfg_dir = make_config(tmp, {
        "upstream": {"url": up.url},
        "scan": {"enabled": True, "workers": 1},
        "notifications": {"notify_sender_on_quarantine": False},
        "console": {"enabled": True, "listen": "127.0.0.1:0", "lockout_after": 3, "lockout_seconds": 600},
    }, {"rules": policy["rules"]})
    app = App(load(cfg_dir))
    await app.start()
    store = app.store
    assert store is not None
    for name, role in (("rita", "reviewer"), ("ann", "approver"), ("bob", "approver"), ("aud", "auditor"),
                       ("lock", "reviewer")):
        await store.add_account(name, role, hash_password(PASSWORD), actor="test")
    assert app.console is not None
    browser = await asyncio.to_thread(Browser, app.console.url, tmp)
    yield Env(app, up, browser)
    await asyncio.to_thread(browser.close)
    await app.stop(grace=5)
    await up.stop()


class _Client(httpx.AsyncClient):
    """Already in use when the test enters ``async with``: that only closes it at the end."""

    async def __aenter__(self) -> _Client:
        return self


async def _client_signed_in(env: Env, name: str) -> tuple[httpx.AsyncClient, str]:
    client = _Client(base_url=env.base)
    page = await client.get("/signin")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    r = await client.post("/signin", data={"csrf": token.group(1), "username": name, "password": PASSWORD})
    assert r.status_code == 303, r.text
    page = await client.get("/queue")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    return client, token.group(1)


async def test_security_headers_and_cookie(env: Env) -> None:
    async with httpx.AsyncClient(base_url=env.base) as client:
        r = await client.get("/signin")
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
    assert "unsafe-inline" not in csp
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-content-type-options"] == "nosniff"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert "<script" not in r.text and " style=" not in r.text


async def test_sign_in_and_lockout(env: Env) -> None:
    b = env.browser
    await b.sign_in("rita")
    assert (await b.url()).endswith("/queue")
    assert "Quarantine queue" in await b.title()
    for _ in range(3):
        await b.sign_in("lock", "wrong password here")
        assert "There is a problem" in await b.text()
    await b.sign_in("lock")  # the right password, but locked now
    assert "There is a problem" in await b.text() and not (await b.url()).endswith("/queue")
    account = await env.store.get_account("lock")
    assert account.locked_until is not None and account.failed_count >= 3
    rows, _ = await env.store.audit_page(limit=20)
    assert [r.event for r in rows if r.actor == "lock"][:4] == ["sign_in_failed"] * 4
    assert any(r.event == "sign_in" and r.actor == "rita" and r.source == "127.0.0.1" for r in rows)


async def test_post_without_csrf_is_refused(env: Env) -> None:
    ref = await env.hold("lookalike-homoglyph-fire.eml", "jane.smith@cafcass.gov.uk", ["tom.jones@cafcas.gov.uk"])
    client, _token = await _client_signed_in(env, "rita")
    async with client:
        r = await client.post(f"/messages/{ref}/decide", data={"action": "reject", "justification": "no token at all"})
        assert r.status_code == 403
        r = await client.post(f"/messages/{ref}/decide",
                              data={"csrf": "forged", "action": "reject", "justification": "a forged token"})
        assert r.status_code == 403
    assert (await env.store.get_quarantined(ref)).state == "held"


async def test_reviewer_releases_once(env: Env) -> None:
    before = len(env.upstream.handler.messages)
    ref = await env.hold("lookalike-typo-fire.eml", "jane.smith@cafcass.gov.uk", ["tom.jones@cafcas.gov.uk"])
    assert len(env.upstream.handler.messages) == before
    b = env.browser
    await b.sign_in("rita")
    await b.get("/queue")
    assert ref in await b.text()
    await b.screenshot("console-queue.png")
    await b.submit(f"a[href='/messages/{ref}']")
    assert "lookalike-domain" in await b.text()
    assert "jane.smith" not in await b.title() and ref in await b.title()
    await b.screenshot("console-message.png")
    await env.decide(ref, "release", "Checked with the sender: the address is right.")
    assert "released" in await b.text()
    assert len(env.upstream.handler.messages) == before + 1
    assert env.upstream.handler.messages[-1].rcpt_tos == ["tom.jones@cafcas.gov.uk"]
    # a second reviewer's late click (a stale form) delivers nothing more
    client, token = await _client_signed_in(env, "ann")
    async with client:
        r = await client.post(f"/messages/{ref}/decide",
                              data={"csrf": token, "action": "release", "justification": "release it again"})
        assert r.status_code == 303
    assert len(env.upstream.handler.messages) == before + 1
    assert (await env.store.get_quarantined(ref)).state == "released"


async def test_four_eyes_requester_cannot_approve(env: Env) -> None:
    before = len(env.upstream.handler.messages)
    ref = await env.hold("multiple-cases-fire.eml", "jane.smith@cafcass.gov.uk", ["n.okafor@okafor-law.co.uk"])
    b = env.browser
    await b.sign_in("ann")
    await b.get(f"/messages/{ref}")
    assert "four eyes" in (await b.text()).lower()
    await env.decide(ref, "release", "The solicitor is a party to both cases.")
    assert "waits for an approver" in await b.text()
    assert len(env.upstream.handler.messages) == before
    assert not await b.exists("form[action^='/approvals/']")  # no approve button for the requester
    pending = [a for a in await env.store.approvals_for(ref) if a.state == "pending"]
    assert len(pending) == 1 and pending[0].requested_by == "ann"
    client, token = await _client_signed_in(env, "ann")  # and a forged post of her own approval fails
    async with client:
        r = await client.post(f"/approvals/{pending[0].id}/decide",
                              data={"csrf": token, "decision": "approve", "justification": "approving myself"})
        assert r.status_code == 303
    assert len(env.upstream.handler.messages) == before
    assert (await env.store.approvals_for(ref))[0].state == "pending"
    await b.sign_in("bob")
    await b.get(f"/messages/{ref}")
    await b.fill(f"approve-why-{pending[0].id}", "Agreed: both cases are the solicitor's.")
    await b.submit("button[name=decision][value=approve]")
    assert "released" in await b.text()
    assert len(env.upstream.handler.messages) == before + 1
    assert env.upstream.handler.messages[-1].rcpt_tos == ["n.okafor@okafor-law.co.uk"]
    events = [r.event for r in (await env.store.audit_page(reference=ref))[0]]
    assert "approval_requested" in events and "approval_approved" in events and "release" in events


async def test_auditor_cannot_reveal(env: Env) -> None:
    ref = await env.hold("lookalike-label-fire.eml", "jane.smith@cafcass.gov.uk", ["tom.jones@cafcass-gov.uk"])
    b = env.browser
    await b.sign_in("aud")
    await b.get(f"/messages/{ref}")
    assert not await b.exists("form[action$='/reveal']") and not await b.exists("form[action$='/decide']")
    assert "metadata only" in await b.text()
    client, token = await _client_signed_in(env, "aud")
    async with client:
        r = await client.post(f"/messages/{ref}/reveal", data={"csrf": token, "reason": "curious about it"})
        assert r.status_code == 403
        r = await client.post(f"/messages/{ref}/decide",
                              data={"csrf": token, "action": "reject", "justification": "not mine to do"})
        assert r.status_code == 403
    assert not [r for r in (await env.store.audit_page(reference=ref))[0] if r.event == "reveal"]
    # a reviewer may reveal, with a reason, and it is audited
    await b.sign_in("rita")
    await b.get(f"/messages/{ref}")
    await b.fill("reveal-reason", "Checking the recipient named in the body")
    await b.submit("form[action$='/reveal'] button[type=submit]")
    assert "Revealed" in await b.run(lambda: b.driver.page_source) or "Subject" in await b.text()
    reveals = [r for r in (await env.store.audit_page(reference=ref))[0] if r.event == "reveal"]
    assert len(reveals) == 1 and reveals[0].actor == "rita" and reveals[0].source == "127.0.0.1"


async def test_audit_page_and_chain(env: Env) -> None:
    b = env.browser
    await b.sign_in("aud")
    await b.get("/audit?verify=1")
    text = await b.text()
    assert "The chain is intact" in text and "sign in" in text
    await b.screenshot("console-audit.png")
    report = await env.store.verify_audit_chain()
    assert report.ok and report.rows > 10


def test_screenshots_exist_when_updated() -> None:
    if os.environ.get("DLPGATE_UPDATE_SCREENSHOTS") != "1":
        pytest.skip("screenshots are copied to docs/img only with DLPGATE_UPDATE_SCREENSHOTS=1")
    for name in ("console-queue.png", "console-message.png", "console-audit.png"):
        assert (IMG / name).stat().st_size > 10_000


