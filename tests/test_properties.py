"""Property-based tests: hostile or random input never raises out of the core."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import discord
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.curation import Curator, Moderator, Refused, clean_text, split_lines, split_tags
from bot.discord import render
from bot.discord.moderation import refusal
from bot.discord.moderation.views import (
    CHOICE_LIMIT,
    CHOICES,
    answer_label,
    change_text,
    choice_name,
    question_embed,
)
from bot.discord.render import units
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.loader import load_directory, parse_text, validate_question
from bot.knowledge.matcher import Decision, Matcher
from bot.knowledge.model import Answer, Question
from bot.knowledge.text import normalize, tokenize
from bot.store import Store

ANSWERS_DIR = Path(__file__).resolve().parents[1] / "answers"

# Text that mixes what people (and attackers) type: letters of several scripts, digits,
# punctuation, markdown, mentions, zero-width and bidirectional marks, emoji, NUL bytes.
PIECES = st.one_of(
    st.characters(codec="utf-8"),
    st.sampled_from(
        list("*_~`|>#[]()@<>&!?.,'\"\\\n\t ")
        + ["\u200b", "\u200f", "\u202e", "\ufeff", "\x00", "🙂", "👍🏽", "é", "ß", "İ"]
        + ["@everyone", "@here", "<@123>", "<@&456>", "<#789>", "discord.gg/abc"]
        + ["interpretability", "neurons", "what is", "How can "]
    ),
)
HOSTILE = st.lists(PIECES, max_size=120).map("".join)

PHRASINGS = [
    "Where can I learn about interpretability?",
    "What is neural network modularity?",
    "How can we interpret what all the neurons mean?",
    "Couldn't we have a human approve every decision?",
    "Что такое интерпретируемость?",
]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    built = Matcher()
    for number, phrasing in enumerate(PHRASINGS):
        built.upsert(f"q{number}", [phrasing])
    return built


@given(HOSTILE)
def test_normalize_is_idempotent_and_clean(text: str) -> None:
    normal = normalize(text)
    assert normalize(normal) == normal
    assert normal == normal.strip()
    assert "  " not in normal
    assert "\u200b" not in normal and "\x00" not in normal
    assert tokenize(text) == (normal.split() if normal else [])


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(HOSTILE, st.integers(min_value=0, max_value=10))
def test_matcher_never_raises_and_scores_stay_in_range(matcher: Matcher, text: str, k: int) -> None:
    candidates = matcher.search(text, k=k)
    assert len(candidates) <= k
    assert all(0.0 <= c.score <= 1.0 + 1e-9 for c in candidates)
    result = matcher.match(text)
    assert result.decision in set(Decision)
    assert result.reason


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(HOSTILE, min_size=1, max_size=4))
def test_matcher_indexes_any_phrasing(matcher: Matcher, phrasings: list[str]) -> None:
    matcher.upsert("random", phrasings)
    for phrasing in phrasings:
        matcher.search(phrasing)
    matcher.remove("random")
    assert "random" not in matcher


@settings(max_examples=200)
@given(HOSTILE)
def test_loader_never_raises_on_any_text(text: str) -> None:
    questions, errors = parse_text(text, "random.yaml")
    assert not (questions and errors)
    for error in errors:
        assert error.path == "random.yaml"
        assert error.line >= 0
        assert str(error).startswith("random.yaml:")


YAML_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), HOSTILE
)
YAML_VALUES = st.recursive(
    YAML_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "questions",
                    "id",
                    "question",
                    "answers",
                    "text",
                    "tags",
                    "canonical",
                    "alternate_phrasings",
                    "author",
                    "source",
                    "topic",
                    "other",
                ]
            ),
            children,
            max_size=5,
        ),
    ),
    max_leaves=20,
)


@settings(max_examples=200)
@given(YAML_VALUES)
def test_loader_never_raises_on_any_structure(value: object) -> None:
    import yaml

    text = yaml.safe_dump({"questions": [value]} if not isinstance(value, dict) else value)
    questions, errors = parse_text(text, "structure.yaml")
    assert not (questions and errors)  # a file with an error contributes nothing
    assert all(str(error).startswith("structure.yaml:") for error in errors)


# -- what the bot would send: Discord's limits, whatever the text -------------------------------
# (bot/discord/render.py and moderation/views.py; limits in UTF-16 units, as Discord counts)

LONG_TEXT = st.one_of(
    HOSTILE,
    st.builds(lambda piece, n: piece * n, PIECES, st.integers(min_value=1, max_value=4500)),
)
AUTHORS = st.one_of(st.none(), st.text(min_size=1, max_size=100), st.just("🙂" * 100))
SOURCES = st.one_of(st.none(), st.builds(lambda s: "https://example.org/" + s, st.text()))
ANSWERS = st.builds(
    lambda number, text, canonical, author, source: Answer(
        id=f"a{number}", text=text or "x", canonical=canonical, author=author, source=source
    ),
    st.integers(min_value=0, max_value=10**6),
    LONG_TEXT,
    st.booleans(),
    AUTHORS,
    SOURCES,
)
QUESTIONS = st.builds(
    lambda text, phrasings, tags, answers: Question(
        id="q-" + "x" * 60,
        text=text[:256] or "?",
        alternate_phrasings=tuple(phrasings),
        tags=tuple(tags),
        answers=tuple(answers),
    ),
    LONG_TEXT,
    st.lists(LONG_TEXT, max_size=8),
    st.lists(st.text(min_size=1, max_size=32), max_size=30),
    st.lists(ANSWERS, max_size=14),
)


def assert_embeds_fit(embeds: list[discord.Embed]) -> None:
    """Every limit Discord puts on the embeds of one message."""
    assert len(embeds) <= render.EMBEDS_PER_MESSAGE
    for embed in embeds:
        assert units(embed.title or "") <= render.TITLE_LIMIT
        assert units(embed.description or "") <= render.DESCRIPTION_LIMIT
        assert units(embed.footer.text or "") <= render.FOOTER_LIMIT
        assert len(embed.fields) <= render.FIELD_COUNT_LIMIT
        for embed_field in embed.fields:
            assert 0 < units(embed_field.name or "") <= render.FIELD_NAME_LIMIT
            assert 0 < units(embed_field.value or "") <= render.FIELD_VALUE_LIMIT
    assert sum(render.embed_units(embed) for embed in embeds) <= render.EMBED_TOTAL_LIMIT


@settings(max_examples=60, deadline=None)
@given(QUESTIONS, st.integers(min_value=0, max_value=10**15))
def test_every_embed_fits_discords_limits(question: Question, stamps: int) -> None:
    answer = question.answers[0] if question.answers else None
    assert_embeds_fit([render.answer_embed(question, answer, stamps=stamps)])
    assert_embeds_fit(render.other_answers_embeds(question, question.answers))
    assert_embeds_fit([question_embed(question)])
    assert_embeds_fit([question_embed(question, title="Version 3 of " + question.text)])


@settings(max_examples=100, deadline=None)
@given(LONG_TEXT, st.floats(min_value=0, max_value=1), st.one_of(st.none(), HOSTILE))
def test_every_text_and_label_fits_discords_limits(text: str, score: float, reason: object):
    assert units(render.truncate(text, 2000)) <= 2000
    assert units(render.suggestion_label(text)) <= render.LABEL_LIMIT
    assert 0 < units(choice_name(text)) <= CHOICE_LIMIT and "\n" not in choice_name(text)
    answer = Answer(id="a-1", text=text or "x", canonical=True)
    assert 0 < units(answer_label(answer)) <= CHOICE_LIMIT
    why = render.why_text(text[:256], score, reason if isinstance(reason, str) else None)
    assert units(why) <= render.CONTENT_LIMIT
    assert units(refusal(Refused(text))) <= render.CONTENT_LIMIT


# -- moderators' input: the form fields and command options -------------------------------------


@pytest.fixture(scope="module")
def curated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Curator]]:
    """A curator on the shipped answers and a real database, with its own event loop (so
    that hypothesis can drive it from synchronous tests)."""
    loop = asyncio.new_event_loop()
    store = loop.run_until_complete(Store.open(tmp_path_factory.mktemp("curated") / "db"))
    knowledge = KnowledgeBase(Matcher(), load_directory(ANSWERS_DIR).questions)
    curator = Curator(knowledge, store, ANSWERS_DIR)
    loop.run_until_complete(curator.start())
    yield loop, curator
    loop.run_until_complete(store.close())
    loop.close()


FORM_TEXT = st.one_of(HOSTILE, LONG_TEXT, st.just(""), st.just("   \n "))
MOD = Moderator("Mod <@1> @everyone", 1001, 42)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(FORM_TEXT, FORM_TEXT, FORM_TEXT, FORM_TEXT, st.booleans())
def test_the_add_form_refuses_or_adds_and_never_raises(
    curated: tuple[Any, Curator], question: str, answer: str, phrasings: str, tags: str, canon: bool
) -> None:
    loop, curator = curated
    lines, tag_list = split_lines(phrasings), split_tags(tags)
    assert all(line and "\n" not in line for line in lines)
    assert all(tag and tag == tag.lower() and "," not in tag for tag in tag_list)
    for cleaned in (clean_text(question), clean_text(answer)):
        assert cleaned == cleaned.strip() and "\x00" not in cleaned and "\r" not in cleaned
        cleaned.encode("utf-8")  # never a lone surrogate
    before = len(curator.knowledge)
    try:
        change = loop.run_until_complete(
            curator.add_question(
                MOD,
                question,
                answer=answer,
                alternate_phrasings=lines,
                tags=tag_list,
                canonical=canon,
            )
        )
    except Refused as refused:
        assert refused.reason and len(curator.knowledge) == before
        assert units(refusal(refused)) <= render.CONTENT_LIMIT
        return
    assert change.after is not None and curator.knowledge.get(change.question_id) is not None
    assert validate_question(change.after, {}) == []
    assert units(change_text(change)) <= render.CONTENT_LIMIT


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(HOSTILE, st.sampled_from(["add_alias", "add_tag", "remove_alias", "remove_tag"]))
def test_command_options_are_refused_or_applied_and_never_raise(
    curated: tuple[Any, Curator], value: str, method: str
) -> None:
    loop, curator = curated
    try:
        found = curator.require(value)  # a question option: id or wording, never raises else
        assert found.id
    except Refused as refused:
        assert units(refusal(refused)) <= render.CONTENT_LIMIT
    try:
        loop.run_until_complete(getattr(curator, method)(MOD, "what-is-agi", value))
    except Refused as refused:
        assert units(refusal(refused)) <= render.CONTENT_LIMIT


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.one_of(HOSTILE, LONG_TEXT))
def test_autocomplete_choices_fit_discords_limits(curated: tuple[Any, Curator], typed: str) -> None:
    _, curator = curated
    found = curator.question_choices(typed, CHOICES)
    assert len(found) <= CHOICES
    for question in found:
        assert 0 < units(choice_name(question.text)) <= CHOICE_LIMIT
        assert len(question.id) <= CHOICE_LIMIT  # the choice's value
        for answer in question.answers:
            assert 0 < units(answer_label(answer)) <= CHOICE_LIMIT
