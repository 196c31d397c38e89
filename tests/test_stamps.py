"""Tests for bot.stamps and bot.store.stamps: stamps counted once, durable, ranked.

Real databases, nothing mocked: the tests of the book and its tables run on both backends
(the ``database`` fixture: a SQLite file and a fresh PostgreSQL database); the command line
ones on a SQLite file.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from databases import independent_rows

from bot.cli import main
from bot.config import ConfigError, StampSettings, load_settings
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.matcher import Candidate
from bot.knowledge.model import Answer, Question
from bot.service import Service
from bot.stamps import StampBook, StampBookClosed, author_user_id, break_ties, rank_answers
from bot.store import MIGRATIONS, Store
from bot.store.stamps import StampOp

BOT = 900_000_000_000_000_001
ALICE = 100_000_000_000_000_001  # writes answers
BOB = 100_000_000_000_000_002
CAROL = 100_000_000_000_000_003
DAVE = 100_000_000_000_000_004
CHANNEL = 500_000_000_000_000_001
GUILD = 600_000_000_000_000_001
FAST = StampSettings(reputation_delay_seconds=0.01, embed_update_seconds=0.01)

# message ids: answer messages 1xxx, people's messages 2xxx
ANSWERED = 1001  # shows answer "a-canon" of question "q" (by Alice)
ANSWERED_TOO = 1002  # another message showing "a-canon"
OTHER = 1003  # shows "a-other" (no Discord author)
NO_ANSWER = 1004  # a known question without an answer yet
BOBS_MESSAGE = 2001
BOTS_MESSAGE = 2002  # the bot's, but not an answer


def question() -> Question:
    return Question(
        id="q",
        text="What is a stamp?",
        answers=(
            Answer(id="a-other", text="Another take.", author="Stampy team"),
            Answer(id="a-canon", text="A stamp of approval.", canonical=True, author=f"<@{ALICE}>"),
            Answer(id="a-third", text="A third take."),
        ),
    )


def author_of(question_id: str, answer_id: str) -> int | None:
    answer = next(a for a in question().answers if a.id == answer_id)
    return author_user_id(answer.author)


def add(message: int, voter: int, emoji: str = "stamp", author: int | None = None) -> StampOp:
    return StampOp(
        message, voter, emoji, add=True, channel_id=CHANNEL, guild_id=GUILD, author_id=author
    )


def remove(message: int, voter: int, emoji: str = "stamp") -> StampOp:
    return StampOp(message, voter, emoji, add=False, channel_id=CHANNEL, guild_id=GUILD)


@pytest.fixture
def db_path(database: str) -> str:
    """The database the book's store opens (on each backend)."""
    return database


async def open_book(
    path: str, settings: StampSettings = FAST, **kwargs: object
) -> tuple[Store, StampBook]:
    store = await Store.open(path)
    book = StampBook(store, settings, answer_author=author_of, bot_user_id=BOT, **kwargs)  # type: ignore[arg-type]
    await book.start()
    return store, book


async def track(book: StampBook) -> None:
    for message, answer in (
        (ANSWERED, "a-canon"),
        (ANSWERED_TOO, "a-canon"),
        (OTHER, "a-other"),
        (NO_ANSWER, None),
    ):
        await book.record_answer(
            message, channel_id=CHANNEL, guild_id=GUILD, question_id="q", answer_id=answer
        )


@pytest.fixture
async def book(db_path: str) -> AsyncIterator[StampBook]:
    store, opened = await open_book(db_path)
    await track(opened)
    try:
        yield opened
    finally:
        await opened.close()
        await store.close()


def config_for(database: str) -> str:
    """A config file's text pointing at ``database`` (either backend)."""
    key = "url" if database.startswith("postgresql://") else "path"
    return f'[database]\n{key} = "{database}"\n'


async def rows(path: str) -> list[tuple]:
    """The stamps as another connection sees them (i.e. committed)."""
    return await independent_rows(
        path, "SELECT message_id, voter_id, emoji, votee_id, answer_id FROM stamps ORDER BY 1, 2, 3"
    )


# --------------------------------------------------------------------------- events


async def test_a_stamp_counts_once_and_its_removal_takes_it_back(book: StampBook, db_path: str):
    first = await book.apply(add(ANSWERED, BOB))
    assert first is not None and first.added and first.row.answer_id == "a-canon"
    assert first.row.votee_id == ALICE  # the answer's author is credited
    assert await book.apply(add(ANSWERED, BOB)) is None  # a duplicate changes nothing
    assert book.count("a-canon") == 1
    assert await rows(db_path) == [(ANSWERED, BOB, "stamp", ALICE, "a-canon")]

    gone = await book.apply(remove(ANSWERED, BOB))
    assert gone is not None and not gone.added
    assert await book.apply(remove(ANSWERED, BOB)) is None  # removing nothing: a no-op
    assert await book.apply(remove(OTHER, CAROL)) is None
    assert book.count("a-canon") == 0 and await rows(db_path) == []


async def test_weights_come_from_the_config(book: StampBook):
    await book.apply(add(ANSWERED, BOB, "goldstamp"))
    assert book.count("a-canon") == 5
    await book.apply(add(ANSWERED, BOB, "stamp"))  # another emoji from the same person counts
    await book.apply(add(ANSWERED, CAROL, "🏅"))
    assert book.count("a-canon") == 7
    assert await book.apply(add(ANSWERED, DAVE, "thumbsup")) is None
    assert book.count("a-canon") == 7


def test_emoji_names_map_to_stamps():
    book_settings = StampSettings()
    assert book_settings.weights == {"stamp": 1, "goldstamp": 5, "🏅": 1}
    book = StampBook.__new__(StampBook)
    book.weights = book_settings.weights
    assert book.stamp_name("stamp", custom=True) == "stamp"
    assert book.stamp_name("goldstamp", custom=True) == "goldstamp"
    assert book.stamp_name("stamp", custom=False) is None  # a unicode emoji is never "stamp"
    assert book.stamp_name("🏅", custom=False) == "🏅"
    assert book.stamp_name("🏅\ufe0f", custom=False) == "🏅"
    assert book.stamp_name("🏅", custom=True) is None
    assert book.stamp_name("👍", custom=False) is None
    assert book.stamp_name(None, custom=True) is None


async def test_ignored_stamps(book: StampBook, db_path: str):
    assert await book.apply(add(ANSWERED, ALICE)) is None  # on your own answer
    assert await book.apply(add(BOBS_MESSAGE, BOB, author=BOB)) is None  # on your own message
    assert await book.apply(add(ANSWERED, BOT)) is None  # the bot's own reaction
    assert await book.apply(add(BOTS_MESSAGE, BOB, author=BOT)) is None  # untracked bot message
    assert await book.apply(add(NO_ANSWER, BOB)) is None  # nothing to endorse
    assert await book.apply(add(BOBS_MESSAGE, CAROL)) is None  # author unknown
    assert await rows(db_path) == []
    assert book.total_weight == 0


async def test_a_stamp_on_a_persons_message_is_a_vote_for_them(book: StampBook, db_path: str):
    change = await book.apply(add(BOBS_MESSAGE, CAROL, "goldstamp", author=BOB))
    assert change is not None and change.row.votee_id == BOB and change.row.answer_id is None
    assert await rows(db_path) == [(BOBS_MESSAGE, CAROL, "goldstamp", BOB, None)]
    assert book.total_weight == 5
    mine = book.user(BOB)
    assert (mine.received, mine.given) == (5, 0)
    theirs = book.user(CAROL)
    assert (theirs.received, theirs.given) == (0, 5)


async def test_an_answer_without_a_discord_author_is_endorsed_but_credits_nobody(book: StampBook):
    change = await book.apply(add(OTHER, BOB))
    assert change is not None and change.row.votee_id is None
    assert book.count("a-other") == 1 and book.total_weight == 0


async def test_one_person_stamping_two_messages_of_an_answer_counts_once(book: StampBook):
    await book.apply(add(ANSWERED, BOB))
    await book.apply(add(ANSWERED_TOO, BOB))
    assert book.count("a-canon") == 1
    await book.apply(remove(ANSWERED, BOB))
    assert book.count("a-canon") == 1  # still stamped on the other message
    await book.apply(remove(ANSWERED_TOO, BOB))
    assert book.count("a-canon") == 0


async def test_events_in_one_batch_apply_in_order(book: StampBook, db_path: str):
    changes = await book.apply_many(
        [
            add(ANSWERED, BOB),
            add(ANSWERED, BOB),
            remove(ANSWERED, BOB),
            remove(ANSWERED, BOB),
            add(ANSWERED, BOB),
            add(ANSWERED, CAROL),
            remove(ANSWERED, CAROL),
        ]
    )
    assert [c is not None and c.added for c in changes] == [
        True,
        False,
        False,
        False,
        True,
        True,
        False,
    ]
    assert [c is not None for c in changes] == [True, False, True, False, True, True, True]
    assert [(r[0], r[1]) for r in await rows(db_path)] == [(ANSWERED, BOB)]
    assert book.count("a-canon") == 1


# --------------------------------------------------------------------------- group commit


async def test_a_burst_is_written_in_few_transactions_and_is_durable(book: StampBook, db_path: str):
    voters = [300_000_000_000_000_000 + i for i in range(2000)]
    before = book.transactions
    results = await asyncio.gather(*(book.apply(add(ANSWERED, v)) for v in voters))
    assert all(r is not None for r in results)
    written = book.transactions - before
    assert 1 <= written <= 10, written  # 500 per batch at most: 4, plus a slow start
    assert len(await rows(db_path)) == 2000  # committed: another connection sees them all
    assert book.count("a-canon") == 2000


async def test_one_transaction_per_event_when_batches_are_one(db_path: str):
    store, book = await open_book(db_path, max_batch=1)
    try:
        await track(book)
        await asyncio.gather(*(book.apply(add(ANSWERED, 300 + i)) for i in range(20)))
        assert book.transactions == 20
    finally:
        await book.close()
        await store.close()


async def test_close_writes_what_is_queued_and_refuses_more(db_path: str):
    store, book = await open_book(db_path)
    await track(book)
    pending = [asyncio.ensure_future(book.apply(add(ANSWERED, 300 + i))) for i in range(50)]
    await asyncio.sleep(0)
    await book.close()
    assert all(change is not None for change in await asyncio.gather(*pending))
    with pytest.raises(StampBookClosed):
        await book.apply(add(ANSWERED, 999))
    await store.close()
    assert len(await rows(db_path)) == 50


async def test_close_waits_for_answer_messages_being_recorded(db_path: str):
    store, book = await open_book(db_path)
    recording = asyncio.ensure_future(
        book.record_answer(5, channel_id=CHANNEL, guild_id=GUILD, question_id="q", answer_id="a")
    )
    await asyncio.sleep(0)
    await book.close()
    assert recording.done() and recording.exception() is None
    with pytest.raises(StampBookClosed):
        await book.record_answer(
            6, channel_id=CHANNEL, guild_id=GUILD, question_id="q", answer_id="a"
        )
    with pytest.raises(StampBookClosed):
        await book.note_owner(GUILD, DAVE)
    await store.close()
    assert await independent_rows(db_path, "SELECT message_id FROM answer_messages") == [(5,)]


async def test_a_failing_batch_fails_its_events_and_the_book_carries_on(book: StampBook):
    def broken(op, message, now):
        raise RuntimeError("classifier broke")

    original = book._classify
    book._classify = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="classifier broke"):
        await book.apply(add(ANSWERED, BOB))
    book._classify = original  # type: ignore[method-assign]
    assert await book.apply(add(ANSWERED, BOB)) is not None


# --------------------------------------------------------------------------- persistence


async def test_stamps_survive_a_reopen_and_memory_matches_the_database(db_path: str):
    store, book = await open_book(db_path)
    await track(book)
    await book.apply_many(
        [
            add(ANSWERED, BOB, "goldstamp"),
            add(ANSWERED_TOO, CAROL),
            add(ANSWERED, CAROL),
            add(OTHER, DAVE),
            add(BOBS_MESSAGE, CAROL, author=BOB),
        ]
    )
    counts, total = book.stamped_answers(), book.total_weight
    people = [book.user(person) for person in (ALICE, BOB, CAROL, DAVE)]
    await book.close()
    await store.close()

    store, again = await open_book(db_path)
    try:
        assert again.stamped_answers() == counts == {"a-canon": 6, "a-other": 1}
        # Votes count per message: 5 + 1 + 1 to Alice, 1 to Bob.
        assert again.total_weight == total == 8
        assert [again.user(person) for person in (ALICE, BOB, CAROL, DAVE)] == people
        assert (people[0].received, people[2].given, people[3].given) == (7, 3, 1)
        from_db = dict(  # the totals, computed by SQL
            await independent_rows(
                db_path,
                "SELECT answer_id, sum(CASE emoji WHEN 'goldstamp' THEN 5 ELSE 1 END) FROM"
                " (SELECT DISTINCT answer_id, voter_id, emoji FROM stamps"
                "  WHERE answer_id IS NOT NULL) AS distinct_stamps GROUP BY answer_id",
            )
        )
        assert from_db == again.stamped_answers()
        assert await again.apply(add(ANSWERED, BOB, "goldstamp")) is None  # still there
    finally:
        await again.close()
        await store.close()


# --------------------------------------------------------------------------- reputation


async def test_reputation_flows_from_roots_and_is_recomputed_debounced(db_path: str):
    store, book = await open_book(
        db_path, StampSettings(root_user_ids=(DAVE,), reputation_delay_seconds=0.05)
    )
    try:
        await track(book)
        calls = 0
        compute = book.recompute_reputation

        async def counted() -> None:
            nonlocal calls
            calls += 1
            await compute()

        book.recompute_reputation = counted  # type: ignore[method-assign]
        # Dave (root) trusts Bob; Bob trusts Carol; Carol and Bob stamp each other (a cycle).
        await asyncio.gather(
            *(
                book.apply(op)
                for op in [
                    add(2001, DAVE, author=BOB),
                    add(2002, BOB, author=CAROL),
                    add(2003, CAROL, author=BOB),
                    add(2004, BOB, author=BOB),  # self: ignored
                ]
            )
        )
        for _ in range(500):  # until the debounced recompute has run (a few ms; 5 s at most)
            if book.reputation(CAROL) > 0:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # longer than the delay: a second recompute would have run
        assert calls == 1  # one recompute for the whole burst
        board = book.leaderboard(10)
        assert [user for user, _ in board][:2] == [BOB, CAROL]
        assert book.reputation(BOB) > book.reputation(CAROL) > 0
        assert book.reputation(ALICE) == 0
        assert book.roots == {DAVE}
    finally:
        await book.close()
        await store.close()


async def test_reputation_weights_answer_scores(db_path: str):
    store, book = await open_book(db_path, StampSettings(root_user_ids=(DAVE,)))
    try:
        await track(book)
        await book.apply(add(2001, DAVE, author=BOB))  # Bob is trusted, Carol is not
        await book.recompute_reputation()
        await book.apply(add(ANSWERED, BOB))
        await book.apply(add(OTHER, CAROL))
        assert book.count("a-canon") == book.count("a-other") == 1
        assert book.score("a-canon") > book.score("a-other") == 1.0
        assert book.score("a-canon") <= 2.0
    finally:
        await book.close()
        await store.close()


async def test_roots_are_stored_and_only_written_on_change(book: StampBook, db_path: str):
    await book.note_owner(GUILD, DAVE)
    await book.note_root(GUILD, CAROL, moderator=True)
    await book.note_root(GUILD, CAROL, moderator=True)
    assert book.roots == {DAVE, CAROL}
    await book.note_owner(GUILD, BOB)  # a new owner replaces the old one
    await book.note_root(GUILD, CAROL, moderator=False)
    assert book.roots == {BOB}
    assert await independent_rows(db_path, "SELECT user_id, reason FROM stamp_roots") == [
        (BOB, "owner")
    ]


async def test_empty_book_has_no_scores(book: StampBook):
    await book.recompute_reputation()
    assert book.leaderboard() == [] and book.reputation(BOB) == 0.0
    assert book.score("a-canon") == 0.0 and book.count("nope") == 0


# --------------------------------------------------------------------------- reconciling


async def test_reconcile_adds_missing_and_removes_vanished_stamps(book: StampBook):
    await book.apply_many([add(ANSWERED, BOB), add(ANSWERED, CAROL, "goldstamp")])
    [message] = [m for m in await book.recent_answer_messages(1) if m.message_id == ANSWERED]
    with book.watching() as mark:
        result = await book.reconcile(
            message, {"stamp": {BOB, DAVE}, "goldstamp": set(), "🏅": {ALICE, BOT}}, since=mark
        )
    # Dave's stamp added, Carol's gold stamp removed; Alice's own answer and the bot ignored.
    assert (result.added, result.removed) == (1, 1)
    assert result.answer_ids == {"a-canon"}
    assert book.count("a-canon") == 2
    with book.watching() as mark:
        again = await book.reconcile(message, {"stamp": {BOB, DAVE}}, since=mark)
    assert (again.added, again.removed) == (0, 0)


async def test_reconcile_of_a_deleted_message_removes_its_stamps(book: StampBook):
    await book.apply_many([add(ANSWERED, BOB), add(ANSWERED, CAROL)])
    [message] = [m for m in await book.recent_answer_messages(1) if m.message_id == ANSWERED]
    with book.watching() as mark:
        result = await book.reconcile(message, None, since=mark)
    assert (result.added, result.removed) == (0, 2) and book.count("a-canon") == 0


async def test_live_events_during_a_reconcile_win(book: StampBook):
    await book.apply(add(ANSWERED, BOB))
    [message] = [m for m in await book.recent_answer_messages(1) if m.message_id == ANSWERED]
    with book.watching() as mark:
        fetched = {"stamp": {BOB}}  # what Discord showed when asked...
        await book.apply(remove(ANSWERED, BOB))  # ...then Bob took his stamp back
        await book.apply(add(ANSWERED, CAROL))  # and Carol stamped
        result = await book.reconcile(message, fetched, since=mark)
    assert (result.added, result.removed) == (0, 0)
    assert book.count("a-canon") == 1  # Carol's, not Bob's


async def test_clear_removes_a_messages_stamps(book: StampBook):
    await book.apply_many([add(ANSWERED, BOB), add(ANSWERED, CAROL, "goldstamp"), add(OTHER, BOB)])
    removed = await book.clear(ANSWERED, "goldstamp")
    assert [(c.row.voter_id, c.added) for c in removed] == [(CAROL, False)]
    assert book.count("a-canon") == 1
    assert len(await book.clear(ANSWERED)) == 1 and book.count("a-canon") == 0
    assert await book.clear(ANSWERED) == [] and book.count("a-other") == 1


async def test_recent_answer_messages_are_those_of_the_last_days(book: StampBook):
    old = datetime.now(UTC) - timedelta(days=30)
    await book.record_answer(
        7, channel_id=CHANNEL, guild_id=GUILD, question_id="q", answer_id="a-canon", at=old
    )
    recent = {m.message_id for m in await book.recent_answer_messages(14)}
    assert recent == {ANSWERED, ANSWERED_TOO, OTHER, NO_ANSWER}
    assert 7 in {m.message_id for m in await book.recent_answer_messages(31)}
    tracked = await book.records.answer_message(ANSWERED)
    assert tracked is not None and (tracked.question_id, tracked.answer_id) == ("q", "a-canon")


# --------------------------------------------------------------------------- ranking


def test_rank_answers_canonical_first_then_by_stamps():
    answers = question().answers
    assert [a.id for a in rank_answers(answers)] == ["a-canon", "a-other", "a-third"]
    scores = {"a-third": 3.0, "a-other": 1.0, "a-canon": 0.0}
    assert [a.id for a in rank_answers(answers, scores.get)] == ["a-canon", "a-third", "a-other"]


async def test_service_ranks_answers_by_stamps(book: StampBook):
    base = KnowledgeBase.__new__(KnowledgeBase)
    base._questions = {"q": question()}  # no matcher needed to rank
    service = Service(base)
    assert [a.id for a in service.ranked_answers(question())] == ["a-canon", "a-other", "a-third"]
    service = Service(base, stamps=book)
    await book.apply(add(ANSWERED, BOB))  # canonical stays first whatever its stamps
    await book.apply(add(OTHER + 10, CAROL, author=BOB))  # unrelated
    await book.record_answer(
        1010, channel_id=CHANNEL, guild_id=GUILD, question_id="q", answer_id="a-third"
    )
    await book.apply(add(1010, CAROL))
    assert [a.id for a in service.ranked_answers(question())] == ["a-canon", "a-third", "a-other"]


def test_break_ties_orders_near_ties_by_stamps():
    def cand(qid: str, score: float) -> Candidate:
        return Candidate(qid, score, qid, score, score, 1.0, 1.0)

    items = [cand("a", 0.60), cand("b", 0.57), cand("c", 0.55), cand("d", 0.40)]
    stamps = {"a": 0.0, "b": 2.0, "c": 5.0, "d": 9.0}
    ordered = break_ties(items, lambda c: c.score, lambda c: stamps[c.question_id], 0.08)
    assert [c.question_id for c in ordered] == ["c", "b", "a", "d"]  # d is too far behind
    no_stamps = break_ties(items, lambda c: c.score, lambda c: 0.0, 0.08)
    assert no_stamps == items
    assert break_ties(items[:1], lambda c: c.score, lambda c: 1.0, 0.08) == items[:1]


def test_author_user_id():
    assert author_user_id(f"<@{ALICE}>") == ALICE
    assert author_user_id(f"<@!{ALICE}>") == ALICE
    assert author_user_id(f" {ALICE} ") == ALICE
    assert author_user_id("Stampy team") is None
    assert author_user_id("<@12>") == 12
    assert author_user_id("12") is None and author_user_id(None) is None


# --------------------------------------------------------------------------- config


def test_stamp_settings_from_toml(tmp_path: Path):
    path = tmp_path / "c.toml"
    path.write_text(
        '[stamps]\nemojis = ["stamp=2", "✅=1"]\nroot_user_ids = [42]\nreconcile_days = 0\n',
        encoding="utf-8",
    )
    settings = load_settings(path, env={}).stamps
    assert settings.weights == {"stamp": 2, "✅": 1}
    assert settings.root_user_ids == (42,) and settings.reconcile_days == 0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('emojis = ["stamp"]', "'stamps.emojis[0]' must look like \"name=weight\""),
        ('emojis = ["stamp=0"]', "'stamps.emojis[0]' must look like"),
        ('emojis = ["stamp=1", "stamp=2"]', "'stamps.emojis[1]' repeats the emoji"),
        ("emojis = []", "'stamps.emojis' must list at least one stamp emoji"),
        ("reconcile_days = -1", "'stamps.reconcile_days' must be between 0 and 3650"),
        ("root_user_ids = [0]", "'stamps.root_user_ids[0]' must be at least 1"),
    ],
)
def test_bad_stamp_settings_are_refused(tmp_path: Path, line: str, message: str):
    path = tmp_path / "c.toml"
    path.write_text(f"[stamps]\n{line}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert message in str(info.value)


# --------------------------------------------------------------------------- command line


async def test_stampy_stamps_prints_the_leaderboard_and_a_user(
    db_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    store, book = await open_book(db_path)
    await track(book)
    await book.note_owner(GUILD, DAVE)
    await book.apply_many([add(2001, DAVE, author=BOB), add(ANSWERED, BOB, "goldstamp")])
    await book.close()
    await store.close()
    config = tmp_path / "c.toml"
    config.write_text(config_for(db_path), encoding="utf-8")

    code = await asyncio.to_thread(main, ["--config", str(config), "stamps", "--top", "5"])
    out = capsys.readouterr().out
    assert code == 0
    assert "2 stamps stored; 1 answers stamped; 1 roots of trust" in out
    lines = out.splitlines()
    first = lines.index("Stamp leaderboard (reputation, as stamps worth):") + 1
    ranked = [line.split()[1] for line in lines[first : first + 3]]
    assert ranked == [str(DAVE), str(BOB), str(ALICE)]  # the root, whom he trusts, and so on
    assert "  a-canon  5" in out

    code = await asyncio.to_thread(main, ["--config", str(config), "stamps", "--user", str(BOB)])
    out = capsys.readouterr().out
    assert code == 0
    assert (
        out.startswith(f"{BOB}: worth ") and "received 1 (stamp x1), gave 5 (goldstamp x1)" in out
    )


async def test_stampy_stamps_leaves_an_older_database_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    db_path = tmp_path / "stampy.db"
    async with await Store.open(db_path, migrations=MIGRATIONS[:1]):
        pass
    before = db_path.read_bytes()
    config = tmp_path / "c.toml"
    config.write_text(f'[database]\npath = "{db_path}"\n', encoding="utf-8")
    code = await asyncio.to_thread(main, ["--config", str(config), "stamps"])
    assert code == 2
    assert "holds no stamps (schema 1" in capsys.readouterr().err
    assert db_path.read_bytes() == before
    missing = tmp_path / "none.toml"
    missing.write_text(f'[database]\npath = "{tmp_path / "absent.db"}"\n', encoding="utf-8")
    assert await asyncio.to_thread(main, ["--config", str(missing), "stamps"]) == 2
    assert not (tmp_path / "absent.db").exists()


async def test_stampy_stamps_of_an_unknown_user_says_so(
    db_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    store, book = await open_book(db_path)
    await track(book)
    await book.apply_many([add(2001, DAVE, author=BOB)])
    await book.close()
    await store.close()
    config = tmp_path / "c.toml"
    config.write_text(config_for(db_path), encoding="utf-8")
    code = await asyncio.to_thread(main, ["--config", str(config), "stamps", "--user", "12345"])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert "user 12345 has given and received no stamps" in err and "worth" not in err
