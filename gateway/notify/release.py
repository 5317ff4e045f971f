"""Releasing a held message: to the original envelope recipients, at most once, where the gateway delivered when
it held it, with whatever the policy still required of it.

``release`` is the sending half: the store's conditional claim (held → releasing) has exactly one winner; only a
clear refusal, or an upstream that could not be reached before DATA, returns the message to ``held``. A
connection lost during DATA may have delivered it, so it stays ``releasing`` until a person checks and uses
``--force``.

``release_held`` is what a reviewer runs (``dlpgate quarantine release``). A hold outranks the rules that would
otherwise have encrypted or tagged the message, and those still hold: the release applies them
(``plan_release``), exactly as the relay would have, unless the reviewer explicitly releases ``as_is`` (with a
reason, like every release). It delivers through the route recorded when the message was held (the gateway's
upstream after ``serve --upstream``), never through whatever the releasing command's own configuration happens
to name, and refuses when the route was not recorded and none is given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.actions.dkim import sign_if_configured
from gateway.actions.encrypt import CertificateDirectory, add_subject_tag, smime_encrypt
from gateway.actions.fields import prepend_fields
from gateway.store.errors import NotFound, ReleaseFailed, ReleaseRefused, ReleaseUncertain
from gateway.upstream import DeliveryUncertain, Reply, Upstream, UpstreamError, deliver, make_upstream

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.store import QuarantineRecord, Store

Transform = Callable[[bytes], bytes]


def _unchanged(raw: bytes) -> bytes:
    return raw


async def release(
    store: Store,
    ref: str,
    upstream: Upstream,
    *,
    actor: str,
    reason: str,
    force: bool = False,
    note: str | None = None,
    transform: Transform = _unchanged,
    detail: dict[str, Any] | None = None,
    recipients: Sequence[str] | None = None,
    rest: str = "hold",
) -> Reply:
    """Send ``ref`` through ``upstream``, the stored bytes passed through ``transform`` first; ``force``
    re-claims one stuck in ``releasing``. Raises ``Conflict`` (not releasable now), ``ReleaseFailed`` (still
    held, safe to retry) or ``ReleaseUncertain``. ``detail`` goes into every audit line of the release.
    ``recipients``: only these (among those not yet decided); the others are kept held or refused (``rest``)."""
    claim = await store.claim_release(ref, actor=actor, reason=reason, force=force, note=note, detail=detail,
                                      recipients=recipients, rest=rest)
    try:
        data = transform(claim.raw)
    except Exception as exc:
        await store.unclaim_release(claim, {"error": f"preparing the message: {exc.__class__.__name__}"})
        why = exc.__class__.__name__
        raise ReleaseFailed(f"{ref}: the message could not be prepared ({why}); still held") from None
    try:
        reply = await deliver(upstream, claim.mail_from, claim.rcpt_tos, data)
    except DeliveryUncertain as exc:
        await store.release_uncertain(claim, exc.detail)
        raise ReleaseUncertain(
            f"{ref}: the connection failed while the message was being handed over; it may have been "
            "delivered. It stays 'releasing': check with the recipients, then release --force if needed"
        ) from None
    except UpstreamError as exc:
        await store.unclaim_release(claim, {"error": exc.detail})
        raise ReleaseFailed(f"{ref}: upstream unreachable ({exc.detail}); still held, try again") from None
    if not reply.ok:
        await store.unclaim_release(claim, {"reply": str(reply)[:300]})
        raise ReleaseFailed(f"{ref}: upstream refused with {reply.code}; still held")
    await store.finish_release(claim, reply=str(reply), reply_code=reply.code)
    return reply


@dataclass(frozen=True)
class ReleaseTarget:
    """Where a release goes and what is done to the bytes on the way: ``applied`` the policy's actions carried
    out, ``skipped`` those a reviewer chose not to (``as_is``); both are recorded in the audit trail."""

    url: str
    applied: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    transform: Transform = field(default=_unchanged, repr=False)

    def audit_detail(self) -> dict[str, Any]:
        out: dict[str, Any] = {"route": self.url, "applied": list(self.applied)}
        if self.skipped:
            out |= {"as_is": True, "skipped": list(self.skipped)}
        return out


def required_actions(record: QuarantineRecord) -> list[str]:
    """The actions the policy still requires of a held message, as ``encrypt:MODE`` and ``headers``."""
    plan = record.release_plan or {}
    steps = []
    if plan.get("action") == "encrypt" and plan.get("encrypt_mode"):
        steps.append(f"encrypt:{plan['encrypt_mode']}")
    if plan.get("headers"):
        steps.append("headers")
    return steps


def plan_release(cfg: Config, record: QuarantineRecord, *, as_is: bool = False, upstream: str | None = None,
                 recipients: Sequence[str] | None = None) -> ReleaseTarget:
    """Decide, before anything is claimed, where ``record`` goes and how; ``ReleaseRefused`` when it cannot be
    released as the policy requires (route unknown, no certificate for a recipient, actions not recorded).
    ``upstream`` is the reviewer's explicit route, used instead of the recorded one; ``recipients`` those it
    goes to (default: every one not yet decided), whose certificates S/MIME needs.

    A message the release changes (subject tag, S/MIME) is DKIM-signed when ``dkim.enabled``, exactly as the
    relay signs what it changes (``gateway/actions/dkim.py``): the sender's own signature no longer verifies.
    One released as stored keeps that signature and is not re-signed; mail for the encryption smarthost is
    signed there."""
    ref = record.reference
    route = record.route or {}
    url = upstream or route.get("upstream")
    if record.release_plan is None:
        old = sorted({r["action"] for r in record.incident.rules
                      if r.get("mode") == "outranked" and r.get("action") in ("encrypt", "tag")})
        if old and not as_is:
            raise ReleaseRefused(
                f"{ref}: rules that asked to {' and '.join(old)} it also fired, and this message was held "
                "before dlpgate recorded how to apply them; after checking, release it with --as-is --reason ..."
            )
    steps = required_actions(record)
    if as_is:
        return ReleaseTarget(_route_or_refuse(ref, url), skipped=tuple(steps))
    plan = record.release_plan or {}
    mode = plan.get("encrypt_mode") if plan.get("action") == "encrypt" else None
    certs = None
    if mode == "smime":
        mode, certs = _smime_or_fallback(cfg, record, list(recipients) if recipients else record.undecided)
    if mode == "smarthost":
        url = route.get("encryption_smarthost") or cfg.gateway.upstream.encryption_smarthost
        if not url:
            raise ReleaseRefused(f"{ref}: the policy requires the encryption smarthost, and none is configured "
                                 "(upstream.encryption_smarthost); still held")
    headers = [(str(name), str(value)) for name, value in plan.get("headers") or []]
    applied = ([f"encrypt:{mode}"] if mode else []) + (["headers"] if headers else [])
    if mode in ("subject_tag", "smime") and cfg.gateway.dkim.enabled:
        applied.append("dkim")

    def transform(raw: bytes) -> bytes:
        data = raw
        if mode == "subject_tag":
            data = add_subject_tag(data, str(plan["subject_tag"]), [str(t) for t in plan["triggers"]])
        elif mode == "smime":
            assert certs is not None
            data = smime_encrypt(data, certs)
        if mode in ("subject_tag", "smime"):
            data = sign_if_configured(cfg, data)  # changed here, so the sender's signature no longer holds
        return prepend_fields(data, headers)

    return ReleaseTarget(_route_or_refuse(ref, url), tuple(applied), transform=transform)


def _route_or_refuse(ref: str, url: str | None) -> str:
    if not url:
        raise ReleaseRefused(
            f"{ref}: where the gateway delivered when it held this message was not recorded (held by an older "
            "dlpgate); name the next hop with --upstream URL"
        )
    return url


def _smime_or_fallback(cfg: Config, record: QuarantineRecord, rcpts: list[str]) -> tuple[str, list[Any] | None]:
    """S/MIME needs every recipient's certificate now (one may have been added since the hold); without them the
    policy's fallback decides, as in the relay: another encrypt mode, or no release as required."""
    directory = CertificateDirectory(cfg.policy.lists.cert_dir)
    certs = [directory.get(r) for r in rcpts]
    if all(c is not None for c in certs):
        return "smime", [c for c in certs if c is not None]
    fallback = cfg.policy.encrypt.smime.fallback
    if fallback in ("subject_tag", "smarthost"):
        return fallback, None
    missing = sum(c is None for c in certs)
    raise ReleaseRefused(
        f"{record.reference}: the policy requires S/MIME encryption and {missing} recipient(s) have no usable "
        "certificate; add the certificates to encrypt.smime.cert_dir, or release --as-is --reason ..."
    )


async def release_held(
    store: Store,
    cfg: Config,
    ref: str,
    *,
    actor: str,
    reason: str,
    note: str | None = None,
    as_is: bool = False,
    upstream: str | None = None,
    force: bool = False,
    recipients: Sequence[str] | None = None,
    rest: str = "hold",
) -> tuple[Reply, ReleaseTarget]:
    """A reviewer's release: plan it (``plan_release``), then send it once (``release``) through the recorded
    route with the required actions applied. Raises what those raise, and ``NotFound``. ``recipients`` and
    ``rest``: a release to chosen recipients (``Store.claim_release``)."""
    record = await store.get_quarantined(ref)
    if record is None:
        raise NotFound(f"{ref}: no quarantined message with that reference")
    target = plan_release(cfg, record, as_is=as_is, upstream=upstream, recipients=recipients)
    up = cfg.gateway.upstream
    next_hop = make_upstream(
        cfg.upstream_url(target.url),
        local_hostname=up.helo_name or cfg.gateway.server.hostname,
        timeout=up.timeout,
        verify=up.tls_verify,
    )
    try:
        reply = await release(store, ref, next_hop, actor=actor, reason=reason, force=force, note=note,
                              transform=target.transform, detail=target.audit_detail(),
                              recipients=recipients, rest=rest)
    finally:
        await next_hop.close()
    return reply, target
