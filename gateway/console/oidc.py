"""Single sign-on to the console by OpenID Connect (issue 14; issue 15's sender sign-in), with Authlib.

The flow is the authorization-code flow with PKCE (S256) and a nonce. ``/sso/start`` keeps state, nonce, the
PKCE verifier and where to go afterwards in a short-lived signed cookie of its own (``SameSite=Lax``, path
``/sso``): the console's session cookie is ``SameSite=Strict``, so the browser does not send it on the provider's
redirect back (a cross-site navigation), and a login transaction kept in the session would be lost.
``/sso/callback`` checks the state against that cookie, exchanges the code (Authlib's client, with the
verifier), and checks the ID token itself: signature against the provider's JWKS (re-read once when the key id is
unknown, for key rotation), only the configured algorithms, issuer, audience (``client_id``), expiry, nonce,
``azp`` and ``at_hash`` (Authlib's ``CodeIDToken``). The role comes from the group/role claim through
``console.oidc.role_map``; a user in no mapped group gets a page saying so, and the refusal is audited.

Having set the session, the callback answers with a page that moves on by itself (a meta refresh) rather than
a redirect: a redirect would still belong to the provider's cross-site navigation, so the Strict session cookie
would not go with it and the person would land on the sign-in page again.

The account is the provider's identity, ``(issuer, sub)`` (or Entra's ``oid`` with ``subject_claim: oid``), not
the user name (``gateway.store.accounts.AccountBook.sso_sign_in``): a name reassigned at the provider opens no old
account, and a second identity with a taken name is refused with a page that says so, never merged.

Signing out of a session that single sign-on opened also ends the session at the provider when its discovery
document has ``end_session_endpoint`` (OpenID Connect RP-Initiated Logout 1.0: ``id_token_hint``, ``client_id``,
``post_logout_redirect_uri``); without one, or when the provider does not answer, sign-out is local only. The ID
token is kept in the session for the hint only when it is small enough for the session cookie (an Entra token
listing many groups is not); the hint is then left out, and ``client_id`` says which application signs out.
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit
from weakref import WeakKeyDictionary

import httpx
import structlog
from authlib.oidc.core import CodeIDToken
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.console.web import RANK, Console, client_of
from gateway.sso_settings import is_loopback_url
from gateway.store import Conflict

if TYPE_CHECKING:
    from gateway.sso_settings import OidcSettings

with warnings.catch_warnings():
    # Authlib 1.9 prefers the httpx2 package and warns at import when it runs on httpx (which it still supports
    # and this project already pins); the warning says nothing to an operator.
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import AsyncOAuth2Client

log = structlog.get_logger("dlpgate.console.sso")

SSO_COOKIE = "dlpgate_sso"
FLOW_SECONDS = 600
"""How long a person may take at the provider before the callback is refused as stale."""
METADATA_SECONDS = 3600
JWKS_REFRESH_SECONDS = 60
"""At most one JWKS re-read a minute for unknown key ids (a forged ``kid`` cannot make us hammer the provider)."""
SSO_RANK = {"sender": -1, **RANK}
HINT_MAX_CHARS = 1800
"""The largest ID token kept in the (cookie) session for ``id_token_hint``: with the rest of the session and two
base64 layers it stays under the 4 KB browsers keep per cookie."""


class SsoError(Exception):
    """A refused sign-in: ``why`` goes to the audit trail (no personal data), ``text`` to the person."""

    def __init__(self, why: str, text: str, status: int = 401) -> None:
        super().__init__(why)
        self.why = why
        self.text = text
        self.status = status


@dataclass(frozen=True)
class Identity:
    """``subject`` keys the account (with the issuer); ``name`` only names it."""

    name: str
    role: str
    email: str | None
    subject: str


class Provider:
    """One identity provider: discovery and JWKS (cached), the authorization URL, the code exchange and the
    ID-token checks. One per console; every HTTP call opens its own client (no connection outlives a request)."""

    def __init__(self, settings: OidcSettings) -> None:
        assert settings.issuer and settings.client_id
        self.settings = settings
        self.issuer = settings.issuer
        self.client_id = settings.client_id
        self.secret: str | None = None
        if settings.client_secret_env:
            self.secret = os.environ.get(settings.client_secret_env) or None
            if self.secret is None:
                raise ValueError(f"console.oidc.client_secret_env: ${settings.client_secret_env} is not set")
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._keys_at = 0.0

    def _client(self, redirect_uri: str | None = None) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id, client_secret=self.secret,
            token_endpoint_auth_method="client_secret_basic" if self.secret else "none",
            scope=" ".join(self.settings.scopes), redirect_uri=redirect_uri, code_challenge_method="S256",
            timeout=self.settings.timeout_seconds, follow_redirects=False,
        )

    def _safe_url(self, url: object, what: str) -> str:
        if not isinstance(url, str) or not url:
            raise SsoError(f"discovery lacks {what}", "The identity provider's settings are incomplete.", 502)
        scheme = urlsplit(url).scheme
        if scheme != "https" and not (scheme == "http" and is_loopback_url(url) and is_loopback_url(self.issuer)):
            raise SsoError(f"{what} not https", "The identity provider's settings are not safe (not https).", 502)
        return url

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=self.settings.timeout_seconds, follow_redirects=False) as http:
                resp = await http.get(url, headers={"Accept": "application/json"})
                resp.raise_for_status()
                data = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("sso.provider_unreachable", what=what, error=exc.__class__.__name__)
            raise SsoError(f"{what} failed", "The identity provider did not answer. Try again in a minute.",
                           502) from None
        if not isinstance(data, dict):
            raise SsoError(f"{what} not an object", "The identity provider answered nonsense.", 502)
        return data

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None or time.monotonic() - self._metadata_at > METADATA_SECONDS:
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            data = await self._get_json(url, "discovery")
            if data.get("issuer") != self.issuer:
                # OpenID Connect Discovery 4.3: the document must name exactly the issuer we asked.
                raise SsoError("discovery issuer mismatch", "The identity provider's settings do not match "
                               "console.oidc.issuer.", 502)
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                self._safe_url(data.get(key), key)
            self._metadata, self._metadata_at = data, time.monotonic()
        return self._metadata

    async def keys(self, *, refresh: bool = False) -> KeySet:
        stale = refresh and time.monotonic() - self._keys_at > JWKS_REFRESH_SECONDS
        if self._keys is None or stale:
            meta = await self.metadata()
            data = await self._get_json(str(meta["jwks_uri"]), "jwks")
            try:
                self._keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError, KeyError):
                raise SsoError("jwks unreadable", "The identity provider's keys could not be read.", 502) from None
            self._keys_at = time.monotonic()
        return self._keys

    async def authorize_url(self, redirect_uri: str, *, state: str, nonce: str, verifier: str) -> str:
        meta = await self.metadata()
        async with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                meta["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce,
            )
        return str(url)

    async def exchange(self, code: str, *, verifier: str, redirect_uri: str) -> dict[str, Any]:
        meta = await self.metadata()
        try:
            async with self._client(redirect_uri) as client:
                token = await client.fetch_token(
                    meta["token_endpoint"], grant_type="authorization_code", code=code, code_verifier=verifier,
                    redirect_uri=redirect_uri,
                )
        except Exception as exc:  # Authlib raises OAuthError, httpx errors, or ValueError on a non-JSON body
            log.warning("sso.token_failed", error=exc.__class__.__name__)
            raise SsoError("code exchange failed", "The identity provider did not accept the sign-in. Start "
                           "again.", 502) from None
        return dict(token)

    async def verify(self, id_token: str, *, nonce: str, access_token: str | None) -> dict[str, Any]:
        """The ID token's claims once every check passed; SsoError otherwise."""
        registry = JWSRegistry(algorithms=list(self.settings.algorithms))
        try:
            try:
                token = jwt.decode(id_token, await self.keys(), registry=registry)
            except InvalidKeyIdError:
                token = jwt.decode(id_token, await self.keys(refresh=True), registry=registry)
        except SsoError:
            raise
        except (JoseError, ValueError, TypeError) as exc:
            raise SsoError(f"id token rejected: {exc.__class__.__name__}", "The sign-in could not be verified "
                           "(the identity provider's signature did not check out).") from None
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": self.issuer},
            "aud": {"essential": True, "value": self.client_id},
            "exp": {"essential": True},
            "sub": {"essential": True},
            "nonce": {"essential": True, "value": nonce},
        }
        params: dict[str, Any] = {"nonce": nonce, "client_id": self.client_id}
        if access_token:
            params["access_token"] = access_token
        claims = CodeIDToken(token.claims, token.header, options, params)
        try:
            claims.validate(now=int(time.time()), leeway=self.settings.leeway_seconds)
        except (JoseError, ValueError, TypeError) as exc:
            claim = getattr(exc, "claim", None) or exc.__class__.__name__
            raise SsoError(f"id token claim {claim} invalid", "The sign-in could not be verified (the identity "
                           "provider's answer was not meant for this console, was stale, or was replayed). Start "
                           "again.") from None
        return dict(claims)

    def identity(self, claims: dict[str, Any]) -> Identity:
        """Who signed in and with which role, from the verified claims and ``role_map``."""
        s = self.settings
        raw = claims.get(s.username_claim)
        if not isinstance(raw, str) or not raw.strip() or len(raw) > 255:
            raise SsoError(f"no {s.username_claim} claim", f"The identity provider did not say who you are (no "
                           f"{s.username_claim}). Ask the security team to check the console's settings.", 403)
        name = raw.strip().lower()
        sub = claims.get(s.subject_claim)
        if not isinstance(sub, str) or not sub.strip() or len(sub) > 250:
            raise SsoError(f"no {s.subject_claim} claim", f"The identity provider did not say who you are (no "
                           f"{s.subject_claim}). Ask the security team to check the console's settings.", 403)
        subject = sub if s.subject_claim == "sub" else f"{s.subject_claim}:{sub}"
        value = claims.get(s.groups_claim)
        if value is None and s.groups_claim in (claims.get("_claim_names") or {}):
            raise SsoError("group overage", "You are in too many groups for the identity provider to list them. "
                           "Ask the security team to map app roles instead (console.oidc.groups_claim: roles).",
                           403)
        groups = [value] if isinstance(value, str) else [g for g in value or () if isinstance(g, str)]
        mapped: set[str] = {s.role_map[g] for g in groups if g in s.role_map}
        role: str | None = max(mapped, key=SSO_RANK.__getitem__) if mapped else s.default_role
        if role is None:
            raise SsoError("no mapped group", "You signed in at your organisation's identity provider, but you are "
                           "in no group that gives access to the review console. Ask the security team for access.",
                           403)
        email = claims.get(s.email_claim)
        verified = claims.get("email_verified", True) is not False
        address = email.strip().lower() if isinstance(email, str) and "@" in email and verified else None
        if role == "sender" and address is None:
            raise SsoError("no verified email", "The identity provider gave no verified mail address, so the "
                           "console cannot tell which held mail is yours.", 403)
        return Identity(name, role, address, subject)

    async def end_session_endpoint(self) -> str | None:
        """The provider's logout endpoint, or None (none advertised, not safe, or the provider is unreachable:
        sign-out is then local only, never blocked)."""
        try:
            meta = await self.metadata()
            url = meta.get("end_session_endpoint")
            return self._safe_url(url, "end_session_endpoint") if url is not None else None
        except SsoError as err:
            log.warning("sso.logout_endpoint_unusable", why=err.why)
            return None


_PROVIDERS: WeakKeyDictionary[Console, Provider] = WeakKeyDictionary()


def provider_of(console: Console) -> Provider | None:
    """The console's one Provider (its discovery and keys cached), or None without single sign-on."""
    settings = console.settings.oidc
    if not settings.enabled:
        return None
    if console not in _PROVIDERS:
        _PROVIDERS[console] = Provider(settings)
    return _PROVIDERS[console]


async def end_session_url(console: Console, request: Request, id_token: str | None) -> str | None:
    """Where to send the browser to end its session at the provider too (RP-Initiated Logout), or None for a
    local sign-out only. Called after the console's session was cleared."""
    provider = provider_of(console)
    if provider is None:
        return None
    endpoint = await provider.end_session_endpoint()
    if endpoint is None:
        return None
    s = console.settings
    back = s.oidc.post_logout_redirect_uri or (
        s.public_url.rstrip("/") + "/signin" if s.public_url else str(request.base_url).rstrip("/") + "/signin")
    params = {"client_id": provider.client_id, "post_logout_redirect_uri": back}
    if id_token:
        params["id_token_hint"] = id_token
    return endpoint + ("&" if urlsplit(endpoint).query else "?") + urlencode(params)


def _conflict_text(why: str) -> str:
    """What the person is told when the store refuses their identity (``sso_sign_in``'s Conflict)."""
    if "local account" in why:
        return ("A local account has the same name as yours, so single sign-on cannot open it (it never takes over "
                "a password account). Ask an administrator.")
    if "another" in why:
        return ("A console account with your user name belongs to a different person at the identity provider "
                "(the name may have been someone else's before you). Accounts are never merged: ask an "
                "administrator to rename or remove the old account.")
    if "disabled" in why:
        return "Your console account is disabled. Ask an administrator."
    return "This console account cannot be used with single sign-on. Ask an administrator."


def _local_path(value: str | None) -> str | None:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value and len(value) < 200:
        return value
    return None


def routes(console: Console, signing_key: str) -> list[Route]:
    settings = console.settings.oidc
    if not settings.enabled:
        return []
    provider = provider_of(console)
    assert provider is not None
    tls = console.settings.tls.cert is not None
    serializer = URLSafeTimedSerializer(signing_key, salt="dlpgate-console-sso")

    def redirect_uri(request: Request) -> str:
        if settings.redirect_uri:
            return settings.redirect_uri
        if console.settings.public_url:
            return console.settings.public_url.rstrip("/") + "/sso/callback"
        return str(request.url_for("sso_callback"))

    def refused(request: Request, err: SsoError) -> Response:
        response = console.page(request, "sso_refused.html", None, status=err.status, text=err.text,
                                local=settings.local_accounts)
        response.delete_cookie(SSO_COOKIE, path="/sso")
        return response

    async def start(request: Request) -> Response:
        flow = {"state": secrets.token_urlsafe(32), "nonce": secrets.token_urlsafe(32),
                "verifier": secrets.token_urlsafe(64), "redirect_uri": redirect_uri(request),
                "next": _local_path(request.query_params.get("next"))}
        try:
            url = await provider.authorize_url(flow["redirect_uri"] or "", state=flow["state"] or "",
                                               nonce=flow["nonce"] or "", verifier=flow["verifier"] or "")
        except SsoError as err:
            return refused(request, err)
        response = RedirectResponse(url, status_code=302)
        response.set_cookie(SSO_COOKIE, serializer.dumps(flow), max_age=FLOW_SECONDS, path="/sso", httponly=True,
                            secure=tls, samesite="lax")
        return response

    async def callback(request: Request) -> Response:
        client = client_of(request)
        actor = "-"
        try:
            try:
                flow = serializer.loads(request.cookies.get(SSO_COOKIE, ""), max_age=FLOW_SECONDS)
            except BadSignature:
                raise SsoError("no sign-in in progress", "This sign-in has expired or was not started here. "
                               "Start again.", 400) from None
            state = request.query_params.get("state", "")
            if not hmac.compare_digest(str(flow.get("state", "")).encode(), state.encode()):
                raise SsoError("state mismatch", "This sign-in did not match the one started here. Start again.",
                               400)
            if request.query_params.get("error"):
                error = "".join(c for c in request.query_params["error"][:40] if c.isalnum() or c == "_")
                raise SsoError(f"provider error {error}", "The identity provider did not sign you in. Start "
                               "again, or ask the security team.", 401)
            code = request.query_params.get("code", "")
            if not code:
                raise SsoError("no code", "The identity provider's answer was incomplete. Start again.", 400)
            token = await provider.exchange(code, verifier=str(flow["verifier"]),
                                            redirect_uri=str(flow["redirect_uri"]))
            id_token = token.get("id_token")
            if not isinstance(id_token, str):
                raise SsoError("no id token", "The identity provider gave no ID token (is the openid scope "
                               "allowed?).", 502)
            claims = await provider.verify(id_token, nonce=str(flow["nonce"]),
                                           access_token=token.get("access_token"))
            who = claims.get(settings.username_claim)
            actor = who.strip().lower()[:255] if isinstance(who, str) and who.strip() else "-"
            ident = provider.identity(claims)
            try:
                account = await console.store.sso_sign_in(ident.name, ident.role, client=client,
                                                          issuer=provider.issuer, subject=ident.subject)
            except Conflict as exc:
                raise SsoError(str(exc), _conflict_text(str(exc)), 403) from None
        except SsoError as err:
            log.info("sso.refused", why=err.why)
            await console.store.record_access("sign_in_failed", actor=actor, reason=None,
                                              detail={"method": "oidc", "why": err.why[:200]}, source=client)
            return refused(request, err)
        console.start_session(request, account.name)
        request.session["via"] = "oidc"
        if len(id_token) <= HINT_MAX_CHARS:
            request.session["id_token"] = id_token
        if ident.email:
            request.session["email"] = ident.email
        target = flow.get("next") or ("/my" if ident.role == "sender" else "/queue")
        response = console.templates.TemplateResponse(request, "sso_done.html", {"target": target})
        response.delete_cookie(SSO_COOKIE, path="/sso")
        return response

    return [
        Route("/sso/start", start, methods=["GET"], name="sso_start"),
        Route("/sso/callback", callback, methods=["GET"], name="sso_callback"),
    ]
