"""The audit trail page: newest first, page by page, and the hash chain checked on request."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.console.web import Console


def routes(console: Console) -> list[Route]:
    store = console.store

    async def audit(request: Request) -> Response:
        viewer = await console.require(request, "auditor")
        before_text = request.query_params.get("before", "")
        before = int(before_text) if before_text.isdigit() else None
        rows, older = await store.audit_page(before=before, limit=50)
        report = await store.verify_audit_chain() if request.query_params.get("verify") == "1" else None
        return console.page(request, "audit.html", viewer, rows=rows, older=older, report=report, before=before)

    return [Route("/audit", audit, methods=["GET"])]
