"""decide(): the default policy pack, rule by rule, with near misses; most severe wins; monitor mode."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from detectors.findings import Finding, RecipientInfo, Sensitivity
from gateway.facts import ScanResult
from gateway.mime.model import Unscannable
from gateway.policy.config import PolicyConfig, PolicyLists, load_policy
from gateway.policy.engine import decide, resolve_smime
from gateway.policy.model import Action

ROOT = Path(__file__).resolve().parents[2]
BASE_POLICY = load_policy(ROOT / "config" / "policy.yaml")
POLICY = BASE_POLICY.with_lists(
    replace(BASE_POLICY.lists, sender_groups={"associates": frozenset({"assoc.one@cafcass.gov.uk"})})
)
SENDER = "jane.smith@cafcass.gov.uk"
INTERNAL = RecipientInfo("tom.jones@cafcass.gov.uk", "internal")
EXTERNAL = RecipientInfo("solicitor@lawfirm.co.uk", "external")
PERSONAL = RecipientInfo("janesmith84@gmail.com", "personal")
FREEMAIL = RecipientInfo("mum.smith@gmail.com", "freemail")
LOOKALIKE = RecipientInfo("x@cafcas.gov.uk", "lookalike")
STORAGE = RecipientInfo("me@onenote.com", "storage_or_ai")


def f(entity: str, score: float = 0.9, location: str = "body") -> Finding:
    return Finding(entity, score, location, 0, 5, "test", "*****")


CHILD_DATA = (f("PERSON"), f("DATE_OF_BIRTH"), f("UK_FAMILY_CASE_NUMBER"), f("UK_NHS"))


def facts(*recipients: RecipientInfo, **kw: Any) -> ScanResult:
    return ScanResult(sender=kw.pop("sender", SENDER), recipients=tuple(recipients), **kw)


def with_mode(mode: str, **smime: Any) -> PolicyConfig:
    data = POLICY.model_dump()
    data["encrypt"]["mode"] = mode
    data["encrypt"]["smime"].update(smime)
    return PolicyConfig.model_validate(data).with_lists(POLICY.lists)


CASES: list[tuple[str, ScanResult, Action, list[str]]] = [
    ("internal only, benign", facts(INTERNAL), Action.PASS, []),
    ("external, benign", facts(EXTERNAL), Action.PASS, []),
    (
        "internal only, child data: content rules never fire",
        facts(
            INTERNAL,
            findings=CHILD_DATA,
            sensitivity=Sensitivity.SPECIAL_CATEGORY,
            distinct_case_numbers=3,
            protective_marking=True,
            unscannable=(Unscannable("attachment:a.zip", "encrypted"),),
        ),
        Action.PASS,
        [],
    ),
    ("own personal address", facts(PERSONAL), Action.REJECT, ["personal-address"]),
    ("family member's freemail, benign", facts(FREEMAIL), Action.PASS, []),
    (
        "personal + internal colleague: strictest for all",
        facts(INTERNAL, PERSONAL),
        Action.REJECT,
        ["personal-address"],
    ),
    ("auto-forwarded external", facts(FREEMAIL, forwarded=True), Action.REJECT, ["auto-forward-external"]),
    ("auto-forwarded internal", facts(INTERNAL, forwarded=True), Action.PASS, []),
    ("auto-reply external", facts(EXTERNAL, auto_reply=True), Action.PASS, []),
    ("lookalike", facts(LOOKALIKE), Action.QUARANTINE, ["lookalike-domain"]),
    ("lookalike + internal", facts(INTERNAL, LOOKALIKE), Action.QUARANTINE, ["lookalike-domain"]),
    ("storage/AI", facts(STORAGE), Action.REJECT, ["storage-or-ai"]),
    (
        "personal data external",
        facts(EXTERNAL, findings=CHILD_DATA, sensitivity=Sensitivity.PERSONAL),
        Action.ENCRYPT,
        ["protected-info-unencrypted"],
    ),
    (
        "personal data external, subject trigger",
        facts(EXTERNAL, findings=CHILD_DATA, sensitivity=Sensitivity.PERSONAL, encrypted=True, subject_trigger=True),
        Action.PASS,
        [],
    ),
    (
        "names only (signature) external",
        facts(EXTERNAL, findings=(f("PERSON"),), sensitivity=Sensitivity.NONE),
        Action.PASS,
        [],
    ),
    (
        "two cases external",
        facts(EXTERNAL, findings=CHILD_DATA, sensitivity=Sensitivity.PERSONAL, distinct_case_numbers=2),
        Action.QUARANTINE,
        ["multiple-cases-external"],
    ),
    (
        "one case external encrypted",
        facts(EXTERNAL, sensitivity=Sensitivity.PERSONAL, distinct_case_numbers=1, encrypted=True),
        Action.PASS,
        [],
    ),
    ("ten visible external", facts(EXTERNAL, visible_external=10), Action.REJECT, ["bcc-visible-external"]),
    ("nine visible external", facts(EXTERNAL, visible_external=9), Action.PASS, []),
    (
        "password-protected attachment external",
        facts(EXTERNAL, unscannable=(Unscannable("attachment:a.docx", "encrypted"),)),
        Action.QUARANTINE,
        ["unscannable-external"],
    ),
    (
        "corrupt attachment external",
        facts(EXTERNAL, unscannable=(Unscannable("attachment:a.pdf", "corrupt"),)),
        Action.QUARANTINE,
        ["unscannable-external"],
    ),
    ("image not text-scanned is fine", facts(EXTERNAL, not_text_scanned=("attachment:logo.png",)), Action.PASS, []),
    (
        "OFFICIAL-SENSITIVE external",
        facts(EXTERNAL, protective_marking=True),
        Action.ENCRYPT,
        ["official-sensitive-unencrypted"],
    ),
    (
        "OFFICIAL-SENSITIVE external encrypted",
        facts(EXTERNAL, protective_marking=True, encrypted=True),
        Action.PASS,
        [],
    ),
    ("associate external", facts(EXTERNAL, sender="assoc.one@cafcass.gov.uk"), Action.ENCRYPT, ["associate-external"]),
    ("associate internal", facts(INTERNAL, sender="assoc.one@cafcass.gov.uk"), Action.PASS, []),
    (
        "associate external already encrypted",
        facts(EXTERNAL, sender="assoc.one@cafcass.gov.uk", encrypted=True),
        Action.PASS,
        [],
    ),
    (
        "reject outranks quarantine and encrypt",
        facts(PERSONAL, LOOKALIKE, findings=CHILD_DATA, sensitivity=Sensitivity.PERSONAL),
        Action.REJECT,
        ["personal-address"],
    ),
    (
        "two rules with the same action are both decisive",
        facts(EXTERNAL, protective_marking=True, findings=CHILD_DATA, sensitivity=Sensitivity.PERSONAL),
        Action.ENCRYPT,
        ["protected-info-unencrypted", "official-sensitive-unencrypted"],
    ),
]


@pytest.mark.parametrize(("name", "fx", "action", "rules"), CASES, ids=[c[0] for c in CASES])
def test_default_pack(name: str, fx: ScanResult, action: Action, rules: list[str]) -> None:
    """Each default rule fires on its case and not on its near miss; the most severe action wins."""
    d = decide(fx, POLICY)
    assert d.action == action, name
    assert d.rule_ids == rules


def test_outranked_rules_are_kept() -> None:
    """Lower-severity rules that fired are kept for the record but left out of the sender's reasons."""
    d = decide(facts(PERSONAL, findings=CHILD_DATA, sensitivity=Sensitivity.PERSONAL), POLICY)
    assert d.action is Action.REJECT
    assert [h.rule_id for h in d.outranked] == ["protected-info-unencrypted"]
    assert len(d.reasons("ABC")) == 1


def test_reasons_name_types_and_clause_never_values() -> None:
    """The sender is told the entity types and the clause; {ref} becomes the incident reference."""
    secret = Finding("UK_NHS", 0.95, "body", 0, 10, "nhs", "*** *** 5919", text="943 476 5919")
    d = decide(facts(EXTERNAL, findings=(secret, f("DATE_OF_BIRTH")), sensitivity=Sensitivity.PERSONAL), POLICY)
    (reason,) = d.reasons("DLP-2024-0001")
    assert "NHS numbers" in reason and "dates of birth" in reason and "IA 4.5" in reason
    assert "DLP-2024-0001" in reason
    assert "5919" not in reason and "{" not in reason


def test_all_default_reasons_are_short_and_filled() -> None:
    """Every default rule's reason renders without placeholders, short enough for an SMTP reply."""
    fx = facts(
        EXTERNAL,
        findings=CHILD_DATA,
        distinct_case_numbers=2,
        visible_external=12,
        unscannable=(Unscannable("attachment:a.zip", "encrypted"),),
    )
    from gateway.policy.engine import render_reason

    for rule in POLICY.rules:
        text = render_reason(rule, fx, POLICY, frozenset({"external"})).replace("{ref}", "R1")
        assert "{" not in text and len(text) < 300, rule.id


def test_monitor_rules_record_without_changing_outcome() -> None:
    """A monitor-mode rule is reported in ``monitor`` and never changes the action."""
    data = POLICY.model_dump()
    for r in data["rules"]:
        if r["id"] == "lookalike-domain":
            r["mode"] = "monitor"
    policy = PolicyConfig.model_validate(data).with_lists(POLICY.lists)
    d = decide(facts(LOOKALIKE), policy)
    assert d.action is Action.PASS
    assert [h.rule_id for h in d.monitor] == ["lookalike-domain"]


def test_disabled_rule_is_ignored() -> None:
    """``enabled: false`` switches a rule off."""
    data = POLICY.model_dump()
    for r in data["rules"]:
        r["enabled"] = r["id"] != "storage-or-ai"
    policy = PolicyConfig.model_validate(data).with_lists(POLICY.lists)
    assert decide(facts(STORAGE), policy).action is Action.PASS


def test_encrypt_modes() -> None:
    """The encrypt mode travels with the decision; mode ``reject`` reports reject and asks for a resend."""
    fx = facts(EXTERNAL, protective_marking=True)
    assert decide(fx, POLICY).encrypt_mode == "subject_tag"
    assert decide(fx, with_mode("smarthost")).encrypt_mode == "smarthost"
    d = decide(fx, with_mode("reject"))
    assert d.action is Action.REJECT and d.encrypt_mode == "reject"
    (reason,) = d.reasons("R9")
    assert "'encrypt' at the start of the subject" in reason and reason.endswith("Ref R9.")


def test_decide_is_pure() -> None:
    """Same facts, same policy, same decision: no hidden state between calls."""
    fx = facts(PERSONAL, LOOKALIKE)
    assert decide(fx, POLICY) == decide(fx, POLICY)


@pytest.mark.parametrize(
    ("fallback", "action", "mode"),
    [
        ("quarantine", Action.QUARANTINE, None),
        ("reject", Action.REJECT, None),
        ("subject_tag", Action.ENCRYPT, "subject_tag"),
        ("smarthost", Action.ENCRYPT, "smarthost"),
    ],
)
def test_resolve_smime_fallback(fallback: str, action: Action, mode: str | None) -> None:
    """With S/MIME and any recipient (internal too) lacking a certificate, the configured fallback decides."""
    policy = with_mode("smime", fallback=fallback)
    fx = facts(INTERNAL, EXTERNAL, protective_marking=True)
    d = decide(fx, policy)
    assert d.action is Action.ENCRYPT and d.encrypt_mode == "smime"
    assert resolve_smime(d, fx, lambda a: True, policy) == d
    assert resolve_smime(d, fx, lambda a: a.endswith("cafcass.gov.uk"), policy).action is action
    assert resolve_smime(d, fx, lambda a: not a.endswith("cafcass.gov.uk"), policy).action is action
    out = resolve_smime(d, fx, lambda a: False, policy)
    assert out.encrypt_mode == mode
    if action is not Action.ENCRYPT:
        assert "certificate" in out.reasons("R")[0]


def test_resolve_smime_leaves_other_decisions() -> None:
    """resolve_smime only touches S/MIME encrypt decisions."""
    fx = facts(PERSONAL)
    d = decide(fx, with_mode("smime"))
    assert resolve_smime(d, fx, lambda a: False, with_mode("smime")) is d


def test_condition_kinds() -> None:
    """Entity counts/scores, sensitivity, headers, size and sender exemptions all work as conditions."""
    policy = PolicyConfig.model_validate(
        {
            "sender_groups": {"legal": {"members": ["@legal.cafcass.gov.uk"]}},
            "rules": [
                {
                    "id": "nhs2",
                    "clause": "T",
                    "action": "tag",
                    "reason": "r",
                    "when": {"entities": [{"type": "UK_NHS", "min_count": 2, "min_score": 0.8}]},
                },
                {
                    "id": "both",
                    "clause": "T",
                    "action": "tag",
                    "reason": "r",
                    "when": {"entities": [{"type": "UK_NHS"}, {"type": "UK_NINO"}], "entities_match": "all"},
                },
                {
                    "id": "special",
                    "clause": "T",
                    "action": "quarantine",
                    "reason": "r",
                    "when": {"sensitivity_at_least": "special_category", "sender_not_in_groups": ["legal"]},
                },
                {
                    "id": "hdr",
                    "clause": "T",
                    "action": "tag",
                    "reason": "r",
                    "when": {"headers": [{"name": "X-Mailer", "pattern": "^bulk"}]},
                },
                {"id": "big", "clause": "T", "action": "tag", "reason": "r", "when": {"size_at_least": 1000}},
            ],
        }
    )
    policy = policy.with_lists(PolicyLists(sender_groups={"legal": frozenset({"legal.cafcass.gov.uk"})}))

    def ids(**kw: Any) -> list[str]:
        d = decide(facts(EXTERNAL, **kw), policy)
        return sorted(h.rule_id for h in d.hits + d.outranked)

    assert ids(findings=(f("UK_NHS"), f("UK_NHS", 0.5))) == []
    assert ids(findings=(f("UK_NHS"), f("UK_NHS"))) == ["nhs2"]
    assert ids(findings=(f("UK_NHS"), f("UK_NINO"))) == ["both"]
    assert ids(sensitivity=Sensitivity.SPECIAL_CATEGORY) == ["special"]
    assert ids(sensitivity=Sensitivity.SPECIAL_CATEGORY, sender="a@legal.cafcass.gov.uk") == []
    assert ids(headers=(("x-mailer", "BulkSender 2"),)) == ["hdr"]
    assert ids(headers=(("X-Mailer", "Outlook"),)) == []
    assert ids(size=5000) == ["big"]
