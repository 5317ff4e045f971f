"""Signing in and out (local accounts: argon2id, lockout with back-off; single sign-on is ``oidc.py``'s, offered
on the same page, and so is ending a single sign-on session at the provider) and account administration."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.console import oidc
from gateway.console.security import WeakPassword, check_password, hash_password, lock_until
from gateway.console.web import Console, client_of, redirect
from gateway.store import ROLES, Conflict, NotFound

GENERIC_FAILURE = "The name or password is not right, or the account is locked. Try again later."
LOCAL_OFF = "Password sign-in is turned off here: use single sign-on."


def routes(console: Console) -> list[Route]:
    store = console.store
    settings = console.settings
    sso = settings.oidc

    def signin_page(request: Request, status: int = 200, **context: object) -> Response:
        return console.page(request, "signin.html", None, status=status, local=sso.local_accounts,
                            sso_label=sso.label if sso.enabled else None, **context)

    async def signin_form(request: Request) -> Response:
        viewer = await console.viewer(request)
        if viewer is not None:
            return redirect("/my" if viewer.role == "sender" else "/queue")
        return signin_page(request)

    async def signin(request: Request) -> Response:
        if not sso.local_accounts:  # before the CSRF check: the page has no password form to take a token from
            return signin_page(request, status=403, error=LOCAL_OFF)
        form = await console.form(request)
        name = form.get("username", "").strip()
        password = form.get("password", "")
        account = await store.get_account(name) if name else None
        now = store.clock()
        ok = check_password(account.password_hash if account else None, password)
        client = client_of(request)
        if account is None:
            await store.record_access("sign_in_failed", actor=name[:255] or "-", reason=None,
                                      detail={"method": "password", "why": "no such account"}, source=client)
        elif account.disabled or (account.locked_until is not None and account.locked_until > now):
            why = "disabled" if account.disabled else "locked"
            await store.note_sign_in(account.name, ok=False, locked_until=account.locked_until, client=client,
                                     why=why)
        elif not ok:
            until = lock_until(account.failed_count, now, after=settings.lockout_after,
                               first_seconds=settings.lockout_seconds)
            await store.note_sign_in(account.name, ok=False, locked_until=until, client=client,
                                     why="wrong password")
        else:
            await store.note_sign_in(account.name, ok=True, client=client)
            console.start_session(request, account.name)
            return redirect("/queue")
        return signin_page(request, status=401, error=GENERIC_FAILURE, username=name)

    async def signout(request: Request) -> Response:
        """Local sign-out always; a session single sign-on opened also ends at the provider when it offers
        RP-initiated logout (``oidc.end_session_url``), else the person stays signed in there only."""
        await console.form(request)
        viewer = await console.viewer(request)
        via = request.session.get("via")
        hint = request.session.get("id_token")
        request.session.clear()
        target = None
        if viewer is not None and via == "oidc":
            target = await oidc.end_session_url(console, request, hint if isinstance(hint, str) else None)
        if viewer is not None:
            detail = {"method": via} if via == "oidc" else {}
            if target is not None:
                detail["provider"] = "ended"
            await store.record_access("sign_out", actor=viewer.name, reason=None, detail=detail,
                                      source=client_of(request))
        return redirect(target or "/signin")

    async def users(request: Request) -> Response:
        viewer = await console.require(request, "admin")
        return console.page(request, "users.html", viewer, accounts=await store.list_accounts(), roles=ROLES)

    async def add_user(request: Request) -> Response:
        viewer = await console.require(request, "admin")
        form = await console.form(request)
        name, role = form.get("username", "").strip(), form.get("role", "")
        try:
            if not name or role not in ROLES:
                raise ValueError("Give a name and one of the roles.")
            await store.add_account(name, role, hash_password(form.get("password", "")), actor=viewer.name,
                                    client=client_of(request))
            console.flash(request, f"Account {name} added with the {role} role.")
        except (WeakPassword, ValueError, Conflict) as exc:
            console.flash(request, str(exc), "error")
        return redirect("/users")

    async def change_role(request: Request) -> Response:
        viewer = await console.require(request, "admin")
        form = await console.form(request)
        name, role = form.get("username", ""), form.get("role", "")
        try:
            if name == viewer.name:
                raise ValueError("Another administrator must change your own role.")
            if role == "disabled":
                await store.set_disabled(name, True, actor=viewer.name, client=client_of(request))
            elif role in ROLES:
                await store.set_role(name, role, actor=viewer.name, client=client_of(request))
                await store.set_disabled(name, False, actor=viewer.name, client=client_of(request))
            else:
                raise ValueError("Choose a role.")
            console.flash(request, f"{name}: {role}.")
        except (ValueError, NotFound) as exc:
            console.flash(request, str(exc), "error")
        return redirect("/users")

    return [
        Route("/signin", signin_form, methods=["GET"]),
        Route("/signin", signin, methods=["POST"]),
        Route("/signout", signout, methods=["POST"]),
        Route("/users", users, methods=["GET"]),
        Route("/users", add_user, methods=["POST"]),
        Route("/users/role", change_role, methods=["POST"]),
    ]
