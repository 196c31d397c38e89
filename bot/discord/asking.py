"""Answering questions asked in messages: the cog that turns a message into a reply.

Thin on purpose: it decides whether a message is for the bot (``addressing``), asks the
:class:`~bot.service.Service`, and sends what ``render`` and ``views`` make of the result.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import discord
from discord.ext import commands

from bot.discord import render, views
from bot.discord.addressing import Addressed, AskingGate, RecentIds, address
from bot.discord.bot import StampyBot
from bot.discord.strings import TEXT
from bot.knowledge.matcher import Decision
from bot.service import Reply

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()

# Message types that carry something a person typed (not joins, pins, boosts...).
_USER_MESSAGE_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})

#: Handled message ids, and users and (channel, question) pairs under cooldown, remembered at
#: most (each; the oldest are forgotten first), so memory stays flat over a long run.
MEMORY = 10_000


class Asking(commands.Cog):
    """Answers questions: on a mention, a name prefix, in DMs, and in Q&A channels.

    Each message is handled at most once (ids of handled messages are remembered, which also
    covers events replayed after a gateway RESUME), and per-user and per-channel cooldowns
    keep a burst of the same question from getting a burst of answers.
    """

    def __init__(
        self,
        bot: StampyBot,
        *,
        clock: Callable[[], float] = time.monotonic,
        memory: int = MEMORY,
    ) -> None:
        self.bot = bot
        self.service = bot.service
        settings = self.settings = bot.settings.discord
        self.clock = clock
        self.qa_channels = frozenset(settings.qa_channels)
        self.handled = RecentIds(memory)
        self.gate = AskingGate(
            settings.user_cooldown_seconds,
            settings.channel_cooldown_seconds,
            memory,
            user_burst=settings.user_burst,
        )

    async def cog_load(self) -> None:
        """Register the buttons, so that those on messages sent before a restart work."""
        self.bot.add_dynamic_items(*views.DYNAMIC_ITEMS)

    async def cog_unload(self) -> None:
        """Unregister the buttons."""
        self.bot.remove_dynamic_items(*views.DYNAMIC_ITEMS)

    def addressed(self, message: discord.Message) -> Addressed | None:
        """The question in ``message`` if it is for the bot, else None."""
        me = self.bot.user
        author = message.author
        if me is None or author.bot or message.webhook_id is not None or author.id == me.id:
            return None
        if message.type not in _USER_MESSAGE_TYPES:
            return None
        channel_id = message.channel.id
        parent_id = getattr(message.channel, "parent_id", None)  # threads of a Q&A channel
        return address(
            message.content,
            bot_id=me.id,
            prefixes=self.settings.prefixes,
            is_dm=message.guild is None,
            in_qa_channel=channel_id in self.qa_channels or parent_id in self.qa_channels,
        )

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Answer ``message`` if it is a question for the bot; never raise."""
        addressed = self.addressed(message)
        if addressed is None or not self.handled.add(message.id):
            return
        wait = self.gate.reserve(
            message.author.id, message.channel.id, addressed.text, self.clock()
        )
        try:
            if wait is None or wait > 0:  # over the rate limit: a sign, not silence
                await self._react(message, TEXT["wait_reaction"])
            if wait is None:  # its turn is too far off: counted, not answered
                log.debug(
                    "rate limit: not answering message %s from %s", message.id, message.author.id
                )
                await self._note_if_unknown(message, addressed)
                return
            if wait > 0:
                await asyncio.sleep(wait)
            await self.respond(message, addressed)
            if wait > 0:
                await self._react(message, TEXT["wait_reaction"], remove=True)
        except discord.DiscordServerError as error:
            # Discord kept failing (discord.py already retried): not a bug of ours, and an
            # apology would meet the same outage. The reply may even have been stored.
            log.warning(
                "Discord failed while answering message %s in channel %s, perhaps not answered: %s",
                message.id,
                message.channel.id,
                error,
            )
        except Exception as error:
            self.bot.report_error(
                f"answering message {message.id} from user {message.author.id} "
                f"in channel {message.channel.id} (guild {getattr(message.guild, 'id', None)})",
                error,
            )
            await self._apologise(message)

    async def _note_if_unknown(self, message: discord.Message, addressed: Addressed) -> None:
        """Record ``addressed`` as unanswered if the bot has no answer for it."""
        if addressed.text and self.service.ask(addressed.text).decision is Decision.NONE:
            await self._note(message, addressed.text)

    async def _react(self, message: discord.Message, emoji: str, *, remove: bool = False) -> None:
        """Add (or take back) the bot's own reaction; a missing permission is only logged."""
        try:
            if remove:
                await message.remove_reaction(emoji, self.bot.user)  # type: ignore[arg-type]
            else:
                await message.add_reaction(emoji)
        except discord.HTTPException as error:
            log.info("could not react to message %s: %s", message.id, error)

    async def respond(self, message: discord.Message, addressed: Addressed) -> None:
        """Ask the service and send the reply that fits the decision."""
        if not addressed.text:
            await self._reply(message, content=TEXT["empty"])
            return
        reply = self.service.ask(addressed.text)
        if reply.decision is Decision.ANSWER and reply.question is not None:
            await self._answer(message, reply)
        elif reply.decision is Decision.SMALL_TALK:
            if addressed.explicit:  # in a Q&A channel, chatter gets no reply
                await self._reply(message, content=reply.small_talk)
        elif reply.decision is Decision.SUGGEST and reply.suggestions:
            await self._reply(
                message, content=render.suggestions_text(reply), view=views.suggestion_view(reply)
            )
        else:
            # Reply first: the asker should not wait for the database, which may be busy
            # with other writes. A failure to record is logged by _note.
            if addressed.explicit:  # in a Q&A channel an unknown question gets no reply
                await self._reply(message, content=TEXT["no_match"])
            await self._note(message, addressed.text)

    async def _answer(self, message: discord.Message, reply: Reply) -> None:
        assert reply.question is not None
        related = self.service.related(reply.question.id) if reply.answers else ()
        view = views.answer_view(reply, picked=False, related=related)
        embed = render.reply_embed(reply, tags=self.service.visible_tags(reply.question))
        sent = await self._reply(message, embed=embed, view=view)
        self.service.answer_shown(
            sent.id,
            channel_id=sent.channel.id,
            guild_id=sent.guild.id if sent.guild else None,
            reply=reply,
        )

    async def _note(self, message: discord.Message, text: str) -> bool:
        """Record an unanswered question; False (logged) if the store failed."""
        try:
            await self.service.note_unanswered(
                text,
                asker_id=message.author.id,
                channel_id=message.channel.id,
                guild_id=message.guild.id if message.guild else None,
            )
        except Exception as error:
            self.bot.report_error(f"recording unanswered message {message.id}", error)
            return False
        return True

    async def _reply(
        self,
        message: discord.Message,
        *,
        content: str | None = None,
        embed: discord.Embed | None = None,
        view: discord.ui.View | None = None,
    ) -> discord.Message:
        """Reply to ``message`` (a plain message if it was deleted meanwhile), pinging no one."""
        kwargs: dict = {"allowed_mentions": NO_MENTIONS}
        if embed is not None:
            kwargs["embed"] = embed
        if view is not None:
            kwargs["view"] = view
        # The nonce (sent with enforce_nonce) makes Discord return the message already sent
        # for this question instead of posting another: a retry after a 5xx that came once
        # Discord had stored the reply, or an apology after one, posts nothing twice.
        try:
            return await message.channel.send(
                content,
                reference=message.to_reference(fail_if_not_exists=False),
                nonce=message.id,
                **kwargs,
            )
        finally:
            if view is not None:
                views.release(view)

    async def _apologise(self, message: discord.Message) -> None:
        try:
            await self._reply(message, content=TEXT["apology"])
        except Exception:
            log.warning("could not apologise in channel %s", message.channel.id, exc_info=True)
