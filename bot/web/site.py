"""The web front end: an aiohttp application over an open :class:`~bot.app.App`.

:func:`build_site` returns the ``aiohttp.web.Application``; :mod:`bot.web.serve` runs it
(``stampy web``, or inside ``stampy run`` with ``[web] with_bot = true``). Pages are in
:mod:`bot.web.pages`, the JSON API in :mod:`bot.web.api`, ``/healthz`` and ``/metrics`` in
:mod:`bot.web.ops`. Every response gets security headers (a strict Content-Security-Policy:
no inline script, nothing from elsewhere); every GET answered 200 gets an ETag, and a request
whose ``If-None-Match`` names it gets 304 with no body.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import jinja2
from aiohttp import web

from bot.app import App
from bot.web.views import Views

__all__ = ["SITE", "Site", "build_site"]

STATIC = Path(__file__).parent / "static"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@dataclass
class Site:
    """What the handlers share: the app, the views over it, the templates, the options."""

    app: App
    views: Views
    templates: jinja2.Environment
    base_url: str
    gateway: Callable[[], bool] | None

    def url(self, request: web.Request, path: str) -> str:
        """The absolute address of ``path`` (the configured public base, else the request's)."""
        base = self.base_url or f"{request.scheme}://{request.host}"
        return base.rstrip("/") + path

    def render(
        self, request: web.Request, name: str, status: int = 200, **context: object
    ) -> web.Response:
        page = self.templates.get_template(name).render(
            request_path=request.path, permalink=self.url(request, request.path), **context
        )
        return web.Response(text=page, status=status, content_type="text/html", charset="utf-8")


SITE: web.AppKey[Site] = web.AppKey("site", Site)


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot.web", "templates"),
        autoescape=True,  # every template, whatever its name
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["qpath"] = _question_path
    env.filters["tpath"] = _tag_path
    return env


def _question_path(question_id: str) -> str:
    from urllib.parse import quote

    return "/questions/" + quote(question_id, safe="")


def _tag_path(name: str) -> str:
    from urllib.parse import quote

    return "/tags/" + quote(name, safe="")


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every response; ETag and 304 on successful GETs."""
    response = await handler(request)
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if (
        request.method in ("GET", "HEAD")
        and response.status == 200
        and isinstance(response, web.Response)
        and response.body is not None
        and isinstance(response.body, bytes)
    ):
        tag = '"' + hashlib.blake2b(response.body, digest_size=12).hexdigest() + '"'
        response.headers["ETag"] = tag
        response.headers.setdefault("Cache-Control", "no-cache")
        wanted = request.headers.get("If-None-Match", "")
        if tag in (part.strip() for part in wanted.split(",")) or wanted.strip() == "*":
            not_modified = web.Response(status=304)
            for name in ("ETag", "Cache-Control", *_SECURITY_HEADERS):
                not_modified.headers[name] = response.headers[name]
            if "Access-Control-Allow-Origin" in response.headers:
                not_modified.headers["Access-Control-Allow-Origin"] = "*"
            return not_modified
    return response


def build_site(
    app: App, *, base_url: str | None = None, gateway: Callable[[], bool] | None = None
) -> web.Application:
    """The web application over the open ``app``.

    ``base_url``: the public address for permalinks (default: ``[web] base_url``, else the
    address each request came to). ``gateway`` tells whether the Discord gateway is connected
    (when the site runs with the bot); ``/healthz`` reports it.
    """
    from bot.web import api, ops, pages

    site = Site(
        app,
        Views(app),
        _templates(),
        app.settings.web.base_url if base_url is None else base_url,
        gateway,
    )
    application = web.Application(middlewares=[_headers, api.json_errors, pages.friendly_errors])
    application[SITE] = site
    pages.add_routes(application)
    api.add_routes(application)
    ops.add_routes(application)
    application.router.add_static("/static/", STATIC, append_version=False)
    return application
