"""The members' commands: ``/ask``, ``/tag``, ``/tags`` and ``/help``.

Thin on purpose: arguments arrive as what they name
(:mod:`~bot.discord.browsing.transformers`), each handler makes one
:class:`~bot.service.Service` call and sends what :mod:`bot.discord.render`,
:mod:`bot.discord.views` and :mod:`~bot.discord.browsing.views` make of it. ``/ask`` answers
publicly, as a mention does (stamps on it count); the others answer the member alone, so
that browsing does not fill the channel. Failures go through :mod:`bot.discord.errors`.
Nothing here is hidden from members, and nothing they see shows an internal tag.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import render, views
from bot.discord.bot import StampyBot
from bot.discord.browsing.transformers import Asked, AskedArg, TagNameArg
from bot.discord.browsing.views import BROWSING_ITEMS, help_embed, render_tag_page, tags_embed
from bot.discord.errors import release, respond
from bot.discord.strings import TEXT
from bot.knowledge.matcher import Decision
from bot.service import Reply

__all__ = ["Browsing"]

log = logging.getLogger(__name__)

Interaction = discord.Interaction[StampyBot]
NO_MENTIONS = discord.AllowedMentions.none()


class Browsing(commands.Cog):
    """``/ask``, ``/tag``, ``/tags`` and ``/help``, for every member."""

    def __init__(self, bot: StampyBot) -> None:
        self.bot = bot
        self.service = bot.service

    async def cog_load(self) -> None:
        """Register the tag pages' buttons, so that old pages keep working."""
        self.bot.add_dynamic_items(*BROWSING_ITEMS)

    async def cog_unload(self) -> None:
        """Unregister the tag pages' buttons."""
        self.bot.remove_dynamic_items(*BROWSING_ITEMS)

    @app_commands.command(name="ask", description=TEXT["cmd_ask"])
    @app_commands.describe(question=TEXT["opt_ask_question"])
    async def ask(
        self, interaction: Interaction, question: app_commands.Transform[Asked, AskedArg]
    ) -> None:
        """Answer publicly, as a mention would; a question picked from the list directly."""
        if question.question_id is not None:
            reply = self.service.answer(question.question_id)
        elif question.text.strip():
            reply = self.service.ask(question.text)
        else:
            await respond(interaction, TEXT["ask_empty"])
            return
        if reply is None:  # removed between the pick and the command
            await respond(interaction, TEXT["gone"])
            return
        await self._send_reply(interaction, reply, question.text)

    async def _send_reply(self, interaction: Interaction, reply: Reply, text: str) -> None:
        if reply.decision is Decision.ANSWER and reply.question is not None:
            question = reply.question
            related = self.service.related(question.id) if reply.answers else ()
            embed = render.reply_embed(reply, tags=self.service.visible_tags(question))
            view = views.answer_view(reply, picked=False, related=related)
            await self._say(interaction, embed=embed, view=view, reply=reply)
        elif reply.decision is Decision.SMALL_TALK and reply.small_talk:
            await self._say(interaction, content=reply.small_talk)
        elif reply.decision is Decision.SUGGEST and reply.suggestions:
            content = render.suggestions_text(reply)
            await self._say(interaction, content=content, view=views.suggestion_view(reply))
        else:
            await self._say(interaction, content=TEXT["no_match"])
            await self.service.note_unanswered(
                text,
                asker_id=interaction.user.id,
                channel_id=interaction.channel_id,
                guild_id=interaction.guild_id,
            )

    async def _say(
        self,
        interaction: Interaction,
        *,
        content: str | None = None,
        embed: discord.Embed | None = None,
        view: discord.ui.View | None = None,
        reply: Reply | None = None,
    ) -> None:
        """Answer publicly, pinging nobody; an answer's message is recorded so that stamps on
        it count."""
        kwargs: dict = {"allowed_mentions": NO_MENTIONS}
        if embed is not None:
            kwargs["embed"] = embed
        if view is not None:
            kwargs["view"] = view
        try:
            sent = await interaction.response.send_message(content, **kwargs)
        finally:
            if view is not None:
                release(view)
        message = sent.resource
        if reply is not None and isinstance(message, discord.InteractionMessage):
            self.service.answer_shown(
                message.id,
                channel_id=message.channel.id,
                guild_id=interaction.guild_id,
                reply=reply,
            )

    @app_commands.command(name="tag", description=TEXT["cmd_tag_page"])
    @app_commands.describe(name=TEXT["opt_tag_name"])
    async def tag(
        self, interaction: Interaction, name: app_commands.Transform[str, TagNameArg]
    ) -> None:
        """A tag's page, to the member alone."""
        page = self.service.tag_page(name)
        if page is None:
            shown = render.shorten(name, 40).replace("`", "'")
            await respond(interaction, TEXT["tag_unknown"].format(name=f"`{shown}`"))
            return
        embed, view = render_tag_page(self.bot, page, 0)
        await respond(interaction, embed=embed, view=view)

    @app_commands.command(name="tags", description=TEXT["cmd_tags"])
    async def tags(self, interaction: Interaction) -> None:
        """Every tag members may see, with its question count."""
        await respond(interaction, embed=tags_embed(self.service.tags()))

    @app_commands.command(name="help", description=TEXT["cmd_help"])
    async def help(self, interaction: Interaction) -> None:
        """How to ask, stamp, browse, and what moderators can do."""
        await respond(interaction, embed=help_embed())
