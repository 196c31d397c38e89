"""What the bot remembers per message, user or channel stays bounded over a long run.

bench/soak.py runs the bot for ten minutes and watches its memory; these tests pin down each
bound on its own: handled message ids and cooldowns in the asking cog, discord.py's message
cache, and the view store (buttons are dynamic items: nothing is kept per message).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
from fakediscord import FakeDiscord, RateLimits

from bot.app import App
from bot.config import DatabaseSettings, DiscordSettings, KnowledgeSettings, Settings
from bot.discord import views
from bot.discord.addressing import AskingGate, RecentIds
from bot.discord.asking import MEMORY, Asking
from bot.discord.bot import MAX_CONNECTIONS, MESSAGE_CACHE, StampyBot
from bot.discord.install import install
from bot.discord.moderation.views import PAGE_SIZE, page_view

ANSWERS = Path(__file__).resolve().parents[1] / "answers"
TOKEN = "bounds-token-3c81"


def settings(tmp_path: Path, **discord_options: Any) -> Settings:
    return Settings(
        knowledge=KnowledgeSettings(answers_dir=str(ANSWERS)),
        database=DatabaseSettings(path=str(tmp_path / "stampy.db")),
        discord=DiscordSettings(**discord_options),
    )


def test_asking_cog_remembers_at_most_memory_ids_users_and_questions() -> None:
    cooldowns = DiscordSettings(user_cooldown_seconds=3.0, channel_cooldown_seconds=1.0)
    bot = SimpleNamespace(service=None, settings=SimpleNamespace(discord=cooldowns))
    cog = Asking(bot, memory=100)  # type: ignore[arg-type]
    for i in range(10_000):  # all within 0.1 s: nothing expires, only the bound holds
        assert cog.handled.add(i)
        assert cog.gate.reserve(i, i % 10, f"question number {i}", i * 1e-5) == 0.0
    assert len(cog.handled) == 100
    assert len(cog.gate.users) == 100 and len(cog.gate.channels) == 100
    assert 9_999 in cog.handled and 0 not in cog.handled  # the oldest went first
    # Once the cooldowns are over, the next asking drops every expired entry.
    assert cog.gate.reserve(1, 1, "later", 10.0) == 0.0
    assert len(cog.gate.users) == 1 and len(cog.gate.channels) == 1


def test_asking_cog_is_bounded_by_default() -> None:
    bot = SimpleNamespace(service=None, settings=SimpleNamespace(discord=DiscordSettings()))
    cog = Asking(bot)  # type: ignore[arg-type]
    assert cog.handled.capacity == MEMORY
    assert cog.gate.users.capacity == MEMORY and cog.gate.channels.capacity == MEMORY
    assert 0 < MEMORY <= 100_000


def test_discord_keeps_no_messages_in_memory(tmp_path: Path) -> None:
    bot = StampyBot(App.offline(settings(tmp_path)), install)
    state = bot._connection
    assert MESSAGE_CACHE is None
    assert state.max_messages is None and state._messages is None


def test_buttons_keep_nothing_per_message(tmp_path: Path) -> None:
    """Every view the bot sends is made of dynamic items: discord.py's view store keeps the
    item classes, not one entry per message sent."""
    service = App.offline(settings(tmp_path)).service
    question = next(q for q in service.knowledge if q.answers)
    reply = service.answer(question.id)
    assert reply is not None
    suggestion = SimpleNamespace(
        question=question, candidate=SimpleNamespace(score=0.6, phrasing=question.text)
    )
    store = discord.ui.view.ViewStore(SimpleNamespace())  # type: ignore[arg-type]
    for message_id in range(1, 1001):
        store.add_view(views.answer_view(reply, picked=False), message_id)
        store.add_view(
            views.suggestion_view(SimpleNamespace(suggestions=(suggestion,))), message_id
        )  # type: ignore[arg-type]
        paged = page_view("u", 0, PAGE_SIZE * 3)
        assert paged is not None
        store.add_view(paged, message_id)
    assert not store._views and not store._synced_message_views
    assert len(store._dynamic_items) <= len(views.DYNAMIC_ITEMS) + 1


async def test_bounds_hold_in_the_running_bot(tmp_path: Path) -> None:
    """Through the fake Discord: with small bounds swapped into the asking cog, every one of
    many distinct askings is answered and the cog's memory stays at its bounds."""
    config = settings(tmp_path, user_cooldown_seconds=3.0, channel_cooldown_seconds=1.0)
    async with FakeDiscord(token=TOKEN) as fake:
        with fake.patch_client():
            channels = [fake.add_channel(fake.guild.id, f"bounds-{i}").id for i in range(3)]
            askers = fake.add_members(60, "asker")
            app_opening = App.open(config)
            app = await app_opening.__aenter__()
            assert not app.loaded.errors
            service = app.service
            bot = StampyBot(app, install, fast_start=True)
            task = asyncio.create_task(bot.start(TOKEN))
            fake.watch_task(task)
            try:
                await fake.wait_until(lambda: bot.ready_once.is_set(), 5.0, "the bot ready")
                cog = bot.get_cog("Asking")
                assert isinstance(cog, Asking)
                cog.handled = RecentIds(20)
                cog.gate = AskingGate(3.0, 1.0, 20)
                phrasings = [p for q in service.knowledge for p in q.phrasings]
                for i, asker in enumerate(askers):
                    channel = channels[i % len(channels)]
                    await fake.post_message(channel, asker, f"stampy, {phrasings[i]}")
                await fake.wait_until(
                    lambda: sum(1 for c in channels for _ in fake.bot_messages(c)) >= len(askers),
                    10.0,
                    "a reply to every asking",
                )
                assert len(cog.handled) == 20
                assert len(cog.gate.users) <= 20 and len(cog.gate.channels) <= 20
                view_store = bot._connection._view_store
                assert not view_store._views and not view_store._synced_message_views
                assert not bot.cached_messages
            finally:
                await bot.close()
                await asyncio.wait_for(task, 5)
                await app_opening.__aexit__(None, None, None)
                fake._watched.remove(task)
    assert not fake.errors, fake.errors[0]


async def test_a_slow_discord_never_gets_more_connections_than_the_bound(tmp_path: Path) -> None:
    """With every reply taking Discord 0.3 s and no rate limit in the way, 3 x MAX_CONNECTIONS
    questions at once are all answered over at most MAX_CONNECTIONS connections (discord.py's
    own pool would open one per request in flight, and keep them)."""
    askers = 3 * MAX_CONNECTIONS
    limits = RateLimits(10_000, 1.0)
    async with FakeDiscord(token=TOKEN, rate_limits=limits) as fake:
        with fake.patch_client():
            channels = [fake.add_channel(fake.guild.id, f"slow-{i}").id for i in range(askers)]
            members = fake.add_members(askers, "slow")
            async with App.open(settings(tmp_path)) as app:
                bot = StampyBot(app, install, fast_start=True)
                task = asyncio.create_task(bot.start(TOKEN))
                fake.watch_task(task)
                try:
                    await fake.wait_until(lambda: bot.ready_once.is_set(), 5.0, "the bot ready")
                    fake.delay("POST", "/channels/{channel_id}/messages", 0.3)
                    for channel, member in zip(channels, members, strict=True):
                        await fake.post_message(channel, member, "stampy, what is AGI?")
                    await fake.wait_until(
                        lambda: sum(len(fake.bot_messages(c)) for c in channels) == askers,
                        20.0,
                        "a reply to every question",
                    )
                    sends = fake.requests_to("POST", "/channels/{channel_id}/messages")
                    assert len(sends) == askers
                    assert len({r.peer for r in sends}) <= MAX_CONNECTIONS
                finally:
                    await bot.close()
                    await asyncio.wait_for(task, 5)
                    fake._watched.remove(task)
    assert not fake.errors, fake.errors[0]


def test_stem_memo_stops_growing_at_its_limit_and_skips_long_words() -> None:
    from bot.knowledge.matcher import _Stemmer

    stem = _Stemmer(limit=100)
    assert stem("questions") == "question"
    for i in range(1000):
        assert stem(f"made{i}up") == f"made{i}up"
    long_word = "counter" * 6 + "ing"
    assert stem(long_word) == "counter" * 5 + "count"  # stemmed, but not remembered
    assert len(stem._memo) == 100
    assert all(len(word) <= _Stemmer.MEMO_WORD for word in stem._memo)
    assert stem("questions") == "question"  # remembered words still answer from the memo
