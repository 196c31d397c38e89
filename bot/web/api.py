"""The JSON API: search, a question, the tags, a tag; its OpenAPI document.

Every response is JSON, errors included (``{"error": {"status": 404, "message": "..."}}``);
GET responses allow any origin (CORS) and carry an ETag (see :mod:`bot.web.site`).
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.web.site import SITE, Handler

__all__ = ["add_routes", "json_errors"]

log = logging.getLogger(__name__)

#: Longest query taken by /api/search (longer ones are refused).
MAX_QUERY = 500
#: Most questions a tag's listing returns per section.
MAX_SECTION = 1000

_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "If-None-Match",
    "Access-Control-Expose-Headers": "ETag",
    "Access-Control-Max-Age": "86400",
}


def _json(data: Any, status: int = 200) -> web.Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    response = web.Response(text=body, status=status, content_type="application/json")
    response.headers.update(_CORS)
    return response


def _error(status: int, message: str) -> web.Response:
    return _json({"error": {"status": status, "message": message}}, status)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Under /api/: every error as JSON with its status (never a traceback)."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return _error(error.status, error.text or error.reason)
    except Exception:
        log.exception("error while serving %s", request.path)
        return _error(500, "internal error")


async def search(request: web.Request) -> web.Response:
    site = request.app[SITE]
    query = " ".join(request.query.get("q", "").split())
    if not query:
        return _error(400, "the parameter q (the question) is missing or empty")
    if len(query) > MAX_QUERY:
        return _error(400, f"q is too long ({len(query)} characters; at most {MAX_QUERY})")
    reply = site.views.search(query)
    return _json(site.views.search_json(reply, lambda qid: _question_url(request, qid)))


async def question(request: web.Request) -> web.Response:
    site = request.app[SITE]
    question_id = request.match_info["id"]
    view = site.views.question(question_id)
    if view is None:
        return _error(404, f"no question with the id {question_id!r}")
    return _json(site.views.question_json(view, _question_url(request, question_id)))


async def tags(request: web.Request) -> web.Response:
    site = request.app[SITE]
    return _json(
        {
            "tags": [
                {**_tag_json(tag), "questions": count, "url": _tag_url(request, tag.name)}
                for tag, count in site.views.tags()
            ]
        }
    )


async def tag(request: web.Request) -> web.Response:
    site = request.app[SITE]
    name = request.match_info["name"]
    page = site.views.tag_page(name)
    if page is None:
        return _error(404, f"no tag named {name!r}")

    def listing(questions: Any) -> list[dict[str, Any]]:
        return [
            {"id": q.id, "text": q.text, "url": _question_url(request, q.id)}
            for q in list(questions)[:MAX_SECTION]
        ]

    return _json(
        {
            **_tag_json(page.tag),
            "url": _tag_url(request, page.tag.name),
            "canonical": listing(page.canonical),
            "non_canonical": listing(page.non_canonical),
            "unanswered": listing(page.unanswered),
        }
    )


async def openapi(request: web.Request) -> web.Response:
    from bot.web.openapi import document

    site = request.app[SITE]
    return _json(document(site.url(request, "")))


async def other(request: web.Request) -> web.Response:
    """Anything else under /api/: CORS preflight, a method other than GET, no such path."""
    if request.method == "OPTIONS":
        response = web.Response(status=204)
        response.headers.update(_CORS)
        return response
    if request.method not in ("GET", "HEAD"):
        return _error(405, f"method {request.method} not allowed; the API is read-only: use GET")
    return _error(404, f"no API endpoint at {request.path}; see /api/openapi.json")


def _tag_json(tag: Any) -> dict[str, Any]:
    return {
        "name": tag.name,
        "description": tag.description,
        "link": tag.link,
        "main_question": tag.main_question,
    }


def _question_url(request: web.Request, question_id: str) -> str:
    return request.app[SITE].url(request, "/questions/" + quote(question_id, safe=""))


def _tag_url(request: web.Request, name: str) -> str:
    return request.app[SITE].url(request, "/tags/" + quote(name, safe=""))


def add_routes(application: web.Application) -> None:
    router = application.router
    router.add_get("/api/search", search)
    router.add_get("/api/questions/{id}", question)
    router.add_get("/api/tags", tags)
    router.add_get("/api/tags/{name}", tag)
    router.add_get("/api/openapi.json", openapi)
    router.add_route("*", "/api/{tail:.*}", other)
