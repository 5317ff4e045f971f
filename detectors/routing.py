"""Routing addresses: a local part that names another destination (percent hack, bang path, quoted ``@``).

``user%evil.com@cafcass.gov.uk`` is delivered to ``user@evil.com`` by any hop that still honours the percent
hack (Sendmail's default, Postfix before ``allow_percent_hack = no``); ``evil.com!user@cafcass.gov.uk`` by a hop
that honours UUCP bang paths; ``"user@evil.com"@cafcass.gov.uk`` by a hop that strips the quotes and parses the
address again. Judged by its domain alone each of them is internal, so content rules would be off for mail that
leaves the organisation. The gateway refuses them at RCPT (``gateway.smtp.handler``) and never classifies them
as internal (``detectors.recipients``): a routed address is judged by where such a hop would deliver.

Pure functions of the address text; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

ROUTING_CHARACTERS = frozenset("%!@")
"""Characters that make a local part route elsewhere (``@`` only inside a quoted local part)."""


@dataclass(frozen=True, slots=True)
class Route:
    """How a routing address routes, and the address a hop that honours it would deliver to."""

    kind: str
    """``percent``, ``bang`` or ``quoted``: for evidence and replies, never the address itself."""
    destination: str
    """``user@evil.com``; the domain may be empty when the route names no host (``"user@"@org``)."""


def _local_and_domain(address: str) -> tuple[str, str, bool]:
    """(local part with quotes and quoted-pair backslashes removed, domain, whether it was quoted)."""
    a = address.strip()
    if a.startswith("<") and a.endswith(">"):
        a = a[1:-1].strip()
    if ":" in a and a.startswith("@"):  # an RFC 5321 source route: <@hop1,@hop2:user@domain>
        a = a.split(":", 1)[1]
    local, at, domain = a.rpartition("@")
    if not at:
        return a, "", False
    quoted = len(local) >= 2 and local.startswith('"') and local.endswith('"')
    if quoted:
        inner = local[1:-1]
        out: list[str] = []
        escaped = False
        for ch in inner:
            if escaped:
                out.append(ch)
                escaped = False
            elif ch == "\\":
                escaped = True
            else:
                out.append(ch)
        local = "".join(out)
    return local, domain.strip(), quoted


def route_of(address: str) -> Route | None:
    """The route hidden in ``address``'s local part, or None for an ordinary address.

    A quoted local part is read as a dequoting hop reads it: its last ``@`` or ``%`` separates the user from the
    host. Outside quotes ``%`` is the percent hack (the rightmost one wins, as Sendmail rewrites it) and ``!`` a
    bang path (``host!user``; with several hops the last host is the destination).
    """
    local, domain, quoted = _local_and_domain(address)
    if not domain or not any(ch in ROUTING_CHARACTERS for ch in local):
        return None
    if "@" in local:
        if local.startswith("@") and ":" in local:  # a source route inside the quotes: @hop:user@host
            local = local.split(":", 1)[1]
        user, _, host = local.rpartition("@")
        return Route("quoted", _destination(user, host))
    if "%" in local:
        user, _, host = local.rpartition("%")
        return Route("quoted" if quoted else "percent", _destination(user, host))
    hops = local.split("!")
    user = hops[-1]
    hosts = [h for h in hops[:-1] if h]
    return Route("quoted" if quoted else "bang", _destination(user, hosts[-1] if hosts else ""))


def _destination(user: str, host: str) -> str:
    """The next routed address: nested routes (``a%b%c``, ``h1!h2!u``) are followed to their end."""
    host = host.strip().strip(".").lower()
    inner = route_of(f"{user}@{host}") if host and any(ch in ROUTING_CHARACTERS for ch in user) else None
    if inner is not None:
        return inner.destination
    return f"{user}@{host}"


def has_route(address: str) -> bool:
    """True when ``address`` would be delivered elsewhere by a hop that honours routing in local parts."""
    return route_of(address) is not None
