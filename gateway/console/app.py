"""The console's ASGI application: routes, sessions, security headers, static files and error pages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gateway.console import accounts, audit, exceptions, incidents, oidc, review, sender, trends
from gateway.console.security import SecurityHeaders, load_secret
from gateway.console.web import HERE, Console, redirect

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.store import Store

SESSION_COOKIE = "dlpgate_console"


def build_app(cfg: Config, store: Store, *, secret: str | None = None) -> Starlette:
    settings = cfg.gateway.console
    tls = settings.tls.cert is not None
    console = Console(cfg, store)
    key = secret or load_secret(settings.secret_key_env, cfg.state_dir)

    async def home(request: Request) -> Response:
        viewer = await console.viewer(request)
        return redirect("/my" if viewer is not None and viewer.role == "sender" else "/queue")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code in (301, 302, 303) and exc.headers:
            return redirect(exc.headers["Location"])
        viewer = await console.viewer(request) if "session" in request.scope else None
        return console.page(request, "error.html", viewer, status=exc.status_code, detail=exc.detail)

    routes = [
        Route("/", home, methods=["GET"]),
        *accounts.routes(console),
        *oidc.routes(console, key),
        *review.routes(console),
        *incidents.routes(console),
        *exceptions.routes(console),
        *sender.routes(console),
        *trends.routes(console),
        *audit.routes(console),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders, tls=tls),
            Middleware(
                SessionMiddleware,
                secret_key=key,
                session_cookie=SESSION_COOKIE,
                max_age=int(settings.session_absolute_hours * 3600),
                same_site="strict",
                https_only=tls,
            ),
        ],
        exception_handlers={HTTPException: http_error},
    )
    app.state.console = console
    return app
