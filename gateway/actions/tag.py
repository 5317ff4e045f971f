"""``X-DLP-*`` headers that tell downstream systems (and the recipient's administrators) what was decided.

Types and counts only, never matched values: these headers travel with the message to places we do not
control. Values are stripped of CR/LF and other control characters so a header can never be split.
"""

from __future__ import annotations

from collections import Counter

from gateway.facts import ScanResult
from gateway.oneline import one_line
from gateway.policy.model import Decision

_MAX_VALUE = 900
"""Keeps every header line under the RFC 5322 limit of 998 characters without folding."""


def dlp_headers(decision: Decision, facts: ScanResult) -> list[tuple[str, str]]:
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
