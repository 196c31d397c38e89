"""Stamps through the real bot and the fake Discord: counts, embeds, restarts, reconciling."""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

import pytest
from fakediscord import FakeDiscord, Intent

from bot.config import StampSettings
from bot.discord.render import TEXT
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.matcher import Matcher
from bot.knowledge.model import Answer, Question
from bot.stamps import StampBook

if TYPE_CHECKING:
    from conftest import Harness, Running

QUESTION = "stampy, where can I learn about interpretability?"
STAMP = ("stamp", 710_000_000_000_000_001)  # a server's custom :stamp: emoji
GOLD = ("goldstamp", 710_000_000_000_000_002)
FAST = StampSettings(embed_update_seconds=0.02, reputation_delay_seconds=0.02)


def stamps_field(message: dict[str, Any]) -> str:
    [embed] = message["embeds"]
    return {f["name"]: f["value"] for f in embed["fields"]}["Stamps"]


def book_of(run: Running) -> StampBook:
    return run.book


async def start(
    harness: Harness, *, knowledge: KnowledgeBase | None = None, **stamps: Any
) -> Running:
    settings = dataclasses.replace(harness.settings(), stamps=dataclasses.replace(FAST, **stamps))
    return await harness.start(settings, knowledge=knowledge)


async def ask(fake: FakeDiscord, text: str = QUESTION, user: int | None = None) -> dict[str, Any]:
    posted = await fake.post_message(fake.channel.id, user or fake.member.id, text)
    return await fake.wait_for_message(
        fake.channel.id,
        predicate=lambda m: (m.get("message_reference") or {}).get("message_id") == posted["id"],
    )


async def react(fake: FakeDiscord, message: dict[str, Any], user: int, emoji=STAMP, add=True):
    name, emoji_id = emoji if isinstance(emoji, tuple) else (emoji, None)
    if add:
        await fake.add_reaction(fake.channel.id, int(message["id"]), user, name, emoji_id)
    else:
        await fake.remove_reaction(fake.channel.id, int(message["id"]), user, name, emoji_id)


async def shows(fake: FakeDiscord, message: dict[str, Any], text: str) -> None:
    """Wait until the bot's message shows ``text`` as its stamp count."""
    stored = fake.model.message(fake.channel.id, int(message["id"]))
    await fake.wait_until(lambda: stamps_field(stored) == text, what=f"the embed to show {text}")


async def counted(harness: Harness, run: Running, answer_id: str, count: int) -> None:
    book = book_of(run)

    async def done() -> bool:
        return book.count(answer_id) == count

    await harness.eventually(done, what=f"{answer_id} to have {count} stamps")


def answer_id_of(run: Running) -> str:
    question = run.bot.service.question("learn-interpretability")
    assert question is not None
    return run.bot.service.ranked_answers(question)[0].id


async def stored_stamps(run: Running) -> list[tuple[int, int, str]]:
    async with run.store.read() as conn:
        rows = await conn.execute_fetchall("SELECT message_id, voter_id, emoji FROM stamps")
    return sorted((r[0], r[1], r[2]) for r in rows)


# -- counting -----------------------------------------------------------------------------------


async def test_a_stamp_raises_the_count_and_removing_it_lowers_it(harness: Harness):
    fake = harness.fake
    run = await start(harness)
    reply = await ask(fake)
    assert stamps_field(reply) == "0 stamps"

    await react(fake, reply, fake.moderator.id)
    await shows(fake, reply, "1 stamp")
    assert book_of(run).count(answer_id_of(run)) == 1
    edit = fake.requests_to("PATCH", "/channels/{c}/messages/{m}")[-1]
    assert edit.json["allowed_mentions"] == {"parse": []}
    assert "components" not in edit.json  # the buttons stay as they were

    await react(fake, reply, fake.moderator.id, add=False)
    await shows(fake, reply, "0 stamps")
    assert await stored_stamps(run) == []


async def test_a_gold_stamp_counts_five_and_the_fallback_emoji_one(harness: Harness):
    fake = harness.fake
    run = await start(harness)
    reply = await ask(fake)
    await react(fake, reply, fake.moderator.id, GOLD)
    await shows(fake, reply, "5 stamps")
    await react(fake, reply, fake.owner.id, "🏅")
    await shows(fake, reply, "6 stamps")
    assert book_of(run).count(answer_id_of(run)) == 6


async def test_self_stamps_the_bots_reactions_and_other_emojis_change_nothing(harness: Harness):
    fake = harness.fake
    author = fake.member.id  # alice wrote the answer (credited as a Discord user)
    question = Question(
        "what-is-a-stamp",
        "What is a stamp of approval?",
        answers=(
            Answer("what-is-a-stamp-1", "An endorsement.", canonical=True, author=f"<@{author}>"),
        ),
    )
    run = await start(
        harness, knowledge=KnowledgeBase(Matcher(harness.settings().matching), [question])
    )
    reply = await ask(fake, "stampy, what is a stamp of approval?", fake.owner.id)

    await react(fake, reply, author)  # on her own answer
    await react(fake, reply, fake.bot.id)  # the bot's own reaction (Discord echoes it)
    await react(fake, reply, fake.moderator.id, "👍")  # not a stamp
    await react(fake, reply, fake.moderator.id, "stamp")  # a unicode "stamp" is no emoji of ours
    own = await fake.post_message(fake.channel.id, fake.moderator.id, "my own message")
    await react(fake, own, fake.moderator.id)  # on your own message
    await react(fake, reply, fake.owner.id)  # the one that counts
    await shows(fake, reply, "1 stamp")
    book = book_of(run)
    assert book.count("what-is-a-stamp-1") == 1
    assert await stored_stamps(run) == [(int(reply["id"]), fake.owner.id, "stamp")]
    assert book.user(author).received == 1  # credited to the answer's author
    removals = [(author, STAMP), (fake.bot.id, STAMP), (fake.moderator.id, "👍")]
    for user, emoji in removals:
        await react(fake, reply, user, emoji, add=False)
    await react(fake, reply, fake.owner.id, GOLD)
    await shows(fake, reply, "6 stamps")


async def test_the_same_event_twice_counts_once(harness: Harness):
    fake = harness.fake
    run = await start(harness)
    reply = await ask(fake)
    message = fake.model.message(fake.channel.id, int(reply["id"]))
    fake.model.react(message, *STAMP, fake.moderator.id, True)
    event = fake.model.reaction_payload(message, *STAMP, fake.moderator.id)
    event["member"] = fake.model.member_payload(fake.guild.id, fake.moderator.id)
    for _ in range(2):
        await fake.dispatch("MESSAGE_REACTION_ADD", event, intent=Intent.GUILD_MESSAGE_REACTIONS)
    await shows(fake, reply, "1 stamp")

    # An event lost on a dropped socket is replayed on RESUME: counted once too.
    fake.lose_next_dispatch()
    await react(fake, reply, fake.owner.id, GOLD)
    await fake.wait_resumed()
    await shows(fake, reply, "6 stamps")
    assert [f["t"] for f in fake.gateway.replayed] == ["MESSAGE_REACTION_ADD"]

    removal = fake.model.reaction_payload(message, *STAMP, fake.moderator.id)
    fake.model.react(message, *STAMP, fake.moderator.id, False)
    for _ in range(3):
        await fake.dispatch(
            "MESSAGE_REACTION_REMOVE", removal, intent=Intent.GUILD_MESSAGE_REACTIONS
        )
    await shows(fake, reply, "5 stamps")
    await counted(harness, run, answer_id_of(run), 5)


async def test_a_picked_did_you_mean_answer_is_tracked(harness: Harness):
    fake = harness.fake
    run = await start(harness)
    suggestion = await ask(fake, "stampy, tell me about neurons")
    first = suggestion["components"][0]["components"][0]
    click = await fake.click_button(suggestion, first["custom_id"], fake.member.id)
    answer = (await click.response()).message
    assert answer is not None and stamps_field(answer) == "0 stamps"
    await react(fake, answer, fake.moderator.id)
    await shows(fake, answer, "1 stamp")
    assert await stored_stamps(run) == [(int(answer["id"]), fake.moderator.id, "stamp")]


# -- restarts -----------------------------------------------------------------------------------


async def test_counts_are_the_same_after_a_restart(harness: Harness):
    fake = harness.fake
    run = await start(harness)
    reply = await ask(fake)
    await react(fake, reply, fake.moderator.id, GOLD)
    await react(fake, reply, fake.owner.id)
    await shows(fake, reply, "6 stamps")
    answer = answer_id_of(run)
    await harness.stop(run)

    again = await start(harness)
    assert book_of(again).count(answer) == 6
    assert stamps_field(await ask(fake, user=fake.owner.id)) == "6 stamps"  # a new answer shows it
    await react(fake, reply, fake.owner.id, add=False)  # on the message from before the restart
    await shows(fake, reply, "5 stamps")
    await react(fake, reply, fake.owner.id, GOLD)  # and a duplicate of an old stamp does nothing
    await react(fake, reply, fake.moderator.id, GOLD)
    await shows(fake, reply, "10 stamps")


async def test_stamps_changed_while_stopped_are_reconciled_on_start(
    harness: Harness, caplog: pytest.LogCaptureFixture
):
    fake = harness.fake
    run = await start(harness)
    reply = await ask(fake)
    gone = await ask(fake, "stampy, what is AI alignment?", fake.owner.id)
    await react(fake, reply, fake.member.id)
    await react(fake, reply, fake.owner.id, GOLD)
    await react(fake, gone, fake.member.id)
    await shows(fake, reply, "6 stamps")
    await shows(fake, gone, "1 stamp")
    answer = answer_id_of(run)
    await harness.stop(run)

    # While the bot is down: alice takes her stamp back, the moderator stamps twice, a
    # reaction with another emoji appears, and the other answer message is deleted.
    message = fake.model.message(fake.channel.id, int(reply["id"]))
    fake.model.react(message, *STAMP, fake.member.id, False)
    fake.model.react(message, *STAMP, fake.moderator.id, True)
    fake.model.react(message, "🏅", None, fake.moderator.id, True)
    fake.model.react(message, "👍", None, fake.moderator.id, True)
    fake.model.delete_message(fake.channel, int(gone["id"]))

    caplog.set_level(logging.INFO, logger="bot.stamps.reconcile")
    caplog.clear()  # the first start's reconciling, logged if an earlier test left INFO on
    # Discord rate-limits the first reaction listing: discord.py waits and retries it.
    fake.fail_next("GET", "/channels/{c}/messages/{m}/reactions/{e}", status=429)
    again = await start(harness)
    await shows(fake, reply, "7 stamps")
    await counted(harness, again, answer, 7)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("reconciled")]
    assert lines == ["reconciled 2 answer messages: +2 stamps, -2 stamps"]
    listings = fake.requests_to("GET", "/channels/{c}/messages/{m}/reactions/{e}")
    statuses = [r.status for r in listings]
    assert statuses.count(429) == 1 and statuses.count(200) == len(statuses) - 1
    assert [row[0] for row in await stored_stamps(again)] == [int(reply["id"])] * 3


async def test_no_reconcile_when_turned_off(harness: Harness, caplog: pytest.LogCaptureFixture):
    fake = harness.fake
    run = await start(harness, reconcile_days=0)
    reply = await ask(fake)
    await harness.stop(run)
    fake.model.react(
        fake.model.message(fake.channel.id, int(reply["id"])), *STAMP, fake.owner.id, True
    )
    caplog.set_level(logging.INFO, logger="bot.stamps.reconcile")
    again = await start(harness, reconcile_days=0)
    await ask(fake, user=fake.owner.id)
    assert await stored_stamps(again) == []
    assert not [r for r in caplog.records if r.getMessage().startswith("reconciled")]


# -- people and commands --------------------------------------------------------------------------


async def test_stamps_on_peoples_messages_and_the_stamps_commands(harness: Harness):
    fake = harness.fake
    run = await start(harness)
    hello = await fake.post_message(fake.channel.id, fake.member.id, "here is a useful link")
    await react(fake, hello, fake.moderator.id)  # a moderator (a root of trust) stamps alice
    book = book_of(run)

    async def scored() -> bool:
        return book.reputation(fake.member.id) > 0

    await harness.eventually(scored, what="alice's reputation")
    assert book.roots == {fake.owner.id, fake.moderator.id}

    show = await fake.run_command(
        fake.guild.id, fake.channel.id, fake.owner.id, "stamps show", {"member": fake.member.id}
    )
    response = await show.response()
    assert response.ephemeral
    expected = TEXT["stamps_user"].format(
        user=f"<@{fake.member.id}>", score=book.reputation(fake.member.id), received=1, given=0
    )
    assert response.content == expected
    mine = await fake.run_command(fake.guild.id, fake.channel.id, fake.moderator.id, "stamps show")
    assert "received 0 and gave 1" in (await mine.response()).content

    top = await fake.run_command(fake.guild.id, fake.channel.id, fake.member.id, "stamps top")
    lines = (await top.response()).content.splitlines()
    assert lines[0] == TEXT["stamps_top_title"]
    assert any(line.startswith("1. <@") for line in lines[1:])
    assert any(f"<@{fake.member.id}>" in line for line in lines[1:])
    assert (await top.response()).message["mentions"] == []


async def test_stamps_top_when_nobody_has_a_score(harness: Harness):
    fake = harness.fake
    await start(harness)
    top = await fake.run_command(fake.guild.id, fake.channel.id, fake.member.id, "stamps top")
    assert (await top.response()).content == TEXT["stamps_top_empty"]


# -- reactions cleared, messages deleted --------------------------------------------------------


async def test_cleared_reactions_and_deleted_messages_take_their_stamps(harness: Harness):
    fake = harness.fake
    run = await start(harness)
    reply = await ask(fake)
    await react(fake, reply, fake.moderator.id)
    await react(fake, reply, fake.owner.id, GOLD)
    await shows(fake, reply, "6 stamps")
    message = fake.model.message(fake.channel.id, int(reply["id"]))
    where = {
        "channel_id": reply["channel_id"],
        "message_id": reply["id"],
        "guild_id": reply["guild_id"],
    }

    # A moderator removes every gold stamp reaction, then all reactions.
    fake.model.react(message, *GOLD, fake.owner.id, False)
    emoji = {"id": str(GOLD[1]), "name": GOLD[0]}
    await fake.dispatch(
        "MESSAGE_REACTION_REMOVE_EMOJI",
        {**where, "emoji": emoji},
        intent=Intent.GUILD_MESSAGE_REACTIONS,
    )
    await shows(fake, reply, "1 stamp")
    fake.model.react(message, *STAMP, fake.moderator.id, False)
    await fake.dispatch("MESSAGE_REACTION_REMOVE_ALL", where, intent=Intent.GUILD_MESSAGE_REACTIONS)
    await shows(fake, reply, "0 stamps")

    # A stamped message of a person is deleted: the vote goes with it.
    hello = await fake.post_message(fake.channel.id, fake.member.id, "a helpful message")
    await react(fake, hello, fake.moderator.id)
    book = book_of(run)

    async def voted() -> bool:
        return book.total_weight == 1

    await harness.eventually(voted, what="the vote")
    fake.model.delete_message(fake.channel, int(hello["id"]))
    await fake.dispatch(
        "MESSAGE_DELETE",
        {"id": hello["id"], "channel_id": hello["channel_id"], "guild_id": hello["guild_id"]},
        intent=Intent.GUILD_MESSAGES,
    )

    async def gone() -> bool:
        return book.total_weight == 0 and not await stored_stamps(run)

    await harness.eventually(gone, what="the vote to go")
