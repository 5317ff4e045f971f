"""Policy exceptions (issue 15): a reviewer asks (sender or ``@domain``, recipient address or domain, the rules
it relaxes, why, until when), an approver who did not ask approves or refuses, and the page shows each one's
state, expiry and how many messages it let through.

The console refuses an exception that would relax a rule marked ``exemptable: false`` or run longer than
``console.exception_max_days``; the engine ignores one for such a rule in any case.

An admin can revoke one in force (or still pending) with a reason: it stops applying at once in this process and
within the gateway's exception TTL (10 seconds) on other nodes (``gateway/exemptcache.py``); the revocation is an
audit line and the exception stays listed as ``revoked``.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.console.web import Console, client_of, redirect
from gateway.store import Conflict, NotFound, acting_from

_SENDER = re.compile(r"^(?:[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+|@[^@\s<>]+\.[^@\s<>]+)$")
_RECIPIENT = re.compile(r"^(?:[^@\s<>]+@)?[^@\s<>]+\.[^@\s<>]+$")


def routes(console: Console) -> list[Route]:
    store = console.store

    def rule_choices() -> list[tuple[str, str, bool]]:
        return [(r.id, r.description, r.exemptable) for r in console.cfg.policy.rules
                if r.enabled and r.mode == "enforce" and r.action != "pass"]

    async def listing(request: Request) -> Response:
        viewer = await console.require(request)
        now = store.clock()
        items = await store.list_exceptions()
        return console.page(
            request, "exceptions.html", viewer, items=items, rules=rule_choices(), now=now,
            max_days=console.settings.exception_max_days,
            groups=sorted(console.cfg.policy.lists.sender_groups),
            default_until=(now + timedelta(days=30)).astimezone(console.tz).date().isoformat(),
        )

    async def request_one(request: Request) -> Response:
        viewer = await console.require(request, "reviewer")
        form = await request.form()
        fields = await console.form(request)
        sender = fields.get("sender", "").strip().lower()
        recipient = fields.get("recipient", "").strip().lower()
        reason = fields.get("reason", "").strip()
        chosen = sorted({str(v) for v in form.getlist("rules")})
        known = {rid: exemptable for rid, _d, exemptable in rule_choices()}
        problems = []
        groups = console.cfg.policy.lists.sender_groups
        if sender.startswith("group:"):
            name = fields.get("sender", "").strip()[6:]
            sender = f"group:{name}"
            if name not in groups:
                problems.append(f"There is no sender group {name!r} in the policy's lists.")
        elif not _SENDER.match(sender):
            problems.append("Give the sender as an address, @domain for everyone there, or group:NAME.")
        if not _RECIPIENT.match(recipient):
            problems.append("Give the recipient as an address or a domain.")
        if not chosen or any(r not in known for r in chosen):
            problems.append("Choose the rules the exception relaxes.")
        locked = [r for r in chosen if r in known and not known[r]]
        if locked:
            problems.append(f"These rules cannot be relaxed by an exception (exemptable: false): {', '.join(locked)}.")
        if len(reason) < 10:
            problems.append("Give the business reason (at least a sentence).")
        now = store.clock()
        try:
            day = datetime.strptime(fields.get("until", ""), "%Y-%m-%d").date()
            expires = datetime.combine(day, time(23, 59), tzinfo=console.tz)
        except ValueError:
            problems.append("Give the expiry date as YYYY-MM-DD.")
        else:
            if expires <= now:
                problems.append("The expiry must be in the future.")
            elif expires > now + timedelta(days=console.settings.exception_max_days):
                problems.append(f"An exception may run at most {console.settings.exception_max_days} days.")
        if problems:
            for p in problems:
                console.flash(request, p, "error")
            return redirect("/exceptions")
        with acting_from(client_of(request)):
            new_id = await store.request_exception(sender=sender, recipient=recipient, rules=chosen, reason=reason,
                                                   expires_at=expires, actor=viewer.name)
        console.flash(request, f"Exception {new_id} requested: it applies once an approver (not you) approves it.")
        return redirect("/exceptions")

    async def decide(request: Request) -> Response:
        viewer = await console.require(request, "approver")
        form = await console.form(request)
        exception_id = int(request.path_params["exception"])
        why = form.get("justification", "").strip()
        if len(why) < 5:
            console.flash(request, "Give a justification (at least a few words).", "error")
            return redirect("/exceptions")
        approve = form.get("decision") == "approve"
        record = await store.get_exception(exception_id)
        if record is None:
            raise HTTPException(404, "No exception has that number.")
        exemptable = {r.id: r.exemptable for r in console.cfg.policy.rules}
        if approve and not all(exemptable.get(r, False) for r in record.rules):
            console.flash(request, "A rule it relaxes can no longer be relaxed (exemptable: false).", "error")
            return redirect("/exceptions")
        try:
            with acting_from(client_of(request)):
                await store.decide_exception(exception_id, approver=viewer.name, approve=approve, reason=why)
        except (Conflict, NotFound) as exc:
            console.flash(request, str(exc), "error")
            return redirect("/exceptions")
        console.flash(request, f"Exception {exception_id} {'approved' if approve else 'refused'}.")
        return redirect("/exceptions")

    async def revoke(request: Request) -> Response:
        viewer = await console.require(request, "admin")
        form = await console.form(request)
        exception_id = int(request.path_params["exception"])
        why = form.get("justification", "").strip()
        if len(why) < 5:
            console.flash(request, "Say why it is revoked (at least a few words): it goes in the audit trail.",
                          "error")
            return redirect("/exceptions")
        try:
            with acting_from(client_of(request)):
                await store.revoke_exception(exception_id, actor=viewer.name, reason=why)
        except (Conflict, NotFound) as exc:
            console.flash(request, str(exc), "error")
            return redirect("/exceptions")
        console.flash(request, f"Exception {exception_id} revoked: it no longer applies.")
        return redirect("/exceptions")

    return [
        Route("/exceptions", listing, methods=["GET"]),
        Route("/exceptions/{exception:int}/revoke", revoke, methods=["POST"]),
        Route("/exceptions", request_one, methods=["POST"]),
        Route("/exceptions/{exception:int}/decide", decide, methods=["POST"]),
    ]
