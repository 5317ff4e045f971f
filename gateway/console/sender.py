"""The sender's side (issue 15): the link in the held-message notice opens a page for that one message, where
the sender gives a business justification. No sign-in: the signed, expiring token is the authority, and it
shows only the message's reference, when it was held, how many recipients and the policy's own reasons (what
the notice already said), never content, addresses or anything about other messages. Single use: once a request
exists the link only says so.

Signed in by single sign-on (``oidc.py``), a sender has ``/my``: the messages whose envelope sender is exactly the
mail address the identity provider vouched for (kept in the session), each with the same page and request form,
and nothing else (another sender's reference is "not found", as a reference that does not exist).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.console.web import Console, Viewer, client_of, redirect
from gateway.notify.releaselink import check_token, link_secret
from gateway.store import Conflict, NotFound, QuarantineRecord


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
        return console.page(request, "release_request.html", None, item=item, reasons=reasons_of(item),
                            problem=None, token=request.path_params["token"])

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

    # ------------------------------------------------------------ signed in by single sign-on

    async def signed_in_sender(request: Request) -> tuple[Viewer, str | None]:
        viewer = await console.viewer(request)
        if viewer is None:
            request.session.pop("user", None)
            raise HTTPException(303, headers={"Location": "/signin"})
        email = request.session.get("email")
        return viewer, email if isinstance(email, str) and email else None

    async def own(request: Request) -> tuple[Viewer, QuarantineRecord]:
        viewer, email = await signed_in_sender(request)
        item = await store.get_quarantined(str(request.path_params["ref"]))
        if email is None or item is None or item.mail_from.strip().lower() != email:
            raise HTTPException(404, "No such message of yours.")
        return viewer, item

    async def my_messages(request: Request) -> Response:
        viewer, email = await signed_in_sender(request)
        rows = []
        for ref in await store.messages_from(email) if email else []:
            item = await store.get_quarantined(ref)
            if item is not None:
                rows.append((item, await store.get_release_request(ref)))
        return console.page(request, "sender_home.html", viewer, rows=rows, has_email=email is not None)

    async def my_message(request: Request) -> Response:
        viewer, item = await own(request)
        asked = await store.get_release_request(item.reference)
        problem = ("A release was already requested for this message." if asked is not None
                   else None if item.state == "held" else "This message is no longer held.")
        return console.page(request, "release_request.html", viewer, item=None if problem else item,
                            reasons=reasons_of(item), problem=problem, action=f"/my/{item.reference}")

    async def my_request(request: Request) -> Response:
        viewer, item = await own(request)
        form = await console.form(request)
        why = form.get("justification", "").strip()
        if len(why) < 10:
            console.flash(request, "Say why the email must go out (at least a sentence).", "error")
            return redirect(f"/my/{item.reference}")
        try:
            await store.request_release(item.reference, justification=why[:4000], source=client_of(request))
        except (Conflict, NotFound) as exc:
            return console.page(request, "release_request.html", viewer, status=410, problem=str(exc), item=None)
        return console.page(request, "release_request.html", viewer, item=None, problem=None, done=item.reference)

    return [
        Route("/release/{token:str}", show, methods=["GET"]),
        Route("/release/{token:str}", submit, methods=["POST"]),
        Route("/my", my_messages, methods=["GET"]),
        Route("/my/{ref:str}", my_message, methods=["GET"]),
        Route("/my/{ref:str}", my_request, methods=["POST"]),
    ]


def reasons_of(item: QuarantineRecord) -> list[str]:
    """The policy's own words for why the message was held (what the sender's notice says)."""
    return [r.get("description") or r["rule_id"] for r in item.incident.rules if r.get("mode") == "enforce"]
