"""Browsing's embeds and buttons stay within Discord's limits whatever tags and questions
hold (property tests with hostile text), and the tag page puts each question in its section."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import discord
from hypothesis import given, settings
from hypothesis import strategies as st
from test_properties import HOSTILE, LONG_TEXT, assert_embeds_fit

from bot.browse import TagPage
from bot.discord import render
from bot.discord.browsing.views import (
    PAGE_SIZE,
    help_embed,
    tag_page_message,
    tags_embed,
)
from bot.discord.render import CUSTOM_ID_LIMIT, LABEL_LIMIT, soft_breaks, units
from bot.knowledge.model import Answer, Question, Tag
from bot.store.reports import Report

TAG_NAMES = st.from_regex(r"[a-z0-9][a-z0-9-]{0,31}", fullmatch=True)
TAGS = st.builds(
    lambda name, description, link, internal: Tag(
        name, description=description or None, link=link, internal=internal
    ),
    TAG_NAMES,
    st.one_of(st.none(), LONG_TEXT, HOSTILE),
    st.one_of(st.none(), st.builds(lambda s: "https://example.org/" + s, HOSTILE)),
    st.booleans(),
)


def question(number: int, text: str, answers: int, canonical: bool) -> Question:
    return Question(
        id=f"q{number}-" + "x" * 58,
        text=text[:256].strip() or "?",
        answers=tuple(
            Answer(id=f"a{number}-{i}-" + "y" * 55, text="answer", canonical=canonical and i == 0)
            for i in range(answers)
        ),
    )


QUESTION_LISTS = st.lists(
    st.tuples(st.one_of(LONG_TEXT, HOSTILE), st.integers(0, 2), st.booleans()),
    max_size=30,
).map(lambda rows: [question(i, *row) for i, row in enumerate(rows)])


def page_of(tag: Tag, questions: list[Question]) -> TagPage:
    return TagPage(
        tag,
        tuple(q for q in questions if q.canonical),
        tuple(q for q in questions if q.answers and not q.canonical),
        tuple(q for q in questions if not q.answers),
    )


def assert_components_fit(view: discord.ui.View | None) -> None:
    if view is None:
        return
    payload: list[dict[str, Any]] = view.to_components()
    assert len(payload) <= 5
    items = [c for row in payload for c in row["components"]]
    assert len(items) <= 25
    assert len({c["custom_id"] for c in items}) == len(items)
    for item in items:
        assert len(item["custom_id"]) <= CUSTOM_ID_LIMIT
        assert 0 < units(item["label"]) <= LABEL_LIMIT


def render_page(
    tag: Tag, questions: list[Question], offset: int, main: Question | None
) -> tuple[discord.Embed, discord.ui.View | None]:
    async def build() -> tuple[discord.Embed, discord.ui.View | None]:
        # a view needs a running event loop
        return tag_page_message(
            page_of(tag, questions), offset, stamps=lambda q: 10**15, main_question=main
        )

    return asyncio.run(build())


@settings(max_examples=80, deadline=None)
@given(TAGS, QUESTION_LISTS, st.integers(0, 40), st.booleans())
def test_tag_pages_fit_discords_limits_whatever_the_tag_says(
    tag: Tag, questions: list[Question], offset: int, with_main: bool
) -> None:
    main = questions[0] if with_main and questions else None
    embed, view = render_page(tag, questions, offset, main)
    assert_embeds_fit([embed])
    assert_components_fit(view)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(TAGS, st.integers(0, 10**9)), max_size=300))
def test_the_tag_list_fits(tags: list[tuple[Tag, int]]) -> None:
    assert_embeds_fit([tags_embed(tags)])


@settings(max_examples=60, deadline=None)
@given(HOSTILE, LONG_TEXT, HOSTILE, st.one_of(st.none(), st.integers(1, 2**63)))
def test_posted_reports_fit(name: str, text: str, answer: str, reporter: int | None) -> None:
    report = Report(
        id=2**40,
        question_id="q",
        answer_id="a",
        reporter_id=reporter,
        reporter_name=name,
        text=text,
        channel_id=1,
        guild_id=2,
        message_id=3,
        reported_at=datetime.now(UTC),
        status="open",
    )
    q = Question(id="q", text=(answer[:256].strip() or "?"))
    embed = render.report_embed(report, q, Answer(id="a", text=answer or "x"))
    assert_embeds_fit([embed])


def test_help_fits() -> None:
    assert_embeds_fit([help_embed()])


def test_each_question_is_in_its_section_numbered_across_pages() -> None:
    questions = [question(i, f"Question {i}?", i % 3, i % 2 == 0) for i in range(14)]
    tag = Tag("t", description="About t.")
    embed, view = render_page(tag, questions, 0, None)
    page = page_of(tag, questions)
    sections = {f.name: f.value for f in embed.fields}
    ordered = [*page.canonical, *page.non_canonical, *page.unanswered][:PAGE_SIZE]
    for number, shown in enumerate(ordered, 1):
        name = (
            "Canonically answered"
            if shown in page.canonical
            else "Non-canonical answers"
            if shown in page.non_canonical
            else "Unanswered canonical questions"
        )
        assert f"{number}. {shown.text}" in sections[name]
    assert view is not None
    ids = [c["custom_id"] for row in view.to_components() for c in row["components"]]
    assert ids[:PAGE_SIZE] == [f"stampy:q:{shown.id}" for shown in ordered]
    assert ids[PAGE_SIZE:] == ["stampy:tag:0:p:t", "stampy:tag:10:n:t"]
    # the second page continues the numbering; an offset past the end shows the last page
    second, _ = render_page(tag, questions, 10, None)
    beyond, _ = render_page(tag, questions, 999, None)
    assert second.footer.text == beyond.footer.text
    assert second.footer.text.startswith("Page 2 of 2 · 14 question(s)")
    assert "11. " in "".join(f.value for f in second.fields)


def test_wrapped_descriptions_read_as_paragraphs_and_lists_stay() -> None:
    wrapped = "Making AI systems pursue the goals their designers\nintend, and keep doing so."
    assert soft_breaks(wrapped) == (
        "Making AI systems pursue the goals their designers intend, and keep doing so."
    )
    kept = "One.\n\nTwo:\n- a\n- b\n1. c\n> d\n# e\n```\ncode\nlines\n```\nend"
    assert soft_breaks(kept) == kept
    embed, _ = render_page(Tag("t", description=wrapped), [], 0, None)
    assert (embed.description or "").startswith(soft_breaks(wrapped))


@settings(max_examples=200, deadline=None)
@given(HOSTILE)
def test_joining_soft_breaks_is_stable_and_never_lengthens(text: str) -> None:
    joined = soft_breaks(text)
    assert soft_breaks(joined) == joined
    assert len(joined) <= len(text)
