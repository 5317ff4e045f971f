"""What an incident keeps, its status, and the records read back: pure functions of (submission, scan,
decision) so the privacy rule ("redacted evidence only, never matched text") is tested without a database,
and plain frozen dataclasses so the CLI, the digest and the notices never see a database row."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from detectors.findings import Finding
from gateway.facts import ScanResult
from gateway.oneline import one_line
from gateway.policy.model import Decision, RuleHit
from gateway.store.filenames import redact_filename, redact_location, redact_names_in
from gateway.submission import Submission

Status = Literal[
    "new", "near_miss", "false_positive", "potential_breach", "reported_internally", "reported_to_ico",
    "not_reportable", "closed",
]
STATUSES: tuple[Status, ...] = (
    "new", "near_miss", "false_positive", "potential_breach", "reported_internally", "reported_to_ico",
    "not_reportable", "closed",
)
TRANSITIONS: dict[str, tuple[Status, ...]] = {
    "new": ("near_miss", "false_positive", "potential_breach"),
    "near_miss": ("closed",),
    "false_positive": ("closed",),
    "potential_breach": ("reported_internally",),
    "reported_internally": ("reported_to_ico", "not_reportable"),
    "reported_to_ico": ("closed",),
    "not_reportable": ("closed",),
    "closed": (),
}
"""Triage (issue 15): ``new`` → ``near_miss`` | ``false_positive`` | ``potential_breach``; a potential breach is
reported internally, then to the ICO or judged not reportable; every branch ends in ``closed``."""
MARKABLE: tuple[Status, ...] = STATUSES[1:]
"""Every status but ``new`` can be reached by a mark (each only from the statuses ``TRANSITIONS`` allows)."""
LEGACY_STATUSES: dict[str, Status] = {"released": "closed", "confirmed_breach": "reported_internally"}
"""Statuses before revision 0005 and where migration ``r0005_governance`` puts them."""

REPORTING_WINDOW = timedelta(hours=24)
"""IA 5.3: suspected breaches reach the Information Assurance team within 24 hours of becoming aware."""
ICO_WINDOW = timedelta(hours=72)
"""UK GDPR art. 33: a reportable breach reaches the ICO within 72 hours of becoming aware."""


def allowed_next(status: str) -> tuple[Status, ...]:
    return TRANSITIONS.get(status, ())


@dataclass(frozen=True)
class BreachClock:
    """The deadline a potential breach is running against now (internal, then ICO), from when it was known."""

    kind: Literal["internal", "ico"]
    due_at: datetime
    hours_left: float

    @property
    def overdue(self) -> bool:
        return self.hours_left < 0


def breach_clock(status: str, deadline_at: datetime | None, now: datetime) -> BreachClock | None:
    """``deadline_at`` is the 24-hour internal deadline, set when the breach became known; the ICO's 72 hours
    run from the same moment and apply once it has been reported internally (judged reportable or not yet)."""
    if deadline_at is None:
        return None
    if status == "potential_breach":
        return BreachClock("internal", deadline_at, (deadline_at - now).total_seconds() / 3600)
    if status == "reported_internally":
        due = deadline_at - REPORTING_WINDOW + ICO_WINDOW
        return BreachClock("ico", due, (due - now).total_seconds() / 3600)
    return None


MAX_EXAMPLES = 5
"""Redacted examples kept per entity type: enough to recognise the item, not a copy of the data."""


def format_reference(number: int, year: int) -> str:
    return f"INC-{year:04d}-{number:06d}"


def incident_status(decision: Decision, *, delivered: bool) -> Status:
    """Every incident starts ``new`` and waits for triage. A monitor-mode rule changes nothing (issue 15): what
    it would have done is recorded in ``rules`` for the trends page, and never makes a potential breach or an
    alert on its own; a person's triage does."""
    return "new"


def deadline_for(status: str, aware_at: datetime) -> datetime | None:
    return aware_at + REPORTING_WINDOW if status == "potential_breach" else None


def rule_entries(decision: Decision) -> list[dict[str, Any]]:
    def entry(h: RuleHit) -> dict[str, Any]:
        return {
            "rule_id": h.rule_id,
            "clause": h.clause,
            "action": h.action.label,
            "mode": h.mode,
            "description": h.description,
        }

    # Outranked rules fired too (a less severe action lost to the winner): kept so reviewers see every reason.
    return (
        [entry(h) for h in decision.hits]
        + [entry(h) | {"mode": "outranked"} for h in decision.outranked]
        + [entry(h) | {"mode": "monitor"} for h in decision.monitor]
    )


def clause_list(decision: Decision) -> list[str]:
    return sorted({h.clause for h in (*decision.hits, *decision.monitor) if h.clause})


def summarise_findings(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    """Per entity type: count, locations, detectors, best score and a few redacted examples. Reads
    ``Finding.redacted`` only; ``Finding.text`` is never touched, even when a caller asked to reveal it."""

    @dataclass
    class Acc:
        count: int = 0
        max_score: float = 0.0
        locations: dict[str, int] = field(default_factory=dict)
        detectors: set[str] = field(default_factory=set)
        examples: list[str] = field(default_factory=list)

    accs: dict[str, Acc] = {}
    for f in findings:
        acc = accs.setdefault(f.entity, Acc())
        acc.count += 1
        acc.max_score = max(acc.max_score, f.score)
        location = redact_location(f.location)  # locations name attachments: masked like the names
        acc.locations[location] = acc.locations.get(location, 0) + 1
        acc.detectors.add(f.detector)
        red = one_line(f.redacted, 120)
        if red and red not in acc.examples and len(acc.examples) < MAX_EXAMPLES:
            acc.examples.append(red)
    return [
        {
            "entity": entity,
            "count": acc.count,
            "max_score": round(acc.max_score, 3),
            "locations": [{"location": loc, "count": n} for loc, n in acc.locations.items()],
            "detectors": sorted(acc.detectors),
            "redacted": acc.examples,
        }
        for entity, acc in sorted(accs.items())
    ]


def incident_values(
    sub: Submission,
    scan: ScanResult,
    decision: Decision,
    *,
    reference: str,
    node: str,
    now: datetime,
    delivered: bool,
    quarantined: bool,
    upstream_reply: str | None,
) -> dict[str, Any]:
    """The incident row. Everything is metadata: envelope, classes, rule ids, entity types and redacted
    evidence, masked attachment names (gateway/store/filenames.py) and types; never the subject, the body or a
    matched value."""
    status = incident_status(decision, delivered=delivered)
    classes = {r.address.lower(): r.cls for r in scan.recipients}
    names = [a.name for a in scan.attachments] + [p for a in scan.attachments for p in a.name.split("/")]
    recipients: list[dict[str, Any]] = [
        {"address": one_line(a), "class": classes.get(a.lower(), "external")} for a in sub.rcpt_tos
    ] or [{"address": one_line(r.address), "class": r.cls} for r in scan.recipients]
    # Issue 16: which recipients were not on the message's case, or written to for the first time (flags on the
    # envelope data already here; nothing of the case itself).
    not_on_case = {a.lower() for a in scan.case_unlinked}
    first_time = {a.lower() for a in scan.first_time} if scan.first_time_known else set()
    for entry in recipients:
        if entry["address"].lower() in not_on_case:
            entry["not_on_case"] = True
        if entry["address"].lower() in first_time:
            entry["first_time"] = True

    return {
        "reference": reference,
        "created_at": now,
        "received_at": sub.received_at,
        "node": one_line(node, 255),
        "txn_id": one_line(sub.txn_id, 64),
        "peer": one_line(sub.peer, 64),
        "auth_user": one_line(sub.auth_user, 255) if sub.auth_user else None,
        "sender": one_line(sub.mail_from),
        "recipients": recipients,
        "action": decision.action.label,
        "encrypt_mode": decision.encrypt_mode,
        "rules": rule_entries(decision),
        "clauses": clause_list(decision),
        "sensitivity": scan.sensitivity.label,
        "entities": summarise_findings(scan.findings),
        "unscannable": [
            {"location": one_line(redact_location(u.location)), "reason": u.reason,
             "detail": one_line(redact_names_in(u.detail, names), 200)}
            for u in scan.unscannable
        ],
        "attachments": [
            {
                "name": one_line(redact_filename(a.name), 255),
                "location": one_line(redact_location(a.location)),
                "content_type": one_line(a.content_type, 128),
                "declared_type": one_line(a.declared_type, 128),
                "size": a.size,
            }
            for a in scan.attachments
        ],
        "message_id": one_line(scan.message_id, 998) if scan.message_id else None,
        "size": scan.size or sub.size,
        "forwarded": scan.forwarded,
        "encrypted": scan.encrypted,
        "delivered": delivered,
        "quarantined": quarantined,
        "upstream_reply": one_line(upstream_reply) if upstream_reply else None,
        "status": status,
        "deadline_at": deadline_for(status, now),
        "status_changed_at": now,
    }


ENTITY_LABELS: dict[str, str] = {
    "PERSON": "person's name",
    "EMAIL_ADDRESS": "email address",
    "PHONE_NUMBER": "phone number",
    "UK_NHS": "NHS number",
    "UK_NINO": "National Insurance number",
    "UK_POSTCODE": "postcode",
    "UK_PASSPORT": "passport number",
    "UK_DRIVING_LICENCE": "driving licence number",
    "CREDIT_CARD": "payment card number",
    "IBAN_CODE": "IBAN",
    "LOCATION": "place",
    "UK_FAMILY_CASE_NUMBER": "family court case number",
    "UK_COURT_CASE_NUMBER": "court or tribunal case number",
    "DATE_OF_BIRTH": "date of birth",
    "AGE": "age",
    "UK_BANK_ACCOUNT": "bank account number",
    "UK_STREET_ADDRESS": "street address",
    "SPECIAL_CATEGORY": "special-category information",
    "PROTECTIVE_MARKING": "protective marking",
}


def entity_label(entity: str) -> str:
    return ENTITY_LABELS.get(entity, entity.replace("_", " ").lower())


# ------------------------------------------------------------------------------------------------ read back


@dataclass(frozen=True)
class IncidentRecord:
    """One incident row as its readers use it (CLI, digest, alerts); its fields are the ``incidents`` columns."""

    id: int
    reference: str
    created_at: datetime
    received_at: datetime
    node: str
    txn_id: str
    peer: str
    auth_user: str | None
    sender: str
    recipients: list[dict[str, str]]
    action: str
    encrypt_mode: str | None
    rules: list[dict[str, Any]]
    clauses: list[str]
    sensitivity: str
    entities: list[dict[str, Any]]
    unscannable: list[dict[str, Any]]
    attachments: list[dict[str, Any]]
    message_id: str | None
    size: int
    forwarded: bool
    encrypted: bool
    delivered: bool
    quarantined: bool
    upstream_reply: str | None
    status: str
    deadline_at: datetime | None
    status_changed_at: datetime
    alert_attempt_at: datetime | None
    alerted_at: datetime | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> IncidentRecord:
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})

    @property
    def monitor_rules(self) -> list[dict[str, Any]]:
        return [r for r in self.rules if r.get("mode") == "monitor"]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (the export and ``--json`` output): no database id, times as ISO 8601."""
        out = dataclasses.asdict(self)
        out.pop("id")
        for key, value in out.items():
            if isinstance(value, datetime):
                out[key] = value.isoformat()
        return out


@dataclass(frozen=True)
class QuarantineRecord:
    """A held message's metadata with its incident; never the bytes (``Store.reveal_message`` audits those)."""

    reference: str
    stored_at: datetime
    state: str
    state_changed_at: datetime
    state_by: str | None
    mail_from: str
    rcpt_tos: list[str]
    size: int
    sha256: str
    encryption: str
    release_reply: str | None
    purged_at: datetime | None
    incident: IncidentRecord
    route: dict[str, Any] | None = None
    """Where the gateway delivered when it held the message (``schema.quarantine``); None before revision 0002."""
    release_plan: dict[str, Any] | None = None
    """What a release must still do (the outranked actions); None before revision 0002."""
    released_to: list[str] | None = None
    """Recipients a release to chosen recipients already sent it to (revision 0006); None: none chosen so far."""
    rejected_to: list[str] | None = None
    """Recipients the reviewer refused when releasing to the others (revision 0006)."""

    @property
    def has_message(self) -> bool:
        return self.purged_at is None

    @property
    def undecided(self) -> list[str]:
        """The recipients a release may still send to: never one it already went to, nor one refused."""
        done = set(self.released_to or ()) | set(self.rejected_to or ())
        return [r for r in self.rcpt_tos if r not in done]


@dataclass(frozen=True)
class AuditRecord:
    """One line of the audit trail: who did what to which reference, when and why."""

    at: datetime
    actor: str
    node: str
    event: str
    reference: str | None
    old_status: str | None
    new_status: str | None
    reason: str | None
    detail: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> AuditRecord:
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})
