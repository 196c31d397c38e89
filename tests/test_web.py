"""The web front end through aiohttp's test client: every route and status, the JSON API, the
health check and metrics, and hostile content rendered safely."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st
from webtools import client, knowledge, settings, stamp

from bot.app import App
from bot.config import ConfigError, load_settings
from bot.curation.model import Moderator
from bot.knowledge.model import Answer, Question
from bot.web.markup import render_markdown
from bot.web.refresh import Refresher

MOD = Moderator("Mod", 42, 1000)


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    async with App.open(settings(tmp_path / "stampy.db"), record=False) as opened:
        yield opened


# -- pages ----------------------------------------------------------------------------------------


async def test_home_has_search_tags_with_counts_and_most_stamped(app: App) -> None:
    await stamp(app, "what-is-ai-alignment", "what-is-ai-alignment-canonical", message=1, voter=7)
    async with client(app) as web:
        response = await web.get("/")
        page = await response.text()
    assert response.status == 200
    assert 'role="search"' in page and 'action="/search"' in page
    counts = {tag.name: count for tag, count in app.service.tags()}
    assert f'href="/tags/alignment">alignment <span class="count">{counts["alignment"]}' in page
    top = page.split('id="top-title"')[1].split("</section>")[0]
    assert 'href="/questions/what-is-ai-alignment#answer-what-is-ai-alignment-canonical"' in top


async def test_tags_lists_every_tag_with_its_count(app: App) -> None:
    async with client(app) as web:
        response = await web.get("/tags")
        page = await response.text()
    assert response.status == 200
    for tag, count in app.service.tags():
        assert f'href="/tags/{tag.name}">{tag.name} <span class="count">{count}' in page


async def test_tag_page_has_the_three_sections(tmp_path: Path) -> None:
    questions = [
        Question(
            "q-canon",
            "What is a canon thing?",
            tags=("things",),
            answers=(Answer("q-canon-a", "Yes.", canonical=True),),
        ),
        Question(
            "q-other",
            "What is another thing?",
            tags=("things",),
            answers=(Answer("q-other-a", "Maybe."),),
        ),
        Question("q-open", "What is an open thing?", tags=("things",)),
    ]
    async with (
        App.open(settings(tmp_path / "db"), record=False, knowledge=knowledge(questions)) as app,
        client(app) as web,
    ):
        response = await web.get("/tags/things")
        page = await response.text()
    assert response.status == 200
    sections = re.split(r'<section aria-labelledby="', page)[1:]
    assert [s.split('"')[0] for s in sections] == [
        "canonical-title",
        "noncanonical-title",
        "unanswered-title",
    ]
    assert "/questions/q-canon" in sections[0] and "/questions/q-other" not in sections[0]
    assert "/questions/q-other" in sections[1]
    assert "/questions/q-open" in sections[2]
    # An undeclared tag has no description: the page says so.
    assert "has no description yet" in page


async def test_unknown_tag_is_404_with_close_tags(app: App) -> None:
    async with client(app) as web:
        response = await web.get("/tags/alignmnet")
        page = await response.text()
    assert response.status == 404
    assert "Did you mean" in page and 'href="/tags/alignment"' in page


async def test_question_page(app: App) -> None:
    async with client(app, base_url="https://wiki.example.org") as web:
        response = await web.get("/questions/what-is-stampy")
        page = await response.text()
    assert response.status == 200
    assert '<h1 id="question-title">What is Stampy?</h1>' in page
    assert 'href="/tags/stampy"' in page
    assert "Canonical answer" in page and "by Stampy team" in page
    assert '<span class="stamp-count">0</span> stamps' in page
    assert "<li>Who are you?</li>" in page  # an alternate phrasing
    assert 'href="https://wiki.example.org/questions/what-is-stampy#answer-' in page
    assert 'id="related-title"' in page
    assert "<strong>Stampy</strong>" in page  # markdown rendered


async def test_question_page_orders_canonical_first_and_shows_stamps(tmp_path: Path) -> None:
    questions = [
        Question(
            "q",
            "What is the thing?",
            tags=("t",),
            answers=(
                Answer("q-plain", "A plain answer.", author="<@123456789012345678>"),
                Answer("q-canon", "The canonical answer.", canonical=True, author="Stampy team"),
            ),
        ),
    ]
    async with App.open(
        settings(tmp_path / "db"), record=False, knowledge=knowledge(questions)
    ) as app:
        await stamp(app, "q", "q-plain", message=5, voter=9)
        async with client(app) as web:
            page = await (await web.get("/questions/q")).text()
    assert page.index("The canonical answer.") < page.index("A plain answer.")
    plain = page.split('id="answer-q-plain"')[1]
    assert '<span class="stamp-count">1</span> stamp<' in plain
    assert "by a member" in plain
    assert "123456789012345678" not in page  # never an id


async def test_unknown_question_is_404_with_did_you_mean(app: App) -> None:
    async with client(app) as web:
        response = await web.get("/questions/what-is-stampyy")
        page = await response.text()
    assert response.status == 404
    assert "Did you mean" in page and 'href="/questions/what-is-stampy"' in page


async def test_search_with_a_typo_lands_on_the_question_with_why(app: App) -> None:
    async with client(app) as web:
        response = await web.get(
            "/search",
            params={"q": "wher can i lern about interpretabilty"},
            allow_redirects=False,
        )
        assert response.status == 303
        target = response.headers["Location"]
        assert target.startswith("/questions/learn-interpretability?q=")
        page = await (await web.get(target)).text()
    assert "You searched for “wher can i lern about interpretabilty”: matched the phrasing" in page


async def test_search_did_you_mean_and_nothing_say_why(app: App) -> None:
    async with client(app) as web:
        unsure = await (await web.get("/search", params={"q": "learn more"})).text()
        nothing = await web.get("/search", params={"q": "what is the capital of France?"})
        empty = await web.get("/search", params={"q": "   "})
        chat = await (await web.get("/search", params={"q": "thanks!"})).text()
    reply = app.service.ask("learn more")
    assert reply.suggestions, "the knowledge base should be unsure about 'learn more'"
    assert "Did you mean" in unsure
    for suggestion in reply.suggestions:
        assert f'href="/questions/{suggestion.question.id}"' in unsure
    assert "<strong>Why:</strong>" in unsure
    assert nothing.status == 200
    text = await nothing.text()
    assert "No answer found" in text and "<strong>Why:</strong>" in text
    assert empty.status == 200 and "Did you mean" not in await empty.text()
    assert "No answer found" not in chat and "Ask a question" in chat


async def test_unanswered_lists_known_questions_never_what_members_typed(tmp_path: Path) -> None:
    questions = [
        Question("known-open", "Is this known but open?", tags=("t",)),
        Question("done", "Is this answered?", tags=("t",), answers=(Answer("done-a", "Yes."),)),
    ]
    db = tmp_path / "db"
    async with App.open(settings(db), knowledge=knowledge(questions)) as bot:
        await bot.service.note_unanswered(
            "my private member question about zebras", asker_id=5, channel_id=6, guild_id=7
        )
    async with (
        App.open(settings(db), record=False, knowledge=knowledge(questions)) as app,
        client(app) as web,
    ):
        response = await web.get("/unanswered")
        page = await response.text()
        bad = await web.get("/unanswered", params={"page": "zero"})
    assert response.status == 200
    assert 'href="/questions/known-open"' in page
    assert "/questions/done" not in page
    assert "zebras" not in page
    assert bad.status == 400 and "page must be a whole number" in await bad.text()


async def test_unknown_page_is_a_friendly_404(app: App) -> None:
    async with client(app) as web:
        response = await web.get("/wiki/what-is-ai-alignment")
        page = await response.text()
    assert response.status == 404
    assert "<main" in page and "Page not found" in page
    assert 'href="/questions/what-is-ai-alignment"' in page


async def test_pages_are_accessible_and_work_without_script(app: App) -> None:
    async with client(app) as web:
        for path in ("/", "/tags", "/tags/alignment", "/questions/what-is-stampy", "/unanswered"):
            page = await (await web.get(path)).text()
            assert '<html lang="en">' in page
            assert "<header" in page and '<main id="content"' in page and "<footer" in page
            assert page.count("<h1") == 1, path
            assert all('alt="' in tag for tag in re.findall(r"<img[^>]*>", page)), path
            assert 'name="viewport"' in page


# -- the JSON API ---------------------------------------------------------------------------------


async def test_api_search(app: App) -> None:
    async with client(app) as web:
        response = await web.get("/api/search", params={"q": "what is stampy"})
        body = await response.json()
        missing = await web.get("/api/search")
        long = await web.get("/api/search", params={"q": "a" * 501})
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert body["decision"] == "answer" and body["answered"] is True
    assert body["question"]["id"] == "what-is-stampy"
    assert body["answers"][0]["canonical"] is True and "why" in body
    assert missing.status == 400
    assert (await missing.json())["error"] == {
        "status": 400,
        "message": "the parameter q (the question) is missing or empty",
    }
    assert long.status == 400 and (await long.json())["error"]["status"] == 400


async def test_api_question_tags_and_tag(app: App) -> None:
    async with client(app) as web:
        question = await web.get("/api/questions/what-is-stampy")
        missing = await web.get("/api/questions/nope")
        tags = await (await web.get("/api/tags")).json()
        tag = await web.get("/api/tags/alignment")
        no_tag = await web.get("/api/tags/nope")
    data = await question.json()
    assert data["id"] == "what-is-stampy" and data["answers"][0]["stamps"] == 0
    assert "Who are you?" in data["alternate_phrasings"]
    assert missing.status == 404 and (await missing.json())["error"]["status"] == 404
    names = {t["name"]: t["questions"] for t in tags["tags"]}
    assert names == {tag.name: count for tag, count in app.service.tags()}
    listing = await tag.json()
    assert tag.status == 200 and listing["name"] == "alignment"
    assert any(q["id"] == "what-is-ai-alignment" for q in listing["canonical"])
    assert no_tag.status == 404


async def test_api_openapi_cors_methods_and_unknown_paths(app: App) -> None:
    async with client(app) as web:
        spec = await (await web.get("/api/openapi.json")).json()
        preflight = await web.options(
            "/api/search",
            headers={"Origin": "https://x.example", "Access-Control-Request-Method": "GET"},
        )
        post = await web.post("/api/search", data="q=x")
        unknown = await web.get("/api/nothing-here")
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) == {
        "/api/search",
        "/api/questions/{id}",
        "/api/tags",
        "/api/tags/{name}",
    }
    assert preflight.status == 204
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert post.status == 405 and (await post.json())["error"]["status"] == 405
    assert unknown.status == 404 and (await unknown.json())["error"]["status"] == 404


async def test_etags_answer_304_until_the_content_changes(app: App) -> None:
    async with client(app) as web:
        first = await web.get("/api/questions/what-is-stampy")
        etag = first.headers["ETag"]
        again = await web.get("/api/questions/what-is-stampy", headers={"If-None-Match": etag})
        empty = await again.read()
        page = await web.get("/questions/what-is-stampy")
        page_again = await web.get(
            "/questions/what-is-stampy", headers={"If-None-Match": page.headers["ETag"]}
        )
        await stamp(app, "what-is-stampy", "what-is-stampy-canonical", message=3, voter=4)
        changed = await web.get("/api/questions/what-is-stampy", headers={"If-None-Match": etag})
    assert again.status == 304 and empty == b""
    assert again.headers["ETag"] == etag
    assert page_again.status == 304
    assert changed.status == 200 and changed.headers["ETag"] != etag
    assert (await changed.json())["answers"][0]["stamps"] == 1


# -- operations -----------------------------------------------------------------------------------


async def test_healthz(app: App) -> None:
    async with client(app) as web:
        ok = await web.get("/healthz")
        body = await ok.json()
    assert ok.status == 200 and body["status"] == "ok"
    assert body["checks"]["database"]["ok"] and body["checks"]["knowledge"]["questions"] > 0
    async with client(app, gateway=lambda: False) as web:
        down = await web.get("/healthz")
    assert down.status == 503
    assert (await down.json())["checks"]["gateway"] == {"ok": False}


async def test_healthz_503_when_the_database_is_gone(tmp_path: Path) -> None:
    async with App.open(settings(tmp_path / "db"), record=False) as app:
        async with client(app) as web:
            assert app.store is not None
            await app.store.close()
            response = await web.get("/healthz")
            body = await response.json()
    assert response.status == 503
    assert body["status"] == "unhealthy" and body["checks"]["database"]["ok"] is False


async def test_metrics_count_questions_stamps_and_changes(app: App) -> None:
    async with client(app) as web:
        await web.get("/search", params={"q": "what is stampy"})
        await web.get("/api/search", params={"q": "what is the capital of France?"})
        await stamp(app, "what-is-stampy", "what-is-stampy-canonical", message=3, voter=4)
        assert app.curator is not None
        await app.curator.add_alias(MOD, "what-is-stampy", "Tell me about Stampy please")
        response = await web.get("/metrics")
        text = await response.text()
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
    values = dict(re.findall(r"^(stampy_[^ ]+) ([0-9.e+]+)$", text, re.M))
    assert float(values['stampy_questions_total{decision="answer"}']) >= 1
    assert float(values['stampy_questions_total{decision="none"}']) >= 1
    assert float(values["stampy_reply_seconds_count"]) >= 2
    assert float(values['stampy_stamps_recorded_total{change="added"}']) == 1
    assert float(values["stampy_moderation_changes_total"]) == 1
    assert "stampy_gateway_reconnects_total 0.0" in text


# -- a separate web process follows the bot's database --------------------------------------------


async def test_a_separate_site_sees_edits_and_stamps_without_restart(tmp_path: Path) -> None:
    db = tmp_path / "db"
    async with App.open(settings(db)) as bot, App.open(settings(db), record=False) as site:
        refresher = Refresher(site, interval=3600)
        await refresher.start()
        try:
            async with client(site) as web:
                before = await (await web.get("/api/questions/what-is-stampy")).json()
                assert bot.curator is not None
                await bot.curator.add_alias(MOD, "what-is-stampy", "Who built this helper bot?")
                await stamp(bot, "what-is-stampy", "what-is-stampy-canonical", message=8, voter=9)
                assert await refresher.check() is True
                after = await (await web.get("/api/questions/what-is-stampy")).json()
                assert await refresher.check() is False  # nothing new
        finally:
            await refresher.close()
    assert before["answers"][0]["stamps"] == 0
    assert "Who built this helper bot?" in after["alternate_phrasings"]
    assert after["answers"][0]["stamps"] == 1


# -- hostile content ------------------------------------------------------------------------------

HOSTILE = [
    Question(
        "hostile",
        'What is <script>alert("q")</script> "><img src=x onerror=alert(1)>?',
        alternate_phrasings=("<svg onload=alert(2)>",),
        tags=("<script>alert(3)</script>", '" onmouseover="alert(4)', "javascript:alert(5)"),
        answers=(
            Answer(
                "hostile-a",
                "<script>alert(6)</script>\n\n[click](javascript:alert(7)) "
                "[data](data:text/html,<script>alert(8)</script>) "
                '<a href="javascript:alert(9)">raw</a> ![img](x" onerror="alert(10))\n\n'
                "`<b>` ||secret <@123456789012345678>|| <@&55> <#66>",
                canonical=True,
                author="<img src=x onerror=alert(11)> <@123456789012345678>",
                source="javascript:alert(12)",
            ),
        ),
    ),
]


class _Elements(HTMLParser):
    """Every element and attribute of a page, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {name: value or "" for name, value in attrs}))


#: Elements the site's own templates use (an answer can add only inline markup and links).
_ALLOWED = {
    "html",
    "head",
    "meta",
    "title",
    "link",
    "script",
    "body",
    "a",
    "header",
    "nav",
    "ul",
    "ol",
    "li",
    "form",
    "label",
    "input",
    "button",
    "main",
    "footer",
    "p",
    "section",
    "h1",
    "h2",
    "h3",
    "div",
    "span",
    "strong",
    "em",
    "code",
    "pre",
    "blockquote",
    "br",
    "hr",
    "article",
    "img",
    "h4",
    "h5",
    "h6",
}


def _assert_safe(html: str) -> None:
    parser = _Elements()
    parser.feed(html)
    for tag, attrs in parser.found:
        assert tag in _ALLOWED, f"<{tag}> in {html[:300]}"
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        if tag == "script":
            assert attrs.get("src") == "/static/site.js", attrs
        if tag == "img":
            assert attrs.get("src") == "/static/stamp.svg", attrs
        for name in ("href", "src", "action"):
            value = attrs.get(name, "").strip().lower()
            assert not value.startswith(("javascript:", "data:", "vbscript:")), (tag, attrs)


async def test_hostile_answers_tags_and_queries_are_rendered_safely(tmp_path: Path) -> None:
    async with (
        App.open(settings(tmp_path / "db"), record=False, knowledge=knowledge(HOSTILE)) as app,
        client(app) as web,
    ):
        pages = [
            await (await web.get("/questions/hostile")).text(),
            await (await web.get("/")).text(),
            await (await web.get("/tags")).text(),
            await (await web.get("/tags/" + "%3Cscript%3Ealert(3)%3C%2Fscript%3E")).text(),
            await (await web.get("/search", params={"q": '"><script>alert(13)</script>'})).text(),
            await (await web.get('/questions/"><script>alert(14)<%2Fscript>')).text(),
            await (await web.get("/nope/<script>alert(15)</script>")).text(),
            await (await web.get("/unanswered", params={"page": "<script>"})).text(),
        ]
        api = await (await web.get("/api/questions/hostile")).json()
    for page in pages:
        _assert_safe(page)
    question = pages[0]
    assert "&lt;script&gt;alert(6)&lt;/script&gt;" in question  # raw HTML shown as text
    assert ">click</a>" not in question and "[click](javascript:alert(7))" in question
    assert 'class="spoiler"' in question
    assert "123456789012345678" not in question and "a member" in question
    assert "a role" in question and "a channel" in question
    assert 'href="javascript' not in question  # the source link too
    _assert_safe(api["answers"][0]["html"])
    assert "123456789012345678" not in json.dumps(api)


def test_markdown_keeps_safe_links_and_renders_spoilers() -> None:
    html = str(render_markdown("See [docs](https://example.org) and ||the end|| *now*"))
    assert '<a href="https://example.org" rel="nofollow noopener noreferrer">docs</a>' in html
    assert '<span class="spoiler" tabindex="0" title="spoiler">the end</span>' in html
    assert "<em>now</em>" in html
    assert "href" not in str(render_markdown("[x](vbscript:msgbox) [y](//evil.example/)"))


# -- configuration --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("port = 0", "'web.port' must be between 1 and 65535, got 0"),
        ('host = "bad host"', "'web.host' must be a host name or IP address"),
        ('base_url = "javascript:alert(1)"', "'web.base_url' must be an http:// or https://"),
        ('with_bot = "yes"', "web.with_bot"),
        ("prot = 80", "prot"),
    ],
)
def test_web_settings_are_checked(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[web]\n{text}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert message in str(caught.value)


def test_web_settings_defaults_and_example(tmp_path: Path) -> None:
    example = load_settings(Path(__file__).resolve().parent.parent / "config.example.toml", env={})
    assert example.web.host == "127.0.0.1" and example.web.with_bot is False


_PIECES = st.sampled_from(
    [
        "<script>",
        "</script>",
        "javascript:",
        "JaVaScRiPt:",
        "data:",
        "[x](",
        ")",
        "](",
        "<",
        ">",
        '"',
        "'",
        " onerror=",
        "<img src=x",
        "||",
        "<@123456789>",
        "*",
        "`",
        "\n",
        "&#106;avascript:",
        "<a href=",
        "![i](",
    ]
)


@settings_(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=5)), max_size=30).map("".join))
def test_no_text_renders_to_markup_that_runs(text: str) -> None:
    html = str(render_markdown(text))
    _assert_safe(html)
    assert '<a href="javascript' not in html.lower()
    assert "123456789" not in html


async def test_authors_are_shown_by_the_name_captured_when_they_wrote(app: App) -> None:
    assert app.curator is not None
    moderator = Moderator("Ada Lovelace", 987654321012345678, 1000)
    await app.curator.add_answer(
        moderator, "what-is-stampy", "Ask <@987654321012345678> or <@111111111111111111>."
    )
    async with client(app) as web:
        page = await (await web.get("/questions/what-is-stampy")).text()
        data = await (await web.get("/api/questions/what-is-stampy")).json()
    assert "by Ada Lovelace" in page and "Ask @Ada Lovelace or a member." in page
    added = [a for a in data["answers"] if not a["canonical"]][0]
    assert added["author"] == "Ada Lovelace"
    assert added["text"] == "Ask @Ada Lovelace or a member."
    assert "987654321012345678" not in page + json.dumps(data)
    assert "111111111111111111" not in page + json.dumps(data)
