"""The wiki's core: tags as records, tag pages, related questions, unanswered canonical
questions, reports and promotion by stamps. Through App, on a real SQLite database."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import browse
from bot.app import App
from bot.config import DatabaseSettings, KnowledgeSettings, ReportSettings, Settings, StampSettings
from bot.console import Console, render_tag_page, render_tags
from bot.curation import Moderator, Refused
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.loader import load_directory, parse_text
from bot.knowledge.matcher import Decision, Matcher
from bot.knowledge.model import Answer, Question, Tag
from bot.service import Service
from bot.store.stamps import StampOp

MOD = Moderator("Mod", 1001, 42)
CHANNEL, GUILD = 500, 42

KB = """\
topic: Stamps
questions:
  - id: what-is-a-stamp
    question: What is a stamp of approval?
    tags: [stamps, basics]
    answers:
      - id: what-is-a-stamp-1
        canonical: true
        text: A reaction that endorses an answer.
  - id: stamp-colours
    question: Which colours do stamps come in?
    tags: [stamps]
    answers:
      - id: stamp-colours-1
        text: Red ones.
      - id: stamp-colours-2
        text: Gold ones, worth five.
  - id: who-gives-stamps
    question: Who is allowed to hand out stamps?
    tags: [stamps]
    answers: []
  - id: what-is-ai
    question: What is artificial intelligence?
    tags: [basics]
    answers:
      - id: what-is-ai-1
        canonical: true
        text: Machines doing what minds do.
  - id: what-is-agi
    question: What is artificial general intelligence?
    tags: [basics, agi]
    answers:
      - id: what-is-agi-1
        canonical: true
        text: AI as general as people are.
  - id: staff-rota
    question: Who moderates the stamp channel this week?
    tags: [staff]
    answers:
      - id: staff-rota-1
        canonical: true
        text: See the pinned message.
"""


def settings_for(tmp_path: Path, **reports: object) -> Settings:
    answers = tmp_path / "answers"
    answers.mkdir(exist_ok=True)
    (answers / "stamps.yaml").write_text(KB, encoding="utf-8")
    return Settings(
        knowledge=KnowledgeSettings(answers_dir=str(answers)),
        database=DatabaseSettings(path=str(tmp_path / "stampy.db")),
        stamps=StampSettings(promote_share=0.5, promote_min_stamps=3),
        reports=ReportSettings(**reports),  # type: ignore[arg-type]
    )


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    async with App.open(settings_for(tmp_path)) as opened:
        yield opened


def ids(questions: object) -> list[str]:
    return [q.id for q in questions]  # type: ignore[attr-defined]


# -- tags as records -----------------------------------------------------------------------------


async def test_tags_list_undeclared_ones_and_hide_internal_ones(app: App):
    assert app.curator is not None
    names = [(tag.name, count) for tag, count in app.service.tags()]
    assert names == [("agi", 1), ("basics", 3), ("staff", 1), ("stamps", 3)]
    assert app.knowledge.tag("Stamps") == Tag("stamps")  # undeclared: a bare record
    assert app.knowledge.tag("nothing") is None

    await app.curator.set_tag(MOD, Tag("staff", description="Moderators only.", internal=True))
    assert [tag.name for tag, _ in app.service.tags()] == ["agi", "basics", "stamps"]
    assert [tag.name for tag, _ in app.service.tags(internal=True)] == [
        "agi",
        "basics",
        "staff",
        "stamps",
    ]
    assert app.service.tag_page("staff") is None
    assert app.service.tag_page("staff", internal=True) is not None
    assert app.service.tag_page("no-such-tag") is None


async def test_a_tag_page_has_the_three_sections(app: App):
    page = app.service.tag_page("STAMPS")
    assert page is not None
    assert page.tag == Tag("stamps") and page.tag.description is None
    assert ids(page.canonical) == ["what-is-a-stamp"]
    assert ids(page.non_canonical) == ["stamp-colours"]
    assert ids(page.unanswered) == ["who-gives-stamps"]


async def test_tag_records_are_versioned_and_survive_a_restart(tmp_path: Path):
    settings = settings_for(tmp_path)
    async with App.open(settings) as app:
        assert app.curator is not None
        change = await app.curator.set_tag(
            MOD,
            Tag(
                "stamps",
                description="  Reactions that **endorse** answers.  ",
                link="https://example.org/stamps",
                main_question="What is a stamp of approval?",  # a wording names the question
            ),
        )
        assert change.before is None and change.version == 1
        stored = app.knowledge.tag("stamps")
        assert stored == Tag(
            "stamps",
            "Reactions that **endorse** answers.",
            "https://example.org/stamps",
            "what-is-a-stamp",
        )
        second = await app.curator.set_tag(MOD, replace(stored, description=None))
        assert second.version == 2 and second.before == stored
        with pytest.raises(Refused, match="nothing to change"):
            await app.curator.set_tag(MOD, replace(stored, description=None))
    async with App.open(settings) as app:
        assert app.curator is not None
        assert app.knowledge.tag("stamps") == replace(stored, description=None)
        history = await app.curator.tag_history("stamps")
        assert [(h.version, h.current) for h in history] == [(2, True), (1, False)]
        assert history[1].tag == stored
        removed = await app.curator.remove_tag_record(MOD, "stamps")
        assert removed.after is None
        assert app.knowledge.tag("stamps") == Tag("stamps")  # still used by questions
        with pytest.raises(Refused, match="no record"):
            await app.curator.remove_tag_record(MOD, "stamps")


@pytest.mark.parametrize(
    ("tag", "reason"),
    [
        (Tag("stamps", link="javascript:alert(1)"), "link .* must be a link"),
        (Tag("stamps", main_question="no-such-question"), "there is no question"),
        (Tag("stamps", description="x" * 4097), "too long"),
        (Tag("two words"), "not valid"),
        (Tag("<@123>"), "not valid"),
    ],
)
async def test_a_bad_tag_record_is_refused_and_changes_nothing(app: App, tag: Tag, reason: str):
    assert app.curator is not None
    with pytest.raises(Refused, match=reason):
        await app.curator.set_tag(MOD, tag)
    assert app.knowledge.declared_tags() == []
    with pytest.raises(Refused):
        await app.curator.tag_history("stamps")  # nothing was written


# -- related questions -----------------------------------------------------------------------


async def test_related_questions_listed_first_else_nearest_by_tags(app: App):
    assert app.curator is not None
    # None listed: the answered questions sharing tags, never itself or an unanswered one.
    assert set(ids(app.service.related("what-is-a-stamp"))) == {
        "stamp-colours",
        "what-is-ai",
        "what-is-agi",
    }
    nearest = ids(app.service.related("what-is-ai"))
    assert nearest[0] == "what-is-agi" and "what-is-ai" not in nearest
    assert "who-gives-stamps" not in ids(app.service.related("stamp-colours"))

    await app.curator.add_related(MOD, "what-is-ai", "who-gives-stamps")
    await app.curator.add_related(MOD, "what-is-ai", "What is a stamp of approval?")
    assert ids(app.service.related("what-is-ai")) == ["who-gives-stamps", "what-is-a-stamp"]
    assert ids(app.service.related("what-is-ai", limit=1)) == ["who-gives-stamps"]
    with pytest.raises(Refused, match="itself"):
        await app.curator.add_related(MOD, "what-is-ai", "what-is-ai")
    with pytest.raises(Refused, match="already lists"):
        await app.curator.add_related(MOD, "what-is-ai", "who-gives-stamps")
    with pytest.raises(Refused, match="there is no question"):
        await app.curator.add_related(MOD, "what-is-ai", "no-such-question")
    await app.curator.remove_related(MOD, "what-is-ai", "who-gives-stamps")
    assert ids(app.service.related("what-is-ai")) == ["what-is-a-stamp"]
    history = await app.curator.history("what-is-ai")
    assert [h.action for h in history[:2]] == [
        "removed the related question 'who-gives-stamps'",
        "added the related question 'what-is-a-stamp'",
    ]
    assert app.service.related("no-such-question") == ()


async def test_internal_only_questions_are_never_related(app: App):
    assert app.curator is not None
    await app.curator.set_tag(MOD, Tag("staff", internal=True))
    await app.curator.add_related(MOD, "what-is-a-stamp", "staff-rota")
    assert "staff-rota" not in ids(app.service.related("what-is-a-stamp"))
    for question in app.knowledge:
        assert "staff-rota" not in ids(app.service.related(question.id, limit=10))


# -- unanswered canonical questions ------------------------------------------------------------


async def test_a_known_unanswered_question_offers_answered_ones_and_is_counted(app: App):
    reply = app.service.ask("who is allowed to hand out stamps?")
    assert reply.decision is Decision.ANSWER and reply.question is not None
    assert reply.question.id == "who-gives-stamps"
    assert not reply.answered and reply.answer is None
    assert 1 <= len(reply.alternatives) <= 3
    assert all(q.answers for q in reply.alternatives)
    assert "who-gives-stamps" not in ids(reply.alternatives)
    assert app.service.ask("what is a stamp of approval").answered

    app.service.ask("Who is allowed to hand out stamps")
    await app.service.settle()
    listed = await app.service.unanswered_canonical()
    assert [(q.id, n) for q, n in listed] == [("who-gives-stamps", 2)]
    assert await app.service.unanswered_canonical("stamps") == listed
    assert await app.service.unanswered_canonical("basics") == []
    assert await app.service.unanswered_canonical("no-such-tag") == []


async def test_unanswered_canonical_most_asked_first(app: App):
    assert app.curator is not None
    await app.curator.add_question(MOD, "How do I earn a gold stamp?", tags=["stamps"])
    listed = await app.service.unanswered_canonical()
    assert [(q.id, n) for q, n in listed] == [
        ("who-gives-stamps", 0),
        ("how-do-i-earn-a-gold-stamp", 0),
    ]
    app.service.ask("how do I earn a gold stamp")
    await app.service.settle()
    listed = await app.service.unanswered_canonical()
    assert [(q.id, n) for q, n in listed] == [
        ("how-do-i-earn-a-gold-stamp", 1),
        ("who-gives-stamps", 0),
    ]
    assert [q.id for q, _ in await app.service.unanswered_canonical(limit=1, offset=1)] == [
        "who-gives-stamps"
    ]


async def test_the_console_records_no_asks(tmp_path: Path):
    settings = settings_for(tmp_path)
    async with App.open(settings, record=False) as app:
        app.service.ask("who is allowed to hand out stamps?")
    async with App.open(settings) as app:
        listed = await app.service.unanswered_canonical()
        assert [(q.id, n) for q, n in listed] == [("who-gives-stamps", 0)]


# -- reports -----------------------------------------------------------------------------------


async def report(app: App, member: int, text: str = "This is out of date.") -> object:
    return await app.service.report(
        "stamp-colours", "stamp-colours-1", member, "Alice", text, CHANNEL, GUILD, 9001
    )


async def test_reports_reach_the_queue_and_are_rate_limited(tmp_path: Path):
    async with App.open(settings_for(tmp_path, per_member=2, window_minutes=60)) as app:
        assert app.curator is not None
        first = await report(app, 7)
        await report(app, 7, "Also, gold stamps are worth five.")
        with pytest.raises(Refused, match="already sent 2 reports in the last hour"):
            await report(app, 7, "A third one.")
        await report(app, 8)  # another member is not limited
        listed = await app.curator.reports.list()
        assert [(r.reporter_id, r.text) for r in listed] == [
            (7, "This is out of date."),
            (7, "Also, gold stamps are worth five."),
            (8, "This is out of date."),
        ]
        assert listed[0] == first
        assert (first.question_id, first.answer_id, first.message_id) == (
            "stamp-colours",
            "stamp-colours-1",
            9001,
        )
        await app.curator.resolve_report(MOD, first.id)
        assert await app.curator.reports.count() == 2
        with pytest.raises(Refused, match="already resolved"):
            await app.curator.dismiss_report(MOD, first.id)


async def test_reports_window_passes(tmp_path: Path):
    now = [datetime(2025, 1, 1, tzinfo=UTC)]
    async with App.open(settings_for(tmp_path, per_member=1, window_minutes=10)) as app:
        app.service.clock = lambda: now[0]
        await report(app, 7)
        with pytest.raises(Refused, match="10 minutes"):
            await report(app, 7)
        now[0] += timedelta(minutes=11)
        await report(app, 7)


@pytest.mark.parametrize(
    ("question", "answer", "text", "reason"),
    [
        ("no-such-question", None, "wrong", "no question"),
        ("stamp-colours", "no-such-answer", "wrong", "no answer"),
        ("stamp-colours", "stamp-colours-1", " \n\x00 ", "empty"),
        ("stamp-colours", "stamp-colours-1", "x" * 1001, "too long"),
    ],
)
async def test_bad_reports_are_refused_and_store_nothing(
    app: App, question: str, answer: str | None, text: str, reason: str
):
    assert app.curator is not None
    with pytest.raises(Refused, match=reason):
        await app.service.report(question, answer, 7, "Alice", text, CHANNEL, GUILD, 1)
    assert await app.curator.reports.count() == 0


# -- promotion by stamps -----------------------------------------------------------------------


async def stamp(app: App, message: int, voter: int, answer_id: str) -> None:
    assert app.stamps is not None
    await app.stamps.record_answer(
        message,
        channel_id=CHANNEL,
        guild_id=GUILD,
        question_id="stamp-colours",
        answer_id=answer_id,
    )
    await app.stamps.apply(StampOp(message, voter, "stamp", add=True, channel_id=CHANNEL))


async def test_stamps_promote_an_answer_and_a_moderator_confirms(app: App):
    assert app.curator is not None
    await stamp(app, 1, 11, "stamp-colours-2")
    await stamp(app, 1, 12, "stamp-colours-2")
    assert await app.service.check_promotion("stamp-colours-2") is None  # 2 stamps < 3
    await stamp(app, 2, 13, "stamp-colours-1")
    await stamp(app, 2, 14, "stamp-colours-1")
    await stamp(app, 1, 15, "stamp-colours-2")
    await stamp(app, 1, 16, "stamp-colours-2")
    # 4 of the 6 stamps: passes the share (0.5) and the minimum (3).
    promotion = await app.service.check_promotion("stamp-colours-2")
    assert promotion is not None
    assert (promotion.question_id, promotion.answer_id, promotion.stamps) == (
        "stamp-colours",
        "stamp-colours-2",
        4,
    )
    assert promotion.share == pytest.approx(4 / 6)
    assert await app.service.check_promotion("stamp-colours-2") is None  # proposed once
    assert await app.service.check_promotion("stamp-colours-1") is None  # 2 of 6
    assert await app.service.check_promotion("what-is-a-stamp-1") is None  # no stamps
    assert [p.id for p in await app.curator.promotions.list()] == [promotion.id]

    change = await app.curator.confirm_promotion(MOD, promotion.id)
    question = app.knowledge.get("stamp-colours")
    assert question is not None and question.canonical
    assert next(a for a in question.answers if a.id == "stamp-colours-2").canonical
    assert "promotion" in change.action
    assert await app.curator.promotions.count() == 0
    with pytest.raises(Refused, match="already approved"):
        await app.curator.confirm_promotion(MOD, promotion.id)
    page = app.service.tag_page("stamps")
    assert page is not None and "stamp-colours" in ids(page.canonical)


async def test_a_canonical_answer_is_never_promoted(app: App):
    assert app.stamps is not None
    for voter in (11, 12, 13, 14):
        await app.stamps.record_answer(
            3,
            channel_id=CHANNEL,
            guild_id=GUILD,
            question_id="what-is-a-stamp",
            answer_id="what-is-a-stamp-1",
        )
        await app.stamps.apply(StampOp(3, voter, "stamp", add=True, channel_id=CHANNEL))
    assert await app.service.check_promotion("what-is-a-stamp-1") is None


async def test_a_rejected_promotion_is_not_proposed_again(app: App):
    assert app.curator is not None
    for voter in (11, 12, 13):
        await stamp(app, 1, voter, "stamp-colours-2")
    promotion = await app.service.check_promotion("stamp-colours-2")
    assert promotion is not None
    rejected = await app.curator.reject_promotion(MOD, promotion.id)
    assert rejected.status == "rejected"
    await stamp(app, 1, 14, "stamp-colours-2")
    assert await app.service.check_promotion("stamp-colours-2") is None
    question = app.knowledge.get("stamp-colours")
    assert question is not None and not question.canonical


def test_the_test_knowledge_base_loads():
    questions, errors = parse_text(KB, "stamps.yaml")
    assert errors == [] and len(questions) == 6


async def test_related_prefers_more_shared_tags(app: App):
    assert app.curator is not None
    await app.curator.add_question(
        MOD, "Do labs building AGI give out stamps?", answer="Some do.", tags=["basics", "agi"]
    )
    assert ids(app.service.related("what-is-agi"))[0] == "do-labs-building-agi-give-out-stamps"


async def test_related_keeps_the_questions_most_recently_shown(
    app: App, monkeypatch: pytest.MonkeyPatch
):
    import bot.service

    worked_out: list[str] = []
    original = browse.related

    def counting(kb, question_id, limit):
        worked_out.append(question_id)
        return original(kb, question_id, limit)

    monkeypatch.setattr(browse, "related", counting)
    monkeypatch.setattr(bot.service, "RELATED_CACHE", 2)
    first, second, third = "what-is-ai", "what-is-agi", "who-gives-stamps"
    app.service.related(first)
    app.service.related(second)
    app.service.related(first)  # shown again: kept, not worked out again
    app.service.related(third)  # full: the least recently shown one goes
    app.service.related(first)
    assert worked_out == [first, second, third]
    app.service.related(second)
    assert worked_out == [first, second, third, second]


async def test_related_ids_round_trip_through_export_and_import(app: App, tmp_path: Path):
    assert app.curator is not None
    await app.curator.add_related(MOD, "what-is-ai", "what-is-agi")
    out = tmp_path / "out"
    app.curator.export(out)
    text = (out / "stamps.yaml").read_text(encoding="utf-8")
    assert "    related: [what-is-agi]\n" in text
    loaded = load_directory(out)
    assert loaded.errors == ()
    assert next(q for q in loaded.questions if q.id == "what-is-ai").related == ("what-is-agi",)
    report = await app.curator.import_directory(out)
    assert report.ok and not report.diff  # the database already serves exactly that
    first = (out / "stamps.yaml").read_bytes()
    app.curator.export(out)
    assert (out / "stamps.yaml").read_bytes() == first
    await app.curator.remove_related(MOD, "what-is-ai", "what-is-agi")
    app.curator.export(out)
    assert (out / "stamps.yaml").read_text(encoding="utf-8") == KB


@pytest.mark.parametrize(
    ("related", "message"),
    [
        ("[what-is-ai]", "lists itself as related"),
        ("[what-is-agi, what-is-agi]", "listed twice"),
        ("[Not An Id]", "related question id 'Not An Id' is not valid"),
        ("what-is-agi", "'related' must be a list"),
    ],
)
def test_bad_related_lists_are_reported_with_their_line(related: str, message: str):
    text = KB.replace("    tags: [basics]\n", f"    tags: [basics]\n    related: {related}\n", 1)
    questions, errors = parse_text(text, "stamps.yaml")
    assert questions == []
    line = text.splitlines().index(f"    related: {related}") + 1
    assert [(e.line, message in e.message) for e in errors] == [(line, True)], errors


# -- tags in the YAML files --------------------------------------------------------------------

TAGS = """\
# Tag records: the comment stays.
tags:
  - name: stamps
    description: |
      Reactions that endorse answers.
    main_question: what-is-a-stamp

  - name: basics
"""


async def test_tags_file_loads_and_edits_round_trip_byte_identically(tmp_path: Path):
    settings = settings_for(tmp_path)
    answers = Path(settings.knowledge.answers_dir)
    (answers / "tags.yaml").write_text(TAGS, encoding="utf-8")
    async with App.open(settings) as app:
        assert app.curator is not None
        assert app.knowledge.tag("stamps") == Tag(
            "stamps", "Reactions that endorse answers.", main_question="what-is-a-stamp"
        )
        assert app.knowledge.tag("basics") == Tag("basics")
        assert app.knowledge.is_declared("basics") and not app.knowledge.is_declared("agi")
        out = tmp_path / "unchanged"
        app.curator.export(out)
        assert (out / "tags.yaml").read_text(encoding="utf-8") == TAGS  # byte for byte

        await app.curator.set_tag(
            MOD, Tag("basics", description="Start here.\n\nNo *background* needed: ``yes``.")
        )
        await app.curator.set_tag(MOD, Tag("staff", description="Moderators.", internal=True))
        await app.curator.set_tag(MOD, Tag("stamps", link="https://example.org/s"))
        one = tmp_path / "one"
        app.curator.export(one)
    text = (one / "tags.yaml").read_text(encoding="utf-8")
    assert text.startswith("# Tag records: the comment stays.\n")
    loaded = load_directory(one)
    assert loaded.errors == ()
    assert {t.name: t for t in loaded.tags} == {
        "stamps": Tag("stamps", link="https://example.org/s"),
        "basics": Tag("basics", "Start here.\n\nNo *background* needed: ``yes``."),
        "staff": Tag("staff", "Moderators.", internal=True),
    }

    # into a fresh database on the same files, then out again: the same bytes
    fresh = replace(settings, database=DatabaseSettings(path=str(tmp_path / "fresh.db")))
    async with App.open(fresh) as app:
        assert app.curator is not None
        report = await app.curator.import_directory(one)
        assert report.ok and report.versions == 3
        assert app.service.tag("staff") is None and app.service.tag("staff", internal=True)
        two = tmp_path / "two"
        app.curator.export(two)
        again = await app.curator.import_directory(two)
        assert again.ok and again.versions == 0
    assert {p.name: p.read_bytes() for p in two.iterdir()} == {
        p.name: p.read_bytes() for p in one.iterdir()
    }


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("  - name: basics\n    colour: red\n", "unknown key 'colour'"),
        ("  - name: two words\n", "is not valid"),
        ("  - name: Stamps\n", "declared twice"),
        ("  - name: agi\n    link: ftp://example.org\n", "link 'ftp://example.org' must be"),
        ("  - name: agi\n    internal: maybe\n", "'internal' must be true or false"),
        ("  - name: agi\n    description: 12\n", "must be a string"),
        ("  - name: agi\n    main_question: no-such-question\n", "does not exist"),
        ("  - name: agi\n    description: '" + "x" * 4097 + "'\n", "too long"),
    ],
)
async def test_a_broken_tags_file_is_reported_with_its_line_and_changes_nothing(
    tmp_path: Path, entry: str, message: str
):
    settings = settings_for(tmp_path)
    tags = Path(settings.knowledge.answers_dir) / "tags.yaml"
    tags.write_text(TAGS, encoding="utf-8")
    async with App.open(settings) as app:
        assert app.curator is not None
        before = app.knowledge.declared_tags()
        tags.write_text(TAGS + entry, encoding="utf-8")
        report = await app.curator.reload()
        assert not report.ok
        # the line of the value at fault; a main question that does not exist: the tag's
        second = "\n    " in entry and "main_question" not in entry
        line = len(TAGS.splitlines()) + 1 + second
        assert [(Path(e.path).name, e.line) for e in report.errors] == [("tags.yaml", line)]
        assert message in report.errors[0].message
        assert app.knowledge.declared_tags() == before

        tags.write_text(
            TAGS.replace("  - name: basics\n", "  - name: basics\n    internal: true\n")
        )
        report = await app.curator.reload()
        assert report.ok
        assert app.service.tag("basics") is None  # reloaded: now internal


# -- the console -------------------------------------------------------------------------------


def console_on(tmp_path: Path) -> tuple[Console, io.StringIO]:
    settings = settings_for(tmp_path)
    (Path(settings.knowledge.answers_dir) / "tags.yaml").write_text(TAGS, encoding="utf-8")
    out = io.StringIO()
    return Console(App.offline(settings).service, out), out


def say(console: Console, out: io.StringIO, line: str) -> str:
    out.seek(0)
    out.truncate()
    console.handle(line)
    return out.getvalue()


def test_console_lists_tags_and_shows_tag_pages_and_related(tmp_path: Path):
    console, out = console_on(tmp_path)
    listed = say(console, out, ":tags")
    assert "  stamps  (3 questions): Reactions that endorse answers.\n" in listed
    assert "  agi  (1 question)\n" in listed and "  basics  (3 questions)\n" in listed

    page = say(console, out, ":tag Stamps")
    assert page.startswith("Tag: stamps\n  Reactions that endorse answers.\n")
    assert "  start with: What is a stamp of approval?  [what-is-a-stamp]" in page
    canonical, rest = page.split("Canonically answered (1):\n")[1].split("\n\n", 1)
    assert canonical == "  What is a stamp of approval?  [what-is-a-stamp]"
    assert "With non-canonical answers only (1):\n  Which colours do stamps come in?" in rest
    assert "Unanswered canonical questions (1):\n  Who is allowed to hand out stamps?" in rest
    assert "No description yet" in say(console, out, ":tag agi")
    assert "There is no tag 'nope'" in say(console, out, ":tag nope")
    assert "Usage: :tag NAME" in say(console, out, ":tag")

    related = say(console, out, ":related what-is-agi")
    assert related.startswith("Related to 'What is artificial general intelligence?':\n")
    assert "[what-is-ai]" in related and "[what-is-agi]" not in related
    assert "There is no question" in say(console, out, ":related nope")
    help_text = say(console, out, ":help")
    assert ":tags" in help_text and ":tag NAME" in help_text and ":related ID" in help_text

    unanswered = say(console, out, "who is allowed to hand out stamps?")
    assert "nobody has written an answer yet" in unanswered
    assert "Answered questions close to it:\n  " in unanswered


QUESTION = Question(
    "what-is-ai", "What is AI?", answers=(Answer("what-is-ai-1", "Machines.", canonical=True),)
)
hostile = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "M", "N", "P", "S", "Z", "C")),
    max_size=300,
)


@settings(max_examples=150, deadline=None)
@given(name=hostile, description=st.none() | hostile, link=st.none() | hostile)
def test_hostile_tag_text_never_breaks_the_console_rendering(
    name: str, description: str | None, link: str | None
):
    # Text no loader or moderator form would let through, straight into the records.
    tag = Tag(name, description, link, main_question="what-is-ai", internal=False)
    kb = KnowledgeBase(Matcher())
    kb.upsert(replace(QUESTION, tags=(name,)))
    kb._tags[name] = tag  # past upsert_tag's own check, as a damaged record would be
    service = Service(kb)
    page = browse.TagPage(tag, (kb.get("what-is-ai"),), (), ())  # type: ignore[arg-type]
    for text in (render_tags(service.tags()), render_tag_page(page, service)):
        assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text)
        text.encode("utf-8")  # no lone surrogates
    listed = render_tags(service.tags()).split("\n")
    assert len(listed) == 1 and len(listed[0]) <= 64 + 100
