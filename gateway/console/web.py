"""Request plumbing shared by the console's pages: templates, the signed session (idle and absolute timeouts),
the signed-in account and its role, CSRF-checked forms and flash messages."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from gateway.console.security import new_token, same_token

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.store import Store

HERE = Path(__file__).resolve().parent
RANK = {"auditor": 0, "reviewer": 1, "approver": 2, "admin": 3}


@dataclass(frozen=True)
class Viewer:
    """The signed-in person, as the database says now (a role change or a disabled account takes effect at the
    next request)."""

    name: str
    role: str

    def can(self, role: str) -> bool:
        return RANK.get(self.role, -1) >= RANK[role]


class Console:
    """What every page needs: configuration, store, templates."""

    def __init__(self, cfg: Config, store: Store) -> None:
        self.cfg = cfg
        self.store = store
        self.settings = cfg.gateway.console
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.tz = ZoneInfo(cfg.gateway.digest.timezone)
        env = self.templates.env
        env.filters["when"] = self.when
        env.globals["org_name"] = cfg.gateway.organisation.name

    def when(self, moment: datetime | None) -> str:
        return moment.astimezone(self.tz).strftime("%d %b %Y %H:%M") if moment else "-"

    # ---------------------------------------------------------------- session

    def session_alive(self, request: Request) -> bool:
        s = request.session
        now = time.time()
        if not s.get("user"):
            return False
        if now - float(s.get("signed_in", 0)) > self.settings.session_absolute_hours * 3600:
            return False
        if now - float(s.get("seen", 0)) > self.settings.session_idle_minutes * 60:
            return False
        s["seen"] = now
        return True

    def start_session(self, request: Request, name: str) -> None:
        request.session.clear()
        now = time.time()
        request.session.update({"user": name, "signed_in": now, "seen": now, "csrf": new_token()})

    def csrf(self, request: Request) -> str:
        token = request.session.get("csrf")
        if not isinstance(token, str) or not token:
            token = new_token()
            request.session["csrf"] = token
        return token

    async def viewer(self, request: Request) -> Viewer | None:
        if not self.session_alive(request):
            return None
        account = await self.store.get_account(str(request.session["user"]))
        if account is None or account.disabled:
            return None
        return Viewer(account.name, account.role)

    async def require(self, request: Request, role: str = "auditor") -> Viewer:
        viewer = await self.viewer(request)
        if viewer is None:
            request.session.pop("user", None)
            raise HTTPException(303, headers={"Location": "/signin"})
        if not viewer.can(role):
            raise HTTPException(403, f"This needs the {role} role.")
        return viewer

    async def form(self, request: Request) -> dict[str, str]:
        """The posted form, refused (403) unless it carries this session's CSRF token."""
        form = await request.form()
        if not same_token(request.session.get("csrf"), form.get("csrf")):
            raise HTTPException(403, "The form had expired or did not come from this console. Go back and try again.")
        return {k: v for k, v in form.items() if isinstance(v, str)}

    # ---------------------------------------------------------------- pages

    def flash(self, request: Request, text: str, kind: str = "info") -> None:
        request.session.setdefault("flash", []).append([kind, text])

    def page(self, request: Request, name: str, viewer: Viewer | None, status: int = 200,
             **context: Any) -> Response:
        flashes = request.session.pop("flash", []) if "session" in request.scope else []
        ctx = {"viewer": viewer, "csrf": self.csrf(request), "flashes": flashes, "now": datetime.now(UTC)}
        return self.templates.TemplateResponse(request, name, ctx | context, status_code=status)


def client_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)
