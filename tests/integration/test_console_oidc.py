"""Single sign-on to the review console by OpenID Connect (issue 14; issue 15's sender sign-in), against a real
OpenID provider that this test starts on loopback: discovery, JWKS, authorize and token endpoints, PKCE checked,
RS256 ID tokens signed with ``cryptography`` directly (not the library the console verifies with). Every login
goes through real HTTP: httpx follows the console's redirect to the provider and the provider's back.

The provider is reached as ``localhost`` and the console as ``127.0.0.1``: two different sites, as the
organisation's Entra ID and its console are, so the browser test (test_console_oidc_browser.py) exercises the
SameSite rules of a real cross-site sign-in.

Covers: a reviewer and a sender signing in; the role following the provider's groups; a sender seeing only their
own held mail and asking for a release; refusals for a bad signature, another audience, a wrong nonce, a wrong
issuer, an expired token, a wrong or missing state, an unmapped group, and a local account's name; password
sign-in switched off; config errors that name the key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import threading
import time
from collections.abc import AsyncIterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import pytest_asyncio
import yaml
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from gateway.app import App
from gateway.config import load
from gateway.config_errors import ConfigError
from gateway.console.security import hash_password
from gateway.console.server import ConsoleServer
from tests.smtp_fixtures import Upstream, make_config
from tests.store_fixtures import make_scan, make_submission, quarantine_decision

pytestmark = [pytest.mark.asyncio(loop_scope="module")]

CLIENT_ID = "dlpgate-console-test"
CLIENT_SECRET = "a-client-secret-for-the-test-provider"
SECRET_ENV = "DLPGATE_TEST_OIDC_SECRET"
ROLE_MAP = {"g-dlp-reviewers": "reviewer", "g-dlp-admins": "admin", "g-staff": "sender"}
PASSWORD = "correct horse battery staple"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int(n: int) -> str:
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class Provider:
    """A small OpenID provider on loopback (its own thread). ``user`` is who is signed in there; ``tamper``
    overrides ID-token claims and ``rogue`` signs with a key that is not in the JWKS (same key id), for the
    negative tests. It checks what a real provider checks: the client, the registered redirect URI, PKCE S256,
    single-use codes and the client secret."""

    def __init__(self, host: str = "localhost") -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.rogue_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-key-1"
        self.user: dict[str, Any] = {}
        self.tamper: dict[str, Any] = {}
        self.rogue = False
        self.interactive = False
        """True: /authorize shows a page where the person presses "Continue" (a navigation the provider's own
        page starts, as after typing a password at Entra ID); False: it redirects at once (already signed in)."""
        self.pending: dict[str, dict[str, str]] = {}
        self.redirect_uri = ""
        self.codes: dict[str, dict[str, Any]] = {}
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self, user: dict[str, Any], *, interactive: bool = False) -> None:
        self.user, self.tamper, self.rogue, self.interactive = dict(user), {}, False, interactive

    def jwks(self) -> dict[str, Any]:
        pub = self.key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid, "n": _int(pub.n),
                          "e": _int(pub.e)}]}

    def sign(self, claims: dict[str, Any]) -> str:
        header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": self.kid}).encode())
        body = b64url(json.dumps(claims).encode())
        key = self.rogue_key if self.rogue else self.key
        sig = key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{header}.{body}.{b64url(sig)}"

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer, "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token", "jwks_uri": self.issuer + "/jwks",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"], "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    def authorize(self, q: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        self.authorize_requests.append(q)
        problems = [k for k, ok in (
            ("client_id", q.get("client_id") == CLIENT_ID),
            ("redirect_uri", q.get("redirect_uri") == self.redirect_uri),
            ("response_type", q.get("response_type") == "code"),
            ("scope", "openid" in q.get("scope", "").split()),
            ("code_challenge_method", q.get("code_challenge_method") == "S256"),
            ("code_challenge", len(q.get("code_challenge", "")) == 43),
            ("nonce", bool(q.get("nonce"))),
            ("state", bool(q.get("state"))),
        ) if not ok]
        if problems:
            return 400, {"Content-Type": "text/plain"}, f"bad request: {problems}".encode()
        if self.interactive:
            txn = secrets.token_urlsafe(16)
            self.pending[txn] = q
            page = (f'<!doctype html><title>Test provider</title><form method="post" action="/authorize/continue">'
                    f'<input type="hidden" name="txn" value="{txn}"><p>Signed in as {self.user.get("sub")}</p>'
                    f'<button id="continue" type="submit">Continue</button></form>')
            return 200, {"Content-Type": "text/html; charset=utf-8"}, page.encode()
        return self.grant(q)

    def grant(self, q: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"user": dict(self.user), "nonce": q["nonce"], "challenge": q["code_challenge"],
                            "redirect_uri": q["redirect_uri"]}
        location = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q["state"]})
        return 302, {"Location": location}, b""

    def token(self, form: dict[str, str], auth: str | None) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(form)
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if auth != expected:
            return 401, {"error": "invalid_client"}
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or form.get("grant_type") != "authorization_code":
            return 400, {"error": "invalid_grant"}
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri"}
        challenge = b64url(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
        if challenge != grant["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verifier does not match"}
        now = int(time.time())
        access_token = secrets.token_urlsafe(24)
        at_hash = b64url(hashlib.sha256(access_token.encode()).digest()[:16])
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300, "nonce": grant["nonce"],
                  "at_hash": at_hash, **grant["user"], **self.tamper}
        return 200, {"access_token": access_token, "token_type": "Bearer", "expires_in": 300,
                     "id_token": self.sign(claims)}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def json(self, status: int, data: dict[str, Any]) -> None:
                self.reply(status, {"Content-Type": "application/json", "Cache-Control": "no-store"},
                           json.dumps(data).encode())

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    self.json(200, provider.discovery())
                elif url.path == "/jwks":
                    self.json(200, provider.jwks())
                elif url.path == "/authorize":
                    self.reply(*provider.authorize(q))
                else:
                    self.reply(404, {}, b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if urlsplit(self.path).path == "/token":
                    self.json(*provider.token(form, self.headers.get("Authorization")))
                elif urlsplit(self.path).path == "/authorize/continue" and form.get("txn") in provider.pending:
                    self.reply(*provider.grant(provider.pending.pop(form["txn"])))
                else:
                    self.reply(404, {}, b"")

        return Handler


def oidc_config(provider: Provider, **extra: Any) -> dict[str, Any]:
    return {"enabled": True, "issuer": provider.issuer, "client_id": CLIENT_ID, "client_secret_env": SECRET_ENV,
            "role_map": ROLE_MAP, **extra}


class Env:
    def __init__(self, app: App, provider: Provider, cfg_dir: Path) -> None:
        assert app.console is not None and app.store is not None
        self.app = app
        self.provider = provider
        self.cfg_dir = cfg_dir
        self.base = app.console.url
        self.store: Any = app.store


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    tmp = tmp_path_factory.mktemp("oidc")
    os.environ[SECRET_ENV] = CLIENT_SECRET
    provider = Provider()
    provider.start()
    up = Upstream()
    await up.start()
    cfg_dir = make_config(tmp, {
        "upstream": {"url": up.url},
        "console": {"enabled": True, "listen": "127.0.0.1:0", "oidc": oidc_config(provider)},
    })
    app = App(load(cfg_dir))
    await app.start()
    env = Env(app, provider, cfg_dir)
    provider.redirect_uri = env.base + "/sso/callback"
    yield env
    await app.stop(grace=5)
    await up.stop()
    provider.stop()
    os.environ.pop(SECRET_ENV, None)


def user(name: str, *groups: str, email: str | None = None, **more: Any) -> dict[str, Any]:
    return {"sub": "sub-" + name.split("@")[0], "preferred_username": name, "email": email or name.lower(),
            "groups": list(groups), **more}


async def sso(env: Env, client: httpx.AsyncClient) -> httpx.Response:
    """Start at the console's button and follow every redirect: console -> provider -> console callback."""
    return await client.get(env.base + "/sso/start")


def new_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(follow_redirects=True, timeout=30)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m
    return m.group(1)


async def last_audit(env: Env, event: str) -> Any:
    rows, _ = await env.store.audit_page(limit=20)
    return next(r for r in rows if r.event == event)


async def test_reviewer_signs_in_by_sso_with_pkce_and_nonce(env: Env) -> None:
    """A reviewer signs in through the provider and lands on the queue with the mapped role; PKCE and nonce were
    used, the flow cookie is Lax, HttpOnly and path-bound, and the sign-in is audited."""
    p = env.provider
    p.reset(user("Rita.Reviewer@cafcass.gov.uk", "g-unrelated", "g-dlp-reviewers"))
    async with new_client() as client:
        first = await client.get(env.base + "/sso/start", follow_redirects=False)
        assert first.status_code == 302 and first.headers["location"].startswith(p.issuer + "/authorize?")
        cookie = first.headers["set-cookie"].lower()
        assert "samesite=lax" in cookie and "httponly" in cookie and "path=/sso" in cookie
        done = await sso(env, client)
        assert done.status_code == 200 and 'content="0; url=/queue"' in done.text, done.text
        assert 'href="/queue"' in done.text
        queue = await client.get(env.base + "/queue")
        assert queue.status_code == 200 and queue.url.path == "/queue"
        assert "rita.reviewer@cafcass.gov.uk (reviewer)" in queue.text
    q = p.authorize_requests[-1]
    assert q["code_challenge_method"] == "S256" and q["nonce"] and q["state"]
    assert len(p.token_requests[-1]["code_verifier"]) >= 43
    account = await env.store.get_account("rita.reviewer@cafcass.gov.uk")
    assert account.role == "reviewer" and account.source == "oidc" and account.password_hash is None
    row = await last_audit(env, "sign_in")
    assert row.actor == "rita.reviewer@cafcass.gov.uk" and row.detail["method"] == "oidc"


async def test_role_follows_the_providers_groups(env: Env) -> None:
    """The role is taken from the groups at every sign-in (highest mapped role wins), and a change is audited."""
    env.provider.reset(user("promoted@cafcass.gov.uk", "g-dlp-reviewers"))
    async with new_client() as client:
        await sso(env, client)
    assert (await env.store.get_account("promoted@cafcass.gov.uk")).role == "reviewer"
    env.provider.reset(user("promoted@cafcass.gov.uk", "g-dlp-reviewers", "g-dlp-admins", "g-staff"))
    async with new_client() as client:
        await sso(env, client)
        users = await client.get(env.base + "/users")
        assert users.status_code == 200 and "promoted@cafcass.gov.uk (admin)" in users.text
    change = await last_audit(env, "role_change")
    assert (change.old_status, change.new_status, change.actor) == ("reviewer", "admin", "sso")


async def test_sender_sees_only_their_own_held_mail(env: Env) -> None:
    """A sender signed in by SSO sees their own held messages and none of anyone else's, cannot open the
    reviewers' pages, and asks for a release of their own message (once)."""
    store = env.store
    mine = [await store.quarantine(s, make_scan(s), quarantine_decision())
            for s in (make_submission(mail_from="Sam.Sender@cafcass.gov.uk", marker="s1"),
                      make_submission(mail_from="sam.sender@cafcass.gov.uk", marker="s2"))]
    other = make_submission(mail_from="someone.else@cafcass.gov.uk", marker="o1")
    theirs = await store.quarantine(other, make_scan(other), quarantine_decision())
    lookalike = make_submission(mail_from="xsam.sender@cafcass.gov.uk", marker="o2")
    near = await store.quarantine(lookalike, make_scan(lookalike), quarantine_decision())

    env.provider.reset(user("sam.sender@cafcass.gov.uk", "g-staff"))
    async with new_client() as client:
        done = await sso(env, client)
        assert 'url=/my"' in done.text
        page = await client.get(env.base + "/my")
        assert page.status_code == 200 and "My held email" in page.text
        assert all(ref in page.text for ref in mine) and theirs not in page.text and near not in page.text
        assert "someone.else" not in page.text
        assert (await client.get(env.base + "/queue")).status_code == 403
        assert (await client.get(env.base + f"/messages/{mine[0]}")).status_code == 403
        assert (await client.get(env.base + f"/my/{theirs}")).status_code == 404
        assert (await client.get(env.base + f"/my/{near}")).status_code == 404
        form = await client.get(env.base + f"/my/{mine[0]}")
        assert form.status_code == 200 and f'action="/my/{mine[0]}"' in form.text
        forged = await client.post(env.base + f"/my/{mine[0]}", data={"justification": "no token at all here"})
        assert forged.status_code == 403
        sent = await client.post(env.base + f"/my/{mine[0]}", data={
            "csrf": csrf_of(form.text), "justification": "The court asked for this bundle today."})
        assert sent.status_code == 200 and "is with the reviewers" in sent.text
        again = await client.get(env.base + f"/my/{mine[0]}")
        assert "already requested" in again.text
        stolen = await client.post(env.base + f"/my/{theirs}", data={
            "csrf": csrf_of(form.text), "justification": "Let me release someone else's mail."})
        assert stolen.status_code == 404
    req = await store.get_release_request(mine[0])
    assert req is not None and req.state == "pending" and "court" in req.justification
    assert await store.get_release_request(theirs) is None
    assert (await store.get_account("sam.sender@cafcass.gov.uk")).role == "sender"


def _now() -> int:
    return int(time.time())


REFUSALS = [
    ("bad-signature", {}, True, 401, "signature did not check out", "id token rejected"),
    ("wrong-audience", {"aud": "another-application"}, False, 401, "not meant for this console", "aud"),
    ("wrong-nonce", {"nonce": "not-the-nonce-we-sent"}, False, 401, "not meant for this console", "nonce"),
    ("wrong-issuer", {"iss": "http://localhost:1/evil"}, False, 401, "not meant for this console", "iss"),
    ("expired", {"exp": _now() - 3600, "iat": _now() - 7200}, False, 401, "not meant for this console", "exp"),
]


@pytest.mark.parametrize(("case", "tamper", "rogue", "status", "text", "why"), REFUSALS,
                         ids=[r[0] for r in REFUSALS])
async def test_a_bad_id_token_is_refused(env: Env, case: str, tamper: dict[str, Any], rogue: bool, status: int,
                                         text: str, why: str) -> None:
    """An ID token with a bad signature, another audience, a wrong nonce or issuer, or past its expiry, signs
    nobody in; the refusal says so plainly and is audited with the reason."""
    env.provider.reset(user(f"{case}@cafcass.gov.uk", "g-dlp-admins"))
    env.provider.tamper, env.provider.rogue = tamper, rogue
    async with new_client() as client:
        r = await sso(env, client)
        assert r.status_code == status and text in r.text, r.text
        assert "You could not be signed in" in r.text
        after = await client.get(env.base + "/queue")
        assert after.url.path == "/signin"
    assert await env.store.get_account(f"{case}@cafcass.gov.uk") is None
    row = await last_audit(env, "sign_in_failed")
    assert row.detail["method"] == "oidc" and why in row.detail["why"], row.detail


async def test_wrong_or_missing_state_is_refused(env: Env) -> None:
    """A callback whose state is not the one this browser started with, or with no sign-in started, is
    refused before the code is used."""
    p = env.provider
    p.reset(user("state.test@cafcass.gov.uk", "g-dlp-admins"))
    async with httpx.AsyncClient(timeout=30) as client:
        start = await client.get(env.base + "/sso/start")
        at_provider = await client.get(start.headers["location"])
        callback = urlsplit(at_provider.headers["location"])
        q = {k: v[0] for k, v in parse_qs(callback.query).items()}
        tokens_before = len(p.token_requests)
        forged = await client.get(env.base + "/sso/callback", params={"code": q["code"], "state": "forged"})
        assert forged.status_code == 400 and "did not match" in forged.text
        assert len(p.token_requests) == tokens_before  # the code never reached the token endpoint
    async with httpx.AsyncClient(timeout=30) as stranger:  # someone else's callback URL, no flow cookie
        r = await stranger.get(env.base + "/sso/callback", params=q)
        assert r.status_code == 400 and "not started here" in r.text
        assert (await stranger.get(env.base + "/queue")).headers["location"] == "/signin"
    assert await env.store.get_account("state.test@cafcass.gov.uk") is None


async def test_unmapped_group_is_refused_with_a_clear_page(env: Env) -> None:
    """A person the provider signed in but who is in no mapped group gets a page that says why, no account."""
    env.provider.reset(user("canteen@cafcass.gov.uk", "g-canteen", "g-car-park"))
    async with new_client() as client:
        r = await sso(env, client)
        assert r.status_code == 403 and "in no group that gives access" in r.text
        assert (await client.get(env.base + "/my")).url.path == "/signin"
    assert await env.store.get_account("canteen@cafcass.gov.uk") is None
    assert (await last_audit(env, "sign_in_failed")).detail["why"] == "no mapped group"


async def test_a_local_account_is_never_taken_over(env: Env) -> None:
    """A provider user whose name is a local account's is refused: single sign-on never takes over a password
    account (an admin must remove it first)."""
    await env.store.add_account("lena@cafcass.gov.uk", "reviewer", hash_password(PASSWORD), actor="test")
    env.provider.reset(user("Lena@cafcass.gov.uk", "g-dlp-admins"))
    async with new_client() as client:
        r = await sso(env, client)
        assert r.status_code == 403 and "local account has the same name" in r.text
    account = await env.store.get_account("lena@cafcass.gov.uk")
    assert account.role == "reviewer" and account.source == "local"


async def test_password_sign_in_can_be_switched_off(env: Env) -> None:
    """With console.oidc.local_accounts false the sign-in page offers only SSO and a password post is refused,
    while SSO still works (a second console on the same database)."""
    await env.store.add_account("paula", "reviewer", hash_password(PASSWORD), actor="test")
    data = yaml.safe_load((env.cfg_dir / "gateway.yaml").read_text())
    data["console"]["oidc"]["local_accounts"] = False
    data["console"]["oidc"]["label"] = "Sign in with Cafcass Entra ID"
    (env.cfg_dir / "gateway.yaml").write_text(yaml.safe_dump(data))
    try:
        server = ConsoleServer(load(env.cfg_dir), env.store)
        await server.start()
    finally:
        data["console"]["oidc"]["local_accounts"] = True
        (env.cfg_dir / "gateway.yaml").write_text(yaml.safe_dump(data))
    try:
        async with new_client() as client:
            page = await client.get(server.url + "/signin")
            assert "Sign in with Cafcass Entra ID" in page.text and 'name="password"' not in page.text
            r = await client.post(server.url + "/signin", data={"username": "paula", "password": PASSWORD})
            assert r.status_code == 403 and "Password sign-in is turned off" in r.text
            assert (await client.get(server.url + "/queue")).url.path == "/signin"
        env.provider.redirect_uri = server.url + "/sso/callback"
        env.provider.reset(user("paula.sso@cafcass.gov.uk", "g-dlp-reviewers"))
        async with new_client() as client:
            await client.get(server.url + "/sso/start")
            assert (await client.get(server.url + "/queue")).status_code == 200
    finally:
        env.provider.redirect_uri = env.base + "/sso/callback"
        await server.stop()


@pytest.mark.parametrize(("oidc", "expected"), [
    ({"enabled": True, "client_id": "x", "role_map": ROLE_MAP}, "needs issuer and client_id"),
    ({"enabled": True, "issuer": "http://login.example.com/t/v2.0", "client_id": "x", "role_map": ROLE_MAP},
     "must be an https:// URL"),
    ({"enabled": True, "issuer": "https://login.example.com/t/v2.0", "client_id": "x"}, "needs role_map"),
    ({"enabled": True, "issuer": "https://login.example.com/t/v2.0", "client_id": "x",
      "role_map": {"g": "superuser"}}, "role_map"),
    ({"local_accounts": False}, "needs console.oidc.enabled"),
    ({"enabled": True, "issuer": "https://login.example.com/t/v2.0", "client_id": "x", "role_map": ROLE_MAP,
      "scopes": ["profile"]}, "must include openid"),
])
async def test_config_errors_name_the_key(tmp_path: Path, oidc: dict[str, Any], expected: str) -> None:
    """A wrong console.oidc section stops start-up with the file, the key and what is expected."""
    cfg_dir = make_config(tmp_path, {"console": {"enabled": True, "oidc": oidc}})
    with pytest.raises(ConfigError) as info:
        load(cfg_dir)
    text = str(info.value)
    assert "gateway.yaml" in text and "console.oidc" in text and expected in text, text
