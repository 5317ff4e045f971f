"""The daily governance digest's content: what the gateway stopped, held and let through under monitor on the
previous day, what is waiting for a decision, and which potential breaches are running down their 24-hour
clock. Sending it, once a day across nodes, is ``gateway.notify.digest``'s job.

Its audience is the governance team, so envelope addresses and attachment names appear; message content
(subjects, matched values, even redacted ones) never does. The numbers come from a pure function of incident
records (``build_digest``) so tests can pin them with a frozen clock.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from gateway.policy.model import Action
from gateway.store.records import breach_clock, entity_label

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.store import IncidentRecord, QuarantineRecord, Store
    from gateway.store.exemptions import ExceptionRecord

TREND_DAYS = 7


# ------------------------------------------------------------------------------------------------ time


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Local midnight to local midnight, as UTC instants (so that subtracting them gives real hours: 23 or 25
    on the days the clocks change; Python subtracts same-zone datetimes by wall clock)."""
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def previous_day(now: datetime, tz: ZoneInfo) -> date:
    return now.astimezone(tz).date() - timedelta(days=1)


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


# ------------------------------------------------------------------------------------------------ data


@dataclass(frozen=True)
class Count:
    key: str
    count: int


@dataclass(frozen=True)
class RuleCount:
    rule_id: str
    clause: str
    mode: str
    action: str
    count: int


@dataclass(frozen=True)
class EntityCount:
    entity: str
    label: str
    messages: int
    findings: int


@dataclass(frozen=True)
class HeldItem:
    reference: str
    stored_at: datetime
    age_hours: float
    state: str
    sender: str
    recipients: list[dict[str, str]]
    entities: list[str]
    attachments: list[str]
    rules: list[str]
    clauses: list[str]


@dataclass(frozen=True)
class BreachItem:
    reference: str
    created_at: datetime
    deadline_at: datetime | None
    hours_left: float | None
    overdue: bool
    sender: str
    recipients: list[dict[str, str]]
    entities: list[str]
    attachments: list[str]
    rules: list[str]
    clauses: list[str]
    status: str = "potential_breach"
    clock: str = "internal"
    """Which deadline runs: ``internal`` (24 hours to the IA team) or ``ico`` (72 hours to the ICO)."""


@dataclass(frozen=True)
class ExceptionItem:
    id: int
    sender: str
    recipient: str
    rules: list[str]
    state: str
    expires_at: datetime
    uses_total: int
    uses_day: int


@dataclass(frozen=True)
class RepeatSender:
    sender: str
    day_count: int
    window_count: int


@dataclass(frozen=True)
class TrendDay:
    day: date
    total: int
    by_action: dict[str, int]


@dataclass(frozen=True)
class DigestData:
    organisation: str
    day: date
    tz: ZoneInfo
    start: datetime
    end: datetime
    generated_at: datetime
    total: int
    by_action: list[Count]
    by_status: list[Count]
    by_rule: list[RuleCount]
    by_clause: list[Count]
    monitor_incidents: int
    by_entity: list[EntityCount]
    by_detector: list[Count]
    """Messages in which each recognizer fired: where to look for false positives."""
    by_recipient_class: list[Count]
    held: list[HeldItem]
    breaches: list[BreachItem]
    repeat_senders: list[RepeatSender]
    trend: list[TrendDay]
    """The previous seven days, oldest first."""
    trend_average: float
    trend_change_pct: float | None
    """The day against the seven-day average; None when that average is zero."""
    notes: list[str] = field(default_factory=list)
    exceptions: list[ExceptionItem] = field(default_factory=list)
    """Policy exceptions in force or awaiting approval (issue 15), with the messages they let through."""


def _counts(counter: Counter[str], order: Sequence[str] | None = None) -> list[Count]:
    if order is not None:
        return [Count(k, counter.get(k, 0)) for k in order] + [
            Count(k, n) for k, n in sorted(counter.items()) if k not in order
        ]
    return [Count(k, n) for k, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]


def _rule_ids(record: IncidentRecord) -> list[str]:
    suffix = {"monitor": " (monitor)", "outranked": " (outranked)"}
    return [f"{r['rule_id']}{suffix.get(r.get('mode', ''), '')}" for r in record.rules]


def build_digest(
    *,
    organisation: str,
    day: date,
    tz: ZoneInfo,
    now: datetime,
    incidents: Sequence[IncidentRecord],
    held: Sequence[QuarantineRecord],
    breaches: Sequence[IncidentRecord],
    repeat_threshold: int = 2,
) -> DigestData:
    """``incidents`` covers the day and the seven days before it; ``held`` and ``breaches`` are the open items
    as of ``now``. Pure: same inputs, same digest."""
    start, end = day_bounds(day, tz)
    by_day: dict[date, list[IncidentRecord]] = defaultdict(list)
    for rec in incidents:
        by_day[local_day(rec.created_at, tz)].append(rec)
    today = by_day.get(day, [])

    actions: Counter[str] = Counter(r.action for r in today)
    statuses: Counter[str] = Counter(r.status for r in today)
    clauses: Counter[str] = Counter()
    rules: Counter[tuple[str, str, str, str]] = Counter()
    entity_msgs: Counter[str] = Counter()
    entity_findings: Counter[str] = Counter()
    classes: Counter[str] = Counter()
    detectors: Counter[str] = Counter()
    monitor = 0
    for rec in today:
        for clause in rec.clauses:
            clauses[clause] += 1
        for r in rec.rules:
            rules[(r["rule_id"], r.get("clause", ""), r.get("mode", "enforce"), r.get("action", ""))] += 1
        if rec.monitor_rules:
            monitor += 1
        for e in rec.entities:
            entity_msgs[e["entity"]] += 1
            entity_findings[e["entity"]] += int(e["count"])
        for rc in rec.recipients:
            classes[rc["class"]] += 1
        for det in {d for e in rec.entities for d in e.get("detectors", [])}:
            detectors[det] += 1

    window_senders: Counter[str] = Counter(r.sender or "<>" for r in incidents if local_day(r.created_at, tz) <= day)
    day_senders: Counter[str] = Counter(r.sender or "<>" for r in today)
    repeat = [
        RepeatSender(sender, day_senders.get(sender, 0), n)
        for sender, n in window_senders.items()
        if n >= repeat_threshold and day_senders.get(sender, 0) > 0
    ]
    repeat.sort(key=lambda s: (-s.window_count, -s.day_count, s.sender))

    trend = []
    for back in range(TREND_DAYS, 0, -1):
        d = day - timedelta(days=back)
        recs = by_day.get(d, [])
        trend.append(TrendDay(d, len(recs), dict(Counter(r.action for r in recs))))
    average = sum(t.total for t in trend) / TREND_DAYS
    change = None if average == 0 else round((len(today) - average) / average * 100, 1)

    held_items = [
        HeldItem(
            reference=q.reference,
            stored_at=q.stored_at,
            age_hours=(now - q.stored_at).total_seconds() / 3600,
            state=q.state,
            sender=q.mail_from or "<>",
            recipients=q.incident.recipients,
            entities=[e["entity"] for e in q.incident.entities],
            attachments=[a["name"] for a in q.incident.attachments],
            rules=_rule_ids(q.incident),
            clauses=q.incident.clauses,
        )
        for q in sorted(held, key=lambda q: q.stored_at)
    ]
    breach_items = []
    for b in breaches:
        clock = breach_clock(b.status, b.deadline_at, now)
        breach_items.append(
            BreachItem(
                reference=b.reference,
                created_at=b.created_at,
                deadline_at=clock.due_at if clock else b.deadline_at,
                hours_left=clock.hours_left if clock else None,
                overdue=clock is not None and clock.overdue,
                sender=b.sender or "<>",
                recipients=b.recipients,
                entities=[e["entity"] for e in b.entities],
                attachments=[a["name"] for a in b.attachments],
                rules=_rule_ids(b),
                clauses=b.clauses,
                status=b.status,
                clock=clock.kind if clock else "internal",
            )
        )
    # Overdue first (issue 15), then the nearest deadline.
    breach_items.sort(key=lambda b: (not b.overdue, b.deadline_at or b.created_at))

    return DigestData(
        organisation=organisation,
        day=day,
        tz=tz,
        start=start,
        end=end,
        generated_at=now,
        total=len(today),
        by_action=_counts(actions, [a.label for a in Action]),
        by_status=_counts(statuses),
        by_rule=[
            RuleCount(rule_id, clause, mode, action, n)
            for (rule_id, clause, mode, action), n in sorted(rules.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        by_clause=_counts(clauses),
        monitor_incidents=monitor,
        by_entity=[
            EntityCount(e, entity_label(e), entity_msgs[e], entity_findings[e])
            for e in sorted(entity_msgs, key=lambda e: (-entity_msgs[e], e))
        ],
        by_detector=_counts(detectors),
        by_recipient_class=_counts(classes),
        held=held_items,
        breaches=breach_items,
        repeat_senders=repeat,
        trend=trend,
        trend_average=round(average, 1),
        trend_change_pct=change,
    )


def exception_items(
    records: Sequence[ExceptionRecord], uses_day: dict[int, int], now: datetime
) -> list[ExceptionItem]:
    """Pending ones and those in force, plus any that let a message through on the day (even if since expired)."""
    return [
        ExceptionItem(e.id, e.sender, e.recipient, list(e.rules),
                      "in force" if e.in_force(now) else "expired" if e.state == "approved" else e.state,
                      e.expires_at, e.uses, uses_day.get(e.id, 0))
        for e in records
        if e.state == "pending" or e.in_force(now) or uses_day.get(e.id)
    ]


async def collect_digest(cfg: Config, store: Store, day: date, now: datetime) -> DigestData:
    tz = ZoneInfo(cfg.gateway.digest.timezone)
    window_start, _ = day_bounds(day - timedelta(days=TREND_DAYS), tz)
    _, end = day_bounds(day, tz)
    incidents = await store.list_incidents(since=window_start, until=end, newest_first=False)
    held = await store.list_quarantine(states=("held", "releasing"))
    breaches = await store.list_incidents(statuses=["potential_breach", "reported_internally"],
                                          newest_first=False)
    data = build_digest(
        organisation=cfg.gateway.organisation.name,
        day=day,
        tz=tz,
        now=now,
        incidents=incidents,
        held=held,
        breaches=breaches,
        repeat_threshold=cfg.gateway.digest.repeat_sender_threshold,
    )
    start, day_end = day_bounds(day, tz)
    uses = await store.exception_uses_since(start, day_end)  # that day's uses only, also for a past day
    data.exceptions.extend(exception_items(await store.list_exceptions(), uses, now))
    return data
