"""Incident triage (issue 15): the incidents page (filter by status, rule, sensitivity and age; breach clocks
with overdue items first and highlighted), an incident's page (rules with clauses, redacted evidence, the held
message if any, history, the next steps of the flow), a CSV export and a printable page per incident.

Filters are in the address: they are statuses, rule ids, a sensitivity and hours, never personal data.
Incidents hold metadata and redacted evidence only, so every role may read them; marking needs a reviewer.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.console.web import Console, client_of, redirect
from gateway.store import Conflict, NotFound, acting_from
from gateway.store.export import CSV_FIELDS, csv_row
from gateway.store.records import STATUSES, BreachClock, allowed_next, breach_clock

if TYPE_CHECKING:
    from gateway.store import IncidentRecord

SENSITIVITIES = ("none", "personal", "special_category")
LIST_LIMIT = 200
SCAN_LIMIT = 5000
"""Incidents read for one page of the list: the newest ones (filters on rule and sensitivity apply to these)."""
STATUS_LABELS = {
    "new": "New",
    "near_miss": "Near miss",
    "false_positive": "False positive",
    "potential_breach": "Potential breach",
    "reported_internally": "Reported internally",
    "reported_to_ico": "Reported to the ICO",
    "not_reportable": "Not reportable",
    "closed": "Closed",
}


@dataclass(frozen=True)
class Row:
    incident: IncidentRecord
    clock: BreachClock | None


@dataclass(frozen=True)
class IncidentFilter:
    status: str | None = None
    rule: str | None = None
    sensitivity: str | None = None
    older_than_hours: float | None = None
    newer_than_hours: float | None = None

    @classmethod
    def parse(cls, params: dict[str, str]) -> IncidentFilter:
        def hours(key: str) -> float | None:
            try:
                value = float(params.get(key, ""))
            except ValueError:
                return None
            return value if 0 <= value < 100_000 else None

        status = params.get("status", "")
        sensitivity = params.get("sensitivity", "")
        return cls(
            status=status if status in STATUSES or status == "open" else None,
            rule=(params.get("rule") or "").strip()[:100] or None,
            sensitivity=sensitivity if sensitivity in SENSITIVITIES else None,
            older_than_hours=hours("older_than_hours"),
            newer_than_hours=hours("newer_than_hours"),
        )

    def keep(self, r: IncidentRecord) -> bool:
        if self.rule and self.rule not in {str(x["rule_id"]) for x in r.rules}:
            return False
        return not (self.sensitivity and r.sensitivity != self.sensitivity)


OPEN = ("new", "potential_breach", "reported_internally")


def ordered(records: list[IncidentRecord], now: datetime) -> list[Row]:
    """Overdue clocks first, then running clocks (nearest deadline first), then the rest newest first."""
    rows = [Row(r, breach_clock(r.status, r.deadline_at, now)) for r in records]
    clocked = [(x, x.clock) for x in rows if x.clock is not None]
    clocked.sort(key=lambda pair: (not pair[1].overdue, pair[1].due_at))
    return [x for x, _ in clocked] + [x for x in rows if x.clock is None]


def hours_text(hours: float) -> str:
    """``3 h 20 min``, ``2 d 4 h``: a countdown a person reads at a glance."""
    minutes = round(hours * 60)
    if minutes >= 48 * 60:
        return f"{minutes // 1440} d {minutes % 1440 // 60} h"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def routes(console: Console) -> list[Route]:
    store = console.store
    console.templates.env.globals["hours_text"] = hours_text
    console.templates.env.globals["tz_name"] = console.tz.key

    async def load(ref: str) -> IncidentRecord:
        record = await store.get_incident(ref)
        if record is None:
            raise HTTPException(404, "No incident has that reference.")
        return record

    async def select(flt: IncidentFilter) -> list[IncidentRecord]:
        now = store.clock()
        statuses = list(OPEN) if flt.status == "open" else [flt.status] if flt.status else None
        since = now - timedelta(hours=flt.newer_than_hours) if flt.newer_than_hours is not None else None
        until = now - timedelta(hours=flt.older_than_hours) if flt.older_than_hours is not None else None
        records = await store.list_incidents(since=since, until=until, statuses=statuses, limit=SCAN_LIMIT)
        return [r for r in records if flt.keep(r)]

    async def listing(request: Request) -> Response:
        viewer = await console.require(request)
        flt = IncidentFilter.parse(dict(request.query_params))
        records = await select(flt)
        now = store.clock()
        rows = ordered(records, now)
        return console.page(
            request, "incidents.html", viewer, rows=rows[:LIST_LIMIT], total=len(rows), flt=flt,
            statuses=STATUS_LABELS, rules=sorted(r.id for r in console.cfg.policy.rules),
            sensitivities=SENSITIVITIES, overdue=sum(1 for x in rows if x.clock and x.clock.overdue),
            query=request.url.query, now=now,
        )

    async def export(request: Request) -> Response:
        viewer = await console.require(request)
        flt = IncidentFilter.parse(dict(request.query_params))
        records = list(reversed(await select(flt)))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\r\n")
        writer.writeheader()
        for r in records:
            writer.writerow(csv_row(r))
        await store.record_access(
            "export", actor=viewer.name, reason="console CSV export", source=client_of(request),
            detail={"format": "csv", "count": len(records), "status": flt.status, "rule": flt.rule,
                    "sensitivity": flt.sensitivity},
        )
        return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="incidents.csv"',
                                 "Cache-Control": "no-store"})

    async def detail(request: Request) -> Response:
        viewer = await console.require(request)
        record = await load(request.path_params["ref"])
        return await _incident_page(console, request, viewer.name, record, "incident.html")

    async def printable(request: Request) -> Response:
        viewer = await console.require(request)
        record = await load(request.path_params["ref"])
        await store.record_access("print", actor=viewer.name, reason="printable incident report",
                                  reference=record.reference, source=client_of(request), detail={})
        return await _incident_page(console, request, viewer.name, record, "incident_print.html")

    async def mark(request: Request) -> Response:
        viewer = await console.require(request, "reviewer")
        form = await console.form(request)
        ref = request.path_params["ref"]
        await load(ref)
        status = form.get("status", "")
        note = form.get("note", "").strip()
        if len(note) < 5:
            console.flash(request, "Write a note (at least a few words): it goes in the audit trail.", "error")
            return redirect(f"/incidents/{ref}")
        try:
            with acting_from(client_of(request)):
                record = await store.mark_incident(ref, status, actor=viewer.name, reason=note[:2000])
        except (Conflict, NotFound) as exc:
            console.flash(request, str(exc), "error")
            return redirect(f"/incidents/{ref}")
        console.flash(request, f"{ref} is now {STATUS_LABELS.get(record.status, record.status).lower()}.")
        return redirect(f"/incidents/{ref}")

    return [
        Route("/incidents", listing, methods=["GET"]),
        Route("/incidents.csv", export, methods=["GET"]),
        Route("/incidents/{ref:str}", detail, methods=["GET"]),
        Route("/incidents/{ref:str}/print", printable, methods=["GET"]),
        Route("/incidents/{ref:str}/mark", mark, methods=["POST"]),
    ]


async def _incident_page(console: Console, request: Request, viewer_name: str, record: IncidentRecord,
                         template: str) -> Response:
    store = console.store
    viewer = await console.viewer(request)
    trail, _ = await store.audit_page(reference=record.reference, limit=100)
    held = await store.get_quarantined(record.reference) if record.quarantined else None
    now = store.clock()
    return console.page(
        request, template, viewer, inc=record, clock=breach_clock(record.status, record.deadline_at, now),
        next_statuses=allowed_next(record.status), statuses=STATUS_LABELS, held=held,
        history=list(reversed(trail)), printed_by=viewer_name, now=now,
    )
