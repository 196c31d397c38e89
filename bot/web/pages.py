"""The HTML pages: home, tags, a tag, a question, search, unanswered, and friendly errors."""

from __future__ import annotations

import logging
from urllib.parse import quote, unquote

from aiohttp import web

from bot.knowledge.matcher import Decision
from bot.web.markup import web_link
from bot.web.site import SITE, Handler

__all__ = ["add_routes", "friendly_errors"]

log = logging.getLogger(__name__)

#: Questions per page of /unanswered.
UNANSWERED_PAGE = 25
#: Longest search query taken (longer ones are cut, as the bot cuts long messages).
MAX_QUERY = 500
#: Highest page number of /unanswered accepted.
MAX_PAGE = 10_000


async def home(request: web.Request) -> web.Response:
    site = request.app[SITE]
    data = site.views.home()
    return site.render(request, "home.html", title=None, home=data)


async def tags(request: web.Request) -> web.Response:
    site = request.app[SITE]
    return site.render(request, "tags.html", title="Tags", tags=site.views.tags())


async def tag(request: web.Request) -> web.Response:
    site = request.app[SITE]
    name = request.match_info["name"]
    page = site.views.tag_page(name)
    if page is None:
        return site.render(
            request,
            "not_found.html",
            status=404,
            title="No such tag",
            what=f"There is no tag \u201c{name}\u201d.",
            tags=site.views.close_tags(name),
            questions=[],
        )
    return site.render(
        request, "tag.html", title=f"Tag: {page.tag.name}", page=page, link=web_link(page.tag.link)
    )


async def question(request: web.Request) -> web.Response:
    site = request.app[SITE]
    question_id = request.match_info["id"]
    view = site.views.question(question_id)
    if view is None:
        return site.render(
            request,
            "not_found.html",
            status=404,
            title="No such question",
            what="There is no question at this address.",
            tags=[],
            questions=site.views.did_you_mean(question_id),
        )
    searched = _query(request)
    why = None
    if searched:
        reply = site.app.service.answer(view.question.id, searched)
        why = site.views.why(reply) if reply is not None else None
    return site.render(
        request,
        "question.html",
        title=view.question.text,
        view=view,
        searched=searched,
        why=why,
        canonical_url=site.url(request, "/questions/" + quote(view.question.id, safe="")),
    )


async def search(request: web.Request) -> web.Response:
    site = request.app[SITE]
    query = _query(request)
    if not query:
        return site.render(request, "search.html", title="Search", query="", reply=None, why="")
    reply = site.views.search(query)
    if reply.decision is Decision.ANSWER and reply.question is not None:
        target = "/questions/" + quote(reply.question.id, safe="") + "?q=" + quote(query, safe="")
        raise web.HTTPSeeOther(target)
    return site.render(
        request,
        "search.html",
        title=f"Search: {query}",
        query=query,
        reply=reply,
        why=site.views.why(reply),
    )


async def unanswered(request: web.Request) -> web.Response:
    site = request.app[SITE]
    raw = request.query.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise web.HTTPBadRequest(text=f"page must be a whole number from 1 to {MAX_PAGE}")
    page = int(raw)
    rows = await site.views.unanswered(UNANSWERED_PAGE + 1, (page - 1) * UNANSWERED_PAGE)
    return site.render(
        request,
        "unanswered.html",
        title="Questions without an answer",
        rows=rows[:UNANSWERED_PAGE],
        page=page,
        more=len(rows) > UNANSWERED_PAGE,
    )


def _query(request: web.Request) -> str:
    return " ".join(request.query.get("q", "").split())[:MAX_QUERY]


_MESSAGES = {
    400: "That request could not be understood",
    404: "Page not found",
    405: "That method is not allowed here",
}


@web.middleware
async def friendly_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors on pages as pages: a 404 suggests questions like the address, others say what
    went wrong in a sentence (never a traceback)."""
    if request.path.startswith("/api/"):
        return await handler(request)  # JSON errors: bot.web.api
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        site = request.app[SITE]
        if error.status == 404:
            last = unquote(request.path.rstrip("/").rsplit("/", 1)[-1])
            return site.render(
                request,
                "not_found.html",
                status=404,
                title="Page not found",
                what="There is no page at this address.",
                tags=site.views.close_tags(last),
                questions=site.views.did_you_mean(last),
            )
        detail = error.text if error.text and not error.text.startswith(str(error.status)) else ""
        return site.render(
            request,
            "error.html",
            status=error.status,
            title=_MESSAGES.get(error.status, "Something went wrong"),
            detail=detail,
        )
    except Exception:
        log.exception("error while serving %s", request.path)
        return request.app[SITE].render(
            request, "error.html", status=500, title="Something went wrong", detail=""
        )


def add_routes(application: web.Application) -> None:
    application.router.add_get("/", home)
    application.router.add_get("/tags", tags)
    application.router.add_get("/tags/{name}", tag)
    application.router.add_get("/questions/{id}", question)
    application.router.add_get("/search", search)
    application.router.add_get("/unanswered", unanswered)
