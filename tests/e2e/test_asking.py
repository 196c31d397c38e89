"""Asking the real bot questions through the fake Discord: replies, buttons, records, faults."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord
import pytest
from discord import app_commands
from fakediscord import FakeDiscord, Intent

from bot.discord.render import DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT, TEXT, TITLE_LIMIT
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.matcher import Matcher
from bot.knowledge.model import Answer, Question

if TYPE_CHECKING:
    from conftest import Harness, Running

QUESTION = "stampy, where can I learn about interpretability?"
SEED_TITLE = "Where can I learn about interpretability?"
SEED_START = "Interpretability is a young field, so most of the best material is free and online."
LINK = re.compile(r"\[[^\[\]]*\]\([^()\s]*(?:\([^()\s]*\)[^()\s]*)*\)")
SENT = (
    ("POST", "/channels/{c}/messages"),
    ("PATCH", "/channels/{c}/messages/{m}"),
    ("POST", "/webhooks/{a}/{t}"),
    ("PATCH", "/webhooks/{a}/{t}/messages/{m}"),
)


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A message's buttons by label."""
    return {c["label"]: c for row in message["components"] for c in row["components"]}


def replies_to(fake: FakeDiscord, message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        m
        for m in fake.bot_messages()
        if (m.get("message_reference") or {}).get("message_id") == message["id"]
    ]


def sent_bodies(fake: FakeDiscord) -> list[dict[str, Any]]:
    """The body of every message the bot sent or edited, interaction responses included."""
    bodies = [r.json for method, path in SENT for r in fake.requests_to(method, path)]
    for r in fake.requests_to("POST", "/interactions/{i}/{t}/callback"):
        if r.json["type"] in (4, 7):
            bodies.append(r.json["data"])
    return bodies


def embed_size(embed: dict[str, Any]) -> int:
    parts = [embed.get("title", ""), embed.get("description", "")]
    parts.append((embed.get("footer") or {}).get("text", ""))
    parts += [f["name"] + f["value"] for f in embed.get("fields", [])]
    return sum(len(p) for p in parts)


async def ask(fake: FakeDiscord, text: str, user_id: int | None = None) -> dict[str, Any]:
    """Post ``text`` in #general and return the bot's reply to it."""
    posted = await fake.post_message(fake.channel.id, user_id or fake.member.id, text)
    reply = await fake.wait_for_message(
        fake.channel.id,
        predicate=lambda m: (m.get("message_reference") or {}).get("message_id") == posted["id"],
    )
    return reply


# -- start-up -----------------------------------------------------------------------------------


async def test_ready_syncs_commands_and_logs_one_line(
    harness: Harness, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="bot.discord.bot")
    fake = harness.fake
    run = await harness.start()
    assert fake.requests_to("PUT", f"/applications/{fake.application_id}/commands")
    # (the bot's own records: others may name this test's folder, "test_ready_...")
    ready = [
        r.getMessage()
        for r in caplog.records
        if r.name == "bot.discord.bot" and "ready" in r.getMessage()
    ]
    assert ready == ["Stampy ready as Stampy in 1 guild(s): Test Guild"]
    identify = next(f for f in fake.gateway.received if f["op"] == 2)
    assert identify["d"]["intents"] == run.bot.intents.value
    assert not run.bot.intents.members and not run.bot.intents.presences
    # a fresh session (not a resume) does not sync or log again
    await fake.send_invalid_session(resumable=False)
    await fake.wait_ready(count=2)
    await ask(fake, QUESTION)
    assert len(fake.requests_to("PUT", "/applications/{a}/commands")) == 1
    assert len([r for r in caplog.records if "ready as" in r.getMessage()]) == 1


async def test_start_up_without_home_guilds_says_so_once_with_the_guild_ids(
    harness: Harness, caplog: pytest.LogCaptureFixture
):
    """Moderators' commands say nobody can edit without home_guilds; the operator reads it
    in the log at start-up, with an id to copy."""
    caplog.set_level(logging.INFO, logger="bot.discord.bot")
    fake = harness.fake
    run = await harness.start()
    [warning] = [r for r in caplog.records if "home_guilds" in r.getMessage()]
    assert warning.levelname == "WARNING"
    assert f"{fake.guild.id} (Test Guild)" in warning.getMessage()
    await harness.stop(run)
    caplog.clear()
    await harness.start(harness.settings(home_guilds=(fake.guild.id,)))
    assert not [r for r in caplog.records if "home_guilds" in r.getMessage()]


async def test_command_errors_are_reported_and_apologised_for(harness: Harness, stampy: Running):
    fake, tree = harness.fake, stampy.bot.tree

    @app_commands.command(name="boom", description="Always fails")
    async def boom(interaction: discord.Interaction) -> None:
        raise RuntimeError("boom")

    tree.add_command(boom, guild=discord.Object(fake.guild.id))
    await tree.sync(guild=discord.Object(fake.guild.id))
    inter = await fake.run_command(fake.guild.id, fake.channel.id, fake.member.id, "boom")
    response = await inter.response()
    assert response.ephemeral and response.content == TEXT["command_apology"]
    assert len(harness.errors) == 1 and "running command 'boom'" in harness.errors[0]
    harness.errors.clear()


# -- answering ---------------------------------------------------------------------------------


async def test_question_gets_the_seed_answer_as_a_reply(harness: Harness, stampy: Running):
    fake = harness.fake
    posted = await fake.post_message(fake.channel.id, fake.member.id, QUESTION)
    reply = await fake.wait_for_message(fake.channel.id)

    assert reply["message_reference"]["message_id"] == posted["id"]
    [embed] = reply["embeds"]
    assert embed["title"] == SEED_TITLE
    assert embed["description"].startswith(SEED_START)
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Stamps"] == "0 stamps"
    assert "interpretability" in fields["Tags"]
    assert embed["footer"]["text"] == TEXT["footer"]
    labels = set(buttons(reply))
    related = {label for label in labels if label.startswith("Related: ")}
    assert labels - related == {"Other answers", "Why this answer?", "Report a problem"}
    assert 1 <= len(related) <= 3
    assert reply["mentions"] == []  # the asker is not pinged either


async def test_typos_are_tolerated(harness: Harness, stampy: Running):
    reply = await ask(harness.fake, "stampy, wher can i lern about interpretabilty")
    assert reply["embeds"][0]["title"] == SEED_TITLE


async def test_prefix_is_case_insensitive_and_short_prefix_works(harness: Harness, stampy: Running):
    fake = harness.fake
    first = await ask(fake, "STAMPY, where can I learn about interpretability?")
    second = await ask(fake, "s, where can I learn about interpretability")
    assert first["embeds"][0]["title"] == second["embeds"][0]["title"] == SEED_TITLE


async def test_mention_works(harness: Harness, stampy: Running):
    fake = harness.fake
    for mention in (f"<@{fake.bot.id}>", f"<@!{fake.bot.id}>"):
        text = f"{mention} where can I learn about interpretability?"
        posted = await fake.post_message(
            fake.channel.id, fake.member.id, text, mentions=[fake.bot.id]
        )
        await fake.wait_until(lambda p=posted: replies_to(fake, p))
        [reply] = replies_to(fake, posted)
        assert reply["embeds"][0]["title"] == SEED_TITLE


async def test_bare_mention_gets_a_hint(harness: Harness, stampy: Running):
    reply = await ask(harness.fake, f"<@{harness.fake.bot.id}>")
    assert reply["content"] == TEXT["empty"]


async def test_dm_works_without_a_prefix(harness: Harness, stampy: Running):
    fake = harness.fake
    posted = await fake.send_dm(fake.member.id, "where can I learn about interpretability?")
    dm = fake.model.dm_channel(fake.member.id)
    reply = await fake.wait_for_message(dm.id)
    assert reply["embeds"][0]["title"] == SEED_TITLE
    assert reply["message_reference"]["message_id"] == posted["id"]


async def test_chatter_without_prefix_is_ignored(harness: Harness, stampy: Running):
    fake = harness.fake
    await fake.post_message(fake.channel.id, fake.member.id, "where can I learn about cooking?")
    await fake.post_message(fake.channel.id, fake.member.id, "stampylike, what is AI alignment?")
    sentinel = await ask(fake, QUESTION)  # handled in order: anything earlier came first
    assert fake.bot_messages() == [sentinel]


async def test_a_replys_buttons_are_freed_at_once_and_still_work(harness: Harness, stampy: Running):
    # Each reply's view and its buttons refer to each other: kept so, they were freed only by
    # the garbage collector's full passes, which then took tens of ms under load.
    fake = harness.fake
    gc.collect()
    gc.disable()
    try:
        answer = await ask(fake, QUESTION)
        suggestion = await ask(fake, "stampy, tell me about neurons")

        # The handlers are done with the replies they sent (they note what was asked after).
        async def handlers_done() -> bool:
            return not [
                t
                for t in asyncio.all_tasks()
                if t.get_name().startswith("discord.py: on_message") and not t.done()
            ]

        await harness.eventually(handlers_done, what="the message handlers to finish")
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        left = [o for o in gc.garbage if isinstance(o, discord.ui.View | discord.ui.Item)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left == []
    assert suggestion["content"].startswith(TEXT["suggest"])
    # The buttons are answered through their templates, not through the view sent.
    why_id = buttons(answer)["Why this answer?"]["custom_id"]
    why = await fake.click_button(answer, why_id, fake.member.id)
    assert (await why.response()).type == 4
    [pick] = list(buttons(suggestion).values())[:1]
    picked = await fake.click_button(suggestion, pick["custom_id"], fake.member.id)
    assert (await picked.response()).message["embeds"]


# -- did you mean --------------------------------------------------------------------------------


async def test_did_you_mean_click_answers_and_records_the_askers_wording(
    harness: Harness, stampy: Running
):
    fake = harness.fake
    suggestion = await ask(fake, "stampy, tell me about neurons")
    assert suggestion["content"].startswith(TEXT["suggest"])
    choices = list(buttons(suggestion).values())
    assert 1 <= len(choices) <= 3
    assert all(len(b["label"]) <= 80 for b in choices)
    first = choices[0]
    question_id = first["custom_id"].rsplit(":", 1)[1]

    # Someone else clicks: they get the answer, but it is not their wording to propose.
    other = await fake.click_button(suggestion, first["custom_id"], fake.moderator.id)
    response = await other.response()
    assert response.type == 4 and not response.ephemeral
    assert response.message["embeds"][0]["title"] == stampy.bot.service.question(question_id).text

    mine = await fake.click_button(suggestion, first["custom_id"], fake.member.id)
    response = await mine.response()
    assert response.type == 4 and not response.ephemeral
    assert response.message in fake.messages(fake.channel.id)  # public
    assert "Why this answer?" in buttons(response.message)

    [proposal] = await harness.eventually(stampy.proposals, what="a proposal")
    assert proposal.question_id == question_id
    assert proposal.text == "tell me about neurons"
    assert proposal.proposer_id == fake.member.id and proposal.count == 1
    assert proposal.channel_id == fake.channel.id


# -- not known yet -------------------------------------------------------------------------------


async def test_unknown_question_is_noted_and_said_so(harness: Harness, stampy: Running):
    fake = harness.fake
    reply = await ask(fake, "stampy, what is the capital of France?")
    assert reply["content"] == TEXT["no_match"]
    assert reply["embeds"] == [] and reply["components"] == []
    # The reply goes out before the database write, so the row may come a moment later.
    [row] = await harness.eventually(stampy.unanswered, what="the unanswered row")
    assert row.text == "what is the capital of France?"
    assert (row.first_asker_id, row.first_channel_id, row.guild_id) == (
        fake.member.id,
        fake.channel.id,
        fake.guild.id,
    )


async def test_small_talk_gets_a_friendly_word_and_is_not_noted(harness: Harness, stampy: Running):
    fake = harness.fake
    reply = await ask(fake, "stampy, thanks!")
    assert reply["content"] == "You're welcome!"
    assert reply["embeds"] == [] and reply["components"] == []
    await ask(fake, "stampy, what is the capital of France?")  # noted after the reply
    [row] = await harness.eventually(stampy.unanswered, what="the unanswered row")
    assert row.text == "what is the capital of France?"


# -- who is ignored ------------------------------------------------------------------------------


async def test_other_bots_and_webhooks_are_ignored(harness: Harness, stampy: Running):
    fake = harness.fake
    robot = fake.add_user("helperbot", bot=True)
    fake.add_member(fake.guild.id, robot.id)
    await fake.post_message(fake.channel.id, robot.id, QUESTION)
    hooked = fake.model.new_message(
        fake.channel,
        fake.member,
        {"content": QUESTION},
        extra={"webhook_id": str(fake.ids.next())},
    )
    await fake.dispatch("MESSAGE_CREATE", fake.model.gateway_message(hooked))
    sentinel = await ask(fake, QUESTION, fake.moderator.id)
    assert fake.bot_messages() == [sentinel]
    assert len(fake.requests_to("POST", "/channels/{id}/messages")) == 1


# -- no pings ------------------------------------------------------------------------------------


async def test_nothing_pings_anyone(harness: Harness, fake: FakeDiscord, tmp_path: Path):
    role, user = fake.mod_role.id, fake.owner.id
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "pings.yaml").write_text(
        "topic: Pings\n"
        "questions:\n"
        "  - id: ping-moderators\n"
        "    question: How do I get the attention of the moderators?\n"
        "    tags: [moderation]\n"
        "    answers:\n"
        "      - id: ping-moderators-answer\n"
        "        canonical: true\n"
        "        text: |\n"
        f"          Please don't write @everyone or @here, or ping <@&{role}> or <@{user}>.\n"
        "      - id: ping-moderators-other\n"
        "        text: |\n"
        f"          Honestly @everyone works, and so does <@&{role}>.\n",
        encoding="utf-8",
    )
    settings = harness.settings()
    knowledge = dataclasses.replace(settings.knowledge, answers_dir=str(answers))
    run = await harness.start(dataclasses.replace(settings, knowledge=knowledge))
    text = f"stampy, @everyone @here <@&{role}> <@{user}> how do I get the moderators' attention?"
    reply = await ask(fake, text)
    assert "@everyone" in reply["embeds"][0]["description"]
    more = await fake.click_button(reply, buttons(reply)["Other answers"]["custom_id"], user)
    assert (await more.response()).ephemeral
    await ask(fake, f"stampy, @everyone <@&{role}> what is the capital of France?")
    await ask(fake, f"<@{run.bot.user.id}> @here tell me about neurons <@&{role}>")

    bodies = sent_bodies(fake)
    assert len(bodies) >= 4
    assert all(body["allowed_mentions"] == {"parse": []} for body in bodies), bodies
    for message in fake.bot_messages():
        assert message["mentions"] == [] and message["mention_roles"] == []
        assert not message["mention_everyone"]


# -- gateway and REST faults ---------------------------------------------------------------------


async def test_event_replayed_after_resume_is_answered_once(harness: Harness, stampy: Running):
    fake = harness.fake
    fake.lose_next_dispatch()  # logged with a seq, never sent; then the socket drops
    posted = await fake.post_message(fake.channel.id, fake.member.id, QUESTION)
    await fake.wait_resumed()
    await fake.wait_until(lambda: replies_to(fake, posted), what="the reply")
    assert [f["t"] for f in fake.gateway.replayed] == ["MESSAGE_CREATE"]

    # The same message delivered again (as a replay can) is not answered again.
    await fake.dispatch(
        "MESSAGE_CREATE", fake.model.gateway_message(posted), intent=Intent.GUILD_MESSAGES
    )
    await ask(fake, "stampy, what is AI alignment?", fake.moderator.id)
    assert len(replies_to(fake, posted)) == 1
    assert len(fake.bot_messages()) == 2


async def test_rate_limited_reply_is_retried_and_sent_once(harness: Harness, stampy: Running):
    fake = harness.fake
    fake.fail_next("POST", "/channels/{id}/messages", status=429, retry_after=0.05)
    reply = await ask(fake, QUESTION)
    assert reply["embeds"][0]["title"] == SEED_TITLE
    attempts = fake.requests_to("POST", "/channels/{id}/messages")
    assert [r.status for r in attempts] == [429, 200]
    assert fake.bot_messages() == [reply]


async def test_failure_while_answering_is_logged_and_apologised_for(
    harness: Harness, stampy: Running
):
    fake = harness.fake
    fake.fail_next("POST", "/channels/{id}/messages", status=403)
    reply = await ask(fake, QUESTION)
    assert reply["content"] == TEXT["apology"]
    assert len(harness.errors) == 1 and "answering message" in harness.errors[0]
    harness.errors.clear()
    # and the bot carries on
    assert (await ask(fake, QUESTION, fake.moderator.id))["embeds"][0]["title"] == SEED_TITLE


# -- Q&A channels and cooldowns ------------------------------------------------------------------


async def test_qa_channel_answers_questions_only(harness: Harness):
    fake = harness.fake
    qa = fake.other_channel.id
    run = await harness.start(harness.settings(qa_channels=(qa,)))

    await fake.post_message(qa, fake.member.id, "good morning everyone")
    await fake.post_message(qa, fake.member.id, "what is the capital of France?")
    await harness.eventually(run.unanswered, what="the unanswered row")  # noted, not replied
    await fake.post_message(qa, fake.owner.id, "tell me about neurons?")
    suggestion = await fake.wait_for_message(qa)
    assert suggestion["content"].startswith(TEXT["suggest"])  # ends with "?" itself: no loop
    posted = await fake.post_message(qa, fake.moderator.id, SEED_TITLE.rstrip("?"))
    answer = await fake.wait_for_message(qa, count=2)
    assert answer["message_reference"]["message_id"] == posted["id"]
    assert answer["embeds"][0]["title"] == SEED_TITLE
    assert len(fake.bot_messages()) == 2
    # outside the Q&A channel the same question without a prefix is not for the bot
    await fake.post_message(fake.channel.id, fake.member.id, SEED_TITLE)
    await ask(fake, "stampy, what is AI alignment?", fake.owner.id)
    assert len(fake.bot_messages()) == 3


async def test_rate_limit_acknowledges_then_answers_instead_of_dropping(harness: Harness):
    """A member over the rate limit sees a reaction at once and gets the answer when their
    turn comes (the reaction then goes), instead of silence."""
    fake = harness.fake
    settings = harness.settings(
        user_cooldown_seconds=5.0, user_burst=1, channel_cooldown_seconds=0.0
    )
    await harness.start(settings)
    first = await ask(fake, QUESTION)
    again = await fake.post_message(fake.channel.id, fake.member.id, QUESTION)
    await harness.eventually(
        lambda: _async(fake.reaction_users(int(again["id"]), "⏳") == [fake.bot.id]),
        timeout=10.0,
        what="the bot's ⏳ on the question that waits",
    )
    assert len(fake.bot_messages()) == 1  # not yet answered
    late = await fake.wait_for_message(  # its turn is 5 s after the first answer
        fake.channel.id,
        timeout=15.0,
        predicate=lambda m: (m.get("message_reference") or {}).get("message_id") == again["id"],
    )
    assert late["embeds"][0]["title"] == first["embeds"][0]["title"] == SEED_TITLE
    await harness.eventually(
        lambda: _async(fake.reaction_users(int(again["id"]), "⏳") == []),
        timeout=10.0,
        what="⏳ taken back",
    )


async def _async(value: Any) -> Any:
    return value


async def test_reply_to_a_question_nobody_answered_invites_no_stamp(harness: Harness):
    fake = harness.fake
    await harness.start()
    reply = await ask(fake, "stampy, what is polysemanticity?")
    [embed] = reply["embeds"]
    assert embed["description"].startswith(TEXT["unanswered_known"][:40])  # known, unanswered
    assert "stamp" not in str(embed.get("footer", "")).lower()
    assert all("Stamps" != field["name"] for field in embed.get("fields", []))


async def test_two_members_asking_one_unknown_question_are_both_answered_and_counted(
    harness: Harness,
):
    fake = harness.fake
    run = await harness.start(harness.settings(channel_cooldown_seconds=0.5))
    unknown = "stampy, what is the airspeed of an unladen swallow?"
    one = await fake.post_message(fake.channel.id, fake.member.id, unknown)
    two = await fake.post_message(fake.channel.id, fake.owner.id, unknown)
    for posted in (one, two):
        reply = await fake.wait_for_message(
            fake.channel.id,
            timeout=10.0,
            predicate=lambda m, p=posted: (
                (m.get("message_reference") or {}).get("message_id") == p["id"]
            ),
        )
        assert reply["content"] == TEXT["no_match"]

    async def counted() -> bool:
        rows = await run.unanswered()
        return len(rows) == 1 and rows[0].count == 2

    await harness.eventually(counted, timeout=10.0, what="the question counted twice")


# -- buttons -------------------------------------------------------------------------------------


async def test_why_this_answer(harness: Harness, stampy: Running):
    fake = harness.fake
    typo = "wher can i lern about interpretabilty"
    reply = await ask(fake, f"stampy, {typo}")
    why = buttons(reply)["Why this answer?"]
    inter = await fake.click_button(reply, why["custom_id"], fake.owner.id)
    response = await inter.response()
    assert response.ephemeral and response.message not in fake.messages(fake.channel.id)

    expected = stampy.bot.service.ask(typo)
    best = expected.match.best
    assert f"“{best.phrasing}”" in response.content
    assert f"{best.score:.2f}" in response.content
    assert expected.reason in response.content


async def test_other_answers(harness: Harness, stampy: Running):
    fake = harness.fake
    reply = await ask(fake, QUESTION)
    inter = await fake.click_button(
        reply, buttons(reply)["Other answers"]["custom_id"], fake.member.id
    )
    response = await inter.response()
    assert response.ephemeral
    [embed] = response.data["embeds"]
    assert embed["description"].startswith("Short version, from someone who went through this")


async def test_buttons_still_work_after_a_restart(harness: Harness, stampy: Running):
    fake = harness.fake
    reply = await ask(fake, QUESTION)
    await harness.stop(stampy)
    await harness.start()  # a new process would start just like this

    owner = fake.owner.id
    why = await fake.click_button(reply, buttons(reply)["Why this answer?"]["custom_id"], owner)
    assert SEED_TITLE in (await why.response()).content
    more = await fake.click_button(reply, buttons(reply)["Other answers"]["custom_id"], owner)
    assert (await more.response()).data["embeds"]


# -- long answers ------------------------------------------------------------------------------


async def test_long_answer_is_cut_within_limits_without_breaking_links(harness: Harness):
    words = []
    for i in range(1, 2000):
        words.append(f"[source {i}](https://example.org/a_({i})/b)" if i % 4 == 0 else "word")
        if i % 60 == 0:
            words.append("end.\n\n")
    text = " ".join(words)
    assert len(text) > 10_000
    question = Question(
        "longest-answer",
        "What is the longest answer?",
        tags=("test",),
        answers=(Answer("longest-answer-1", text, canonical=True),),
    )
    settings = harness.settings()
    await harness.start(settings, knowledge=KnowledgeBase(Matcher(settings.matching), [question]))

    reply = await ask(harness.fake, "stampy, what is the longest answer?")
    [embed] = reply["embeds"]
    description = embed["description"]
    assert len(embed["title"]) <= TITLE_LIMIT
    assert len(description) <= DESCRIPTION_LIMIT
    assert embed_size(embed) <= EMBED_TOTAL_LIMIT
    assert description.endswith("…" + TEXT["truncated_note"])
    kept = description.removesuffix("…" + TEXT["truncated_note"])
    assert text.startswith(kept) and text[len(kept)].isspace()  # ends on a whole word
    assert kept.count("[") == len(LINK.findall(kept))  # every link whole
