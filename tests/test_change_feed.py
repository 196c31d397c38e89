"""Moderators' changes seen by every process sharing a PostgreSQL database (bot/curation/feed).

Each "process" here is a store, a knowledge base and a curator of its own on one database,
as two ``stampy run`` processes would be; the second learns of the first's changes through
LISTEN/NOTIFY, and catches up after its listening connection was lost.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from bot.curation import Curator, Moderator
from bot.curation.feed import ChangeFeed
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.loader import load_directory
from bot.knowledge.matcher import Matcher
from bot.knowledge.model import Tag
from bot.store import Store
from bot.store.pgserver import ThrowawayServer

ROOT = Path(__file__).resolve().parents[1]
MOD = Moderator("Mod", 1001, 42)


@dataclass
class Process:
    store: Store
    curator: Curator
    feed: ChangeFeed

    @property
    def knowledge(self) -> KnowledgeBase:
        return self.curator.knowledge


@pytest.fixture
def answers(tmp_path: Path) -> Path:
    target = tmp_path / "answers"
    shutil.copytree(ROOT / "answers", target)
    return target


async def start(location: str, answers: Path) -> Process:
    store = await Store.open(location)
    loaded = load_directory(answers)
    knowledge = KnowledgeBase(Matcher(), loaded.questions, loaded.tags)
    curator = Curator(knowledge, store, answers)
    await curator.start()
    feed = ChangeFeed(curator, store)
    await feed.start()
    return Process(store, curator, feed)


@pytest.fixture
async def processes(
    postgres_server: ThrowawayServer, answers: Path
) -> AsyncIterator[tuple[Process, Process]]:
    url = postgres_server.create()
    first = await start(url, answers)
    second = await start(url, answers)
    try:
        yield first, second
    finally:
        for process in (first, second):
            await process.feed.close()
            await process.store.close()


async def within(seconds: float, condition: Callable[[], bool], what: str) -> float:
    """Wait until ``condition`` holds; how long it took."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not within {seconds} s: {what}")
        await asyncio.sleep(0.005)
    return time.monotonic() - start


async def test_a_change_in_one_process_is_answered_from_the_other_within_a_second(
    processes: tuple[Process, Process],
) -> None:
    first, second = processes
    change = await first.curator.add_question(
        MOD, "What is a paperclip maximizer?", answer="A thought experiment."
    )
    question_id = change.question_id
    await within(1.0, lambda: second.knowledge.get(question_id) is not None, "the new question")
    assert second.knowledge.get(question_id) == first.knowledge.get(question_id)

    await first.curator.add_alias(MOD, question_id, "paperclip AI")
    await within(
        1.0,
        lambda: "paperclip AI" in second.knowledge.get(question_id).phrasings,  # type: ignore[union-attr]
        "the new phrasing",
    )
    await second.curator.remove(MOD, question_id)  # and the other way round
    await within(1.0, lambda: first.knowledge.get(question_id) is None, "the removal")
    history = await first.curator.history(question_id)
    assert [entry.version for entry in history] == [3, 2, 1]


async def test_a_tag_record_changed_in_one_process_reaches_the_other(
    processes: tuple[Process, Process],
) -> None:
    first, second = processes
    shipped = first.knowledge.tag("modularity")
    assert shipped == Tag("modularity") and second.knowledge.is_declared("modularity")
    described = Tag("modularity", description="Networks made of parts that can be understood.")
    await first.curator.set_tag(MOD, described)
    await within(1.0, lambda: second.knowledge.tag("modularity") == described, "the tag elsewhere")
    await first.curator.remove_tag_record(MOD, "modularity")
    await within(
        1.0, lambda: not second.knowledge.is_declared("modularity"), "the removal elsewhere"
    )


async def test_reload_in_one_process_reloads_every_process(
    processes: tuple[Process, Process], answers: Path
) -> None:
    first, second = processes
    some_file = sorted(answers.glob("*.yaml"))[0]
    some_file.unlink()  # the files changed on disk, for both processes
    (answers / "tags.yaml").unlink()  # its tag records name questions of the file removed
    report = await first.curator.reload()
    assert report.diff.removed
    gone = report.diff.removed[0]
    await within(1.0, lambda: second.knowledge.get(gone) is None, "the reload elsewhere")


async def test_after_losing_its_connection_a_process_catches_up(
    processes: tuple[Process, Process], postgres_server: ThrowawayServer
) -> None:
    first, second = processes
    admin = await asyncpg.connect(second.store.path)  # trust auth: the url has no password
    try:
        # Drop every listening connection; the change below is committed while they are gone.
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    change = await first.curator.add_question(MOD, "Who funds alignment research?", answer="Many.")
    await within(15.0, lambda: second.knowledge.get(change.question_id) is not None, "catching up")


async def test_sqlite_has_nothing_to_listen_to(tmp_path: Path, answers: Path) -> None:
    process = await start(str(tmp_path / "stampy.db"), answers)
    try:
        await process.curator.add_question(
            MOD, "What is a gradient hacker?", answer="A model that steers its training."
        )
        assert (await process.curator.reload()).errors == ()
    finally:
        await process.feed.close()
        await process.store.close()
