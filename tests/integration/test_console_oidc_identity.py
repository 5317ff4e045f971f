"""Single sign-on, the rest of issue 14's gaps, against the test's own OpenID provider on loopback (real HTTP):

- the console account is the provider's identity (issuer, ``sub``; Entra's ``oid`` when configured), so a user
  name the provider hands to another person is refused with a clear page and an audit row, never merged;
- signing out ends the session at the provider too when its discovery document has ``end_session_endpoint``
  (RP-initiated logout with ``id_token_hint``, ``client_id`` and ``post_logout_redirect_uri``), and is local only
  when it has none;
- ``dlpgate check-config`` names a missing client-secret variable (file, key, what is expected).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_asyncio

from gateway.config import load
from gateway.console.oidc import HINT_MAX_CHARS, SsoError
from gateway.console.oidc import Provider as ConsoleProvider
from gateway.console.server import ConsoleServer
from gateway.sso_settings import OidcSettings
from gateway.store import Store
from tests.integration.test_console_oidc import (
    CLIENT_SECRET,
    ROLE_MAP,
    SECRET_ENV,
    Provider,
    csrf_of,
    new_client,
    oidc_config,
    user,
)
from tests.smtp_fixtures import make_config
from tests.store_fixtures import run_cli

ASYNC = pytest.mark.asyncio(loop_scope="module")

REPO = Path(__file__).resolve().parents[2]


class LogoutProvider(Provider):
    """The test provider plus RP-initiated logout: ``/logout`` records what it was given and, like a real provider,
    sends the browser back only to the registered post-logout address."""

    def __init__(self) -> None:
        self.logouts: list[dict[str, str]] = []
        self.issued: list[str] = []
        self.post_logout_uri = ""
        super().__init__()

    def discovery(self) -> dict[str, Any]:
        return super().discovery() | {"end_session_endpoint": self.issuer + "/logout"}

    def token(self, form: dict[str, str], auth: str | None) -> tuple[int, dict[str, Any]]:
        status, body = super().token(form, auth)
        if "id_token" in body:
            self.issued.append(body["id_token"])
        return status, body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        base: Any = super()._handler()
        provider = self

        class Handler(base):  # type: ignore[misc]
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path != "/logout":
                    return super().do_GET()  # type: ignore[no-any-return]
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                provider.logouts.append(q)
                if q.get("post_logout_redirect_uri") != provider.post_logout_uri:
                    return self.reply(400, {"Content-Type": "text/plain"}, b"unregistered post logout uri")  # type: ignore[no-any-return]
                return self.reply(302, {"Location": q["post_logout_redirect_uri"]}, b"")  # type: ignore[no-any-return]

        return Handler


class Env:
    def __init__(self, store: Store, logout: LogoutProvider, plain: Provider, with_logout: ConsoleServer,
                 local_only: ConsoleServer) -> None:
        self.store: Any = store
        self.logout = logout
        self.plain = plain
        self.with_logout = with_logout
        self.local_only = local_only


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    """Two consoles on one store: one trusting a provider that offers logout, one trusting a provider that does
    not (the same console code, two configurations)."""
    tmp = tmp_path_factory.mktemp("oidc-identity")
    os.environ[SECRET_ENV] = CLIENT_SECRET
    logout, plain = LogoutProvider(), Provider()
    logout.start()
    plain.start()
    cfg_a = load(make_config(tmp / "a", {"console": {"enabled": True, "listen": "127.0.0.1:0",
                                                     "oidc": oidc_config(logout)}}))
    store = await Store.open(cfg_a)
    cfg_b = load(make_config(tmp / "b", {"console": {"enabled": True, "listen": "127.0.0.1:0",
                                                     "oidc": oidc_config(plain)}}))
    a, b = ConsoleServer(cfg_a, store), ConsoleServer(cfg_b, store)
    await a.start()
    await b.start()
    logout.redirect_uri, plain.redirect_uri = a.url + "/sso/callback", b.url + "/sso/callback"
    logout.post_logout_uri = a.url + "/signin"
    yield Env(store, logout, plain, a, b)
    await a.stop()
    await b.stop()
    await store.close()
    logout.stop()
    plain.stop()
    os.environ.pop(SECRET_ENV, None)


async def _audit(env: Env, event: str) -> Any:
    rows, _ = await env.store.audit_page(limit=30)
    return next(r for r in rows if r.event == event)


@ASYNC
async def test_a_reassigned_user_name_opens_no_old_account(env: Env) -> None:
    """Person 1 signs in as jo@; the provider later gives jo@ to person 2 (another ``sub``, admin groups): person 2
    gets a page saying the account is someone else's, no session, an audit row, and person 1's account is
    untouched. Person 1, renamed at the provider, still reaches their own account."""
    p, base = env.logout, env.with_logout.url
    p.reset(user("Jo@cafcass.gov.uk", "g-dlp-reviewers", sub="subject-person-1"))
    async with new_client() as client:
        await client.get(base + "/sso/start")
        assert "jo@cafcass.gov.uk (reviewer)" in (await client.get(base + "/queue")).text
    p.reset(user("jo@cafcass.gov.uk", "g-dlp-admins", sub="subject-person-2"))
    async with new_client() as client:
        r = await client.get(base + "/sso/start")
        assert r.status_code == 403 and "belongs to a different person" in r.text and "never merged" in r.text
        assert (await client.get(base + "/users")).url.path == "/signin"
    account = await env.store.get_account("jo@cafcass.gov.uk")
    assert (account.role, account.sso_subject, account.sso_issuer) == ("reviewer", "subject-person-1", p.issuer)
    failed = await _audit(env, "sign_in_failed")
    assert failed.actor == "jo@cafcass.gov.uk" and failed.detail["why"] == "another single sign-on identity has " \
        "this name"

    p.reset(user("jo.renamed@cafcass.gov.uk", "g-dlp-reviewers", sub="subject-person-1"))
    async with new_client() as client:
        await client.get(base + "/sso/start")
        assert "jo.renamed@cafcass.gov.uk (reviewer)" in (await client.get(base + "/queue")).text
    assert (await env.store.get_account("jo.renamed@cafcass.gov.uk")).id == account.id


@ASYNC
async def test_sign_out_ends_the_session_at_the_provider(env: Env) -> None:
    """Signing out sends the browser to the provider's end_session_endpoint with the ID token it issued as
    id_token_hint, the client id and the registered post-logout address; the provider sends it back to the
    sign-in page, the console session is gone, and the sign-out is audited as ending the provider's session."""
    p, base = env.logout, env.with_logout.url
    p.reset(user("olive@cafcass.gov.uk", "g-dlp-reviewers"))
    async with new_client() as client:
        await client.get(base + "/sso/start")
        token = csrf_of((await client.get(base + "/queue")).text)
        r = await client.post(base + "/signout", data={"csrf": token}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith(p.issuer + "/logout?")
        back = await client.get(r.headers["location"])  # provider -> console sign-in page
        assert back.status_code == 200 and back.url.path == "/signin"
        assert (await client.get(base + "/queue")).url.path == "/signin"
    sent = p.logouts[-1]
    assert sent["id_token_hint"] == p.issued[-1]
    assert sent["client_id"] == "dlpgate-console-test" and sent["post_logout_redirect_uri"] == base + "/signin"
    row = await _audit(env, "sign_out")
    assert row.actor == "olive@cafcass.gov.uk" and row.detail == {"method": "oidc", "provider": "ended"}


@ASYNC
async def test_a_token_too_big_for_the_cookie_signs_out_without_the_hint(env: Env) -> None:
    """An ID token larger than the session cookie can carry (an Entra token listing many groups) is not kept:
    sign-in still works and sign-out still reaches the provider, identified by client_id alone."""
    p, base = env.logout, env.with_logout.url
    many = [f"00000000-0000-0000-0000-{n:012d}" for n in range(60)]
    p.reset(user("gus@cafcass.gov.uk", "g-dlp-reviewers", *many))
    async with new_client() as client:
        await client.get(base + "/sso/start")
        assert len(p.issued[-1]) > HINT_MAX_CHARS
        token = csrf_of((await client.get(base + "/queue")).text)
        r = await client.post(base + "/signout", data={"csrf": token}, follow_redirects=False)
        assert r.headers["location"].startswith(p.issuer + "/logout?")
        before = len(p.logouts)
        assert (await client.get(r.headers["location"])).url.path == "/signin"
    assert len(p.logouts) == before + 1
    assert "id_token_hint" not in p.logouts[-1] and p.logouts[-1]["client_id"] == "dlpgate-console-test"


@ASYNC
async def test_sign_out_is_local_when_the_provider_offers_no_logout(env: Env) -> None:
    """Without end_session_endpoint in discovery, sign-out clears the console session and lands on the sign-in
    page, with no request to the provider."""
    p, base = env.plain, env.local_only.url
    p.reset(user("lou@cafcass.gov.uk", "g-dlp-reviewers"))
    async with new_client() as client:
        await client.get(base + "/sso/start")
        token = csrf_of((await client.get(base + "/queue")).text)
        r = await client.post(base + "/signout", data={"csrf": token}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/signin"
        assert (await client.get(base + "/queue")).url.path == "/signin"
    row = await _audit(env, "sign_out")
    assert row.actor == "lou@cafcass.gov.uk" and row.detail == {"method": "oidc"}


def test_entra_oid_keys_the_account_when_configured() -> None:
    """With subject_claim: oid the account key is Entra's object id (marked, so it never equals a ``sub``); a
    token without the claim is refused rather than falling back to the name."""
    settings = OidcSettings(enabled=True, issuer="https://login.example.test/t/v2.0", client_id="c",
                            role_map=ROLE_MAP, subject_claim="oid")
    provider = ConsoleProvider(settings)
    claims = {"sub": "pairwise-sub", "oid": "5f0c9a52-object-id", "preferred_username": "Ann@cafcass.gov.uk",
              "email": "ann@cafcass.gov.uk", "groups": ["g-dlp-reviewers"]}
    ident = provider.identity(claims)
    assert (ident.name, ident.subject, ident.role) == ("ann@cafcass.gov.uk", "oid:5f0c9a52-object-id", "reviewer")
    assert ConsoleProvider(settings.model_copy(update={"subject_claim": "sub"})).identity(claims).subject == \
        "pairwise-sub"
    with pytest.raises(SsoError, match="no oid claim"):
        provider.identity({k: v for k, v in claims.items() if k != "oid"})


def test_check_config_names_a_missing_client_secret(tmp_path: Path) -> None:
    """check-config stops (exit 2) when the variable console.oidc.client_secret_env names is unset, saying which
    file, key and variable; with the variable set the same config is fine."""
    var = "DLPGATE_TEST_CHECK_CONFIG_SECRET"
    cfg = make_config(tmp_path, {"console": {"enabled": True, "oidc": {
        "enabled": True, "issuer": "https://login.example.test/t/v2.0", "client_id": "c",
        "client_secret_env": var, "role_map": ROLE_MAP}}})
    assert var not in os.environ
    missing = run_cli("check-config", "--no-samples", "--config", str(cfg), cwd=REPO)
    assert missing.returncode == 2, missing.stderr
    line = next(ln for ln in missing.stderr.splitlines() if "client_secret_env" in ln)
    assert line.startswith(str(cfg / "gateway.yaml") + ": console.oidc.client_secret_env: ")
    assert var in line and "not set" in line
    ok = run_cli("check-config", "--no-samples", "--config", str(cfg), cwd=REPO, env={var: "s3cret-value"})
    assert ok.returncode == 0, ok.stderr
    assert "s3cret-value" not in ok.stdout + ok.stderr
