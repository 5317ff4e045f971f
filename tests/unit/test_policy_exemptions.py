"""Policy exceptions as an input to the pure decide() (issue 15): tested like the rules, with no store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.policy.engine import decide
from gateway.policy.exemptions import Exemption, active
from gateway.policy.model import Action
from tests.unit.test_policy_engine import EXTERNAL, INTERNAL, LOOKALIKE, PERSONAL, POLICY, SENDER, facts

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def exemption(rules: set[str], *, sender: str = SENDER, recipient: str = "cafcas.gov.uk", n: int = 7,
              days: float = 10) -> Exemption:
    return Exemption(n, sender, recipient, frozenset(rules), NOW + timedelta(days=days))


def test_no_exemption_holds_the_lookalike() -> None:
    d = decide(facts(LOOKALIKE), POLICY)
    assert d.action >= Action.QUARANTINE and "lookalike-domain" in d.rule_ids
    assert d.exempted == () and d.exemptions_used == ()


def test_an_exemption_relaxes_its_rule_and_says_so() -> None:
    held = decide(facts(LOOKALIKE), POLICY)
    d = decide(facts(LOOKALIKE, INTERNAL), POLICY, [exemption(set(held.rule_ids))])
    assert d.action is Action.PASS
    assert {h.rule_id for h in d.exempted} == set(held.rule_ids) and d.exemptions_used == (7,)


@pytest.mark.parametrize(
    ("ex", "recipients"),
    [
        (exemption({"lookalike-domain"}, sender="someone.else@cafcass.gov.uk"), (LOOKALIKE,)),
        (exemption({"lookalike-domain"}, recipient="other.example"), (LOOKALIKE,)),
        (exemption({"lookalike-domain"}, recipient="boss@cafcas.gov.uk"), (LOOKALIKE,)),
        (exemption({"bcc-visible-external"}), (LOOKALIKE,)),
        (exemption({"lookalike-domain"}), (LOOKALIKE, EXTERNAL)),  # another outside recipient is not covered
    ],
)
def test_what_an_exemption_does_not_cover(ex: Exemption, recipients: tuple[object, ...]) -> None:
    d = decide(facts(*recipients), POLICY, [ex])  # type: ignore[arg-type]
    assert "lookalike-domain" in d.rule_ids and d.exemptions_used == ()


def test_domain_wide_sender() -> None:
    held = decide(facts(LOOKALIKE), POLICY)
    d = decide(facts(LOOKALIKE), POLICY, [exemption(set(held.rule_ids), sender="@cafcass.gov.uk")])
    assert d.action is Action.PASS


def test_sender_group() -> None:
    held = decide(facts(LOOKALIKE, sender="assoc.one@cafcass.gov.uk"), POLICY)
    ex = exemption(set(held.rule_ids), sender="group:associates")
    d = decide(facts(LOOKALIKE, sender="assoc.one@cafcass.gov.uk"), POLICY, [ex])
    assert "lookalike-domain" not in d.rule_ids and d.exemptions_used == (7,)  # other rules still apply
    assert decide(facts(LOOKALIKE), POLICY, [ex]).exemptions_used == ()  # SENDER is not in the group


def test_a_rule_marked_not_exemptable_is_never_relaxed() -> None:
    rule = next(r for r in POLICY.rules if r.id == "personal-address")
    assert rule.exemptable is False
    assert next(r for r in POLICY.rules if r.id == "auto-forward-external").exemptable is False
    d = decide(facts(PERSONAL), POLICY, [exemption({"personal-address"}, recipient="gmail.com")])
    assert "personal-address" in d.rule_ids and d.action is Action.REJECT and d.exemptions_used == ()


def test_expiry_needs_nobody() -> None:
    ex = exemption({"lookalike-domain"}, days=1)
    assert active((ex,), NOW) == (ex,)
    assert active((ex,), NOW + timedelta(days=1)) == ()


def test_check_config_validates_exemptable() -> None:
    """``exemptable`` is a checked boolean; marking a rule that cannot stop anything is pointed out."""
    from pydantic import ValidationError

    from gateway.policy.config import PolicyConfig, policy_warnings

    data = POLICY.model_dump()
    data["rules"][0]["exemptable"] = "sometimes"
    with pytest.raises(ValidationError):
        PolicyConfig.model_validate(data)
    data["rules"][0]["exemptable"] = False
    data["rules"][0]["mode"] = "monitor"
    warnings = policy_warnings(PolicyConfig.model_validate(data).with_lists(POLICY.lists))
    assert any("exemptable: false has no effect" in w for w in warnings)
    assert policy_warnings(POLICY) == []


class _FakeStore:
    def __init__(self, items: tuple[Exemption, ...], *, fail: bool = False) -> None:
        self.items, self.fail, self.now, self.reads = items, fail, NOW, 0

    def clock(self) -> datetime:
        return self.now

    async def active_exemptions(self) -> tuple[Exemption, ...]:
        self.reads += 1
        if self.fail:
            raise ConnectionError("database down")
        return self.items


async def test_the_gateway_cache_fails_closed_and_expires_between_reads() -> None:
    from gateway.exemptcache import ExemptionCache

    ex = exemption({"lookalike-domain"}, days=1)
    store = _FakeStore((ex,))
    cache = ExemptionCache(ttl=3600)
    assert await cache.current(store) == (ex,)  # type: ignore[arg-type]
    store.now = NOW + timedelta(days=2)  # no re-read (TTL), yet it has stopped applying
    assert await cache.current(store) == () and store.reads == 1  # type: ignore[arg-type]
    down = _FakeStore((ex,), fail=True)
    cache.invalidate()  # the next read is due, and the store does not answer: no exceptions at all
    assert await cache.current(down) == () and cache.failures == 1  # type: ignore[arg-type]
    assert await ExemptionCache().current(None) == ()
