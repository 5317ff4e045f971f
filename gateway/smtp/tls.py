"""STARTTLS for the SMTP listener: the server's TLS context, and the Exchange Online connector's certificate.

The context is built from the files ``server.tls`` names each time it is needed: at start and again on SIGHUP
(``App.reload``), so a renewed certificate is served to new connections without a restart; a pair that does not
load keeps the running context and names the file and key.

Exchange Online (issue 17) delivers from addresses shared by every Microsoft 365 tenant and cannot do SMTP AUTH,
so the address proves nothing. With ``server.exchange_online`` set, the context asks every client for a
certificate (``CERT_OPTIONAL``) and OpenSSL verifies any certificate presented against ``ca_bundle`` only (never
the system store: a certificate from any public CA must not do). A verified certificate still admits a client
only when one of its names (subject CN or DNS SAN) is in ``certificate_names``; the tenant header of each
message is then checked by the SMTP handler, because every tenant's connector presents the same certificate.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Mapping
from typing import Any

from gateway.config import Config
from gateway.config_errors import ConfigError, ConfigProblem


def server_context(cfg: Config) -> ssl.SSLContext | None:
    """The listener's context, or None when no certificate is configured (STARTTLS not offered).

    Raises ``ConfigError`` naming gateway.yaml and the key whose file does not load."""
    server = cfg.gateway.server
    if server.tls.cert is None or server.tls.key is None:
        return None
    gw_file = cfg.directory / "gateway.yaml"
    cert, key = cfg.resolve(server.tls.cert), cfg.resolve(server.tls.key)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)  # no CA loaded: verify_mode is CERT_NONE here
    try:
        ctx.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError.one(gw_file, "server.tls.cert",
                              f"cannot load the certificate {cert} with the key {key} ({_reason(exc)})") from None
    exo = server.exchange_online
    if exo.enabled:
        if exo.ca_bundle is None:
            raise ConfigError(ConfigProblem(str(gw_file), "server.exchange_online.ca_bundle", "required"))
        bundle = cfg.resolve(exo.ca_bundle)
        try:
            ctx.load_verify_locations(cafile=str(bundle))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError.one(gw_file, "server.exchange_online.ca_bundle",
                                  f"cannot load CA certificates from {bundle} ({_reason(exc)})") from None
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or exc.__class__.__name__
    if isinstance(exc, OSError):
        return exc.strerror or exc.__class__.__name__
    return exc.__class__.__name__


def certificate_names(peercert: Mapping[str, Any] | None) -> list[str]:
    """The subject CNs and DNS subjectAltNames of a verified peer certificate (``SSLObject.getpeercert()``),
    lower-cased."""
    if not peercert:
        return []
    names: list[str] = []
    for rdn in peercert.get("subject", ()):
        for attr, value in rdn:
            if attr == "commonName":
                names.append(str(value).lower().rstrip("."))
    for kind, value in peercert.get("subjectAltName", ()):
        if kind == "DNS":
            names.append(str(value).lower().rstrip("."))
    return names


def name_matches(wanted: Iterable[str], presented: Iterable[str]) -> bool:
    """A configured name equals a presented one (any case); a configured ``*.example.com`` also matches a
    presented name with exactly one label in place of the star. A wildcard in the certificate is matched only
    literally, so a certificate for ``*.outlook.com`` does not stand for a configured exact name."""
    got = set(presented)
    for pattern in wanted:
        p = pattern.lower().rstrip(".")
        if p in got:
            return True
        if p.startswith("*."):
            suffix = p[1:]
            if any(n.endswith(suffix) and "." not in n[: -len(suffix)] and n[: -len(suffix)] not in ("", "*")
                   for n in got):
                return True
    return False
