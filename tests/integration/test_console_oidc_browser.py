"""Single sign-on driven by a real browser (Debian's chromium through Selenium): a reviewer and a sender click
the console's SSO button, sign in at the test's OpenID provider and arrive signed in (issues 14 and 15).

The provider is ``localhost`` and the console ``127.0.0.1``, two sites: Chromium applies SameSite as it would
between Entra ID and the console, so this proves the flow cookie (Lax) reaches the callback and the session
cookie (Strict) is sent on the page after it. Screenshots go to the test's temp folder, and to docs/img/ when
``DLPGATE_UPDATE_SCREENSHOTS=1``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.integration.test_console_browser import CHROMEDRIVER, CHROMIUM, HAVE_SELENIUM, Browser
from tests.integration.test_console_oidc import Env, user
from tests.integration.test_console_oidc import env as oidc_env  # noqa: F401 (the module's fixture)
from tests.store_fixtures import make_scan, make_submission, quarantine_decision

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER and HAVE_SELENIUM),
                       reason="needs Debian's chromium and chromium-driver and selenium (scripts/test installs them)"),
]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser(oidc_env: Env, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Browser]:  # noqa: F811
    b = await asyncio.to_thread(Browser, oidc_env.base, tmp_path_factory.mktemp("oidc-shots"))
    yield b
    await asyncio.to_thread(b.close)


async def wait_for_path(b: Browser, path: str) -> None:
    """The done page moves on by a meta refresh: wait until the browser is there."""
    from urllib.parse import urlsplit

    for _ in range(150):
        if urlsplit(await b.url()).path == path and not (await b.title()).startswith("Signed in"):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"still at {await b.url()}: {await b.text()}")


async def test_reviewer_signs_in_with_the_sso_button(oidc_env: Env, browser: Browser) -> None:  # noqa: F811
    """Click "Sign in with single sign-on", pass through the provider on another site, land on the queue
    signed in as a reviewer."""
    oidc_env.provider.reset(user("Rhea.Reviewer@cafcass.gov.uk", "g-dlp-reviewers"), interactive=True)
    await browser.run(browser.driver.delete_all_cookies)
    await browser.get("/signin")
    await browser.screenshot("console-signin-sso.png")
    await browser.submit("#sso")
    assert (await browser.url()).startswith(oidc_env.provider.issuer + "/authorize?")
    await browser.click("#continue")
    await wait_for_path(browser, "/queue")
    text = await browser.text()
    assert "rhea.reviewer@cafcass.gov.uk (reviewer)" in text and "Queue" in text
    assert oidc_env.provider.authorize_requests[-1]["code_challenge_method"] == "S256"


async def test_sender_signs_in_and_asks_for_release(oidc_env: Env, browser: Browser) -> None:  # noqa: F811
    """A sender signs in by SSO, sees their held message (only theirs) and asks for its release."""
    store = oidc_env.store
    sub = make_submission(mail_from="stella.sender@cafcass.gov.uk", marker="b1")
    ref = await store.quarantine(sub, make_scan(sub), quarantine_decision())
    other = make_submission(mail_from="not.stella@cafcass.gov.uk", marker="b2")
    theirs = await store.quarantine(other, make_scan(other), quarantine_decision())

    oidc_env.provider.reset(user("stella.sender@cafcass.gov.uk", "g-staff"), interactive=True)
    await browser.run(browser.driver.delete_all_cookies)
    await browser.get("/signin")
    await browser.submit("#sso")
    await browser.click("#continue")
    await wait_for_path(browser, "/my")
    text = await browser.text()
    assert ref in text and theirs not in text and "stella.sender@cafcass.gov.uk (sender)" in text
    assert "Queue" not in text  # a sender's navigation has only their own page
    await browser.screenshot("console-sender-sso.png")
    await browser.click(f"a[href='/my/{ref}']")
    await wait_for_path(browser, f"/my/{ref}")
    await browser.fill("justification", "The family court needs this statement before the hearing.")
    await browser.submit(f"form[action='/my/{ref}'] button[type=submit]")
    assert "is with the reviewers" in await browser.text()
    request = await store.get_release_request(ref)
    assert request is not None and request.state == "pending"
