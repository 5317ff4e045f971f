"""What a release must still do (issue 13): the pure ``release_decision`` keeps the rules a hold outranked."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gateway.policy.config import load_policy
from gateway.policy.engine import release_decision
from gateway.policy.model import Action, Decision, RuleHit

POLICY = load_policy(Path(__file__).resolve().parents[2] / "config" / "policy.yaml")


def _hit(rule_id: str, action: Action, mode: str = "enforce") -> RuleHit:
    return RuleHit(rule_id, "IA 4.5", action, mode, "reason", "")  # type: ignore[arg-type]


def test_outranked_encryption_is_what_a_release_requires() -> None:
    """Held for an unreadable attachment with protected information too: the release must encrypt."""
    held = Decision(Action.QUARANTINE, hits=(_hit("unscannable-external", Action.QUARANTINE),),
                    outranked=(_hit("protected-info-unencrypted", Action.ENCRYPT),))
    rest = release_decision(held, POLICY)
    assert rest.action is Action.ENCRYPT and rest.encrypt_mode == "subject_tag"
    assert rest.rule_ids == ["protected-info-unencrypted"]


def test_nothing_outranked_releases_as_stored() -> None:
    """A hold that outranked nothing leaves nothing to apply; monitor hits carry over."""
    monitor = (_hit("special-category-external", Action.QUARANTINE, "monitor"),)
    rest = release_decision(Decision(Action.QUARANTINE, hits=(_hit("lookalike-domain", Action.QUARANTINE),),
                                     monitor=monitor), POLICY)
    assert rest.action is Action.PASS and rest.monitor == monitor


def test_smime_fallback_hold_still_requires_encryption() -> None:
    """A hold that is the S/MIME fallback of an encrypt rule still asks for encryption (S/MIME) on release."""
    policy = POLICY.model_copy(update={"encrypt": POLICY.encrypt.model_copy(update={"mode": "smime"})})
    policy = policy.with_lists(POLICY.lists)
    held = Decision(Action.QUARANTINE, hits=(_hit("protected-info-unencrypted", Action.QUARANTINE),))
    rest = release_decision(held, policy)
    assert rest.action is Action.ENCRYPT and rest.encrypt_mode == "smime"


def test_tag_outranked_by_encrypt_is_kept() -> None:
    """Several outranked actions: the most severe decides, the others stay outranked (as in the relay)."""
    held = Decision(Action.QUARANTINE, hits=(_hit("lookalike-domain", Action.QUARANTINE),),
                    outranked=(_hit("protected-info-unencrypted", Action.ENCRYPT), _hit("x", Action.TAG)))
    rest = release_decision(held, POLICY)
    assert rest.action is Action.ENCRYPT and [h.rule_id for h in rest.outranked] == ["x"]
    assert replace(rest, outranked=()).hits[0].action is Action.ENCRYPT
