"""Bulk release and reject from the queue (issue 14): the messages ticked on the page, or every held message the
current filters match (at most ``BULK_MAX``), after a confirmation page that shows the count.

The confirmation carries the references it counted, so what is decided is exactly what the reviewer saw counted,
even if more messages arrive meanwhile. Each message then goes through ``decisions.decide_one``, the same code a
single decision runs (four eyes, the at-most-once claim, the audit lines, the sender's notice), one after another;
the result page lists every message's outcome, failures first, so a partial failure is never silent. One more
audit line records the bulk action itself (who, the count, how many succeeded).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.console.decisions import ACTIONS, Outcome, decide_one
from gateway.console.web import Console, client_of, redirect
from gateway.notify.notices import REJECT_REASONS
from gateway.store import QueueFilter, StoreError, acting_from

BULK_MAX = 500
"""The most messages one bulk action decides: larger sets are worked through in several confirmed steps."""
ACTION_LABELS = {"release": "Release", "release_as_is": "Release as is", "reject": "Reject"}


def routes(console: Console, filter_from: Callable[[dict[str, Any]], QueueFilter]) -> list[Route]:
    store = console.store

    async def bulk(request: Request) -> Response:
        viewer = await console.require(request, "reviewer")
        fields = await console.form(request)  # the CSRF check first
        form = await request.form()
        action = fields.get("action", "")
        why = fields.get("justification", "").strip()
        notify = fields.get("notify") or None
        if action not in ACTIONS or (notify and (notify not in REJECT_REASONS or action != "reject")):
            console.flash(request, "Choose release, release as is or reject (a sender notice goes with a reject).",
                          "error")
            return redirect("/queue")
        if len(why) < 5:
            console.flash(request, "Give a justification (at least a few words): it goes in the audit trail of "
                          "every message.", "error")
            return redirect("/queue")
        if fields.get("scope") == "filtered":
            page = await store.queue_page(filter_from(request.session), sort="oldest", limit=BULK_MAX)
            refs = [q.reference for q in page.items if q.state == "held"]
        else:
            refs = list(dict.fromkeys(str(v) for v in form.getlist("ref")))[:BULK_MAX]
        if not refs:
            console.flash(request, "No held messages were selected.", "error")
            return redirect("/queue")
        context: dict[str, Any] = {"refs": refs, "action": action, "label": ACTION_LABELS[action], "justification": why,
                   "notify": notify, "notify_text": REJECT_REASONS.get(notify or ""), "bulk_max": BULK_MAX}
        if fields.get("confirmed") != "1":
            return console.page(request, "bulk_confirm.html", viewer, **context)
        outcomes: list[Outcome] = []
        for ref in refs:
            outcomes.append(await decide_one(console, ref, action, actor=viewer.name, reason=why,
                                             client=client_of(request), notify=notify))
        failed = [o for o in outcomes if not o.ok]
        try:
            with acting_from(client_of(request)):
                await store.record_access("bulk_" + action, actor=viewer.name, reason=why, detail={
                    "count": len(outcomes), "succeeded": len(outcomes) - len(failed),
                    "failed": [o.reference for o in failed][:100],
                    **({"notify": notify} if notify else {}),
                })
        except StoreError:
            failed_trail = True
        else:
            failed_trail = False
        ordered = sorted(outcomes, key=lambda o: o.ok)
        return console.page(request, "bulk_result.html", viewer, outcomes=ordered, failed=len(failed),
                            failed_trail=failed_trail, **context)

    return [Route("/queue/bulk", bulk, methods=["POST"])]
