"""Moderation from Discord: ``/answer``, ``/unanswered``, ``/stampy reload`` and the
"Save as answer" message command.

Thin on purpose: each handler checks who may do it, reads the options or the submitted form,
calls one :class:`~bot.moderation.Curator` method and replies with what happened (or exactly
why not), always ephemerally and pinging nobody.

Who may: a moderator is a member with Manage Messages (in the channel) or a role named in
``discord.moderator_roles``. Every command is registered with ``default_permissions`` of
Manage Messages (Discord hides it from others unless a server admin allows them in the
integration settings) and is checked again here, since discord.py does not enforce that.
Only the guilds in ``discord.home_guilds`` may change the shared knowledge base: elsewhere
the changing commands say so and change nothing (``show``, ``history`` and autocomplete
still work for moderators there). With no home guild configured nothing may be changed.

The commands are global, so they exist in every guild and can explain themselves there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import DiscordSettings
from bot.curation import (
    Curator,
    Moderator,
    Refused,
    author_mention,
    split_lines,
    split_tags,
)
from bot.discord.moderation_views import (
    CHOICES,
    MODERATION_ITEMS,
    NO_MENTIONS,
    PAGE_SIZE,
    ConfirmView,
    PickAnswerView,
    QuestionModal,
    SaveModal,
    answer_label,
    change_text,
    choice_name,
    history_text,
    page_view,
    proposals_text,
    question_embed,
    reload_text,
    unanswered_text,
)
from bot.discord.render import TEXT, shorten
from bot.knowledge.model import Question
from bot.store import ProposedPhrasing, UnansweredQuestion

if TYPE_CHECKING:
    from bot.discord.client import StampyBot

log = logging.getLogger(__name__)

MODERATOR_PERMISSIONS = discord.Permissions(manage_messages=True)
#: Autocomplete that needs the database gives up after this long and answers from its cache
#: (Discord waits 3 seconds for choices).
AUTOCOMPLETE_DB_SECONDS = 1.0
#: The unanswered and proposal lists used for autocomplete are refreshed at most this often.
QUEUE_CACHE_SECONDS = 5.0
#: Rows of the queues offered in autocomplete.
QUEUE_CHOICES = 200


def is_moderator(interaction: discord.Interaction[Any], settings: DiscordSettings) -> bool:
    """Manage Messages in the channel (Administrator implies it), or a moderator role."""
    if interaction.guild_id is None:
        return False
    if interaction.permissions.manage_messages:
        return True
    wanted = {name.casefold() for name in settings.moderator_roles}
    roles = getattr(interaction.user, "roles", ())
    return bool(wanted) and any(role.name.casefold() in wanted for role in roles)


def moderator_of(interaction: discord.Interaction[Any]) -> Moderator:
    """The member as recorded in history."""
    user = interaction.user
    return Moderator(name=user.display_name, id=user.id, guild_id=interaction.guild_id)


async def reply(
    interaction: discord.Interaction[Any],
    content: str | None = None,
    *,
    embed: discord.Embed | None = None,
    view: discord.ui.View | None = None,
) -> None:
    """An ephemeral reply that pings nobody (a followup if the interaction was answered)."""
    kwargs: dict[str, Any] = {"ephemeral": True, "allowed_mentions": NO_MENTIONS}
    if embed is not None:
        kwargs["embed"] = embed
    if view is not None:
        kwargs["view"] = view
    if interaction.response.is_done():
        await interaction.followup.send(content, **kwargs)
    else:
        await interaction.response.send_message(content, **kwargs)


class _QueueCache:
    """The open unanswered questions or proposals last read, for autocomplete."""

    def __init__(self, load: Callable[[], Awaitable[list[Any]]]) -> None:
        self._load = load
        self.items: list[Any] = []
        self.read_at = float("-inf")
        self._refreshing: asyncio.Task[None] | None = None

    async def get(self) -> list[Any]:
        """The items, read again if stale (waiting briefly; else the old ones)."""
        if time.monotonic() - self.read_at < QUEUE_CACHE_SECONDS:
            return self.items
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._refresh())
        try:
            await asyncio.wait_for(asyncio.shield(self._refreshing), AUTOCOMPLETE_DB_SECONDS)
        except TimeoutError:
            pass
        return self.items

    async def _refresh(self) -> None:
        try:
            self.items = await self._load()
            self.read_at = time.monotonic()
        except Exception:  # autocomplete must not fail; the command itself reports errors
            log.warning("could not read the queue for autocomplete", exc_info=True)

    def forget(self) -> None:
        """Read again next time (after a change)."""
        self.read_at = float("-inf")


class Moderation(commands.Cog):
    """Slash commands and a message command that curate the shared knowledge base."""

    answer = app_commands.Group(
        name="answer",
        description="Curate the knowledge base (moderators)",
        guild_only=True,
        default_permissions=MODERATOR_PERMISSIONS,
    )
    alias = app_commands.Group(
        name="alias", description="Alternate phrasings of a question", parent=answer
    )
    tag = app_commands.Group(name="tag", description="Tags of a question", parent=answer)
    unanswered = app_commands.Group(
        name="unanswered",
        description="Questions nobody has answered yet, and proposed phrasings (moderators)",
        guild_only=True,
        default_permissions=MODERATOR_PERMISSIONS,
    )
    stampy = app_commands.Group(
        name="stampy",
        description="Run the bot (moderators)",
        guild_only=True,
        default_permissions=MODERATOR_PERMISSIONS,
    )

    def __init__(self, bot: StampyBot, curator: Curator) -> None:
        self.bot = bot
        self.curator = curator
        self.settings = bot.settings.discord
        self.home_guilds = frozenset(self.settings.home_guilds)
        self._unanswered_cache = _QueueCache(lambda: curator.unanswered.list(limit=QUEUE_CHOICES))
        self._proposal_cache = _QueueCache(lambda: curator.proposals.list(limit=QUEUE_CHOICES))
        self.save_menu = app_commands.ContextMenu(
            name=TEXT["mod_save_command"], callback=self.save_as_answer
        )
        self.save_menu.guild_only = True
        self.save_menu.default_permissions = MODERATOR_PERMISSIONS

    async def cog_load(self) -> None:
        """Register the message command and the page buttons."""
        self.bot.tree.add_command(self.save_menu)
        self.bot.add_dynamic_items(*MODERATION_ITEMS)

    async def cog_unload(self) -> None:
        """Remove the message command."""
        self.bot.tree.remove_command(self.save_menu.name, type=self.save_menu.type)
        self.bot.remove_dynamic_items(*MODERATION_ITEMS)

    # -- who may ---------------------------------------------------------------------------

    async def allowed(self, interaction: discord.Interaction[Any], *, change: bool) -> bool:
        """Whether the member may do this here; if not, says why (ephemeral) and returns False.

        Reading (``change=False``) needs a moderator; changing also needs a home guild.
        """
        if not is_moderator(interaction, self.settings):
            await reply(interaction, TEXT["mod_not_moderator"])
            return False
        if change and not self.home_guilds:
            await reply(interaction, TEXT["mod_no_home"])
            return False
        if change and interaction.guild_id not in self.home_guilds:
            await reply(interaction, TEXT["mod_not_home"])
            return False
        return True

    async def run(
        self,
        interaction: discord.Interaction[Any],
        action: Callable[[Moderator], Awaitable[Any]],
        *,
        change: bool = True,
    ) -> None:
        """Check, run ``action`` and reply with its result (a string, an embed or a change),
        or with the reason it was refused."""
        if not await self.allowed(interaction, change=change):
            return
        try:
            result = await action(moderator_of(interaction))
        except Refused as refused:
            await reply(interaction, refusal(refused))
            return
        if change:
            self._unanswered_cache.forget()
            self._proposal_cache.forget()
        if isinstance(result, discord.Embed):
            await reply(interaction, embed=result)
        elif isinstance(result, str):
            await reply(interaction, result)
        elif result is not None:
            await reply(interaction, change_text(result))

    # -- /answer ------------------------------------------------------------------------------

    @answer.command(name="add", description="Add a question and its answer (opens a form)")
    async def answer_add(self, interaction: discord.Interaction[Any]) -> None:
        """Open the add form."""
        if not await self.allowed(interaction, change=True):
            return
        await interaction.response.send_modal(self.add_modal())

    def add_modal(self, *, question: str = "", unanswered_id: int | None = None) -> QuestionModal:
        """The add form (pre-filled with ``question``; answering ``unanswered_id``)."""

        async def submitted(interaction: discord.Interaction[Any], values: dict[str, Any]) -> None:
            async def add(moderator: Moderator) -> Any:
                return await self.curator.add_question(
                    moderator,
                    values["question"] or "",
                    answer=values["answer"],
                    alternate_phrasings=split_lines(values["phrasings"]),
                    tags=split_tags(values["tags"]),
                    canonical=bool(values["canonical"]),
                    unanswered_id=unanswered_id,
                )

            await self.run(interaction, add)

        suffix = f":{unanswered_id}" if unanswered_id is not None else ""
        return QuestionModal(
            title=TEXT["mod_add_title"],
            custom_id=f"stampy:mod:add{suffix}",
            on_values=submitted,
            question=question,
        )

    @answer.command(name="edit", description="Edit a question and one of its answers")
    @app_commands.describe(question="The question", answer="Which answer (if it has several)")
    async def answer_edit(
        self, interaction: discord.Interaction[Any], question: str, answer: str | None = None
    ) -> None:
        """Open the edit form, pre-filled; first ask which answer if there are several."""
        if not await self.allowed(interaction, change=True):
            return
        try:
            found = self.curator.require(question)
            if answer is not None:
                self.curator.answer_of(found, answer)
        except Refused as refused:
            await reply(interaction, refusal(refused))
            return
        if answer is None and len(found.answers) > 1:

            async def picked(inner: discord.Interaction[Any], answer_id: str) -> None:
                current = self.curator.knowledge.get(found.id)
                if current is None:
                    await reply(inner, TEXT["gone"])
                    return
                await inner.response.send_modal(self.edit_modal(current, answer_id))

            view = PickAnswerView(found, picked, owner_id=interaction.user.id)
            await reply(
                interaction, TEXT["mod_pick_answer"].format(count=len(found.answers)), view=view
            )
            return
        answer_id = answer or (found.answers[0].id if found.answers else None)
        await interaction.response.send_modal(self.edit_modal(found, answer_id))

    def edit_modal(self, question: Question, answer_id: str | None) -> QuestionModal:
        """The edit form of ``question`` and (if given) its answer ``answer_id``."""
        answer = next((a for a in question.answers if a.id == answer_id), None)

        async def submitted(interaction: discord.Interaction[Any], values: dict[str, Any]) -> None:
            async def edit(moderator: Moderator) -> Any:
                phrasings = values["phrasings"]
                return await self.curator.edit_question(
                    moderator,
                    question.id,
                    text=values["question"] or "",
                    alternate_phrasings=None if phrasings is None else split_lines(phrasings),
                    tags=split_tags(values["tags"]),
                    answer_id=answer.id if answer else None,
                    answer_text=values["answer"],
                    canonical=bool(values["canonical"]),
                    expected=question,
                )

            await self.run(interaction, edit)

        return QuestionModal(
            title=TEXT["mod_edit_title"],
            custom_id=f"stampy:mod:edit:{question.id}",
            on_values=submitted,
            question=question.text,
            phrasings=question.alternate_phrasings,
            tags=question.tags,
            answer=answer.text if answer else "",
            canonical=answer.canonical if answer else False,
            answer_label=TEXT["mod_field_answer"] if answer else TEXT["mod_field_new_answer"],
            answer_required=answer is not None,
        )

    @alias.command(name="add", description="Add an alternate phrasing to a question")
    @app_commands.describe(question="The question", phrasing="Another way to ask it")
    async def alias_add(
        self, interaction: discord.Interaction[Any], question: str, phrasing: str
    ) -> None:
        """Add an alternate phrasing."""

        async def add(moderator: Moderator) -> Any:
            found = self.curator.require(question)
            return await self.curator.add_alias(moderator, found.id, phrasing)

        await self.run(interaction, add)

    @alias.command(name="remove", description="Remove an alternate phrasing from a question")
    @app_commands.describe(question="The question", phrasing="The phrasing to remove")
    async def alias_remove(
        self, interaction: discord.Interaction[Any], question: str, phrasing: str
    ) -> None:
        """Remove an alternate phrasing (chosen from the list, or typed)."""

        async def remove(moderator: Moderator) -> Any:
            found = self.curator.require(question)
            wording = phrasing
            if phrasing.startswith("#") and phrasing[1:].isdigit():  # a long phrasing's index
                index = int(phrasing[1:])
                if index < len(found.alternate_phrasings):
                    wording = found.alternate_phrasings[index]
            return await self.curator.remove_alias(moderator, found.id, wording)

        await self.run(interaction, remove)

    @tag.command(name="add", description="Add a tag to a question")
    @app_commands.describe(question="The question", tag="Letters, digits and hyphens")
    async def tag_add(self, interaction: discord.Interaction[Any], question: str, tag: str) -> None:
        """Add a tag."""

        async def add(moderator: Moderator) -> Any:
            found = self.curator.require(question)
            return await self.curator.add_tag(moderator, found.id, tag)

        await self.run(interaction, add)

    @tag.command(name="remove", description="Remove a tag from a question")
    @app_commands.describe(question="The question", tag="The tag to remove")
    async def tag_remove(
        self, interaction: discord.Interaction[Any], question: str, tag: str
    ) -> None:
        """Remove a tag."""

        async def remove(moderator: Moderator) -> Any:
            found = self.curator.require(question)
            return await self.curator.remove_tag(moderator, found.id, tag)

        await self.run(interaction, remove)

    @answer.command(name="canonical", description="Mark an answer canonical (shown first) or not")
    @app_commands.describe(
        question="The question", answer="The answer", canonical="Canonical or not"
    )
    async def answer_canonical(
        self, interaction: discord.Interaction[Any], question: str, answer: str, canonical: bool
    ) -> None:
        """Set or unset the canonical flag of one answer."""

        async def mark(moderator: Moderator) -> Any:
            found = self.curator.require(question)
            return await self.curator.set_canonical(moderator, found.id, answer, canonical)

        await self.run(interaction, mark)

    @answer.command(name="remove", description="Remove a question, or one of its answers")
    @app_commands.describe(question="The question", answer="Only this answer (optional)")
    async def answer_remove(
        self, interaction: discord.Interaction[Any], question: str, answer: str | None = None
    ) -> None:
        """Ask for confirmation with a button; remove on "Remove"."""
        if not await self.allowed(interaction, change=True):
            return
        try:
            found = self.curator.require(question)
            target = self.curator.answer_of(found, answer) if answer is not None else None
        except Refused as refused:
            await reply(interaction, refusal(refused))
            return

        async def confirmed(inner: discord.Interaction[Any]) -> None:
            if not await self.allowed(inner, change=True):
                return
            try:
                change = await self.curator.remove(
                    moderator_of(inner), found.id, target.id if target else None
                )
            except Refused as refused:
                await inner.response.edit_message(content=refusal(refused), view=None)
                return
            await inner.response.edit_message(content=change_text(change), view=None)

        if target is None:
            prompt = TEXT["mod_confirm_question"].format(id=found.id, text=shorten(found.text, 200))
        else:
            prompt = TEXT["mod_confirm_answer"].format(answer=target.id, id=found.id)
        await reply(interaction, prompt, view=ConfirmView(confirmed, owner_id=interaction.user.id))

    @answer.command(name="show", description="Show everything stored about a question, ids too")
    @app_commands.describe(question="The question")
    async def answer_show(self, interaction: discord.Interaction[Any], question: str) -> None:
        """Show the stored question."""

        async def show(moderator: Moderator) -> Any:
            return question_embed(self.curator.require(question))

        await self.run(interaction, show, change=False)

    @answer.command(name="history", description="Who changed a question, what and when")
    @app_commands.describe(question="The question (or the id of a removed one)")
    async def answer_history(self, interaction: discord.Interaction[Any], question: str) -> None:
        """List the versions of a question."""

        async def history(moderator: Moderator) -> Any:
            question_id = self.known_id(question)
            return history_text(question_id, await self.curator.history(question_id))

        await self.run(interaction, history, change=False)

    @answer.command(name="revert", description="Go back to an earlier version of a question")
    @app_commands.describe(
        question="The question (or the id of a removed one)",
        version="The version to go back to (see /answer history; 0 is the shipped file)",
    )
    async def answer_revert(
        self,
        interaction: discord.Interaction[Any],
        question: str,
        version: app_commands.Range[int, 0, 1_000_000],
    ) -> None:
        """Make an earlier version current again."""

        async def revert(moderator: Moderator) -> Any:
            return await self.curator.revert(moderator, self.known_id(question), version)

        await self.run(interaction, revert)

    def known_id(self, value: str) -> str:
        """The id of a live or removed question ``value`` names, or :class:`Refused`."""
        question_id = self.curator.known_id(value)
        if question_id is None:
            raise Refused(
                f"there is no question with the id or wording {shorten(value, 80)!r}; "
                "pick one from the list"
            )
        return question_id

    # -- autocomplete -----------------------------------------------------------------------

    @answer_edit.autocomplete("question")
    @alias_add.autocomplete("question")
    @alias_remove.autocomplete("question")
    @tag_add.autocomplete("question")
    @tag_remove.autocomplete("question")
    @answer_canonical.autocomplete("question")
    @answer_remove.autocomplete("question")
    @answer_show.autocomplete("question")
    async def question_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """Live questions ranked by the matcher (no database access)."""
        if not is_moderator(interaction, self.settings):
            return []
        return [
            app_commands.Choice(name=choice_name(q.text), value=q.id)
            for q in self.curator.question_choices(current, CHOICES)
        ]

    @answer_history.autocomplete("question")
    @answer_revert.autocomplete("question")
    async def history_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """Live questions, and removed ones whose id starts with what was typed."""
        choices = await self.question_autocomplete(interaction, current)
        typed = current.strip().lower()
        if typed and len(choices) < CHOICES:
            live = {choice.value for choice in choices}
            removed = sorted(
                question_id
                for question_id in self.curator.history_ids()
                if question_id.startswith(typed)
                and question_id not in live
                and question_id not in self.curator.knowledge
            )
            for question_id in removed[: CHOICES - len(choices)]:
                name = choice_name(TEXT["mod_removed_choice"].format(id=question_id))
                choices.append(app_commands.Choice(name=name, value=question_id))
        return choices

    def _chosen(self, interaction: discord.Interaction[Any]) -> Question | None:
        value = getattr(interaction.namespace, "question", None)
        return self.curator.find(value) if isinstance(value, str) and value else None

    @answer_edit.autocomplete("answer")
    @answer_canonical.autocomplete("answer")
    @answer_remove.autocomplete("answer")
    async def answer_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """The answers of the question chosen in the ``question`` option."""
        question = self._chosen(interaction)
        if question is None or not is_moderator(interaction, self.settings):
            return []
        typed = current.casefold().strip()
        return [
            app_commands.Choice(name=answer_label(answer), value=answer.id)
            for answer in question.answers
            if typed in answer.id or typed in answer.text.casefold()
        ][:CHOICES]

    @alias_remove.autocomplete("phrasing")
    async def phrasing_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """The alternate phrasings of the chosen question."""
        question = self._chosen(interaction)
        if question is None or not is_moderator(interaction, self.settings):
            return []
        typed = current.casefold().strip()
        choices = []
        for index, phrasing in enumerate(question.alternate_phrasings):
            if typed in phrasing.casefold():
                value = phrasing if len(phrasing) <= 100 else f"#{index}"
                choices.append(app_commands.Choice(name=choice_name(phrasing), value=value))
        return choices[:CHOICES]

    @tag_remove.autocomplete("tag")
    async def tag_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """The tags of the chosen question."""
        question = self._chosen(interaction)
        if question is None or not is_moderator(interaction, self.settings):
            return []
        typed = current.casefold().strip()
        return [app_commands.Choice(name=t, value=t) for t in question.tags if typed in t][:CHOICES]

    # -- "Save as answer" ---------------------------------------------------------------------

    async def save_as_answer(
        self, interaction: discord.Interaction[Any], message: discord.Message
    ) -> None:
        """Open a form: which question the message answers (existing or new)."""
        if not await self.allowed(interaction, change=True):
            return
        text = message.content.strip()
        if not text:
            await reply(interaction, TEXT["mod_save_empty"])
            return
        author = message.author
        candidates = self.curator.question_choices(text[:2000], CHOICES)

        async def submitted(inner: discord.Interaction[Any], existing: str, new: str) -> None:
            if existing.strip() and new.strip():
                await reply(inner, TEXT["mod_save_both"])
                return

            async def save(moderator: Moderator) -> Any:
                change = await self.curator.save_as_answer(
                    moderator,
                    text,
                    author=author_mention(author.id),
                    question=existing or None,
                    new_question=new or None,
                )
                return TEXT["mod_saved"].format(author=author.mention, result=change_text(change))

            await self.run(inner, save)

        await interaction.response.send_modal(
            SaveModal(
                candidates=candidates,
                on_values=submitted,
                custom_id=f"stampy:mod:save:{message.id}",
            )
        )

    # -- /unanswered ------------------------------------------------------------------------

    @unanswered.command(name="list", description="Unanswered questions, the most asked first")
    async def unanswered_list(self, interaction: discord.Interaction[Any]) -> None:
        """The first page of the queue."""
        if not await self.allowed(interaction, change=True):
            return
        content, view = await self.page("u", 0)
        await reply(interaction, content, view=view)

    @unanswered.command(name="proposals", description="Alternate phrasings proposed by askers")
    async def unanswered_proposals(self, interaction: discord.Interaction[Any]) -> None:
        """The first page of proposed phrasings."""
        if not await self.allowed(interaction, change=True):
            return
        content, view = await self.page("p", 0)
        await reply(interaction, content, view=view)

    async def page(self, kind: str, offset: int) -> tuple[str, discord.ui.View | None]:
        """The text and buttons of one page of the queue (``u``) or the proposals (``p``)."""
        if kind == "u":
            total = await self.curator.unanswered.count()
            items = await self.curator.unanswered.list(limit=PAGE_SIZE, offset=offset)
            content = unanswered_text(items, offset, total)
        else:
            total = await self.curator.proposals.count()
            proposals = await self.curator.proposals.list(limit=PAGE_SIZE, offset=offset)
            texts = {
                p.question_id: q.text
                for p in proposals
                if (q := self.curator.knowledge.get(p.question_id)) is not None
            }
            content = proposals_text(proposals, offset, total, texts)
        return content, page_view(kind, offset, total)

    async def turn_page(
        self, interaction: discord.Interaction[Any], kind: str, offset: int
    ) -> None:
        """A page button was clicked: show that page in place."""
        if not await self.allowed(interaction, change=True):
            return
        content, view = await self.page(kind, offset)
        await interaction.response.edit_message(
            content=content, view=view, allowed_mentions=NO_MENTIONS
        )

    @unanswered.command(name="answer", description="Answer an unanswered question (opens a form)")
    @app_commands.describe(item="The unanswered question")
    async def unanswered_answer(self, interaction: discord.Interaction[Any], item: int) -> None:
        """Open the add form pre-filled with the question."""
        if not await self.allowed(interaction, change=True):
            return
        try:
            found = await self.curator.unanswered.open_item(item)
        except Refused as refused:
            await reply(interaction, refusal(refused))
            return
        wording = found.text if len(found.text) <= 256 else ""
        await interaction.response.send_modal(self.add_modal(question=wording, unanswered_id=item))

    @unanswered.command(
        name="merge", description="Fold an unanswered question into an existing one"
    )
    @app_commands.describe(
        item="The unanswered question", question="The question it is another phrasing of"
    )
    async def unanswered_merge(
        self, interaction: discord.Interaction[Any], item: int, question: str
    ) -> None:
        """Add the unanswered wording as an alternate phrasing of ``question``."""

        async def merge(moderator: Moderator) -> Any:
            found = self.curator.require(question)
            return await self.curator.merge_unanswered(moderator, item, found.id)

        await self.run(interaction, merge)

    @unanswered.command(name="dismiss", description="Dismiss an unanswered question")
    @app_commands.describe(item="The unanswered question")
    async def unanswered_dismiss(self, interaction: discord.Interaction[Any], item: int) -> None:
        """Take it off the queue."""

        async def dismiss(moderator: Moderator) -> Any:
            done = await self.curator.dismiss_unanswered(moderator, item)
            return TEXT["mod_dismissed"].format(id=done.id, text=shorten(done.text, 200))

        await self.run(interaction, dismiss)

    @unanswered.command(name="approve", description="Approve a proposed alternate phrasing")
    @app_commands.describe(proposal="The proposed phrasing")
    async def unanswered_approve(
        self, interaction: discord.Interaction[Any], proposal: int
    ) -> None:
        """Add the proposed phrasing to its question."""

        async def approve(moderator: Moderator) -> Any:
            return await self.curator.approve_proposal(moderator, proposal)

        await self.run(interaction, approve)

    @unanswered.command(name="reject", description="Reject a proposed alternate phrasing")
    @app_commands.describe(proposal="The proposed phrasing")
    async def unanswered_reject(self, interaction: discord.Interaction[Any], proposal: int) -> None:
        """Mark the proposal rejected."""

        async def reject(moderator: Moderator) -> Any:
            done = await self.curator.reject_proposal(moderator, proposal)
            return TEXT["mod_rejected"].format(id=done.id, text=shorten(done.text, 200))

        await self.run(interaction, reject)

    @unanswered_answer.autocomplete("item")
    @unanswered_merge.autocomplete("item")
    @unanswered_dismiss.autocomplete("item")
    async def item_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[int]]:
        """Open unanswered questions, the most asked first, filtered by what was typed."""
        if not is_moderator(interaction, self.settings):
            return []
        items: list[UnansweredQuestion] = await self._unanswered_cache.get()
        typed = current.casefold().strip().lstrip("#")
        return [
            app_commands.Choice(
                name=choice_name(
                    TEXT["mod_item_choice"].format(id=i.id, count=i.count, text=i.text)
                ),
                value=i.id,
            )
            for i in items
            if not typed or typed in i.text.casefold() or str(i.id).startswith(typed)
        ][:CHOICES]

    @unanswered_merge.autocomplete("question")
    async def merge_question_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """Questions for a merge; with nothing typed, ranked against the unanswered text."""
        if not current.strip():
            item = getattr(interaction.namespace, "item", None)
            cached = {i.id: i.text for i in self._unanswered_cache.items}
            if isinstance(item, int) and item in cached:
                current = cached[item]
        return await self.question_autocomplete(interaction, current)

    @unanswered_approve.autocomplete("proposal")
    @unanswered_reject.autocomplete("proposal")
    async def proposal_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[int]]:
        """Open proposals, the most often proposed first, filtered by what was typed."""
        if not is_moderator(interaction, self.settings):
            return []
        items: list[ProposedPhrasing] = await self._proposal_cache.get()
        typed = current.casefold().strip().lstrip("#")
        choices = []
        for p in items:
            if typed and typed not in p.text.casefold() and not str(p.id).startswith(typed):
                continue
            name = TEXT["mod_proposal_choice"].format(id=p.id, text=p.text, question=p.question_id)
            choices.append(app_commands.Choice(name=choice_name(name), value=p.id))
        return choices[:CHOICES]

    # -- /stampy ------------------------------------------------------------------------------

    @stampy.command(name="reload", description="Re-read the answers files without a restart")
    async def stampy_reload(self, interaction: discord.Interaction[Any]) -> None:
        """Reload the YAML files: report what changed, or which file:line is broken."""
        if not await self.allowed(interaction, change=True):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        report = await self.curator.reload()
        if report.ok:
            log.info("knowledge base reloaded by %s: %s", interaction.user.id, report.diff)
        await reply(interaction, reload_text(report))


def refusal(refused: Refused) -> str:
    """The reply to a refused change: the reason, and that nothing was changed."""
    return TEXT["mod_refused"].format(reason=shorten(refused.reason, 1800))


async def setup_moderation(bot: StampyBot) -> Curator | None:
    """Build the curator on the bot's knowledge base and database, bring the knowledge base
    in line with the files and stored changes, and add the cog. Nothing without a database.
    """
    if bot.store is None:
        return None
    curator = Curator(bot.service.knowledge, bot.store, bot.settings.knowledge.answers_dir)
    report = await curator.start()
    for message in report.skipped:
        log.warning("stored change not applied: %s", message)
    await bot.add_cog(Moderation(bot, curator))
    return curator
