"""``dlpgate quarantine list|show|release|reject|purge``: the governance team's view of held messages.

``show`` prints metadata only; the message itself needs ``--reveal`` and a reason, and that access is audited.
``release`` sends the stored message, unscanned, once: where the gateway delivered when it held it, with the
actions the policy still requires (encryption, header fields) unless ``--as-is`` (see ``gateway.notify.release``).
Every audit line names the operating-system user; ``--by`` is kept beside it as a note.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gateway.cli import add_config_argument
from gateway.commands.storecli import (
    actor_of,
    add_actor_arguments,
    fmt_time,
    local_tz,
    note_of,
    run_with_store,
    safe,
)
from gateway.notify.formats import fmt_hours
from gateway.notify.release import required_actions

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.store import QuarantineRecord, Store

STATES = ("held", "releasing", "released", "rejected", "expired")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("quarantine", help="list, inspect, release or reject held messages")
    sub = parser.add_subparsers(dest="quarantine_command", required=True, metavar="ACTION")

    p = sub.add_parser("list", help="held messages (default: awaiting a decision)")
    add_config_argument(p)
    p.add_argument("--state", action="append", choices=STATES, help="only these states (repeatable)")
    p.add_argument("--all", action="store_true", help="every state, including released and rejected")
    p.add_argument("--limit", type=int, default=100, help="most rows (default 100)")
    p.add_argument("--json", action="store_true", help="JSON Lines instead of a table")
    p.set_defaults(func=run)

    p = sub.add_parser("show", help="one held message's metadata (content only with --reveal)")
    add_config_argument(p)
    p.add_argument("reference")
    p.add_argument("--reveal", action="store_true", help="print the message itself (recorded in the audit trail)")
    p.add_argument("--json", action="store_true")
    add_actor_arguments(p, reason_required=False)
    p.set_defaults(func=run)

    p = sub.add_parser(
        "release", help="send a held message to its recipients once, with the encryption/tagging the policy requires"
    )
    add_config_argument(p)
    p.add_argument("reference")
    p.add_argument(
        "--force",
        action="store_true",
        help="release a message stuck in 'releasing' after a failed hand-over (may deliver it twice)",
    )
    p.add_argument(
        "--as-is",
        action="store_true",
        help="send the stored bytes unchanged, skipping the encryption or tagging the policy still requires "
        "(recorded with --reason)",
    )
    p.add_argument(
        "--upstream",
        metavar="URL",
        default=None,
        help="deliver through this next hop instead of the route recorded when the message was held "
        "(needed for messages held before routes were recorded)",
    )
    add_actor_arguments(p, reason_required=True)
    p.set_defaults(func=run)

    p = sub.add_parser("reject", help="decide a held message will not be sent")
    add_config_argument(p)
    p.add_argument("reference")
    add_actor_arguments(p, reason_required=True)
    p.set_defaults(func=run)

    p = sub.add_parser("purge", help="drop stored messages older than the retention period")
    add_config_argument(p)
    p.add_argument("--older-than", type=int, metavar="DAYS", default=None, help="default: store.retention_days")
    p.add_argument("--dry-run", action="store_true", help="list what would be purged")
    add_actor_arguments(p, reason_required=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    handlers = {"list": _list, "show": _show, "release": _release, "reject": _reject, "purge": _purge}
    handler = handlers[args.quarantine_command]
    if args.quarantine_command == "show" and args.reveal and not args.reason:
        print("error: --reveal needs --reason (the access is recorded)", file=sys.stderr)
        return 2
    if args.quarantine_command == "release" and args.upstream:
        from gateway.config import command_line_url

        args.upstream = command_line_url(args.upstream)
    return run_with_store(args, lambda cfg, store: handler(args, cfg, store))


def _summary(q: QuarantineRecord, now: datetime) -> dict[str, Any]:
    inc = q.incident
    return {
        "reference": q.reference,
        "state": q.state,
        "stored_at": q.stored_at.isoformat(),
        "age_hours": round((now - q.stored_at).total_seconds() / 3600, 2),
        "sender": q.mail_from,
        "recipients": inc.recipients,
        "size": q.size,
        "rules": [r["rule_id"] for r in inc.rules],
        "clauses": inc.clauses,
        "entities": [{"entity": e["entity"], "count": e["count"]} for e in inc.entities],
        "attachments": [{"name": a["name"], "content_type": a["content_type"]} for a in inc.attachments],
        "incident_status": inc.status,
        "has_message": q.has_message,
        "route": (q.route or {}).get("upstream"),
        "release_requires": required_actions(q),
    }


async def _list(args: argparse.Namespace, cfg: Config, store: Store) -> int:
    states = None if args.all else (args.state or ["held", "releasing"])
    records = await store.list_quarantine(states=states, limit=args.limit)
    if args.json:
        for q in records:
            print(json.dumps(_summary(q, store.clock())))
        return 0
    tz = local_tz(cfg)
    if not records:
        print("no messages")
        return 0
    print(f"{'REFERENCE':<16} {'STATE':<10} {'STORED':<16} {'AGE':>8}  {'SENDER':<32} {'RCPTS':>5}  RULES")
    for q in records:
        age = fmt_hours((store.clock() - q.stored_at).total_seconds() / 3600)
        rules = ",".join(r["rule_id"] for r in q.incident.rules)
        print(
            f"{q.reference:<16} {q.state:<10} {fmt_time(q.stored_at, tz):<16} {age:>8}  "
            f"{safe(q.mail_from or '<>')[:32]:<32} {len(q.rcpt_tos):>5}  {safe(rules)}"
        )
    return 0


async def _show(args: argparse.Namespace, cfg: Config, store: Store) -> int:
    q = await store.get_quarantined(args.reference)
    if q is None:
        print(f"error: {args.reference}: no quarantined message with that reference", file=sys.stderr)
        return 1
    if args.reveal:
        raw = await store.reveal_message(args.reference, actor=actor_of(args), reason=args.reason,
                                         note=note_of(args))
        sys.stdout.buffer.write(raw)
        sys.stdout.buffer.flush()
        return 0
    if args.json:
        print(json.dumps(_summary(q, store.clock()) | {"audit": [_audit_dict(a) for a in
                                                         await store.audit_entries(reference=q.reference)]}))
        return 0
    tz = local_tz(cfg)
    inc = q.incident
    lines = [
        f"Reference:    {q.reference}",
        f"State:        {q.state}" + (f" (by {safe(q.state_by)} at {fmt_time(q.state_changed_at, tz)})"
                                       if q.state_by else ""),
        f"Stored:       {fmt_time(q.stored_at, tz)} ({tz.key}), node {safe(inc.node)}",
        f"Incident:     {inc.status}",
        f"Sender:       {safe(q.mail_from or '<>')}",
        "Recipients:   " + ", ".join(f"{safe(r['address'])} ({r['class']})" for r in inc.recipients),
        f"Size:         {q.size} bytes; sha256 {q.sha256}; stored {q.encryption}",
        "Rules:        " + ", ".join(f"{r['rule_id']} ({r['clause']}, {r['mode']}, {r['action']})" for r in inc.rules),
        "Detected:     " + (", ".join(f"{e['entity']} x{e['count']}" for e in inc.entities) or "-"),
        "Attachments:  " + (", ".join(f"{safe(a['name'])} ({a['content_type']})" for a in inc.attachments) or "-"),
        f"Message:      {'stored' if q.has_message else 'purged'}; content not shown (use --reveal --reason ...)",
        f"Release:      {_describe_release(q)}",
    ]
    if q.release_reply:
        lines.append(f"Upstream:     {safe(q.release_reply)}")
    print("\n".join(lines))
    _print_audit(await store.audit_entries(reference=q.reference), tz)
    return 0


def _describe_release(q: QuarantineRecord) -> str:
    """What ``release`` will do, so a reviewer sees it before choosing ``--as-is``."""
    steps = required_actions(q)
    what = ", ".join(_STEP_WORDS.get(s, s) for s in steps) or "as stored"
    route = (q.route or {}).get("upstream")
    where = f"to {safe(route)}" if route else "route not recorded (release needs --upstream URL)"
    return f"{what}; {where}"


_STEP_WORDS = {
    "encrypt:subject_tag": "encrypt (subject_tag)",
    "encrypt:smime": "encrypt (smime)",
    "encrypt:smarthost": "encrypt (smarthost)",
    "headers": "add header fields",
}


def _audit_dict(a: Any) -> dict[str, Any]:
    """One audit line for ``--json``: the columns, plus the detail (``note`` from ``--by``, a release's route
    and the actions applied or skipped)."""
    return {"at": a.at.isoformat(), "actor": a.actor, "event": a.event, "old": a.old_status,
            "new": a.new_status, "reason": a.reason} | dict(a.detail or {})


def _print_audit(entries: list[Any], tz: Any) -> None:
    if not entries:
        return
    print("Audit:")
    for a in entries:
        change = f" {a.old_status} -> {a.new_status}" if a.new_status else ""
        why = f": {safe(a.reason)}" if a.reason else ""
        note = (a.detail or {}).get("note")
        by = f" (note: {safe(note)})" if note else ""
        print(f"  {fmt_time(a.at, tz)}  {safe(a.actor)}{by}  {a.event}{change}{why}")


async def _release(args: argparse.Namespace, cfg: Config, store: Store) -> int:
    from gateway.notify.release import release_held

    reply, target = await release_held(
        store, cfg, args.reference, actor=actor_of(args), reason=args.reason, note=note_of(args),
        as_is=args.as_is, upstream=args.upstream, force=args.force,
    )
    done = ", ".join(_STEP_WORDS.get(s, s) for s in target.applied) or "as stored"
    skipped = ", ".join(_STEP_WORDS.get(s, s) for s in target.skipped)
    print(f"{args.reference}: released ({reply.code}) to {safe(target.url)}; {done}"
          + (f" (skipped by --as-is: {skipped})" if skipped else ""))
    return 0


async def _reject(args: argparse.Namespace, cfg: Config, store: Store) -> int:
    await store.reject(args.reference, actor=actor_of(args), reason=args.reason, note=note_of(args))
    print(f"{args.reference}: rejected")
    return 0


async def _purge(args: argparse.Namespace, cfg: Config, store: Store) -> int:
    refs = await store.purge_expired(older_than_days=args.older_than, actor=actor_of(args), dry_run=args.dry_run,
                                     note=note_of(args))
    verb = "would purge" if args.dry_run else "purged"
    print(f"{verb} {len(refs)} message{'s' if len(refs) != 1 else ''}")
    for ref in refs:
        print(f"  {ref}")
    return 0
