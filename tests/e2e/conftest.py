"""End-to-end fixtures: the fake Discord and the REAL bot object against it, in-process.

``Harness.start`` builds a :class:`~bot.discord.bot.StampyBot` exactly as ``stampy run`` does
(an :class:`~bot.app.App` opened on the settings, the cogs installed by
:func:`bot.discord.install.install`), starts it as a task watched by the fake (any wait
fails at once if the bot dies) and waits for its ``on_ready``. Every
ERROR logged while the bot runs (handler errors the bot reports, and whatever discord.py
logs from ``on_error``, the command tree or views) fails the test unless the test takes it
out of ``errors`` itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fakediscord import FakeDiscord  # tests/ is on sys.path (tests/conftest.py)

from bot.app import App
from bot.config import DatabaseSettings, DiscordSettings, KnowledgeSettings, Settings
from bot.discord.bot import StampyBot
from bot.discord.install import install
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.loader import LoadResult
from bot.stamps import StampBook
from bot.store import ProposedPhrasings, Store, UnansweredQuestions

ROOT = Path(__file__).resolve().parents[2]
ANSWERS = ROOT / "answers"
TOKEN = "e2e-fake-token-5f1c9a77d2"


class ErrorLog(logging.Handler):
    """Collects every ERROR (and worse) record, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.errors: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.errors.append(self.format(record))


@dataclass
class Running:
    """A started bot with what a test needs to look at."""

    bot: StampyBot
    app: App
    task: asyncio.Task[None]
    settings: Settings
    closing: contextlib.AsyncExitStack

    @property
    def store(self) -> Store:
        assert self.app.store is not None
        return self.app.store

    @property
    def book(self) -> StampBook:
        assert self.app.stamps is not None
        return self.app.stamps

    async def proposals(self) -> list[Any]:
        return await ProposedPhrasings(self.store).list()

    async def unanswered(self) -> list[Any]:
        return await UnansweredQuestions(self.store).list()


@dataclass
class Harness:
    """Starts bots against ``fake``; stops them and checks for logged errors at teardown."""

    fake: FakeDiscord
    tmp_path: Path
    log: ErrorLog
    running: list[Running] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return self.log.errors

    def settings(self, **discord: Any) -> Settings:
        """Settings for a test: the seed answers, a database in tmp, no cooldowns."""
        options: dict[str, Any] = {"user_cooldown_seconds": 0.0, "channel_cooldown_seconds": 0.0}
        options.update(discord)
        return Settings(
            knowledge=KnowledgeSettings(answers_dir=str(ANSWERS)),
            database=DatabaseSettings(path=str(self.tmp_path / "stampy.db")),
            discord=DiscordSettings(**options),
        )

    async def start(
        self, settings: Settings | None = None, *, knowledge: KnowledgeBase | None = None
    ) -> Running:
        """Open an :class:`App` on ``settings`` (the seed answers, or ``knowledge``) and run
        the bot on it, as ``stampy run`` does."""
        settings = settings or self.settings()
        closing = contextlib.AsyncExitStack()
        loaded = (
            None if knowledge is None else (knowledge, LoadResult(tuple(knowledge), (), (), ()))
        )
        app = await closing.enter_async_context(App.open(settings, knowledge=loaded))
        assert not app.loaded.errors, app.loaded.errors
        bot = StampyBot(app, install, fast_start=True)
        task = asyncio.create_task(bot.start(TOKEN), name="stampy-bot")
        self.fake.watch_task(task)
        run = Running(bot, app, task, settings, closing)
        self.running.append(run)
        ready = asyncio.create_task(bot.ready_once.wait())
        done, _ = await asyncio.wait({ready, task}, timeout=5, return_when="FIRST_COMPLETED")
        if ready not in done:
            ready.cancel()
            if task.done():
                task.result()  # re-raise what killed the bot
            raise TimeoutError("the bot did not become ready")
        return run

    @staticmethod
    async def eventually(
        predicate: Callable[[], Awaitable[Any]], timeout: float = 2.0, what: str = "condition"
    ) -> Any:
        """Poll an async ``predicate`` until it returns something truthy (the store has no
        events to wait on)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = await predicate()
            if result:
                return result
            if loop.time() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            await asyncio.sleep(0.01)

    async def stop(self, run: Running) -> None:
        if run in self.running:
            self.running.remove(run)
        await run.bot.close()
        await asyncio.wait_for(run.task, 5)  # re-raises whatever killed the bot
        await run.closing.aclose()
        # The fake has no way to stop watching a task, and a finished watched task fails
        # every later wait: forget it, so that a test can start another bot (a restart).
        if run.task in self.fake._watched:
            self.fake._watched.remove(run.task)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(token=TOKEN) as fake:
        with fake.patch_client():
            yield fake
        assert not fake.errors, fake.errors[0]


@pytest.fixture
async def harness(fake: FakeDiscord, tmp_path: Path) -> AsyncIterator[Harness]:
    log = ErrorLog()
    root = logging.getLogger()
    root.addHandler(log)
    harness = Harness(fake, tmp_path, log)
    try:
        yield harness
    finally:
        root.removeHandler(log)
        for run in list(harness.running):
            await harness.stop(run)
    assert not log.errors, "errors were logged:\n" + "\n\n".join(log.errors)


@pytest.fixture
async def stampy(harness: Harness) -> Running:
    """The bot with the seed knowledge base and default settings, minus cooldowns."""
    return await harness.start()
