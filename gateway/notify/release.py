"""Releasing a held message: the stored bytes, unscanned and unchanged, to the original envelope recipients,
at most once.

The store's conditional claim (held → releasing) has exactly one winner; only a clear refusal, or an upstream
that could not be reached before DATA, returns the message to ``held``. A connection lost during DATA may have
delivered it, so it stays ``releasing`` until a person checks and uses ``--force``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.store.errors import ReleaseFailed, ReleaseUncertain
from gateway.upstream import DeliveryUncertain, Reply, Upstream, UpstreamError, deliver

if TYPE_CHECKING:
    from gateway.store import Store


async def release(
    store: Store, ref: str, upstream: Upstream, *, actor: str, reason: str, force: bool = False
) -> Reply:
    """Send ``ref`` through ``upstream``; ``force`` re-claims one stuck in ``releasing``. Raises ``Conflict``
    (not releasable now), ``ReleaseFailed`` (still held, safe to retry) or ``ReleaseUncertain``."""
    claim = await store.claim_release(ref, actor=actor, reason=reason, force=force)
    try:
        reply = await deliver(upstream, claim.mail_from, claim.rcpt_tos, claim.raw)
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
