"""The real bot over the fake Discord while its database cannot be written (read-only, full).

Questions are still answered from memory, the unanswered one still gets its reply, a stamp is
kept in memory and written once the database can be written again, and the log says what is
wrong in one line.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from fakediscord import FakeDiscord

from bot.config import StampSettings
from bot.discord.render import TEXT
from bot.store import StampRecords, Store, StoreError, UnansweredQuestions

if TYPE_CHECKING:
    from conftest import Harness

QUESTION = "stampy, where can I learn about interpretability?"
UNKNOWN = "stampy, what is the airspeed velocity of an unladen swallow?"
STAMP = ("stamp", 710_000_000_000_000_001)
FAST = StampSettings(embed_update_seconds=0.02, reputation_delay_seconds=0.02)


async def read_only(store: Store, on: bool) -> None:
    await store.connection.execute(f"PRAGMA query_only = {'ON' if on else 'OFF'}")


async def full(store: Store, on: bool) -> None:
    async with store.connection.execute("PRAGMA page_count") as cursor:
        row = await cursor.fetchone()
    pages = int(row[0]) if on else 1_000_000_000
    await store.connection.execute(f"PRAGMA max_page_count = {pages}")


async def ask(fake: FakeDiscord, text: str) -> dict[str, Any]:
    posted = await fake.post_message(fake.channel.id, fake.member.id, text)
    return await fake.wait_for_message(
        fake.channel.id,
        predicate=lambda m: (m.get("message_reference") or {}).get("message_id") == posted["id"],
    )


async def test_the_bot_answers_and_keeps_stamps_while_the_database_is_read_only(
    harness: Harness,
):
    fake = harness.fake
    settings = dataclasses.replace(harness.settings(), stamps=FAST)
    run = await harness.start(settings)
    book = run.book
    book.writer.retry_first = book.writer.retry_max = 0.01  # retry at once, not after seconds
    await read_only(run.store, True)
    recorded = len(await run.unanswered())

    answer = await ask(fake, QUESTION)
    assert answer["embeds"][0]["title"] == "Where can I learn about interpretability?"
    unknown = await ask(fake, UNKNOWN)
    assert unknown["content"] == TEXT["no_match"]  # the asker is answered all the same

    await fake.add_reaction(fake.channel.id, int(answer["id"]), fake.member.id, *STAMP)
    await harness.eventually(lambda: _async(book.retries >= 2), what="the stamp being retried")
    assert await StampRecords(run.store).count() == 0

    await read_only(run.store, False)
    await harness.eventually(
        lambda: StampRecords(run.store).count(), timeout=10, what="the stamp written"
    )
    # The unanswered question was not recorded (logged as a warning, not an error), and the
    # log has exactly one error: the database's state, naming the file.
    assert len(await run.unanswered()) == recorded
    assert len(harness.errors) == 1, harness.errors
    assert "read-only" in harness.errors[0] and run.settings.database.path in harness.errors[0]
    harness.errors.clear()


async def test_the_bot_answers_while_the_disk_is_full(harness: Harness):
    fake = harness.fake
    run = await harness.start()
    await full(run.store, True)
    for number in range(1000):  # use up the free space the file still has
        text = " ".join(f"w{number}x{word}" for word in range(60))
        try:
            await UnansweredQuestions(run.store).record(text, asker_id=1, channel_id=2, guild_id=3)
        except StoreError:
            break
    answer = await ask(fake, QUESTION)
    assert answer["embeds"][0]["title"] == "Where can I learn about interpretability?"
    unknown = await ask(fake, UNKNOWN)
    assert unknown["content"] == TEXT["no_match"]
    assert harness.errors and all("disk is full" in error for error in harness.errors)
    harness.errors.clear()
    await full(run.store, False)


async def _async(value: Any) -> Any:
    return value
