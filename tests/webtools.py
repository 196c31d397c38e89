"""Helpers of the web front end's tests: an App on a fresh database, stamps recorded as the
bot records them, the site behind aiohttp's test client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bot.app import App
from bot.config import DatabaseSettings, KnowledgeSettings, Settings, WebSettings
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.loader import LoadResult
from bot.knowledge.matcher import Matcher
from bot.knowledge.model import Question
from bot.store.stamps import StampOp
from bot.web import build_site

ROOT = Path(__file__).resolve().parent.parent
ANSWERS = ROOT / "answers"
GUILD = 1000
CHANNEL = 2000


def settings(db: Path, **web: Any) -> Settings:
    return Settings(
        knowledge=KnowledgeSettings(str(ANSWERS)),
        database=DatabaseSettings(path=str(db)),
        web=WebSettings(**web),
    )


def knowledge(questions: Iterable[Question]) -> tuple[KnowledgeBase, LoadResult]:
    kb = KnowledgeBase(Matcher(), questions)
    return kb, LoadResult(tuple(kb), (), (), ())


class _Client(TestClient):
    """aiohttp's test client, reading each body at once (so it can be looked at later)."""

    async def _request(self, method: str, path: Any, **kwargs: Any) -> Any:
        response = await super()._request(method, path, **kwargs)
        await response.read()
        return response


@asynccontextmanager
async def client(app: App, **options: Any) -> AsyncIterator[TestClient]:
    """aiohttp's test client on the site over ``app``."""
    test = _Client(TestServer(build_site(app, **options)))
    await test.start_server()
    try:
        yield test
    finally:
        await test.close()


async def stamp(app: App, question_id: str, answer_id: str, *, message: int, voter: int) -> None:
    """A stamp on an answer message, recorded as the bot records it (committed on return)."""
    assert app.stamps is not None
    await app.stamps.record_answer(
        message, channel_id=CHANNEL, guild_id=GUILD, question_id=question_id, answer_id=answer_id
    )
    await app.stamps.apply(
        StampOp(message, voter, "stamp", add=True, channel_id=CHANNEL, guild_id=GUILD)
    )
