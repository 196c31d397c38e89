"""Stamps shared by processes on one PostgreSQL database (bot/stamps/feed.py): totals from the
shared tables, a stamp two processes both see counted once, reputation computed by one
leader and read by the others, another leader when it goes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from databases import independent_rows

from bot.config import StampSettings
from bot.stamps import StampBook
from bot.stamps.feed import StampFeed
from bot.store import Store
from bot.store.pgserver import ThrowawayServer
from bot.store.stamps import StampOp

ALICE, BOB, CAROL, ROOT = 11, 12, 13, 14
CHANNEL, GUILD = 500, 600
ANSWERED = 1001  # an answer message showing "a-1" by Alice
SETTINGS = StampSettings(root_user_ids=(ROOT,), reputation_delay_seconds=0.01)


@dataclass
class Process:
    store: Store
    book: StampBook
    feed: StampFeed

    async def close(self) -> None:
        await self.feed.close()
        await self.book.close()
        await self.store.close()


async def start(url: str) -> Process:
    store = await Store.open(url)
    book = StampBook(
        store, SETTINGS, answer_author=lambda q, a: ALICE if a == "a-1" else None, bot_user_id=1
    )
    await book.start()
    feed = StampFeed(book, store, delay=0.01)
    await feed.start()
    return Process(store, book, feed)


@pytest.fixture
async def url(postgres_server: ThrowawayServer) -> str:
    return postgres_server.create()


@pytest.fixture
async def pair(url: str) -> AsyncIterator[tuple[Process, Process]]:
    first = await start(url)
    second = await start(url)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


def stamp(voter: int, emoji: str = "stamp", message: int = ANSWERED, add: bool = True) -> StampOp:
    return StampOp(message, voter, emoji, add=add, channel_id=CHANNEL, guild_id=GUILD)


async def within(seconds: float, condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        await asyncio.sleep(0.005)


async def test_totals_come_from_the_shared_tables_and_a_stamp_counts_once(
    pair: tuple[Process, Process], url: str
) -> None:
    first, second = pair
    await first.book.record_answer(
        ANSWERED, channel_id=CHANNEL, guild_id=GUILD, question_id="q", answer_id="a-1"
    )
    await first.book.apply_many([stamp(BOB), stamp(CAROL, "goldstamp")])
    await within(5.0, lambda: second.book.count("a-1") == 6, "the other process's stamps")
    # Both processes see the same reaction (a replay, or a message both can see): one row.
    await asyncio.gather(first.book.apply(stamp(ROOT)), second.book.apply(stamp(ROOT)))
    await within(5.0, lambda: first.book.count("a-1") == second.book.count("a-1") == 7, "once")
    assert await independent_rows(url, "SELECT count(*) FROM stamps") == [(3,)]
    await second.book.apply(stamp(BOB, add=False))
    await within(5.0, lambda: first.book.count("a-1") == 6, "the removal elsewhere")
    assert first.book.user(ALICE).received == second.book.user(ALICE).received == 6


async def test_one_process_computes_reputation_and_the_others_read_it(
    pair: tuple[Process, Process], url: str
) -> None:
    first, second = pair
    assert [first.feed.leading, second.feed.leading] == [True, False]
    await second.book.record_answer(
        ANSWERED, channel_id=CHANNEL, guild_id=GUILD, question_id="q", answer_id="a-1"
    )
    await second.book.apply(stamp(ROOT))  # the root vouches for Alice, in the follower
    await within(5.0, lambda: first.book.reputation(ALICE) > 0, "the leader's reputation")
    await within(
        5.0,
        lambda: second.book.reputation(ALICE) == first.book.reputation(ALICE),
        "the follower reading it",
    )
    stored = dict(await independent_rows(url, "SELECT user_id, score FROM reputation"))
    assert stored[ALICE] == pytest.approx(first.book.reputation(ALICE))

    await first.close()  # the leader goes; the other takes over within a few seconds
    await within(6.0, lambda: second.feed.leading, "a new leader")
    await second.book.apply(stamp(CAROL))
    await within(
        5.0,
        lambda: (
            dict(second.book.leaderboard(5)).get(ALICE, 0) > 0 and second.book.count("a-1") == 2
        ),
        "the new leader computing",
    )
    first.store = await Store.open(url)  # so that the fixture's close has something to close
    first.book = StampBook(first.store, SETTINGS)
    await first.book.start()


async def test_sqlite_books_work_alone(tmp_path) -> None:
    store = await Store.open(tmp_path / "stampy.db")
    book = StampBook(store, SETTINGS, answer_author=lambda q, a: ALICE, bot_user_id=1)
    await book.start()
    feed = StampFeed(book, store)
    await feed.start()
    try:
        assert feed.leading and book.leading is None  # computes its own reputation
        await book.record_answer(
            ANSWERED, channel_id=CHANNEL, guild_id=GUILD, question_id="q", answer_id="a-1"
        )
        await book.apply(stamp(ROOT))
        await within(5.0, lambda: book.reputation(ALICE) > 0, "reputation")
    finally:
        await feed.close()
        await book.close()
        await store.close()
