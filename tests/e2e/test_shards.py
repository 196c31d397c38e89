"""Two ``stampy run`` processes, shards 0 and 1 of 2, on one PostgreSQL database and the fake
Discord with guilds on both shards.

What must hold: a moderator's ``/answer add`` in a guild of one shard is answered in a guild
of the other within a second; stamps given in both guilds land once each; one process killed
with SIGKILL in the middle of a burst of stamps and started again loses nothing and counts
nothing twice (its restart reconciles its guilds' answers with what Discord shows), and the
other keeps answering its guild throughout.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from pathlib import Path
from typing import Any

from botproc import ROOT, TOKEN, BotProcess
from databases import independent_rows
from fakediscord import Channel, FakeDiscord, Guild, User

from bot.store.pgserver import ThrowawayServer

WAIT = 30.0
STAMP = ("stamp", 710_000_000_000_000_001)
MEDAL = ("🏅", None)
EMOJIS = (STAMP, MEDAL)
NEW = {
    "question": "What does the shard relay drill check?",
    "phrasings": "shard relay drill purpose",
    "tags": "drills",
    "answer": "That an answer added on one shard is served on every shard at once.",
}
MODAL_TRIES = 5
QUESTIONS = ("stampy, where can I learn about interpretability?", "stampy, what is AGI?")


def write_config(tmp_path: Path, url: str, home_guild: int) -> Path:
    config = tmp_path / "stampy.toml"
    config.write_text(
        "\n".join(
            [
                "[knowledge]",
                f"answers_dir = {str(ROOT / 'answers')!r}",
                "[database]",
                f"url = {url!r}",
                "[discord]",
                "user_cooldown_seconds = 0.0",
                "channel_cooldown_seconds = 0.0",
                f"home_guilds = [{home_guild}]",
                "[stamps]",
                "embed_update_seconds = 0.05",
                "reputation_delay_seconds = 0.05",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    return config


def shard_of(guild_id: int) -> int:
    return (guild_id >> 22) % 2


async def ask(fake: FakeDiscord, channel: Channel, user: User, text: str) -> dict[str, Any]:
    """Post ``text`` and wait for the bot's reply to it."""
    posted = await fake.post_message(channel.id, user.id, text)
    return await fake.wait_for_message(
        channel.id,
        predicate=lambda m: (m.get("message_reference") or {}).get("message_id") == posted["id"],
        timeout=WAIT,
    )


async def add_question(fake: FakeDiscord, guild: Guild, channel: Channel, moderator: User) -> str:
    """``/answer add`` and its form; the bot's reply (a submit that overtakes discord.py's
    registering the form is sent again, as a person would)."""
    for _ in range(MODAL_TRIES):
        opened = await fake.run_command(guild.id, channel.id, moderator.id, "answer add", {})
        await opened.response(timeout=WAIT)
        assert opened.modal is not None, opened.callback
        submitted = await fake.submit_modal(opened.modal["custom_id"], NEW, opened_by=opened)
        try:
            response = await submitted.response(timeout=4.0)
        except TimeoutError:
            continue
        if response.type == 5:
            return (await submitted.wait_followups(timeout=WAIT))[-1]["content"]
        return response.content or ""
    raise AssertionError("the form was never answered")


async def test_two_processes_on_two_shards_share_edits_and_stamps(
    tmp_path: Path, postgres_server: ThrowawayServer
) -> None:
    url = postgres_server.create()
    rng = random.Random(1402)
    async with FakeDiscord(token=TOKEN, shard_count=2) as fake:
        home, home_channel = fake.guild, fake.channel  # the moderators' guild
        other = fake.add_guild("Other Guild", fake.owner.id, shard=1 - shard_of(home.id))
        other_channel = fake.add_channel(other.id, "general")
        asker = fake.add_user("bob")
        fake.add_member(other.id, asker.id)
        stampers = {home.id: [], other.id: []}
        for i in range(4):
            for guild in (home, other):
                user = fake.add_user(f"stamper{guild.id % 1000}-{i}")
                fake.add_member(guild.id, user.id)
                stampers[guild.id].append(user)
        config = write_config(tmp_path, url, home.id)
        args = {s: ["--shard-ids", str(s), "--shard-count", "2"] for s in (0, 1)}
        procs = {s: await BotProcess.start(fake, config, tmp_path, args[s]) for s in (0, 1)}
        restarted: BotProcess | None = None
        try:
            for proc in procs.values():
                await proc.wait_for_line("Stampy ready as")
            home_proc, other_proc = procs[shard_of(home.id)], procs[shard_of(other.id)]
            assert home_proc.lines(f"shard {shard_of(home.id)} of 2")

            # A moderator adds a question in the home guild (one shard); it is answered in
            # the other guild (the other shard, another process) within a second.
            said = await add_question(fake, home, home_channel, fake.moderator)
            assert said.startswith("Done:"), said
            done_at = time.monotonic()
            while True:
                asked_at = time.monotonic()
                reply = await ask(fake, other_channel, asker, f"stampy, {NEW['question']}")
                embeds = reply.get("embeds") or []
                if embeds and embeds[0]["title"] == NEW["question"]:
                    break
                assert time.monotonic() - done_at < 5, reply
            assert asked_at - done_at < 1.0, asked_at - done_at

            # Answers in both guilds, then a burst of stamps on them from both guilds; the
            # process of the other guild is killed mid-burst and started again.
            answers: dict[int, list[int]] = {}
            for guild_id, channel, user in (
                (home.id, home_channel, fake.member),
                (other.id, other_channel, asker),
            ):
                answers[guild_id] = []
                for question in QUESTIONS:
                    reply = await ask(fake, channel, user, question)
                    assert reply.get("embeds"), reply  # an answer, which stamps endorse
                    answers[guild_id].append(int(reply["id"]))
            recorded = 0
            for _ in range(300):  # each process records its answer messages once sent
                recorded = (await independent_rows(url, "SELECT count(*) FROM answer_messages"))[0][
                    0
                ]
                if recorded >= 2 * len(QUESTIONS) + 1:  # and the answer to the new question
                    break
                await asyncio.sleep(0.05)
            assert recorded >= 2 * len(QUESTIONS) + 1
            channels = {home.id: home_channel, other.id: other_channel}
            events = 120
            for n in range(events):
                if n == events // 2:
                    other_proc.proc.send_signal(signal.SIGKILL)
                    # The surviving process keeps answering its guild meanwhile.
                    reply = await ask(fake, home_channel, fake.member, "stampy, what is AGI?")
                    assert reply.get("embeds"), reply
                guild_id = rng.choice((home.id, other.id))
                message_id = rng.choice(answers[guild_id])
                user = rng.choice(stampers[guild_id])
                name, emoji_id = rng.choice(EMOJIS)
                channel_id = channels[guild_id].id
                if user.id in fake.reaction_users(message_id, name, emoji_id):
                    await fake.remove_reaction(channel_id, message_id, user.id, name, emoji_id)
                else:
                    await fake.add_reaction(channel_id, message_id, user.id, name, emoji_id)
            assert await other_proc.finish() == -signal.SIGKILL
            restarted = await BotProcess.start(fake, config, tmp_path, args[shard_of(other.id)])
            await restarted.wait_for_line("Stampy ready as")
            await restarted.wait_for_line("reconciled ")

            held = {
                (message_id, user, name)
                for guild_answers in answers.values()
                for message_id in guild_answers
                for name, emoji_id in EMOJIS
                for user in fake.reaction_users(message_id, name, emoji_id)
            }
            assert len(held) > 10

            async def stored() -> list[tuple[Any, ...]]:
                return await independent_rows(url, "SELECT message_id, voter_id, emoji FROM stamps")

            deadline = time.monotonic() + WAIT
            rows = await stored()
            while set(rows) != held and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                rows = await stored()
            assert len(rows) == len(set(rows))  # each once
            assert set(rows) == held

            for proc in (home_proc, restarted):
                proc.proc.send_signal(signal.SIGTERM)
                assert await proc.finish() == 0, proc.output
        finally:
            for proc in (*procs.values(), restarted):
                if proc is not None:
                    await proc.kill()
        assert not fake.errors, fake.errors[0]
    for proc in (home_proc, restarted):
        assert "Traceback" not in proc.output and " ERROR " not in proc.output, proc.output
    # The global commands were registered only by the process running shard 0 (once per
    # start), the home guild's by the process whose shard owns it.
    syncs = [r.route for r in fake.requests if r.method == "PUT" and r.path.endswith("/commands")]
    starts_of_shard_0 = 1 + (shard_of(other.id) == 0)
    assert syncs.count("/applications/{app_id}/commands") == starts_of_shard_0, syncs
