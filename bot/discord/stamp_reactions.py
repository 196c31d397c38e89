"""Stamps on Discord: reaction events in, stamp counts on answer embeds, ``/stamps`` commands.

Thin on purpose: the :class:`~bot.stamps.StampBook` (built by :class:`~bot.app.App`) decides
what a reaction means and stores it. This cog turns raw reaction events (raw, so that
messages sent before a restart or not in the cache count too) into
:class:`~bot.stamps.StampOp` values, notes guild owners and moderators (by the one rule of
:mod:`bot.discord.checks`) as roots of trust, edits an answer's embed (debounced) when its
count changes, and on start has :func:`~bot.stamps.reconcile.reconcile_recent` compare the
stamps on recent answer messages with what Discord shows.
"""

from __future__ import annotations

import asyncio
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import render
from bot.discord.bot import StampyBot
from bot.discord.checks import member_is_moderator
from bot.discord.errors import release, respond
from bot.discord.moderation.views import PromoteButton
from bot.discord.strings import TEXT
from bot.knowledge.model import Answer, Question
from bot.stamps import StampBook, StampBookClosed
from bot.stamps.reconcile import ReconcileTotals, Unreadable, reconcile_recent
from bot.store.stamps import AnswerMessage, StampOp

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()

#: Rows in the ``/stamps top`` leaderboard.
LEADERBOARD_SIZE = 10
#: Tries of one stamp-count edit when Discord answers 5xx (waits double from the debounce).
EDIT_ATTEMPTS = 4
#: Seconds the pending stamp-count edits may take when the bot stops.
UNLOAD_EDIT_SECONDS = 5.0


def find_answer(question: Question, answer_id: str | None) -> Answer | None:
    """The answer of ``question`` with this id, if it still has it."""
    return next((a for a in question.answers if a.id == answer_id), None)


class StampReactions(commands.Cog, name="Stamps"):
    """Stamp reactions, stamp counts on answers, ``/stamps show`` and ``/stamps top``."""

    group = app_commands.Group(name="stamps", description=TEXT["stamps_group"])

    def __init__(self, bot: StampyBot) -> None:
        self.bot = bot
        self.settings = bot.settings.stamps
        self.book: StampBook | None = bot.stamps
        # Edits still waiting out the debounce, by message; and every edit task not finished
        # (waiting, editing or retrying) with its (message, channel), to flush when stopping.
        self._edits: dict[int, asyncio.Task[None]] = {}
        self._edit_tasks: dict[asyncio.Task[None], tuple[int, int]] = {}
        self._reconcile: asyncio.Task[None] | None = None
        self._ready = False
        self._closing = False

    # ------------------------------------------------------------------ lifecycle

    async def cog_unload(self) -> None:
        """Stop reconciling; send the pending stamp-count edits (the App closes the book)."""
        self._closing = True
        pending = dict(self._edit_tasks.values())
        tasks = [*self._edit_tasks]
        if self._reconcile is not None:
            tasks.append(self._reconcile)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._edits.clear()
        self._edit_tasks.clear()
        if pending and self.book is not None:
            # Discord is still reachable here (the bot closes HTTP after the cogs): show the
            # latest counts now rather than leave them stale, within a bounded time.
            edits = [self._edit_quietly(m, c) for m, c in pending.items()]
            done, late = await asyncio.wait(
                [asyncio.ensure_future(e) for e in edits], timeout=UNLOAD_EDIT_SECONDS
            )
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            if late:
                log.warning("%d stamp counts not updated on Discord: stopping", len(late))

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Note guild owners, then reconcile recent answers in the background: at start, and
        again after each new session (Discord replays nothing into a new session after an
        invalid one, so stamps given in between would otherwise be missed)."""
        book = self.book
        if book is None:
            return
        if self._ready:
            if self._reconcile is None or self._reconcile.done():
                log.info("new gateway session: re-reading stamps on recent answers")
                self._start_reconcile()
            return
        self._ready = True
        if self.bot.user is not None:
            book.bot_user_id = self.bot.user.id
        for guild in self.bot.guilds:
            if guild.owner_id is not None:
                try:
                    await book.note_owner(guild.id, guild.owner_id)
                except StampBookClosed:
                    return
                except Exception as error:
                    self.bot.report_error(f"recording the owner of guild {guild.id}", error)
        self._start_reconcile()

    def _start_reconcile(self) -> None:
        if self.settings.reconcile_days > 0 and not self._closing:
            self._reconcile = asyncio.create_task(self._reconcile_guarded(), name="stamp-reconcile")

    # ------------------------------------------------------------------ reactions

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        """A reaction was added: maybe a stamp."""
        await self._on_reaction(payload, add=True)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        """A reaction was removed: maybe a stamp taken back."""
        await self._on_reaction(payload, add=False)

    async def _on_reaction(self, payload: discord.RawReactionActionEvent, *, add: bool) -> None:
        book = self.book
        if book is None or payload.guild_id is None:
            return
        if payload.type is not discord.ReactionType.normal:
            return  # super reactions are paid extras, not stamps
        emoji = book.stamp_name(payload.emoji.name, custom=payload.emoji.id is not None)
        me = self.bot.user
        if emoji is None or (me is not None and payload.user_id == me.id):
            return
        where = (
            f"stamp {'added' if add else 'removed'} by user {payload.user_id} on message "
            f"{payload.message_id} in channel {payload.channel_id}"
        )
        try:
            author_id = payload.message_author_id
            if add and author_id is None:
                author_id = await self._message_author(payload)
            op = StampOp(
                payload.message_id,
                payload.user_id,
                emoji,
                add=add,
                channel_id=payload.channel_id,
                guild_id=payload.guild_id,
                author_id=author_id,
            )
            # Nothing is awaited before the op is queued (the author comes with the event or
            # from the cache; a fetch is rare): the book applies ops in the order the events
            # came, so a stamp and its quick removal cannot swap and leave a stamp behind.
            change = await book.apply(op)
            if change is not None and change.row.answer_id is not None:
                self.schedule_edit(payload.message_id, payload.channel_id)
                await self._check_promotion(change.row.answer_id)
            if add and payload.member is not None:
                await self._note_moderator(
                    book, payload.guild_id, payload.member, payload.channel_id
                )
        except StampBookClosed:
            log.warning("%s: not recorded, the bot is stopping", where)
        except Exception as error:
            if self._closing:
                log.warning("%s: not recorded, the bot is stopping", where)
            else:
                self.bot.report_error(f"recording a {where}", error)

    @commands.Cog.listener()
    async def on_raw_reaction_clear(self, payload: discord.RawReactionClearEvent) -> None:
        """Every reaction was removed from a message: so were its stamps."""
        await self._clear([payload.message_id], payload.channel_id, None, edit=True)

    @commands.Cog.listener()
    async def on_raw_reaction_clear_emoji(
        self, payload: discord.RawReactionClearEmojiEvent
    ) -> None:
        """One emoji's reactions were removed from a message: its stamps of that emoji too."""
        book = self.book
        emoji = payload.emoji
        name = book.stamp_name(emoji.name, custom=emoji.id is not None) if book else None
        if name is not None:
            await self._clear([payload.message_id], payload.channel_id, name, edit=True)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        """A deleted message takes its stamps with it."""
        await self._clear([payload.message_id], payload.channel_id, None, edit=False)

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        """Deleted messages take their stamps with them."""
        await self._clear(sorted(payload.message_ids), payload.channel_id, None, edit=False)

    async def _clear(
        self, message_ids: list[int], channel_id: int, emoji: str | None, *, edit: bool
    ) -> None:
        book = self.book
        if book is None:
            return
        for message_id in message_ids:
            try:
                changes = await book.clear(message_id, emoji)
            except StampBookClosed:
                return
            except Exception as error:
                if self._closing:
                    return
                self.bot.report_error(f"removing the stamps of message {message_id}", error)
                continue
            if edit and any(c.row.answer_id for c in changes):
                self.schedule_edit(message_id, channel_id)

    async def _check_promotion(self, answer_id: str) -> None:
        """After a stamp change: the answer may now be proposed as canonical; a new proposal
        is posted to the moderators' channel (if there is one) with its confirm button."""
        promotion = await self.bot.service.check_promotion(answer_id)
        if promotion is None:
            return
        log.info(
            "answer %s proposed as canonical by stamps (promotion #%s)", answer_id, promotion.id
        )
        channel_id = self.bot.settings.discord.reports_channel
        question = self.bot.service.question(promotion.question_id)
        if not channel_id or question is None:
            return
        text = TEXT["promo_posted"].format(
            answer=promotion.answer_id,
            question=render.shorten(question.text, 200),
            stamps=render.stamps_text(promotion.stamps),
            share=promotion.share,
            id=promotion.id,
        )
        view = discord.ui.View(timeout=None)
        view.add_item(PromoteButton(promotion.id))
        try:
            await self.bot.get_partial_messageable(channel_id).send(
                text, view=view, allowed_mentions=NO_MENTIONS
            )
        except discord.HTTPException as error:
            log.warning(
                "promotion #%s not posted to channel %s: %s", promotion.id, channel_id, error
            )
        finally:
            release(view)

    async def _note_moderator(
        self, book: StampBook, guild_id: int, member: discord.Member, channel_id: int
    ) -> None:
        roles = self.bot.settings.discord.moderator_roles
        moderator = member_is_moderator(member, channel_id, roles)
        await book.note_root(guild_id, member.id, moderator=moderator)

    async def _message_author(self, payload: discord.RawReactionActionEvent) -> int | None:
        """The author of the reacted message when the event did not say (fetched: the bot
        keeps no messages in memory)."""
        channel = self.bot.get_partial_messageable(payload.channel_id, guild_id=payload.guild_id)
        try:
            message = await channel.fetch_message(payload.message_id)
        except discord.HTTPException:
            return None
        return message.author.id

    # ------------------------------------------------------------------ embeds

    def schedule_edit(self, message_id: int, channel_id: int) -> None:
        """Show the new stamp count on an answer message soon; changes meanwhile coalesce."""
        if message_id in self._edits or self._closing:
            return  # the pending edit will read the latest count
        task = asyncio.create_task(
            self._edit_later(message_id, channel_id), name=f"stamp-edit-{message_id}"
        )
        self._edits[message_id] = task
        self._edit_tasks[task] = (message_id, channel_id)

    async def _edit_later(self, message_id: int, channel_id: int) -> None:
        task = asyncio.current_task()
        try:
            await asyncio.sleep(self.settings.embed_update_seconds)
            if self._edits.get(message_id) is task:
                del self._edits[message_id]  # a change from now on schedules a new edit
            for attempt in range(EDIT_ATTEMPTS):
                last = attempt == EDIT_ATTEMPTS - 1
                if await self._edit_quietly(message_id, channel_id, last=last):
                    return
                if message_id in self._edits:
                    return  # a newer edit is on its way
                # Discord had an outage (5xx after discord.py's own retries): try again later.
                await asyncio.sleep(self.settings.embed_update_seconds * 2 ** (attempt + 1))
        finally:
            if self._edits.get(message_id) is task:
                del self._edits[message_id]
            self._edit_tasks.pop(task, None)  # type: ignore[arg-type]

    async def _edit_quietly(self, message_id: int, channel_id: int, *, last: bool = True) -> bool:
        """Edit the stamp count; False if Discord had a server error worth retrying."""
        try:
            await self._edit(message_id, channel_id)
        except discord.NotFound:
            pass  # the message was deleted
        except discord.DiscordServerError as error:
            if not last:
                return False
            log.warning("could not update the stamp count of message %s: %s", message_id, error)
        except discord.HTTPException as error:
            log.warning("could not update the stamp count of message %s: %s", message_id, error)
        except Exception as error:
            self.bot.report_error(f"updating the stamp count of message {message_id}", error)
        return True

    async def _edit(self, message_id: int, channel_id: int) -> None:
        book = self.book
        if book is None:
            return
        tracked = await book.records.answer_message(message_id)
        question = self.bot.service.question(tracked.question_id) if tracked else None
        if tracked is None or question is None:
            return
        answer = find_answer(question, tracked.answer_id)
        if answer is None:
            return
        tags = self.bot.service.visible_tags(question)
        embed = render.answer_embed(question, answer, stamps=book.count(answer.id), tags=tags)
        message = self.bot.get_partial_messageable(channel_id).get_partial_message(message_id)
        await message.edit(embed=embed, allowed_mentions=NO_MENTIONS)

    # ------------------------------------------------------------------ reconciling

    async def _reconcile_guarded(self) -> None:
        try:
            await self.reconcile()
        except (asyncio.CancelledError, StampBookClosed):
            return  # stopping
        except Exception as error:
            if self._closing:
                return  # the store closed under it while stopping: nothing lost
            self.bot.report_error("reconciling stamps on recent answer messages", error)

    async def reconcile(self) -> ReconcileTotals | None:
        """Re-read the stamps on answer messages of the last ``reconcile_days`` days and fix
        the database to match (None without a stamp book)."""
        book = self.book
        if book is None:
            return None

        def changed(message: AnswerMessage) -> None:
            self.schedule_edit(message.message_id, message.channel_id)

        return await reconcile_recent(
            book,
            self.settings.reconcile_days,
            self._fetch_stamps,
            changed=changed,
            mine=lambda message: self.bot.owns(message.guild_id),
        )

    async def _fetch_stamps(self, tracked: AnswerMessage) -> dict[str, set[int]] | None:
        """Who reacted to an answer message with each stamp emoji; None if it is gone."""
        book = self.book
        assert book is not None
        channel = self.bot.get_partial_messageable(tracked.channel_id, guild_id=tracked.guild_id)
        try:
            message = await channel.fetch_message(tracked.message_id)
        except discord.NotFound:
            return None
        except discord.HTTPException as error:
            raise Unreadable(str(error)) from error
        present: dict[str, set[int]] = {emoji: set() for emoji in book.weights}
        for reaction in message.reactions:
            emoji = reaction.emoji
            if isinstance(emoji, str):
                name = book.stamp_name(emoji, custom=False)
            else:
                name = book.stamp_name(emoji.name, custom=emoji.id is not None)
            if name is None:
                continue
            try:
                async for user in reaction.users():
                    present[name].add(user.id)
            except discord.HTTPException as error:
                raise Unreadable(str(error)) from error
        return present

    # ------------------------------------------------------------------ commands

    @group.command(name="show", description=TEXT["stamps_show"])
    @app_commands.describe(member=TEXT["stamps_show_member"])
    async def show(
        self, interaction: discord.Interaction[StampyBot], member: discord.User | None = None
    ) -> None:
        """A member's stamp score and the stamps they received and gave (ephemeral)."""
        book = self.book
        if book is None:
            await self._say(interaction, TEXT["stamps_off"])
            return
        who = member or interaction.user
        found = book.user(who.id)
        text = TEXT["stamps_user"].format(
            user=who.mention, score=found.score, received=found.received, given=found.given
        )
        await self._say(interaction, text)

    @group.command(name="top", description=TEXT["stamps_top"])
    async def top(self, interaction: discord.Interaction[StampyBot]) -> None:
        """The stamp leaderboard (ephemeral)."""
        book = self.book
        if book is None:
            await self._say(interaction, TEXT["stamps_off"])
            return
        board = book.leaderboard(LEADERBOARD_SIZE)
        if not board:
            await self._say(interaction, TEXT["stamps_top_empty"])
            return
        lines = [TEXT["stamps_top_title"]]
        lines += [
            TEXT["stamps_top_row"].format(rank=rank, user=f"<@{user}>", score=score)
            for rank, (user, score) in enumerate(board, 1)
        ]
        await self._say(interaction, "\n".join(lines))

    @staticmethod
    async def _say(interaction: discord.Interaction[StampyBot], text: str) -> None:
        await respond(interaction, render.truncate(text, render.CONTENT_LIMIT, note=""))
