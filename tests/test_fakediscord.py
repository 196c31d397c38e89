"""The fake Discord works with a plain, unmodified discord.py client.

The ``client`` fixture starts a small ``discord.Client`` (with a ``CommandTree``) against the
fake as a task, waits for ``on_ready`` and, on teardown, closes it and fails the test if the
client task died or an event handler raised.
"""

from __future__ import annotations

import asyncio
import io
import time
import traceback
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from typing import Any

import discord
import pytest
from discord import app_commands
from fakediscord import FakeDiscord, FakeDiscordError, RateLimits

TOKEN = "fake-bot-token"


class RecordingClient(discord.Client):
    """A tiny bot: records events, answers ``!reply``, ``!ping`` and ``!button``."""

    def __init__(self, fake: FakeDiscord) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        intents.message_content = True
        intents.guild_reactions = True
        intents.dm_messages = True
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.fake = fake
        self.tree = app_commands.CommandTree(self)
        self.tree.on_error = self.on_tree_error  # type: ignore[method-assign]
        self.seen: defaultdict[str, list[Any]] = defaultdict(list)
        self.handler_errors: list[str] = []
        self.expected_tree_errors: list[app_commands.AppCommandError] = []

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None  # discord.py sleeps 5 s before every non-first IDENTIFY

    def record(self, name: str, value: Any = None) -> None:
        self.seen[name].append(value)
        self.fake.notify()  # wake fake.wait_until() waiters

    async def wait_seen(
        self, name: str, predicate: Callable[[Any], bool] = lambda _: True, timeout: float = 2.0
    ) -> Any:
        def found() -> list[Any]:
            return [v for v in self.seen[name] if predicate(v)]

        return (await self.fake.wait_until(found, timeout, f"client event {name!r}"))[0]

    async def on_ready(self) -> None:
        self.record("ready")

    async def on_resumed(self) -> None:
        self.record("resumed")

    async def on_message(self, message: discord.Message) -> None:
        if message.author == self.user:
            self.record("own_message", message)
            return
        self.record("message", message)
        if message.content.startswith("!reply"):
            embed = discord.Embed(
                title="Answer", description=message.content.removeprefix("!reply")
            )
            await message.reply(embed=embed, allowed_mentions=discord.AllowedMentions.none())
        elif message.content == "!ping":
            await message.channel.send("pong")
        elif message.content == "!button":
            sent = await message.channel.send("Was this helpful?", view=FeedbackView(self))
            self.record("view_sent", sent)  # the view is registered once send() returned

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.record("reaction_add", payload)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        self.record("reaction_remove", payload)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        self.handler_errors.append(f"{event_method}: {traceback.format_exc()}")

    async def on_tree_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        if isinstance(error, app_commands.CheckFailure):
            self.expected_tree_errors.append(error)
            await interaction.response.send_message("You may not do that.", ephemeral=True)
            return
        self.handler_errors.append(f"tree: {error!r}")


class FeedbackView(discord.ui.View):
    def __init__(self, client: RecordingClient) -> None:
        super().__init__(timeout=30)
        self.client = client

    @discord.ui.button(label="Yes", custom_id="feedback:yes", style=discord.ButtonStyle.green)
    async def yes(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.client.record("button", (interaction.user.id, button.custom_id))
        await interaction.response.edit_message(content="Thanks!", view=None)

    @discord.ui.button(label="No", custom_id="feedback:no", style=discord.ButtonStyle.red)
    async def no(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.defer()  # type 6: acknowledge, edit the message later
        await interaction.edit_original_response(content="Sorry to hear that.", view=None)
        await interaction.followup.send("Try /feedback to tell us more.", ephemeral=True)

    @discord.ui.select(
        custom_id="feedback:topic",
        options=[discord.SelectOption(label=t, value=t) for t in ("wrong", "outdated", "rude")],
    )
    async def topic(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        await interaction.response.send_message(f"Topic: {select.values[0]}")

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: Any):
        self.client.handler_errors.append(f"view: {error!r}")


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    text = discord.ui.TextInput(label="What was wrong?", custom_id="feedback:text")

    def __init__(self, client: RecordingClient) -> None:
        super().__init__(custom_id="feedback:modal")
        self.client = client

    async def on_submit(self, interaction: discord.Interaction) -> None:
        self.client.record("modal", self.text.value)
        await interaction.response.send_message(f"Noted: {self.text.value}", ephemeral=True)

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        self.client.handler_errors.append(f"modal: {error!r}")


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(token=TOKEN) as fake:
        with fake.patch_client():
            yield fake
        assert not fake.errors, fake.errors[0]


@pytest.fixture
async def client(fake: FakeDiscord) -> AsyncIterator[RecordingClient]:
    client = RecordingClient(fake)
    task = asyncio.create_task(client.start(TOKEN), name="discord-client")
    fake.watch_task(task)  # any wait on the fake fails at once if the client dies
    try:
        await client.wait_seen("ready", timeout=5)
        yield client
    finally:
        await client.close()
        await asyncio.wait_for(task, 5)  # re-raises whatever killed the client
    assert not client.handler_errors, client.handler_errors[0]


async def sync_guild(client: RecordingClient, fake: FakeDiscord) -> None:
    """Register the tree's commands as guild commands (instant on Discord, unlike global)."""
    guild = discord.Object(fake.guild.id)
    client.tree.copy_global_to(guild=guild)
    await client.tree.sync(guild=guild)


# -- login, messages, reactions, DMs ----------------------------------------------------------


async def test_login_and_ready(fake: FakeDiscord, client: RecordingClient) -> None:
    assert client.user is not None and client.user.id == fake.bot.id
    assert client.application_id == fake.application_id
    guild = client.get_guild(fake.guild.id)
    assert guild is not None and guild.me is not None and guild.me.id == fake.bot.id
    assert {c.name for c in guild.text_channels} == {"general", "other"}
    assert guild.get_role(fake.mod_role.id).permissions.manage_messages
    assert fake.requests_to("GET", "/users/@me")
    assert fake.requests_to("GET", "/oauth2/applications/@me")
    assert fake.requests_to("GET", "/users/@me")[0].headers["Authorization"] == f"Bot {TOKEN}"
    assert fake.gateway.ready_count == 1
    identify = next(f for f in fake.gateway.received if f["op"] == 2)
    assert identify["d"]["intents"] == client.intents.value
    assert not fake.unhandled_requests()


async def test_posted_message_reaches_on_message_and_reply_is_recorded(
    fake: FakeDiscord, client: RecordingClient
) -> None:
    posted = await fake.post_message(fake.channel.id, fake.member.id, "!reply what is AI safety?")

    received = await client.wait_seen("message")
    assert isinstance(received.author, discord.Member)
    assert received.content == "!reply what is AI safety?"
    assert received.channel.id == fake.channel.id

    request = await fake.wait_for_request("POST", "/channels/{id}/messages")
    assert request.json["embeds"][0]["title"] == "Answer"
    assert request.json["allowed_mentions"] == {"parse": []}
    assert int(request.json["message_reference"]["message_id"]) == int(posted["id"])

    stored = fake.bot_messages(fake.channel.id)[0]
    assert stored["type"] == 19 and stored["referenced_message"]["id"] == posted["id"]
    assert stored["mentions"] == []  # AllowedMentions.none(): the reply pings nobody
    # Discord sends the bot its own message too; the client sees it as its own.
    own = await client.wait_seen("own_message")
    assert own.id == int(stored["id"])


async def test_mention_of_the_bot_fills_mentions(fake: FakeDiscord, client: RecordingClient):
    await fake.post_message(fake.channel.id, fake.member.id, f"hey {fake.bot.mention}")
    received = await client.wait_seen("message")
    assert client.user in received.mentions


async def test_reaction_add_and_remove(fake: FakeDiscord, client: RecordingClient) -> None:
    posted = await fake.post_message(fake.channel.id, fake.member.id, "react to me")
    message_id = int(posted["id"])

    await fake.add_reaction(fake.channel.id, message_id, fake.member.id, "👍")
    added = await client.wait_seen("reaction_add")
    assert (added.message_id, added.user_id, str(added.emoji)) == (
        message_id,
        fake.member.id,
        "👍",
    )
    assert added.member is not None and added.member.id == fake.member.id

    # The client reacts too, then reads who reacted back through REST.
    channel = client.get_channel(fake.channel.id)
    message = await channel.fetch_message(message_id)
    await message.add_reaction("👍")
    assert fake.reaction_users(message_id, "👍") == [fake.member.id, fake.bot.id]
    message = await channel.fetch_message(message_id)
    reaction = message.reactions[0]
    assert reaction.count == 2 and reaction.me
    users = [u.id async for u in reaction.users()]
    assert sorted(users) == sorted([fake.member.id, fake.bot.id])

    await fake.remove_reaction(fake.channel.id, message_id, fake.member.id, "👍")
    removed = await client.wait_seen("reaction_remove")
    assert (removed.message_id, removed.user_id) == (message_id, fake.member.id)
    assert fake.reaction_users(message_id, "👍") == [fake.bot.id]


async def test_reaction_users_paging(fake: FakeDiscord, client: RecordingClient) -> None:
    posted = await fake.post_message(fake.channel.id, fake.member.id, "popular")
    users = [fake.member.id, fake.moderator.id, fake.owner.id]
    for user_id in users:
        await fake.add_reaction(fake.channel.id, int(posted["id"]), user_id, "party", 1234)
    first = await client.http.get_reaction_users(fake.channel.id, posted["id"], "party:1234", 2)
    rest = await client.http.get_reaction_users(
        fake.channel.id, posted["id"], "party:1234", 2, after=int(first[-1]["id"])
    )
    assert [int(u["id"]) for u in first + rest] == sorted(users)


async def test_dm_in_and_out(fake: FakeDiscord, client: RecordingClient) -> None:
    await fake.send_dm(fake.member.id, "!ping")
    received = await client.wait_seen("message")
    assert isinstance(received.channel, discord.DMChannel) and received.guild is None

    pong = await fake.wait_for_message(predicate=lambda m: m["content"] == "pong")
    dm_channel = fake.model.dm_channel(fake.member.id)
    assert int(pong["channel_id"]) == dm_channel.id and "guild_id" not in pong

    user = await client.fetch_user(fake.member.id)
    await user.send("hello from the bot")
    assert fake.requests_to("POST", "/users/@me/channels")
    assert [m["content"] for m in fake.bot_messages(dm_channel.id)] == [
        "pong",
        "hello from the bot",
    ]


async def test_history_edit_delete_typing_and_files(fake: FakeDiscord, client: RecordingClient):
    channel = client.get_channel(fake.channel.id)
    await fake.post_message(fake.channel.id, fake.member.id, "one")
    async with channel.typing():
        sent = await channel.send(f"two for {fake.member.mention}")
    assert fake.requests_to("POST", "/channels/{id}/typing")
    assert [u.id for u in sent.mentions] == [fake.member.id]

    edited = await sent.edit(content="two, edited")
    assert edited.edited_at is not None
    assert (await channel.fetch_message(sent.id)).content == "two, edited"
    assert [m.content async for m in channel.history(limit=10)] == ["two, edited", "one"]
    oldest_first = [m.content async for m in channel.history(limit=10, oldest_first=True)]
    assert oldest_first == ["one", "two, edited"]

    await sent.delete()
    with pytest.raises(discord.NotFound):
        await channel.fetch_message(sent.id)

    with_file = await channel.send("see file", file=discord.File(io.BytesIO(b"hello"), "a.txt"))
    assert [(a.filename, a.size) for a in with_file.attachments] == [("a.txt", 5)]
    assert fake.requests_to("POST", "/channels/{id}/messages")[-1].json["content"] == "see file"


# -- faults -----------------------------------------------------------------------------------


async def test_429_on_reply_is_retried(fake: FakeDiscord, client: RecordingClient) -> None:
    fake.fail_next("POST", "/channels/{id}/messages", 429, retry_after=0.05)
    await fake.post_message(fake.channel.id, fake.member.id, "!reply rate limited")

    reply = await fake.wait_for_message(fake.channel.id)
    assert reply["embeds"][0]["title"] == "Answer"
    attempts = fake.requests_to("POST", "/channels/{id}/messages")
    assert [r.status for r in attempts] == [429, 200]
    assert attempts[1].time - attempts[0].time >= 0.05


async def test_rate_limit_headers_let_sends_overlap_and_pace_a_burst() -> None:
    """With ``rate_limits`` the fake sends X-RateLimit-* headers: discord.py keeps several
    sends to one channel in flight within the limit, and waits for the window beyond it."""
    async with FakeDiscord(token=TOKEN, rate_limits=RateLimits(limit=3, window=1.0)) as fake:
        with fake.patch_client():
            client = RecordingClient(fake)
            task = asyncio.create_task(client.start(TOKEN))
            fake.watch_task(task)
            try:
                await client.wait_seen("ready", timeout=5)
                channel = client.get_channel(fake.channel.id)
                await channel.send("first")  # learns the bucket: 3 per second
                fake.delay("POST", "/channels/{id}/messages", 0.5, count=2)
                await asyncio.gather(*(channel.send(f"burst {i}") for i in range(5)))
            finally:
                await client.close()
                await asyncio.wait_for(task, 5)
        sends = fake.requests_to("POST", "/channels/{id}/messages")
        assert sorted(r.json["content"] for r in sends if r.status == 200) == [
            "burst 0",
            "burst 1",
            "burst 2",
            "burst 3",
            "burst 4",
            "first",
        ]
        first = sends[0]
        assert first.status == 200 and first.response is not None
        # the two delayed sends were in flight together (one at a time, the second would
        # have reached the fake only after the first's 0.5 s)
        assert abs(sends[1].time - sends[2].time) < 0.5
        # over the limit, a send waits for the next window (a 429 is retried, never raised)
        assert sends[-1].time - sends[0].time >= 0.9
        assert not fake.errors, fake.errors[0]


async def test_503_fails_at_once_and_delay_slows(fake: FakeDiscord, client: RecordingClient):
    channel = client.get_channel(fake.channel.id)
    fake.fail_next("POST", "/channels/{id}/messages", 503)
    with pytest.raises(discord.DiscordServerError):
        await channel.send("nope")
    fake.delay("POST", "/channels/{id}/messages", 0.1, count=1)
    started = time.monotonic()
    await channel.send("slow")
    assert time.monotonic() - started >= 0.1


async def test_a_nonce_with_enforce_nonce_returns_the_earlier_message(
    fake: FakeDiscord, client: RecordingClient
):
    channel = client.get_channel(fake.channel.id)
    first = await channel.send("once", nonce=4242)
    again = await channel.send("once more", nonce=4242)  # the same nonce: nothing new
    other = await channel.send("another", nonce=4243)
    assert again.id == first.id and other.id != first.id
    assert [m["content"] for m in fake.bot_messages()] == ["once", "another"]
    sends = fake.requests_to("POST", "/channels/{id}/messages")
    assert all(r.json["enforce_nonce"] for r in sends)


async def test_a_fault_after_the_effect_stores_the_message_then_fails(
    fake: FakeDiscord, client: RecordingClient
):
    channel = client.get_channel(fake.channel.id)
    fake.fail_next("POST", "/channels/{id}/messages", 400, after=True)
    with pytest.raises(discord.HTTPException):
        await channel.send("stored anyway")
    [stored] = fake.bot_messages()
    assert stored["content"] == "stored anyway"
    [req] = fake.requests_to("POST", "/channels/{id}/messages")
    assert (req.status, req.effect) == (400, 200)
    # a 502 after storing: discord.py retries with the same nonce and gets the same message
    fake.fail_next("POST", "/channels/{id}/messages", 502, after=True)
    sent = await channel.send("retried")
    assert [m["content"] for m in fake.bot_messages()] == ["stored anyway", "retried"]
    assert int(fake.bot_messages()[-1]["id"]) == sent.id
    assert [r.status for r in fake.requests_to("POST", "/channels/{id}/messages")] == [
        400,
        502,
        200,
    ]


async def test_global_429_is_flagged_and_retried(fake: FakeDiscord, client: RecordingClient):
    fake.fail_next("POST", "/channels/{id}/messages", 429, retry_after=0.05, is_global=True)
    await client.get_channel(fake.channel.id).send("after a global limit")
    first, retry = fake.requests_to("POST", "/channels/{id}/messages")
    assert first.status == 429 and first.response["global"] is True
    assert retry.status == 200 and retry.time - first.time >= 0.05


async def test_a_slow_gateway_delivers_in_order_and_replays_what_was_in_flight(
    fake: FakeDiscord, client: RecordingClient
):
    fake.delay_gateway(30)
    for text in ("one", "two"):
        await fake.post_message(fake.channel.id, fake.member.id, text)
    assert client.seen["message"] == []  # still in flight
    await fake.drop_socket(4000)  # ...and lost with the socket
    fake.delay_gateway(0.05)
    await fake.post_message(fake.channel.id, fake.member.id, "three")
    await fake.wait_resumed()
    await client.wait_seen("message", lambda m: m.content == "three", timeout=5)
    assert [m.content for m in client.seen["message"]] == ["one", "two", "three"]
    assert [f["d"]["content"] for f in fake.gateway.replayed] == ["one", "two", "three"]
    fake.delay_gateway(0)
    await fake.post_message(fake.channel.id, fake.member.id, "four")
    await client.wait_seen("message", lambda m: m.content == "four")


async def test_unknown_route_is_recorded_as_404(fake: FakeDiscord, client: RecordingClient):
    route = discord.http.Route("GET", "/guilds/{guild_id}/bans", guild_id=fake.guild.id)
    with pytest.raises(discord.NotFound) as excinfo:
        await client.http.request(route)
    assert "no route" in excinfo.value.text
    [missing] = fake.unhandled_requests()
    assert (missing.method, missing.path) == ("GET", f"/guilds/{fake.guild.id}/bans")


# -- gateway: resume, reconnect, invalid session ----------------------------------------------


async def test_event_lost_in_flight_is_replayed_after_resume(
    fake: FakeDiscord, client: RecordingClient
) -> None:
    fake.lose_next_dispatch()  # logged with a seq, never sent; then the socket drops
    await fake.post_message(fake.channel.id, fake.member.id, "!reply lost in flight")

    received = await client.wait_seen("message")
    assert received.content == "!reply lost in flight"
    await fake.wait_resumed()
    await client.wait_seen("resumed")
    assert [f["t"] for f in fake.gateway.replayed] == ["MESSAGE_CREATE"]
    resume = next(f for f in fake.gateway.received if f["op"] == 6)
    assert resume["url"].startswith("/gateway-resume?")  # READY's resume_gateway_url
    assert fake.gateway.ready_count == 1  # resumed, not re-identified
    await fake.wait_for_message(fake.channel.id)  # and the client still works


async def test_event_dispatched_while_disconnected_is_replayed(
    fake: FakeDiscord, client: RecordingClient
) -> None:
    await fake.drop_socket(code=4000)
    await fake.post_message(fake.channel.id, fake.member.id, "while you were away")
    received = await client.wait_seen("message")
    assert received.content == "while you were away"
    assert [f["t"] for f in fake.gateway.replayed] == ["MESSAGE_CREATE"]
    assert fake.gateway.resume_count == 1


async def test_reconnect_op7_resumes(fake: FakeDiscord, client: RecordingClient) -> None:
    await fake.send_reconnect()
    await fake.wait_resumed()
    await fake.post_message(fake.channel.id, fake.member.id, "after op 7")
    assert (await client.wait_seen("message")).content == "after op 7"


async def test_invalid_session_makes_client_identify_again(
    fake: FakeDiscord, client: RecordingClient
) -> None:
    await fake.send_invalid_session(resumable=False)
    await fake.wait_ready(count=2)
    await fake.post_message(fake.channel.id, fake.member.id, "new session")
    assert (await client.wait_seen("message")).content == "new session"
    assert fake.gateway.resume_count == 0


# -- application commands and components ------------------------------------------------------


async def test_slash_command_is_synced_and_answered(fake: FakeDiscord, client: RecordingClient):
    @client.tree.command(name="faq", description="Look up a question")
    @app_commands.describe(topic="What to look up")
    async def faq(interaction: discord.Interaction, topic: str, detailed: bool = False) -> None:
        await interaction.response.send_message(f"About {topic} (detailed={detailed})")

    await sync_guild(client, fake)
    [registered] = fake.commands(fake.guild.id)
    assert registered["name"] == "faq" and registered["application_id"] == str(fake.application_id)
    assert [o["name"] for o in registered["options"]] == ["topic", "detailed"]

    inter = await fake.run_command(
        fake.guild.id, fake.channel.id, fake.member.id, "faq", {"topic": "alignment"}
    )
    response = await inter.response()
    assert response.type == 4
    assert response.content == "About alignment (detailed=False)"
    assert inter.original is response.message and response.message["type"] == 20
    assert await fake.wait_for_message(fake.channel.id) is response.message


async def test_group_subcommand_defer_followup_and_edit(
    fake: FakeDiscord, client: RecordingClient
) -> None:
    kb = app_commands.Group(name="kb", description="Knowledge base")

    @kb.command(name="search", description="Search the knowledge base")
    async def search(interaction: discord.Interaction, query: str, limit: int = 3) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send(f"{limit} results for {query}")
        temporary = await interaction.followup.send("working…", wait=True)
        await temporary.delete()
        await interaction.edit_original_response(content="done")

    client.tree.add_command(kb, guild=discord.Object(fake.guild.id))
    await sync_guild(client, fake)

    inter = await fake.run_command(
        fake.guild.id,
        fake.channel.id,
        fake.member.id,
        "kb search",
        {"query": "mesa-optimizers", "limit": 5},
    )
    assert (await inter.response()).type == 5
    followup, temporary = await inter.wait_followups(count=2)
    assert followup["content"] == "5 results for mesa-optimizers"
    await fake.wait_until(lambda: inter.original and inter.original["content"] == "done")
    assert temporary in fake.model.deleted and temporary not in fake.messages(fake.channel.id)
    assert not int(inter.original["flags"]) & 128  # no longer "thinking"


async def test_autocomplete(fake: FakeDiscord, client: RecordingClient) -> None:
    async def topics(interaction: discord.Interaction, current: str) -> list:
        names = ["alignment", "agents", "interpretability"]
        return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]

    @client.tree.command(name="topic", description="Pick a topic")
    @app_commands.autocomplete(name=topics)
    async def topic(interaction: discord.Interaction, name: str) -> None:
        await interaction.response.send_message(name)

    await sync_guild(client, fake)
    inter = await fake.autocomplete(
        fake.guild.id, fake.channel.id, fake.member.id, "topic", {"name": "a"}, focused="name"
    )
    assert (await inter.response()).type == 8
    assert [c["value"] for c in inter.choices] == ["alignment", "agents"]


async def test_message_context_menu(fake: FakeDiscord, client: RecordingClient) -> None:
    @client.tree.context_menu(name="Answer this")
    async def answer_this(interaction: discord.Interaction, message: discord.Message) -> None:
        await interaction.response.send_message(f"Answering: {message.content}", ephemeral=True)

    await sync_guild(client, fake)
    posted = await fake.post_message(fake.channel.id, fake.member.id, "what is RLHF?")
    inter = await fake.context_menu(
        fake.guild.id, fake.channel.id, fake.moderator.id, "Answer this", target_message=posted
    )
    response = await inter.response()
    assert response.content == "Answering: what is RLHF?" and response.ephemeral
    assert response.message not in fake.messages(fake.channel.id)  # ephemeral: not in history


async def test_button_click_reaches_view(fake: FakeDiscord, client: RecordingClient) -> None:
    await fake.post_message(fake.channel.id, fake.member.id, "!button")
    with_button = await fake.wait_for_message(fake.channel.id)
    # Not just "the fake has the message": clicking before send() returned in the bot
    # would race its view registration, and discord.py drops unknown clicks silently.
    await client.wait_seen("view_sent")

    inter = await fake.click_button(with_button, "feedback:yes", fake.member.id)
    assert inter.payload["message"]["id"] == with_button["id"]
    response = await inter.response()
    assert response.type == 7
    assert client.seen["button"] == [(fake.member.id, "feedback:yes")]
    assert with_button["content"] == "Thanks!" and with_button["components"] == []

    with pytest.raises(FakeDiscordError):  # the button is gone now
        await fake.click_button(with_button, "feedback:yes", fake.member.id)


async def test_deferred_button_update_and_ephemeral_followup(
    fake: FakeDiscord, client: RecordingClient
) -> None:
    await fake.post_message(fake.channel.id, fake.member.id, "!button")
    with_button = await fake.wait_for_message(fake.channel.id)
    await client.wait_seen("view_sent")

    inter = await fake.click_button(with_button["id"], "feedback:no", fake.member.id)
    assert (await inter.response()).type == 6
    [followup] = await inter.wait_followups()
    assert inter.original is with_button and with_button["content"] == "Sorry to hear that."
    assert int(followup["flags"]) & 64 and followup not in fake.messages(fake.channel.id)
    assert fake.requests_to("PATCH", "/webhooks/{app}/{token}/messages/@original")


async def test_select_menu(fake: FakeDiscord, client: RecordingClient) -> None:
    await fake.post_message(fake.channel.id, fake.member.id, "!button")
    with_select = await fake.wait_for_message(fake.channel.id)
    await client.wait_seen("view_sent")
    inter = await fake.select(with_select, "feedback:topic", ["outdated"], fake.member.id)
    assert (await inter.response()).content == "Topic: outdated"


async def test_modal_submit_reaches_modal(fake: FakeDiscord, client: RecordingClient) -> None:
    @client.tree.command(name="feedback", description="Tell us what was wrong")
    async def feedback(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(FeedbackModal(client))

    await sync_guild(client, fake)
    opened = await fake.run_command(fake.guild.id, fake.channel.id, fake.member.id, "feedback")
    assert (await opened.response()).type == 9
    assert opened.modal["custom_id"] == "feedback:modal"

    submitted = await fake.submit_modal("feedback:modal", {"feedback:text": "too long"})
    response = await submitted.response()
    assert response.content == "Noted: too long" and response.ephemeral
    assert client.seen["modal"] == ["too long"]


async def test_default_permissions_are_enforced_unless_bypassed(
    fake: FakeDiscord, client: RecordingClient
) -> None:
    @client.tree.command(name="reload", description="Reload the knowledge base")
    @app_commands.default_permissions(manage_messages=True)
    @app_commands.checks.has_permissions(manage_messages=True)
    async def reload(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("reloaded")

    await sync_guild(client, fake)
    [registered] = fake.commands(fake.guild.id)
    assert registered["default_member_permissions"] == str(1 << 13)

    refused = await fake.run_command(fake.guild.id, fake.channel.id, fake.member.id, "reload")
    assert refused.refused and not refused.dispatched
    assert fake.refusals == [refused]
    with pytest.raises(FakeDiscordError):
        await refused.response()

    allowed = await fake.run_command(fake.guild.id, fake.channel.id, fake.moderator.id, "reload")
    assert (await allowed.response()).content == "reloaded"

    # Discord would never deliver this; with the filter off, the bot's own check must hold.
    fake.enforce_default_permissions = False
    bypass = await fake.run_command(fake.guild.id, fake.channel.id, fake.member.id, "reload")
    response = await bypass.response()
    assert response.content == "You may not do that." and response.ephemeral
    assert len(client.expected_tree_errors) == 1


# -- sharding ---------------------------------------------------------------------------------


class ShardedRecorder(discord.AutoShardedClient):
    """Records the messages it gets and the shard each arrived on."""

    def __init__(self, fake: FakeDiscord, **options: Any) -> None:
        intents = discord.Intents.none()
        intents.guilds = intents.guild_messages = intents.message_content = True
        intents.dm_messages = True
        super().__init__(intents=intents, guild_ready_timeout=0.05, **options)
        self.fake = fake
        self.messages: list[tuple[str, int | None]] = []
        self.ready = asyncio.Event()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None

    async def on_ready(self) -> None:
        self.ready.set()

    async def on_message(self, message: discord.Message) -> None:
        shard = message.guild.shard_id if message.guild else None
        self.messages.append((message.content, shard))
        self.fake.notify()


async def test_events_go_to_the_shard_owning_the_guild_and_dms_to_shard_0() -> None:
    async with FakeDiscord(token=TOKEN, shard_count=2) as fake:
        with fake.patch_client():
            second = fake.add_guild("Second", fake.owner.id, shard=1)
            fake.add_member(second.id, fake.member.id)
            channel = fake.add_channel(second.id, "general")
            first = fake.add_guild("First", fake.owner.id, shard=0)
            fake.add_member(first.id, fake.member.id)
            first_channel = fake.add_channel(first.id, "general")
            # Two processes: one runs shard 0, the other shard 1, of 2.
            clients = [ShardedRecorder(fake, shard_ids=[i], shard_count=2) for i in (0, 1)]
            tasks = [asyncio.create_task(c.start(TOKEN)) for c in clients]
            for task in tasks:
                fake.watch_task(task)
            try:
                await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in clients)), 5)
                assert {g.id for g in clients[0].guilds} == {first.id} | (
                    {fake.guild.id} if (fake.guild.id >> 22) % 2 == 0 else set()
                )
                assert second.id in {g.id for g in clients[1].guilds}
                await fake.post_message(first_channel.id, fake.member.id, "to shard 0")
                await fake.post_message(channel.id, fake.member.id, "to shard 1")
                await fake.send_dm(fake.member.id, "a DM")
                await fake.wait_until(
                    lambda: len(clients[0].messages) == 2 and len(clients[1].messages) == 1,
                    3,
                    "the messages",
                )
                assert clients[0].messages == [("to shard 0", 0), ("a DM", None)]
                assert clients[1].messages == [("to shard 1", 1)]
            finally:
                for c in clients:
                    await c.close()
                for task in tasks:
                    await asyncio.wait_for(task, 5)
        assert not fake.errors, fake.errors[0]


async def test_gateway_bot_recommends_the_shard_count() -> None:
    async with FakeDiscord(token=TOKEN, shard_count=3) as fake:
        with fake.patch_client():
            client = ShardedRecorder(fake)  # no shard count: asks /gateway/bot
            task = asyncio.create_task(client.start(TOKEN))
            fake.watch_task(task)
            try:
                await asyncio.wait_for(client.ready.wait(), 5)
                assert client.shard_count == 3 and sorted(client.shards) == [0, 1, 2]
                assert sorted(s.shard for s in fake.gateway.live_sessions) == [
                    (0, 3),
                    (1, 3),
                    (2, 3),
                ]
            finally:
                await client.close()
                await asyncio.wait_for(task, 5)
