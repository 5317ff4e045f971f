"""The policy engine: facts + policy -> one decision, as a pure function.

``decide`` does no I/O and keeps no state, so the same facts always give the same decision (replayable in
tests, ``scan`` and incident review) and it can run anywhere in the pipeline. Every enforced rule that fires
is found; the most severe action wins and applies to the whole message (one SMTP transaction, one answer:
an internal colleague copied on a held message is held too). Monitor-mode rules are evaluated the same way
and recorded, never changing the outcome, so a new rule can be watched before it bites.

The encrypt mode is part of the decision: ``reject`` turns every encrypt hit into a reject that asks the
sender to resend with the trigger. Whether S/MIME can be used depends on which certificates exist, which is
I/O; ``resolve_smime`` takes that knowledge as a function and stays pure too.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import lru_cache

from detectors.findings import RECIPIENT_CLASSES, Sensitivity
from gateway.facts import ScanResult
from gateway.policy.config import PolicyConfig, PolicyLists
from gateway.policy.exemptions import Exemption
from gateway.policy.model import Action, Conditions, Decision, Rule, RuleHit

ENTITY_LABELS: dict[str, str] = {
    "PERSON": "names",
    "EMAIL_ADDRESS": "email addresses",
    "PHONE_NUMBER": "phone numbers",
    "UK_NHS": "NHS numbers",
    "UK_NINO": "National Insurance numbers",
    "UK_POSTCODE": "postcodes",
    "UK_PASSPORT": "passport numbers",
    "UK_DRIVING_LICENCE": "driving licence numbers",
    "CREDIT_CARD": "card numbers",
    "IBAN_CODE": "bank details",
    "UK_BANK_ACCOUNT": "bank details",
    "LOCATION": "places",
    "UK_FAMILY_CASE_NUMBER": "case numbers",
    "UK_COURT_CASE_NUMBER": "court case numbers",
    "DATE_OF_BIRTH": "dates of birth",
    "AGE": "ages",
    "UK_STREET_ADDRESS": "home addresses",
    "SPECIAL_CATEGORY": "special-category information (health, ethnicity, ...)",
    "PROTECTIVE_MARKING": "an OFFICIAL-SENSITIVE marking",
    "KNOWN_CHILD": "names of children in a case",
}
"""What the sender is told was found: types in plain words, never values."""

CLASS_LABELS: dict[str, str] = {
    "personal": "your own personal email address",
    "lookalike": "an address that imitates a trusted domain",
    "storage_or_ai": "a cloud storage or AI upload address",
    "freemail": "a personal email service",
    "external": "an external address",
    "internal": "an internal address",
}
UNSCANNABLE_LABELS: dict[str, str] = {
    "encrypted": "password-protected",
    "corrupt": "unreadable",
    "limit": "too large or deeply nested to check",
    "partial": "a fragment of a split message (message/partial) that cannot be checked whole",
}
_CONTEXT_ENTITIES = frozenset({"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "LOCATION"})
"""Named last: on their own they are usually the correspondents' contact details."""


def _expand_classes(classes: Iterable[str]) -> frozenset[str]:
    out: set[str] = set()
    for c in classes:
        if c == "external":
            out.update(x for x in RECIPIENT_CLASSES if x != "internal")
        else:
            out.add(c)
    return frozenset(out)


def sender_in_group(sender: str, group: str, lists: PolicyLists) -> bool:
    """A member entry is an address, or a domain that covers everyone at it (and its subdomains)."""
    members = lists.sender_groups.get(group, frozenset())
    address = sender.strip().strip("<>").lower()
    if address in members:
        return True
    domain = address.rpartition("@")[2]
    labels = domain.split(".")
    return any(".".join(labels[i:]) in members for i in range(len(labels)))


def always_allowed(address: str, lists: PolicyLists) -> bool:
    """In ``recipients.case_always_allowed``: the address, or its domain or a parent domain."""
    address = address.strip().strip("<>").lower()
    allowed = lists.case_always_allowed
    if address in allowed:
        return True
    labels = address.rpartition("@")[2].split(".")
    return any(".".join(labels[i:]) in allowed for i in range(len(labels)))


def case_mismatch(facts: ScanResult, lists: PolicyLists) -> tuple[str, ...]:
    """External recipients of a message about directory cases that are not on every one of those cases and not
    always allowed (issue 16). Empty with no directory: the case conditions never hold then."""
    if not facts.case_directory or not facts.cases:
        return ()
    return tuple(a for a in facts.case_unlinked if not always_allowed(a, lists))


def first_time_holds(facts: ScanResult) -> bool | None:
    """``first_time_recipient``: personal or special-category content to an address never written to before;
    None when unknown (no history: the condition never holds either way)."""
    if not facts.first_time_known:
        return None
    return bool(facts.first_time) and facts.sensitivity >= Sensitivity.PERSONAL


def _case_checks(when: Conditions, facts: ScanResult, lists: PolicyLists) -> bool:
    """The case-directory and history conditions; each fails outright when its facts are unknown."""
    if when.case_recipient_mismatch is not None and (
        not facts.case_directory or when.case_recipient_mismatch != bool(case_mismatch(facts, lists))
    ):
        return False
    if when.distinct_cases_at_least is not None and (
        not facts.case_directory or facts.distinct_cases < when.distinct_cases_at_least
    ):
        return False
    if when.first_time_recipient is not None:
        holds = first_time_holds(facts)
        if holds is None or holds != when.first_time_recipient:
            return False
    return True


@lru_cache(maxsize=256)
def _header_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _entity_counts(facts: ScanResult, min_score: float, entity: str) -> int:
    return sum(1 for f in facts.findings if f.entity == entity and f.score >= min_score)


def _matches(when: Conditions, facts: ScanResult, lists: PolicyLists) -> tuple[bool, frozenset[str]]:
    """Whether every set condition holds; also the recipient classes that satisfied the class condition."""
    external = facts.external_recipients
    if when.uses_content and not external:
        return False, frozenset()
    matched_classes: frozenset[str] = frozenset()
    if when.recipient_classes is not None:
        wanted = _expand_classes(when.recipient_classes)
        matched_classes = frozenset(r.cls for r in facts.recipients if r.cls in wanted)
        if not matched_classes:
            return False, frozenset()
    if when.entities:
        present = [_entity_counts(facts, e.min_score, e.type) >= e.min_count for e in when.entities]
        if not (all(present) if when.entities_match == "all" else any(present)):
            return False, frozenset()
    if when.sensitivity_at_least is not None and facts.sensitivity < Sensitivity.parse(when.sensitivity_at_least):
        return False, frozenset()
    checks: list[tuple[bool | None, bool]] = [
        (when.forwarded, facts.forwarded),
        (when.auto_reply, facts.auto_reply),
        (when.encrypted, facts.encrypted),
        (when.protective_marking, facts.protective_marking),
        (when.false_encryption_claim, bool(facts.false_encryption_claims)),
        (when.redaction_failed, bool(facts.redaction_failed)),
        (when.images_not_scanned, bool(facts.not_text_scanned)),
    ]
    if any(want is not None and want != have for want, have in checks):
        return False, frozenset()
    if when.sender_groups is not None and not any(sender_in_group(facts.sender, g, lists) for g in when.sender_groups):
        return False, frozenset()
    if when.sender_not_in_groups is not None and any(
        sender_in_group(facts.sender, g, lists) for g in when.sender_not_in_groups
    ):
        return False, frozenset()
    if (
        when.distinct_case_numbers_at_least is not None
        and facts.distinct_case_numbers < when.distinct_case_numbers_at_least
    ):
        return False, frozenset()
    if when.visible_external_at_least is not None and facts.visible_external < when.visible_external_at_least:
        return False, frozenset()
    if not _case_checks(when, facts, lists):
        return False, frozenset()
    if when.unscannable is not None and not any(u.reason in when.unscannable for u in facts.unscannable):
        return False, frozenset()
    for hc in when.headers:
        name = hc.name.lower()
        rx = _header_regex(hc.pattern)
        if not any(n.lower() == name and rx.search(v) for n, v in facts.headers):
            return False, frozenset()
    if when.size_at_least is not None and facts.size < when.size_at_least:
        return False, frozenset()
    if when.size_at_most is not None and facts.size > when.size_at_most:
        return False, frozenset()
    return True, matched_classes


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def describe_entities(facts: ScanResult, only: Iterable[str] | None = None, limit: int = 4) -> str:
    """``NHS numbers, dates of birth and names``: the types found, most telling first, never values."""
    counts = Counter(f.entity for f in facts.findings if only is None or f.entity in set(only))
    ordered = sorted(counts, key=lambda e: (e in _CONTEXT_ENTITIES, -counts[e], e))
    labels: list[str] = []
    for e in ordered:
        label = ENTITY_LABELS.get(e, e.replace("_", " ").lower())
        if label not in labels:
            labels.append(label)
    if not labels:
        return "personal information"
    return _join(labels[:limit])


def render_reason(rule: Rule, facts: ScanResult, policy: PolicyConfig, classes: frozenset[str]) -> str:
    """Fill the rule's placeholders; ``{ref}`` is left for the incident reference."""
    only = [e.type for e in rule.when.entities] or None
    unscannable = sorted({u.reason for u in facts.unscannable})
    values = {
        "{entities}": describe_entities(facts, only),
        "{classes}": _join([CLASS_LABELS[c] for c in RECIPIENT_CLASSES if c in classes and c != "internal"])
        or "an external address",
        "{cases}": str(max(facts.distinct_case_numbers, facts.distinct_cases)),
        "{recipient}": _join(list(case_mismatch(facts, policy.lists)) or list(facts.first_time)) or "a recipient",
        "{visible}": str(facts.visible_external),
        "{unscannable}": _join([UNSCANNABLE_LABELS.get(u, u) for u in unscannable]) or "unreadable",
        "{trigger}": policy.encrypt.triggers[0],
        "{clause}": rule.clause,
    }
    text = rule.reason
    for key, value in values.items():
        text = text.replace(key, value)
    return " ".join(text.split())


_REF_TAIL = re.compile(r"\s*\(?\bRef(?:erence)?\b:?\s*\{ref\}\)?\.?\s*$", re.IGNORECASE)


def append_before_ref(reason: str, extra: str) -> str:
    """Add a sentence to a reason, keeping the incident reference last where the sender looks for it."""
    m = _REF_TAIL.search(reason)
    if not m:
        return f"{reason} {extra}".strip()
    return f"{reason[: m.start()]} {extra}{m.group(0)}".strip()


def _hit(rule: Rule, facts: ScanResult, policy: PolicyConfig, classes: frozenset[str]) -> RuleHit:
    action = Action.parse(rule.action)
    reason = render_reason(rule, facts, policy, classes)
    if action is Action.ENCRYPT and policy.encrypt.mode == "reject":
        action = Action.REJECT
        resend = policy.encrypt.resend_reason.replace("{trigger}", policy.encrypt.triggers[0])
        reason = append_before_ref(reason, resend)
    return RuleHit(
        rule_id=rule.id,
        clause=rule.clause,
        action=action,
        mode=rule.mode,
        reason=reason,
        description=rule.description,
    )


def decide(facts: ScanResult, policy: PolicyConfig, exemptions: Iterable[Exemption] = ()) -> Decision:
    """One decision for the whole message: the most severe enforced rule wins; monitor rules are recorded.

    ``hits`` are the rules that decided the action (ties included), most severe first; ``outranked`` the
    other enforced rules that fired. In encrypt mode ``reject`` an encrypt hit reports ``reject``.
    ``exemptions`` are the approved, unexpired exceptions (issue 15): an enforced rule one of them covers, and
    that is ``exemptable``, is set aside in ``exempted`` and the exception's id noted in ``exemptions_used``.
    """
    enforced: list[RuleHit] = []
    monitored: list[RuleHit] = []
    exempted: list[RuleHit] = []
    used: list[int] = []
    exemptions = tuple(exemptions)
    for rule in policy.rules:
        if not rule.enabled:
            continue
        ok, classes = _matches(rule.when, facts, policy.lists)
        if not ok:
            continue
        hit = _hit(rule, facts, policy, classes)
        if rule.mode == "monitor":
            monitored.append(hit)
            continue
        groups = policy.lists.sender_groups
        cover = next((e for e in exemptions if rule.exemptable and e.covers(facts, rule.id, groups)), None)
        if cover is not None:
            exempted.append(hit)
            used.extend([cover.id] if cover.id not in used else [])
            continue
        enforced.append(hit)
    if not enforced:
        return Decision(Action.PASS, monitor=tuple(monitored), exempted=tuple(exempted),
                        exemptions_used=tuple(used))
    action = max(h.action for h in enforced)
    decisive = tuple(h for h in enforced if h.action == action)
    outranked = tuple(sorted((h for h in enforced if h.action != action), key=lambda h: -h.action))
    mode = policy.encrypt.mode
    encrypt_mode = mode if action is Action.ENCRYPT or (mode == "reject" and _had_encrypt(decisive, policy)) else None
    return Decision(
        action=action,
        hits=decisive,
        monitor=tuple(monitored),
        encrypt_mode=encrypt_mode,
        outranked=outranked,
        exempted=tuple(exempted),
        exemptions_used=tuple(used),
    )


def _had_encrypt(hits: Iterable[RuleHit], policy: PolicyConfig) -> bool:
    encrypt_ids = {r.id for r in policy.rules if r.action == "encrypt"}
    return any(h.rule_id in encrypt_ids for h in hits)


def resolve_smime(
    decision: Decision,
    facts: ScanResult,
    have_cert: Callable[[str], bool],
    policy: PolicyConfig,
) -> Decision:
    """Settle an S/MIME decision once certificates are known: unchanged when every recipient has a usable
    certificate, else the configured fallback (another encrypt mode, or quarantine / reject with the
    no-certificate reason added). Every recipient counts, internal ones too: the relay sends one enveloped
    copy to the whole envelope, and a recipient without a certificate could not read it. Pure:
    ``have_cert`` is the only window on the certificate store."""
    if decision.action is not Action.ENCRYPT or decision.encrypt_mode != "smime":
        return decision
    if all(have_cert(r.address) for r in facts.recipients):
        return decision
    fallback = policy.encrypt.smime.fallback
    if fallback in ("subject_tag", "smarthost"):
        return replace(decision, encrypt_mode=fallback)
    action = Action.parse(fallback)
    note = policy.encrypt.smime.no_certificate_reason
    hits = tuple(replace(h, action=action, reason=append_before_ref(h.reason, note)) for h in decision.hits)
    return replace(decision, action=action, hits=hits, encrypt_mode=None)


def release_decision(decision: Decision, policy: PolicyConfig) -> Decision:
    """What the policy still requires of a held message when a reviewer releases it: the decision the relay would
    have made had the holding rules not fired. The rules a hold outranked (encrypt, tag) still hold for the
    message, so a release that ignored them would send protected information unencrypted. Rules that were
    decisive only because the S/MIME fallback turned their encryption into a hold still ask for encryption.
    Pure, like ``decide``; monitor hits carry over (they shape the fields a tag adds)."""
    encrypt_rules = {r.id for r in policy.rules if r.action == "encrypt"}
    lesser = [h for h in decision.outranked if h.action < Action.QUARANTINE]
    lesser += [replace(h, action=Action.ENCRYPT) for h in decision.hits
               if h.rule_id in encrypt_rules and h.action >= Action.QUARANTINE]
    if not lesser:
        return Decision(Action.PASS, monitor=decision.monitor)
    action = max(h.action for h in lesser)
    mode = policy.encrypt.mode if action is Action.ENCRYPT and policy.encrypt.mode != "reject" else None
    return Decision(
        action=action,
        hits=tuple(h for h in lesser if h.action == action),
        monitor=decision.monitor,
        encrypt_mode=mode,
        outranked=tuple(h for h in lesser if h.action != action),
    )
