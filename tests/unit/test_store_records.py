"""Pure parts of the store: incident status, what an incident keeps, references."""

from __future__ import annotations

import json
from datetime import UTC, datetime

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
    ("decision", "delivered"),
    [
        (monitor_decision(Action.QUARANTINE), True),
        (monitor_decision(Action.REJECT), True),
        (monitor_decision(Action.ENCRYPT), True),
        (monitor_decision(Action.TAG), True),
        (monitor_decision(Action.QUARANTINE), False),
        (monitor_decision(Action.QUARANTINE, action=Action.ENCRYPT), True),
        (Decision(Action.REJECT, hits=(hit("r", Action.REJECT),)), False),
        (Decision(Action.TAG, hits=(hit("t", Action.TAG),)), True),
    ],
)
def test_incident_status(decision: Decision, delivered: bool) -> None:
    """Every incident starts ``new`` for triage: a monitor-mode hit changes nothing (issue 15), so it never
    makes a potential breach (nor its alert) on its own."""
    assert incident_status(decision, delivered=delivered) == "new"


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
    assert values["status"] == "new"
    assert values["deadline_at"] is None
    assert values["recipients"] == [
        {"address": "someone@gmail.com", "class": "freemail"},
        {"address": "bob@cafcass.gov.uk", "class": "internal"},
    ]
    assert values["clauses"] == ["IA 4.3"]
    assert [a["name"] for a in values["attachments"]] == ["r*****.pdf", "o**.zip"]  # names masked (issue 13)
    assert values["unscannable"][0]["reason"] == "encrypted"


def test_monitor_hit_is_recorded_without_a_deadline() -> None:
    """A monitor hit is kept for the trends page (its rule in ``rules``), with no breach clock."""
    sub = make_submission()
    values = incident_values(sub, make_scan(sub), monitor_decision(), reference="INC-2026-000002",
                             node="node-a", now=NOW, delivered=True, quarantined=False, upstream_reply="250 ok")
    assert values["status"] == "new"
    assert values["deadline_at"] is None
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
