"""``console.oidc`` in gateway.yaml: single sign-on to the review console by OpenID Connect (issues 14 and 15).

A plain leaf (pydantic and ``gateway.config_errors`` only) so that ``gateway.config`` can compose it without
importing the console. What the keys mean is in README "Single sign-on"; ``gateway.console.oidc`` uses them.
"""

from __future__ import annotations

from ipaddress import ip_address
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from gateway.config_errors import FrozenModel

SsoRole = Literal["auditor", "reviewer", "approver", "admin", "sender"]
SigningAlg = Literal["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]


def is_loopback_url(url: str) -> bool:
    """http:// is allowed only for a provider on this machine (the tests' own provider)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


class OidcSettings(FrozenModel):
    """Sign-in by OpenID Connect (Microsoft Entra ID here): authorization code with PKCE (S256) and a nonce; the
    ID token's signature (the provider's JWKS), issuer, audience, expiry and nonce are checked; the role comes
    from a group or role claim through ``role_map``."""

    enabled: bool = Field(False, description="Offer \"Sign in with single sign-on\" on the console's sign-in page.")
    issuer: str | None = Field(
        None,
        description="The provider's issuer, exactly as its discovery document says, e.g. "
        "https://login.microsoftonline.com/TENANT-ID/v2.0 (https; http only for a provider on loopback). "
        "ISSUER/.well-known/openid-configuration is read.",
    )
    client_id: str | None = Field(None, description="The console's application (client) id at the provider.")
    client_secret_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Environment variable holding the client secret (sent with HTTP Basic). Unset: a public client "
        "(PKCE only).",
    )
    redirect_uri: str | None = Field(
        None,
        description="The callback registered at the provider. Unset: console.public_url + sso/callback, or the "
        "address the browser used when public_url is unset.",
    )
    scopes: list[str] = Field(
        default_factory=lambda: ["openid", "profile", "email"], description="Scopes asked for; must hold openid."
    )
    groups_claim: str = Field(
        "groups",
        min_length=1,
        description="ID-token claim listing the user's groups or roles: `groups` (Entra group object ids) or "
        "`roles` (Entra app roles).",
    )
    role_map: dict[str, SsoRole] = Field(
        default_factory=dict,
        description="Group or role value -> console role (auditor, reviewer, approver, admin, sender); a user in "
        "several gets the highest. A user in none is refused (unless default_role).",
    )
    default_role: Literal["sender"] | None = Field(
        None,
        description="Role of a signed-in user in no mapped group: `sender` lets everyone in the organisation see "
        "their own held mail; unset refuses them.",
    )
    username_claim: str = Field(
        "preferred_username", min_length=1, description="Claim that names the console account (Entra: the UPN)."
    )
    subject_claim: Literal["sub", "oid"] = Field(
        "sub",
        description="Claim that identifies the person for good (with the issuer): `sub` (standard), or `oid` "
        "(Entra ID's object id, the same in every application of the tenant; needs the `profile` scope). The "
        "username claim only names the account: a name the provider later gives to someone else never opens it.",
    )
    post_logout_redirect_uri: str | None = Field(
        None,
        description="Where the provider sends the browser after signing out there (register it at the provider). "
        "Unset: console.public_url + signin, or the address the browser used. Used only when the provider's "
        "discovery document has end_session_endpoint; else sign-out is local only.",
    )
    email_claim: str = Field(
        "email",
        min_length=1,
        description="Claim holding the user's mail address, matched to the envelope sender of held mail on the "
        "sender's page (Entra without the optional `email` claim: preferred_username).",
    )
    algorithms: list[SigningAlg] = Field(
        default_factory=lambda: list[SigningAlg](["RS256"]),
        min_length=1,
        description="ID-token signature algorithms accepted.",
    )
    leeway_seconds: int = Field(60, ge=0, le=600, description="Clock skew allowed on exp/iat/nbf.")
    timeout_seconds: float = Field(10, gt=0, le=60, description="Per request to the provider.")
    label: str = Field(
        "Sign in with single sign-on", min_length=1, max_length=80, description="The sign-in button's text."
    )
    local_accounts: bool = Field(
        True, description="Also allow local password accounts (`dlpgate users add`); false: single sign-on only."
    )

    @model_validator(mode="after")
    def _complete(self) -> OidcSettings:
        if not self.local_accounts and not self.enabled:
            raise ValueError("console.oidc.local_accounts: false needs console.oidc.enabled: true (else nobody "
                             "can sign in)")
        if not self.enabled:
            return self
        if not self.issuer or not self.client_id:
            raise ValueError("console.oidc.enabled needs issuer and client_id")
        scheme = urlsplit(self.issuer).scheme
        if scheme != "https" and not (scheme == "http" and is_loopback_url(self.issuer)):
            raise ValueError(f"console.oidc.issuer must be an https:// URL, got {self.issuer!r}")
        if self.redirect_uri and urlsplit(self.redirect_uri).scheme not in ("https", "http"):
            raise ValueError("console.oidc.redirect_uri must be an http(s):// URL")
        if self.post_logout_redirect_uri and urlsplit(self.post_logout_redirect_uri).scheme not in ("https", "http"):
            raise ValueError("console.oidc.post_logout_redirect_uri must be an http(s):// URL")
        if "openid" not in self.scopes:
            raise ValueError("console.oidc.scopes must include openid")
        if not self.role_map and self.default_role is None:
            raise ValueError("console.oidc needs role_map (group -> role) or default_role, else nobody gets a role")
        return self
