"""``dlpgate incidents list|show|mark|export``: near misses and potential breaches for the governance team.

Incidents hold envelope addresses, attachment names and redacted evidence (``NHS *** *** 5919``), never
message content, so nothing here needs ``--reveal``. Status changes and exports are recorded in the audit trail.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.cli import add_config_argument
from gateway.commands.storecli import (
    actor_of,
    add_actor_arguments,
    fmt_time,
    local_tz,
    note_of,
    parse_moment,
    run_with_store,
    safe,
)
from gateway.notify.formats import fmt_hours
from gateway.store.export import CSV_FIELDS, csv_row
from gateway.store.records import MARKABLE, STATUSES, TRANSITIONS, breach_clock

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from gateway.config import Config
    from gateway.store import IncidentRecord, Store

ACTIONS = ("pass", "tag", "encrypt", "quarantine", "reject")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("incidents", help="list, inspect, mark and export incident records")
    sub = parser.add_subparsers(dest="incidents_command", required=True, metavar="ACTION")

    def filters(p: argparse.ArgumentParser, limit: int | None) -> None:
        p.add_argument("--since", metavar="WHEN", help="YYYY-MM-DD (local), YYYY-MM-DDTHH:MM, or 7d / 24h")
        p.add_argument("--until", metavar="WHEN", help="same forms; exclusive")
        p.add_argument("--status", action="append", choices=STATUSES, help="only these statuses (repeatable)")
        p.add_argument("--action", action="append", choices=ACTIONS, help="only these actions (repeatable)")
        p.add_argument("--limit", type=int, default=limit, help=f"most rows (default {limit or 'all'})")

    p = sub.add_parser("list", help="incidents, newest first")
    add_config_argument(p)
    filters(p, 50)
    p.add_argument("--json", action="store_true", help="JSON Lines instead of a table")
    p.set_defaults(func=run)

    p = sub.add_parser("show", help="one incident with its audit trail")
    add_config_argument(p)
    p.add_argument("reference")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)

    flow = "; ".join(f"{k} -> {'|'.join(v)}" for k, v in TRANSITIONS.items() if v)
    p = sub.add_parser("mark", help="one step of triage, with a note (--reason): " + flow)
    add_config_argument(p)
    p.add_argument("reference")
    p.add_argument("status", choices=MARKABLE)
    add_actor_arguments(p, reason_required=True)
    p.set_defaults(func=run)

    p = sub.add_parser("export", help="incidents as CSV or JSON (oldest first)")
    add_config_argument(p)
    filters(p, None)
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout (created owner-only)")
    add_actor_arguments(p, reason_required=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    handlers = {"list": _list, "show": _show, "mark": _mark, "export": _export}
    handler = handlers[args.incidents_command]
    return run_with_store(args, lambda cfg, store: handler(args, cfg, store))


def _window(args: argparse.Namespace, cfg: Config, now: datetime) -> tuple[datetime | None, datetime | None]:
    tz = local_tz(cfg)
    since = parse_moment(args.since, tz, now) if args.since else None
    until = parse_moment(args.until, tz, now) if args.until else None
    return since, until


async def _select(args: argparse.Namespace, cfg: Config, store: Store, *, newest_first: bool) -> list[IncidentRecord]:
    since, until = _window(args, cfg, store.clock())
    return await store.list_incidents(
        since=since, until=until, statuses=args.status, actions=args.action, limit=args.limit,
        newest_first=newest_first,
    )


async def _list(args: argparse.Namespace, cfg: Config, store: Store) -> int:
    try:
        records = await _select(args, cfg, store, newest_first=True)
    except argparse.ArgumentTypeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        for r in records:
            print(json.dumps(r.as_dict()))
        return 0
    if not records:
        print("no incidents")
        return 0
    tz = local_tz(cfg)
    now = store.clock()
    print(f"{'REFERENCE':<16} {'TIME':<16} {'ACTION':<10} {'STATUS':<17} {'SENDER':<30} {'RCPTS':>5}  RULES")
    for r in records:
        rules = ",".join(x["rule_id"] + ("*" if x.get("mode") == "monitor" else "") for x in r.rules)
        status = r.status
        clock = breach_clock(r.status, r.deadline_at, now)
        if clock:
            status += f" {fmt_hours(clock.hours_left)}"
        print(
            f"{r.reference:<16} {fmt_time(r.created_at, tz):<16} {r.action:<10} {status:<17} "
            f"{safe(r.sender or '<>')[:30]:<30} {len(r.recipients):>5}  {safe(rules)}"
        )
    print("(* monitor-mode rule)")
    return 0


def describe(r: IncidentRecord, tz: ZoneInfo, now: datetime) -> list[str]:
    deadline = ""
    clock = breach_clock(r.status, r.deadline_at, now)
    if clock:
        left = clock.hours_left
        when = f"OVERDUE by {fmt_hours(-left)}" if left < 0 else f"{fmt_hours(left)} left"
        deadline = f"{'the ICO' if clock.kind == 'ico' else 'the IA team'} by {fmt_time(clock.due_at, tz)} ({when})"
    lines = [
        f"Reference:    {r.reference}",
        f"Time:         {fmt_time(r.created_at, tz)} ({tz.key}), node {safe(r.node)}, client {safe(r.peer)}"
        + (f", user {safe(r.auth_user)}" if r.auth_user else ""),
        f"Status:       {r.status}" + (f"; report to {deadline}" if deadline else ""),
        f"Action:       {r.action}" + (f" ({r.encrypt_mode})" if r.encrypt_mode else "")
        + ("; delivered" if r.delivered else "; not delivered") + ("; quarantined" if r.quarantined else ""),
        f"Sender:       {safe(r.sender or '<>')}",
        "Recipients:   " + ", ".join(f"{safe(x['address'])} ({x['class']})" for x in r.recipients),
        f"Sensitivity:  {r.sensitivity}",
        "Rules:",
        *(f"  {x['rule_id']} ({x['clause']}, {x['mode']}, {x['action']})" for x in r.rules),
        "Clauses:      " + (", ".join(r.clauses) or "-"),
        "Detected:",
        *(
            f"  {e['entity']} x{e['count']} in {', '.join(safe(loc['location']) for loc in e['locations'])}"
            f" e.g. {'; '.join(safe(x) for x in e['redacted']) or '-'}"
            for e in r.entities
        ),
    ]
    if r.unscannable:
        lines.append("Unscannable:  " + ", ".join(f"{safe(u['location'])} ({u['reason']})" for u in r.unscannable))
    lines += [
        "Attachments:  "
        + (", ".join(f"{safe(a['name'])} ({a['content_type']}, {a['size']} bytes)" for a in r.attachments) or "-"),
        f"Message-ID:   {safe(r.message_id or '-')}",
        f"Size:         {r.size} bytes",
    ]
    if r.upstream_reply:
        lines.append(f"Upstream:     {safe(r.upstream_reply)}")
    return lines


async def _show(args: argparse.Namespace, cfg: Config, store: Store) -> int:
    record = await store.get_incident(args.reference)
    if record is None:
        print(f"error: {args.reference}: no such incident", file=sys.stderr)
        return 1
    entries = await store.audit_entries(reference=record.reference)
    if args.json:
        audit = [{"at": a.at.isoformat(), "actor": a.actor, "event": a.event, "old": a.old_status,
                  "new": a.new_status, "reason": a.reason} | dict(a.detail or {}) for a in entries]
        print(json.dumps(record.as_dict() | {"audit": audit}))
        return 0
    tz = local_tz(cfg)
    print("\n".join(describe(record, tz, store.clock())))
    if entries:
        print("Audit:")
        for a in entries:
            change = f" {a.old_status} -> {a.new_status}" if a.new_status else ""
            why = f": {safe(a.reason)}" if a.reason else ""
            note = (a.detail or {}).get("note")
            by = f" (note: {safe(note)})" if note else ""
            print(f"  {fmt_time(a.at, tz)}  {safe(a.actor)}{by}  {a.event}{change}{why}")
    return 0


async def _mark(args: argparse.Namespace, cfg: Config, store: Store) -> int:
    before = await store.get_incident(args.reference)
    record = await store.mark_incident(args.reference, args.status, actor=actor_of(args), reason=args.reason,
                                       note=note_of(args))
    print(f"{record.reference}: {before.status if before else '?'} -> {record.status}")
    return 0


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


async def _export(args: argparse.Namespace, cfg: Config, store: Store) -> int:
    try:
        records = await _select(args, cfg, store, newest_first=False)
    except argparse.ArgumentTypeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    buf = io.StringIO()
    if args.format == "json":
        json.dump([r.as_dict() for r in records], buf, indent=1)
        buf.write("\n")
    else:
        writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\r\n")
        writer.writeheader()
        for r in records:
            writer.writerow(csv_row(r))
    await store.record_access(
        "export",
        actor=actor_of(args),
        note=note_of(args),
        reason=args.reason,
        detail={"format": args.format, "count": len(records), "since": args.since, "until": args.until,
                "status": args.status, "to": "file" if args.output else "stdout"},
    )
    if args.output:
        path = Path(args.output)
        await asyncio.to_thread(_write_private, path, buf.getvalue())
        print(f"exported {len(records)} incident{'s' if len(records) != 1 else ''} to {path}", file=sys.stderr)
    else:
        sys.stdout.write(buf.getvalue())
    return 0
