"""The ``X-DLP-*`` fields added to relayed mail: what downstream systems act on, and nothing an outsider may read.

One DATA reaches every recipient, so the full fields (decision, rule ids, sensitivity, entity counts) are added
only when every recipient is internal: to anyone else they say what was detected in the message. The ``tag``
action always adds one configured field with an opaque value, for the next hop to act on and then strip
(docs/deploy.md has the Postfix ``header_checks``). ``headers.full_headers: always`` restores the full fields on
all mail for deployments whose next hop strips them before anything leaves.

Types and counts only, never matched values. Values are stripped of CR/LF and other control characters so a
field can never be split.
"""

from __future__ import annotations

from collections import Counter

from gateway.config import HeaderSettings
from gateway.facts import ScanResult
from gateway.oneline import one_line
from gateway.policy.model import Action, Decision

_MAX_VALUE = 900
"""Keeps every header line under the RFC 5322 limit of 998 characters without folding."""


def dlp_headers(decision: Decision, facts: ScanResult) -> list[tuple[str, str]]:
    """The full fields: decision, rules, sensitivity, entity counts and monitor-mode rules."""
    counts = Counter(f.entity for f in facts.findings)
    entities = ", ".join(f"{entity}={n}" for entity, n in sorted(counts.items())) or "none"
    headers = [
        ("X-DLP-Decision", decision.action.label),
        ("X-DLP-Rules", ", ".join(decision.rule_ids) or "none"),
        ("X-DLP-Sensitivity", facts.sensitivity.label),
        ("X-DLP-Entities", entities),
    ]
    if decision.monitor:
        headers.append(("X-DLP-Monitor", ", ".join(h.rule_id for h in decision.monitor)))
    return [(name, one_line(value, _MAX_VALUE)) for name, value in headers]


def all_internal(facts: ScanResult) -> bool:
    """Every recipient is internal (no recipients known counts as not: the safe answer)."""
    return bool(facts.recipients) and all(r.cls == "internal" for r in facts.recipients)


def outgoing_headers(decision: Decision, facts: ScanResult, settings: HeaderSettings) -> list[tuple[str, str]]:
    """The fields to prepend to a relayed message for this decision and these recipients."""
    headers: list[tuple[str, str]] = []
    if decision.action == Action.TAG:
        headers.append((settings.tag_header, settings.tag_value))
    if (decision.action >= Action.TAG or decision.monitor) and (
        settings.full_headers == "always" or all_internal(facts)
    ):
        headers.extend(dlp_headers(decision, facts))
    return headers
