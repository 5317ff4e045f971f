"""Approved policy exceptions for the gateway process (issue 15), read from the store at most every few seconds.

The engine stays pure: this hands ``decide`` the active exceptions as values. It fails closed: with no store, or
a store that does not answer in time, there are *no* exceptions and every rule applies as written (an outage
must never let through what the policy stops). Expiry is checked against the store's clock at each use, so an
exception stops applying at its expiry even between reads.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import structlog

from gateway.policy.exemptions import Exemption, active

if TYPE_CHECKING:
    from gateway.store import Store

log = structlog.get_logger("dlpgate.exemptions")

TTL_SECONDS = 10.0
"""How long a read stays fresh: an approval applies within this time, across nodes."""
LOOKUP_SECONDS = 2.0


class ExemptionCache:
    def __init__(self, ttl: float = TTL_SECONDS) -> None:
        self.ttl = ttl
        self._items: tuple[Exemption, ...] = ()
        self._read_at: float | None = None
        self._version = 0
        self.failures = 0

    def invalidate(self) -> None:
        self._read_at = None

    async def current(self, store: Store | None) -> tuple[Exemption, ...]:
        if store is None:
            return ()
        loop = asyncio.get_running_loop()
        version = int(getattr(store, "exemptions_version", 0))  # a decision (revocation) here: re-read at once
        if self._read_at is None or loop.time() - self._read_at > self.ttl or version != self._version:
            try:
                self._items = await asyncio.wait_for(store.active_exemptions(), LOOKUP_SECONDS)
                self._read_at = loop.time()
                self._version = version
            except Exception as exc:
                self.failures += 1
                self._items, self._read_at = (), None
                log.warning("exemptions.unavailable", error=exc.__class__.__name__)
                return ()
        return active(self._items, store.clock())

    async def record_use(self, store: Store | None, ids: tuple[int, ...], *, txn_id: str,
                         rules: list[str]) -> None:
        """Best effort after the decision: a failure is logged (by transaction), never raised."""
        if store is None or not ids:
            return
        try:
            await store.record_exception_use(ids, txn_id=txn_id, rules=rules)
        except Exception as exc:
            log.warning("exemptions.use_not_recorded", txn=txn_id, error=exc.__class__.__name__)
