"""Operations: ``/healthz`` (is everything up) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from bot.metrics import CONTENT_TYPE
from bot.store import StoreError
from bot.store.marks import ping
from bot.web.site import SITE

__all__ = ["add_routes"]

#: Longest wait for the database before it counts as unreachable.
PING_SECONDS = 2.0


async def healthz(request: web.Request) -> web.Response:
    """200 when healthy, 503 when not; either way, each check and whether it passed."""
    site = request.app[SITE]
    app = site.app
    checks: dict[str, dict[str, object]] = {}
    questions = len(app.knowledge)
    checks["knowledge"] = {"ok": questions > 0, "questions": questions}
    if app.store is not None:
        try:
            await asyncio.wait_for(ping(app.store), PING_SECONDS)
            checks["database"] = {"ok": True}
        except (StoreError, TimeoutError) as error:
            kind = error.kind if isinstance(error, StoreError) else "timeout"
            app.metrics.database_error(kind)
            checks["database"] = {"ok": False, "error": kind}
    else:
        checks["database"] = {"ok": True, "detail": "no database configured"}
    if site.gateway is not None:
        checks["gateway"] = {"ok": bool(site.gateway())}
    healthy = all(bool(check["ok"]) for check in checks.values())
    body = {"status": "ok" if healthy else "unhealthy", "checks": checks}
    return web.Response(
        text=json.dumps(body),
        status=200 if healthy else 503,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


async def metrics(request: web.Request) -> web.Response:
    body = request.app[SITE].app.metrics.exposition()
    response = web.Response(body=body, headers={"Cache-Control": "no-store"})
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


def add_routes(application: web.Application) -> None:
    application.router.add_get("/healthz", healthz)
    application.router.add_get("/metrics", metrics)
