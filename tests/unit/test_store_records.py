"""Pure parts of the store: incident status, what an incident keeps, references."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from gateway.oneline import one_line
from gateway.policy.model import Action, Decision
from gateway.store.records import (
    entity_label,
    format_reference,
    incident_status,
    incident_values,
    summarise_findings,
)
from tests.store_fixtures import (
    NHS_NUMBER,
    assert_no_secrets,
    findings,
    hit,
    make_scan,
    make_submission,
    monitor_decision,
    quarantine_decision,
)

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def test_reference_format() -> None:
    """References read INC-YEAR-NNNNNN and keep growing past six digits."""
    assert format_reference(123, 2026) == "INC-2026-000123"
    assert format_reference(1234567, 2027) == "INC-2027-1234567"


@pytest.mark.parametrize(
    ("decision", "delivered", "expected"),
    [
        (monitor_decision(Action.QUARANTINE), True, "potential_breach"),
        (monitor_decision(Action.REJECT), True, "potential_breach"),
        (monitor_decision(Action.ENCRYPT), True, "potential_breach"),
        (monitor_decision(Action.TAG), True, "near_miss"),
        (monitor_decision(Action.QUARANTINE), False, "near_miss"),
        (monitor_decision(Action.ENCRYPT, action=Action.ENCRYPT), True, "near_miss"),
        (monitor_decision(Action.QUARANTINE, action=Action.ENCRYPT), True, "potential_breach"),
        (Decision(Action.REJECT, hits=(hit("r", Action.REJECT),)), False, "near_miss"),
        (Decision(Action.TAG, hits=(hit("t", Action.TAG),)), True, "near_miss"),
    ],
)
def test_incident_status(decision: Decision, delivered: bool, expected: str) -> None:
    """A delivered message is a potential breach only if a monitor rule would have encrypted or stopped it."""
    assert incident_status(decision, delivered=delivered) == expected


def test_findings_summary_keeps_redacted_never_text() -> None:
    """Entity summaries carry counts, locations and redacted forms; the matched text never gets in."""
    summary = summarise_findings(findings())
    blob = json.dumps(summary)
    assert_no_secrets(blob, "findings summary")
    assert NHS_NUMBER not in blob
    person = next(e for e in summary if e["entity"] == "PERSON")
    assert person["count"] == 2
    assert person["redacted"] == ["P******** O*******", "M****** O*******"]
    assert person["locations"] == [{"location": "body", "count": 2}]
    nhs = next(e for e in summary if e["entity"] == "UK_NHS")
    assert nhs["redacted"] == ["NHS *** *** 5919"]


def test_incident_values_are_metadata_only() -> None:
    """The incident row holds envelope, classes, rules, masked attachment names, redacted evidence; no subject or
    values."""
    sub = make_submission()
    values = incident_values(sub, make_scan(sub), quarantine_decision(), reference="INC-2026-000001",
                             node="node-a", now=NOW, delivered=False, quarantined=True, upstream_reply=None)
    assert_no_secrets(json.dumps(values, default=str), "incident row")
    assert values["status"] == "near_miss"
    assert values["deadline_at"] is None
    assert values["recipients"] == [
        {"address": "someone@gmail.com", "class": "freemail"},
        {"address": "bob@cafcass.gov.uk", "class": "internal"},
    ]
    assert values["clauses"] == ["IA 4.3"]
    assert [a["name"] for a in values["attachments"]] == ["r*****.pdf", "o**.zip"]  # names masked (issue 13)
    assert values["unscannable"][0]["reason"] == "encrypted"


def test_potential_breach_gets_24_hour_deadline() -> None:
    """IA 5.3: a potential breach carries a deadline 24 hours after the gateway became aware of it."""
    sub = make_submission()
    values = incident_values(sub, make_scan(sub), monitor_decision(), reference="INC-2026-000002",
                             node="node-a", now=NOW, delivered=True, quarantined=False, upstream_reply="250 ok")
    assert values["status"] == "potential_breach"
    assert values["deadline_at"] == NOW + timedelta(hours=24)
    assert [r["mode"] for r in values["rules"]] == ["monitor"]


def test_one_line_strips_control_characters() -> None:
    """Header-derived values cannot carry CR/LF or terminal escapes into columns, headers or screens."""
    assert one_line("a\r\nb\x1b[31mc") == "a b [31mc"


def test_entity_label_falls_back_readably() -> None:
    """Unknown entity types still read as words in notices and digests."""
    assert entity_label("UK_NHS") == "NHS number"
    assert entity_label("NEW_THING") == "new thing"


def test_outranked_rules_are_recorded_with_their_mode() -> None:
    """Rules that fired but lost to a more severe action still reach the incident record, marked outranked."""
    from gateway.policy.model import RuleHit
    from gateway.store.records import rule_entries

    win = RuleHit("personal-address", "IA 4.3", Action.REJECT, "enforce", "r")
    lost = RuleHit("protected-info-unencrypted", "IA 4.5", Action.ENCRYPT, "enforce", "e")
    mon = RuleHit("watch", "IA 4.6", Action.QUARANTINE, "monitor", "m")
    entries = rule_entries(Decision(Action.REJECT, hits=(win,), outranked=(lost,), monitor=(mon,)))
    assert [(e["rule_id"], e["mode"]) for e in entries] == [
        ("personal-address", "enforce"), ("protected-info-unencrypted", "outranked"), ("watch", "monitor")]
