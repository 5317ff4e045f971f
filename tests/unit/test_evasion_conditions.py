"""Policy conditions for issue 12's facts: false_encryption_claim, redaction_failed, images_not_scanned.

Each is a content condition (only mail leaving the organisation), known to check-config's vocabulary (the
policy model refuses anything else), and the default policy holds the first two for an external recipient and
never acts on the third (a signature logo never holds mail).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from detectors.findings import Finding, RecipientInfo, Sensitivity
from gateway.facts import ScanResult
from gateway.mime.model import Note
from gateway.policy.config import PolicyConfig, load_policy
from gateway.policy.engine import decide
from gateway.policy.model import Action, Conditions

ROOT = Path(__file__).resolve().parents[2]
POLICY = load_policy(ROOT / "config" / "policy.yaml")
INTERNAL = RecipientInfo("tom.jones@cafcass.gov.uk", "internal")
EXTERNAL = RecipientInfo("n.okafor@okafor-law.co.uk", "external")
CLAIM = (Note("attachment:message.rpmsg", "rights-management (rpmsg) label: no rpmsg signature"),)
REDACTION = (Note("attachment:bundle.pdf", "live text under a black box on page 2"),)
CHILD = (Finding("UK_NHS", 0.9, "body", 0, 5, "t", "*"), Finding("PERSON", 0.9, "body", 6, 9, "t", "*"))


def facts(*recipients: RecipientInfo, **kw: Any) -> ScanResult:
    return ScanResult(sender="jane.smith@cafcass.gov.uk", recipients=tuple(recipients), **kw)


@pytest.mark.parametrize(
    ("name", "fx", "action", "rules"),
    [
        ("false claim to external", facts(EXTERNAL, false_encryption_claims=CLAIM), Action.QUARANTINE,
         ["false-encryption-claim-external"]),
        ("false claim with child data: the hold outranks encrypt",
         facts(EXTERNAL, false_encryption_claims=CLAIM, findings=CHILD, sensitivity=Sensitivity.PERSONAL),
         Action.QUARANTINE, ["false-encryption-claim-external"]),
        ("false claim even with the subject trigger (the label is still a lie)",
         facts(EXTERNAL, false_encryption_claims=CLAIM, encrypted=True, subject_trigger=True),
         Action.QUARANTINE, ["false-encryption-claim-external"]),
        ("false claim to a colleague: content rules never fire", facts(INTERNAL, false_encryption_claims=CLAIM),
         Action.PASS, []),
        ("failed redaction to external", facts(EXTERNAL, redaction_failed=REDACTION), Action.QUARANTINE,
         ["redaction-failed-external"]),
        ("failed redaction sent encrypted: the recipient still reads what was blacked out",
         facts(EXTERNAL, redaction_failed=REDACTION, encrypted=True, subject_trigger=True), Action.QUARANTINE,
         ["redaction-failed-external"]),
        ("failed redaction internally", facts(INTERNAL, redaction_failed=REDACTION), Action.PASS, []),
        ("an image not read for text: no default rule", facts(EXTERNAL, not_text_scanned=("attachment:logo.png",)),
         Action.PASS, []),
        ("proven ciphertext with nothing readable", facts(EXTERNAL, encrypted=True,
                                                          encryption_evidence=("S/MIME enveloped data",)),
         Action.PASS, []),
    ],
)
def test_default_policy(name: str, fx: ScanResult, action: Action, rules: list[str]) -> None:
    """The shipped policy's decisions on the new facts."""
    decision = decide(fx, POLICY)
    assert (decision.action, decision.rule_ids) == (action, rules), name


def test_images_not_scanned_condition_when_a_site_enables_it() -> None:
    """The commented example rule in policy.yaml, once enabled, holds an unread image for an external
    recipient only."""
    data = POLICY.model_dump()
    data["rules"].append({
        "id": "images-not-scanned-external", "clause": "IT 2.7(o)", "action": "quarantine",
        "when": {"recipient_classes": ["external"], "images_not_scanned": True}, "reason": "Held. Ref {ref}.",
    })
    policy = PolicyConfig.model_validate(data).with_lists(POLICY.lists)
    image = ("attachment:scan.png",)
    assert decide(facts(EXTERNAL, not_text_scanned=image), policy).rule_ids == ["images-not-scanned-external"]
    assert decide(facts(INTERNAL, not_text_scanned=image), policy).action is Action.PASS
    assert decide(facts(EXTERNAL), policy).action is Action.PASS


@pytest.mark.parametrize("key", ["false_encryption_claim", "redaction_failed", "images_not_scanned"])
def test_conditions_are_content_conditions_in_the_vocabulary(key: str) -> None:
    """Each key is accepted by the policy model (check-config's vocabulary), counts as a content condition,
    and `false` matches a message without the fact."""
    when = Conditions.model_validate({key: True})
    assert when.uses_content
    data = POLICY.model_dump()
    data["rules"] = [{"id": "x", "clause": "c", "action": "tag", "reason": "r", "when": {key: False}}]
    policy = PolicyConfig.model_validate(data).with_lists(POLICY.lists)
    assert decide(facts(EXTERNAL), policy).rule_ids == ["x"]


def test_misspelt_condition_is_refused() -> None:
    """A typo in the new keys is a config error, not a rule that silently never fires."""
    with pytest.raises(ValidationError, match="false_encryption_claims"):
        Conditions.model_validate({"false_encryption_claims": True})
