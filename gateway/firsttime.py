"""First-time recipients (issue 16): has this sender (or anyone here) delivered to this external address before?

The history is looked up here, in the gateway process, between the worker's scan and the pure ``decide``: the
workers never reach the store per message. Only keyed hashes of (sender, recipient) and of the recipient alone
are kept (the case key), so the table cannot be read back into a list of who writes to whom without the key.

The lookup fails open: with no key, no store, or a store that does not answer in time the fact is *unknown*
(``first_time_known`` False), the condition never holds, the miss is counted and logged, and mail flows: a
history outage must never become a 451. Deliveries are recorded after the next hop's 250, in the background.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog

from detectors.cases import KIND_HISTORY, hex128, keyed
from gateway.config import Config, optional_case_key
from gateway.facts import ScanResult

if TYPE_CHECKING:
    from gateway.store import Store

log = structlog.get_logger("dlpgate.firsttime")

LOOKUP_SECONDS = 2.0
"""Longest wait for the history before the fact is unknown (the message is not held up for it)."""


class RecipientHistory:
    """One configuration generation's view of the history: key, scope and age limit."""

    def __init__(self, cfg: Config) -> None:
        self.key = optional_case_key(cfg)
        self.scope = cfg.gateway.cases.first_time_scope
        self.max_age = timedelta(days=cfg.gateway.cases.history_days)
        self.unknown = 0
        """Lookups that could not be made (no key or store failure): the condition did not hold for them."""

    def _hash(self, sender: str, recipient: str, scope: str) -> str:
        assert self.key is not None
        who = "*" if scope == "organisation" else sender.strip().strip("<>").lower()
        return hex128(keyed(self.key, KIND_HISTORY, f"{who}\0{recipient.strip().strip('<>').lower()}"))

    async def annotate(self, store: Store | None, facts: ScanResult) -> ScanResult:
        """``facts`` with ``first_time`` filled in, or unchanged (unknown) when the history cannot be read."""
        external = [r.address for r in facts.external_recipients]
        if not external:
            return replace(facts, first_time_known=True)
        if self.key is None or store is None:
            self.unknown += 1
            return facts
        hashes = {a: self._hash(facts.sender, a, self.scope) for a in external}
        try:
            known = await asyncio.wait_for(
                store.known_pairs(list(hashes.values()), since=store.clock() - self.max_age), LOOKUP_SECONDS
            )
        except Exception as exc:
            self.unknown += 1
            log.warning("first_time.unknown", error=exc.__class__.__name__)
            return facts
        first = tuple(a for a, h in hashes.items() if h not in known)
        return replace(facts, first_time=first, first_time_known=True)

    async def record(self, store: Store | None, facts: ScanResult) -> None:
        """Remember a delivery (both scopes, so changing ``first_time_scope`` needs no new learning period).
        Best effort: a failure is logged, never raised (the message is already delivered)."""
        external = [r.address for r in facts.external_recipients]
        if self.key is None or store is None or not external:
            return
        hashes = [self._hash(facts.sender, a, s) for a in external for s in ("sender", "organisation")]
        try:
            await store.record_pairs(hashes)
        except Exception as exc:
            log.warning("first_time.record_failed", error=exc.__class__.__name__)
