"""Storage faults: a database locked by another program, read-only, full, or damaged at start.

What must hold: the bot says what is wrong (once, naming the file), answers from memory,
keeps the stamp events it accepted and writes them once it can, refuses moderators' changes
politely without showing them anywhere, and refuses to start on a damaged file with one line.

The faults are made portably, so that the tests run alike as root and in CI: a second
connection holding the write lock (``BEGIN EXCLUSIVE``), ``PRAGMA query_only`` on the store's
connection (SQLite's "attempt to write a readonly database", as for a read-only file or
mount) and ``PRAGMA max_page_count`` (SQLite's "database or disk is full", as for a full
disk). A read-only file through its permissions is checked too when not running as root.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.config import StampSettings
from bot.curation import Curator, Moderator, Refused
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.loader import load_directory
from bot.knowledge.matcher import Decision, Matcher
from bot.service import Service
from bot.stamps import StampBook, StampBookClosed, StampOp
from bot.store import MIGRATIONS, NewerDatabaseError, Store, StoreError, UnansweredQuestions

ROOT = Path(__file__).resolve().parents[1]
MOD = Moderator("Mod", 1001, 42)
GUILD, CHANNEL, BOT = 42, 7, 999
ANSWERED = 5001  # a bot message showing answer "a-1" of question "q"
FAST = StampSettings(reputation_delay_seconds=0.01)
NEW_QUESTION = "What is a paperclip maximizer?"
NEW_ANSWER = "A thought experiment about an AI that turns everything into paperclips."


# --------------------------------------------------------------------------- faults


@contextlib.contextmanager
def locked(path: Path) -> Iterator[sqlite3.Connection]:
    """Another program holding the database's write lock until the block ends."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        yield other
        other.execute("ROLLBACK")
    finally:
        other.close()


async def set_read_only(store: Store, on: bool) -> None:
    """Make the store's connection unable to write, as on a read-only file or disk."""
    await store.connection.execute(f"PRAGMA query_only = {'ON' if on else 'OFF'}")


async def set_full(store: Store, on: bool) -> None:
    """Make the file unable to grow, as on a full disk (or lift that)."""
    async with store.connection.execute("PRAGMA page_count") as cursor:
        row = await cursor.fetchone()
    pages = int(row[0]) if on else 1_000_000_000
    await store.connection.execute(f"PRAGMA max_page_count = {pages}")


async def until(predicate: Callable[[], bool], what: str) -> None:
    """Yield to the loop until ``predicate`` holds (generous bound: a hung test fails)."""
    for _ in range(20_000):
        if predicate():
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"never happened: {what}")


async def open_store(path: Path) -> Store:
    return await Store.open(path, busy_timeout_ms=20)


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(db_path)
    try:
        yield opened
    finally:
        await opened.close()


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# --------------------------------------------------------------------------- the store


async def test_a_locked_database_fails_as_busy_then_recovers(
    store: Store, db_path: Path, caplog: pytest.LogCaptureFixture
):
    unanswered = UnansweredQuestions(store)
    with locked(db_path):
        for _ in range(2):
            with pytest.raises(StoreError) as raised:
                await unanswered.record("why is the sky blue", asker_id=1, channel_id=2, guild_id=3)
        assert raised.value.kind == "busy" and raised.value.transient
        assert str(db_path) in str(raised.value) and "busy" in str(raised.value)
        assert store.fault is not None and store.fault.kind == "busy"
        assert await unanswered.count() == 0  # reading still works
    await unanswered.record("why is the sky blue", asker_id=1, channel_id=2, guild_id=3)
    assert await unanswered.count() == 1
    assert store.fault is None
    said = [r.getMessage() for r in caplog.records if "busy" in r.getMessage()]
    assert len(said) == 1, said  # one line for the fault, not one per failed write
    assert any("can be written again" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("fault", "kind", "words"),
    [(set_read_only, "read-only", "read-only"), (set_full, "full", "disk is full")],
)
async def test_read_only_and_full_are_named_once_in_the_log(
    store: Store,
    db_path: Path,
    caplog: pytest.LogCaptureFixture,
    fault: Callable[[Store, bool], Awaitable[None]],
    kind: str,
    words: str,
):
    unanswered = UnansweredQuestions(store)
    await unanswered.record("an early question", asker_id=1, channel_id=2, guild_id=3)
    await fault(store, True)
    stored = await fill(unanswered)
    for i in range(3):
        with pytest.raises(StoreError) as raised:
            await unanswered.record(distinct(10_000 + i), asker_id=1, channel_id=2, guild_id=3)
        assert raised.value.kind == kind
    assert words in str(raised.value) and str(db_path) in str(raised.value)
    logged = errors(caplog)
    assert len(logged) == 1 and words in logged[0] and str(db_path) in logged[0], logged
    assert "answered from memory" in logged[0]
    assert await unanswered.count() == 1 + stored  # what was accepted is still there
    await fault(store, False)
    await unanswered.record("a later question", asker_id=1, channel_id=2, guild_id=3)
    assert await unanswered.count() == 2 + stored and store.fault is None


def distinct(number: int) -> str:
    """A long question unlike any other (similar ones fold into one record)."""
    return " ".join(f"w{number}x{word}" for word in range(60))


async def fill(unanswered: UnansweredQuestions) -> int:
    """Record long questions until the store refuses one; how many it took before."""
    for i in range(1000):
        try:
            await unanswered.record(distinct(i), asker_id=1, channel_id=2, guild_id=3)
        except StoreError:
            return i
    raise AssertionError("the store never refused a write")


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes read-only files"
)
async def test_a_read_only_file_opens_and_its_writes_fail_as_read_only(db_path: Path):
    store = await open_store(db_path)  # create and migrate it
    await store.close()
    db_path.chmod(0o444)
    try:
        store = await open_store(db_path)
        try:
            with pytest.raises(StoreError) as raised:
                await UnansweredQuestions(store).record(
                    "hello there", asker_id=1, channel_id=2, guild_id=3
                )
            assert raised.value.kind == "read-only"
            assert await UnansweredQuestions(store).count() == 0
        finally:
            await store.close()
    finally:
        db_path.chmod(0o644)


def _damaged(kind: str, good: bytes) -> bytes:
    if kind == "garbage":
        return bytes((i * 37 + 11) % 256 for i in range(50_000))
    if kind == "text":
        return b"this is not a database\n" * 200
    if kind == "truncated":
        return good[: len(good) // 2]
    assert kind == "overwritten"  # a page in the middle overwritten
    damaged = bytearray(good)
    damaged[4096 * 3 : 4096 * 3 + 2000] = bytes(range(250)) * 8
    return bytes(damaged)


async def _good_database(path: Path) -> bytes:
    store = await Store.open(path)
    try:
        unanswered = UnansweredQuestions(store)
        for i in range(200):
            await unanswered.record(
                f"question {i} " + "filler " * 40, asker_id=1, channel_id=2, guild_id=3
            )
    finally:
        await store.close()
    return path.read_bytes()


@pytest.mark.parametrize("kind", ["garbage", "text", "truncated", "overwritten"])
async def test_a_damaged_file_is_refused_at_start_with_advice(tmp_path: Path, kind: str):
    good = await _good_database(tmp_path / "good.db")
    path = tmp_path / "stampy.db"
    path.write_bytes(_damaged(kind, good))
    with pytest.raises(StoreError) as raised:
        await Store.open(path)
    message = str(raised.value)
    assert raised.value.kind == "corrupt"
    assert str(path) in message and "backup" in message and "\n" not in message
    assert path.read_bytes() == _damaged(kind, good)  # left alone for whoever restores it


async def test_a_newer_schema_is_still_refused(db_path: Path):
    with sqlite3.connect(db_path) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(NewerDatabaseError):
        await Store.open(db_path)


@pytest.mark.parametrize(
    ("command", "code"),
    [(["stamps"], 2), (["export", "OUT"], 2), (["import", "ANSWERS"], 2), (["run"], 2)],
)
def test_commands_on_a_damaged_file_exit_with_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    code: int,
):
    good = asyncio.run(_good_database(tmp_path / "good.db"))
    path = tmp_path / "stampy.db"
    path.write_bytes(_damaged("truncated", good))
    config = tmp_path / "stampy.toml"
    config.write_text(
        f'[database]\npath = "{path}"\n[knowledge]\nanswers_dir = "{ROOT / "answers"}"\n',
        encoding="utf-8",
    )
    monkeypatch.delenv("STAMPY_CONFIG", raising=False)
    monkeypatch.delenv("STAMPY_DISCORD_API_BASE", raising=False)
    monkeypatch.delenv("STAMPY_DISCORD_GATEWAY", raising=False)
    monkeypatch.setenv("DISCORD_TOKEN", "not-used-the-database-fails-first")
    places = {"OUT": str(tmp_path / "out"), "ANSWERS": str(ROOT / "answers")}
    argv = [places.get(a, a) for a in command]
    assert main(["--config", str(config), *argv]) == code
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(path) in lines[0] and "damaged" in lines[0] and "backup" in lines[0]
    assert "Traceback" not in out + err


# --------------------------------------------------------------------------- stamps


def stamp(voter: int, message: int = ANSWERED) -> StampOp:
    return StampOp(message, voter, "stamp", add=True, channel_id=CHANNEL, guild_id=GUILD)


def stamped(path: Path) -> int:
    """Stamps committed, as another connection sees them."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("SELECT count(*) FROM stamps").fetchone()[0])


async def open_book(store: Store, **kwargs: Any) -> StampBook:
    options: dict[str, Any] = {
        "retry_first": 0.001,
        "retry_max": 0.01,
        "write_wait": 0.005,
        "give_up_after": 0.05,
    }
    options.update(kwargs)
    book = StampBook(store, FAST, answer_author=lambda q, a: None, bot_user_id=BOT, **options)
    await book.start()
    return book


@pytest.fixture
async def book(store: Store) -> AsyncIterator[StampBook]:
    opened = await open_book(store)
    await opened.record_answer(
        ANSWERED, channel_id=CHANNEL, guild_id=GUILD, question_id="q", answer_id="a-1"
    )
    try:
        yield opened
    finally:
        await opened.close()


async def test_stamps_accepted_while_locked_are_written_when_the_lock_goes(
    book: StampBook, db_path: Path
):
    with locked(db_path):
        pending = [asyncio.ensure_future(book.apply(stamp(10_000 + i))) for i in range(50)]
        await until(lambda: book.retries >= 3, "the writer retrying")
        assert not any(task.done() for task in pending)  # waiting, not failed
        assert book.count("a-1") == 0  # nothing shown that is not stored
    changes = await asyncio.gather(*pending)
    assert all(change is not None for change in changes)
    assert stamped(db_path) == 50 and book.count("a-1") == 50


@pytest.mark.parametrize("fault", [set_read_only, set_full])
async def test_stamps_are_kept_in_memory_while_the_database_cannot_be_written(
    book: StampBook,
    store: Store,
    db_path: Path,
    caplog: pytest.LogCaptureFixture,
    fault: Callable[[Store, bool], Awaitable[None]],
):
    await fault(store, True)
    pending = [asyncio.ensure_future(book.apply(stamp(10_000 + i))) for i in range(1500)]
    answered = asyncio.ensure_future(
        book.record_answer(
            5002, channel_id=CHANNEL, guild_id=GUILD, question_id="q", answer_id="a-2"
        )
    )
    later = asyncio.ensure_future(book.apply(stamp(7, message=5002)))
    await until(lambda: book.retries >= 3, "the writer retrying")
    assert not any(task.done() for task in [*pending, answered, later])
    assert len(errors(caplog)) == 1  # the store's one line saying what is wrong
    await fault(store, False)
    await asyncio.gather(*pending, answered)
    assert await later is not None  # the answer message was kept too: the stamp counts
    assert stamped(db_path) == 1501
    assert book.count("a-1") == 1500 and book.count("a-2") == 1
    assert book.dropped == 0 and book.lost == 0


async def test_a_full_queue_drops_new_events_and_says_so(
    store: Store, db_path: Path, caplog: pytest.LogCaptureFixture
):
    book = await open_book(store, max_pending=5)
    await book.record_answer(
        ANSWERED, channel_id=CHANNEL, guild_id=GUILD, question_id="q", answer_id="a-1"
    )
    try:
        with locked(db_path):
            kept = [asyncio.ensure_future(book.apply(stamp(10_000 + i))) for i in range(5)]
            await asyncio.sleep(0)  # each task runs to its first wait: all five are queued
            dropped = [await book.apply(stamp(20_000 + i)) for i in range(3)]
            assert dropped == [None, None, None] and book.dropped == 3
            assert any("stamp queue full" in message for message in errors(caplog))
        assert all(change is not None for change in await asyncio.gather(*kept))
        assert stamped(db_path) == 5
    finally:
        await book.close()


async def test_closing_while_locked_gives_up_after_a_while_and_says_what_was_lost(
    store: Store, db_path: Path, caplog: pytest.LogCaptureFixture
):
    book = await open_book(store)
    with locked(db_path):
        pending = asyncio.ensure_future(book.apply(stamp(10_000)))
        await until(lambda: book.retries >= 1, "the writer retrying")
        await book.close()
        with pytest.raises(StampBookClosed):
            await pending
    assert book.lost == 1
    assert any("lost" in message for message in errors(caplog))
    assert stamped(db_path) == 0


async def test_moderator_roles_are_skipped_while_unwritable_and_retried_later(
    book: StampBook, store: Store
):
    await set_read_only(store, True)
    await book.note_root(GUILD, 55, moderator=True)  # does not raise
    assert 55 not in book.roots
    await set_read_only(store, False)
    await book.note_root(GUILD, 55, moderator=True)
    assert 55 in book.roots


# --------------------------------------------------------------------------- moderators


@pytest.fixture
async def curator(tmp_path: Path, store: Store) -> Curator:
    answers = tmp_path / "answers"
    shutil.copytree(ROOT / "answers", answers)
    knowledge = KnowledgeBase(Matcher(), load_directory(answers).questions)
    curator = Curator(knowledge, store, answers, edit_wait=0.01)
    await curator.start()
    return curator


def answers_to(curator: Curator, text: str) -> str | None:
    reply = Service(curator.knowledge).ask(text)
    return reply.question.id if reply.decision is Decision.ANSWER and reply.question else None


async def versions(store: Store) -> int:
    async with store.read() as conn:
        rows = list(await conn.execute_fetchall("SELECT count(*) FROM question_versions"))
    return int(rows[0][0])


async def test_a_change_while_locked_is_refused_and_shown_nowhere(
    curator: Curator, store: Store, db_path: Path
):
    before = (list(curator.knowledge), curator.knowledge.matcher.phrasing_count)
    with locked(db_path):
        with pytest.raises(Refused) as refused:
            await curator.add_question(MOD, NEW_QUESTION, answer=NEW_ANSWER)
        assert "database is busy" in refused.value.reason and "try again" in refused.value.reason
        question = next(iter(curator.knowledge))
        with pytest.raises(Refused):
            await curator.add_alias(MOD, question.id, "a brand new way to ask this")
    assert (list(curator.knowledge), curator.knowledge.matcher.phrasing_count) == before
    assert answers_to(curator, "what is a paperclip maximiser") is None
    assert answers_to(curator, "a brand new way to ask this") != question.id
    assert await versions(store) == 0
    change = await curator.add_question(MOD, NEW_QUESTION, answer=NEW_ANSWER)  # lock gone
    assert answers_to(curator, "what is a paperclip maximiser") == change.question_id


@pytest.mark.parametrize(
    ("fault", "words"), [(set_read_only, "read-only"), (set_full, "disk is full")]
)
async def test_a_change_that_cannot_be_stored_is_refused_politely(
    curator: Curator,
    store: Store,
    fault: Callable[[Store, bool], Awaitable[None]],
    words: str,
):
    unanswered = await UnansweredQuestions(store).record(
        "what is a paperclip maximizer", asker_id=1, channel_id=2, guild_id=3
    )
    # A first long change fills most of its table's page: the next one needs a new page.
    await curator.add_question(MOD, "Why do cats purr at robots?", answer=NEW_ANSWER * 40)
    await fault(store, True)
    filled = await fill(UnansweredQuestions(store))  # no free page left in the file
    with pytest.raises(Refused) as refused:
        await curator.add_question(MOD, NEW_QUESTION, answer=NEW_ANSWER * 40)
    assert words in refused.value.reason
    if words == "read-only":  # (a full file still takes a change that needs no new page)
        with pytest.raises(Refused):
            await curator.dismiss_unanswered(MOD, unanswered.id)
    assert answers_to(curator, "what is a paperclip maximiser") is None
    await fault(store, False)
    assert await versions(store) == 1 and filled >= 0
    assert (await curator.unanswered.open_item(unanswered.id)).status == "open"


# --------------------------------------------------------------------------- asking


async def test_questions_are_answered_and_recording_fails_quietly(
    store: Store, caplog: pytest.LogCaptureFixture
):
    knowledge = KnowledgeBase(Matcher(), load_directory(ROOT / "answers").questions)
    service = Service(knowledge, store)
    await set_full(store, True)
    await set_read_only(store, True)
    reply = service.ask("where can I learn about interpretability?")
    assert reply.decision is Decision.ANSWER
    noted = await service.note_unanswered(
        "what is the airspeed of an unladen swallow", asker_id=1, channel_id=2, guild_id=3
    )
    assert noted is None  # not raised
    question = reply.question
    assert question is not None
    proposed = await service.propose_phrasing(
        question.id, "interpretability reading list please", proposer_id=1, channel_id=2
    )
    assert proposed is None
    assert any("not recorded" in r.getMessage() for r in caplog.records)
    await set_read_only(store, False)
    await set_full(store, False)
    assert await service.note_unanswered(
        "what is the airspeed of an unladen swallow", asker_id=1, channel_id=2, guild_id=3
    )


async def test_a_transaction_cancelled_as_it_begins_leaves_none_open(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task cancelled right after BEGIN was sent (at shutdown, the stamp-count edits are
    cancelled mid-read) must not leave the connection inside a transaction: the next one
    would fail with "cannot start a transaction within a transaction"."""
    store = await Store.open(db_path)
    try:
        begin = store._begin

        async def begin_then_cancelled(conn: Any, sql: str, wait: float | None) -> None:
            await begin(conn, sql, wait)
            raise asyncio.CancelledError

        monkeypatch.setattr(store, "_begin", begin_then_cancelled)
        with pytest.raises(asyncio.CancelledError):
            async with store.read():
                pass
        monkeypatch.undo()
        assert not store.connection.in_transaction
        await UnansweredQuestions(store).record(
            "still works?", asker_id=1, channel_id=2, guild_id=3
        )
        assert await UnansweredQuestions(store).count() == 1
    finally:
        await store.close()
