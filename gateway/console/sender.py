"""The sender's side (issue 15): the link in the held-message notice opens a page for that one message, where
the sender gives a business justification. No sign-in: the signed, expiring token is the authority, and it
shows only the message's reference, when it was held, how many recipients and the policy's own reasons (what
the notice already said), never content, addresses or anything about other messages. Single use: once a request
exists the link only says so.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.console.web import Console, client_of, redirect
from gateway.notify.releaselink import check_token, link_secret
from gateway.store import Conflict, NotFound


def routes(console: Console) -> list[Route]:
    store = console.store

    async def resolve(request: Request) -> str | None:
        key = link_secret(console.cfg)
        token = str(request.path_params["token"])
        return check_token(key, token, now=store.clock().timestamp()) if key is not None else None

    def gone(request: Request, text: str, status: int = 404) -> Response:
        return console.page(request, "release_request.html", None, status=status, problem=text, item=None)

    async def show(request: Request) -> Response:
        ref = await resolve(request)
        if ref is None:
            return gone(request, "This link is not valid or has expired.")
        item = await store.get_quarantined(ref)
        if item is None:
            return gone(request, "This link is not valid or has expired.")
        if await store.get_release_request(ref) is not None:
            return gone(request, "This link has been used: a release was already requested for this message.", 410)
        if item.state != "held":
            return gone(request, "This message is no longer held.", 410)
        reasons = [r.get("description") or r["rule_id"] for r in item.incident.rules if r.get("mode") == "enforce"]
        return console.page(request, "release_request.html", None, item=item, reasons=reasons, problem=None,
                            token=request.path_params["token"])

    async def submit(request: Request) -> Response:
        ref = await resolve(request)
        form = await console.form(request)
        if ref is None:
            return gone(request, "This link is not valid or has expired.")
        why = form.get("justification", "").strip()
        if len(why) < 10:
            console.flash(request, "Say why the email must go out (at least a sentence).", "error")
            return redirect(f"/release/{request.path_params['token']}")
        try:
            await store.request_release(ref, justification=why[:4000], source=client_of(request))
        except (Conflict, NotFound) as exc:
            return gone(request, str(exc), 410)
        return console.page(request, "release_request.html", None, item=None, problem=None, done=ref)

    return [
        Route("/release/{token:str}", show, methods=["GET"]),
        Route("/release/{token:str}", submit, methods=["POST"]),
    ]
