"""Approved, time-limited policy exceptions as the engine sees them (issue 15): plain values, an input to
``decide`` like the facts. The store keeps them and the gateway process loads the active ones; the engine only
asks whether one covers a rule for this message.

An exception covers a message when the sender matches (an address, ``@domain`` for everyone there, or
``group:NAME`` for a sender group of the policy's lists) and every
recipient outside the organisation matches its recipient (an address, or a domain): a message that also goes
somewhere else is judged as usual. A rule marked ``exemptable: false`` is never relaxed, whatever the store says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from gateway.facts import ScanResult


def _addr(value: str) -> str:
    return value.strip().strip("<>").lower()


def _domain(address: str) -> str:
    return address.rpartition("@")[2]


@dataclass(frozen=True)
class Exemption:
    id: int
    sender: str
    """``someone@org``, ``@org`` (every sender there) or ``group:NAME`` (a sender group in the policy)."""
    recipient: str
    """``someone@example.org`` or ``example.org``."""
    rules: frozenset[str]
    expires_at: datetime

    def sender_matches(self, sender: str, groups: Mapping[str, frozenset[str]] | None = None) -> bool:
        want, got = _addr(self.sender), _addr(sender)
        if want.startswith("group:"):
            members = (groups or {}).get(self.sender.strip()[6:], frozenset())
            return got in {_addr(m) for m in members}
        return got == want or (want.startswith("@") and _domain(got) == want[1:])

    def recipient_matches(self, address: str) -> bool:
        want, got = _addr(self.recipient), _addr(address)
        return got == want if "@" in want else _domain(got) == want.lstrip("@")

    def covers(self, facts: ScanResult, rule_id: str, groups: Mapping[str, frozenset[str]] | None = None) -> bool:
        if rule_id not in self.rules or not self.sender_matches(facts.sender, groups):
            return False
        outside = [r.address for r in facts.recipients if r.cls != "internal"]
        return bool(outside) and all(self.recipient_matches(a) for a in outside)


def active(exemptions: tuple[Exemption, ...], now: datetime) -> tuple[Exemption, ...]:
    """Those not yet expired at ``now``: expiry needs nobody to act."""
    return tuple(e for e in exemptions if e.expires_at > now)
