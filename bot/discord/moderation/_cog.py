"""The moderators' commands: ``/answer``, ``/unanswered``, ``/stampy reload`` and the
"Save as answer" message command.

Thin on purpose: the cog's :meth:`Moderation.interaction_check` lets only moderators in
(:mod:`bot.discord.checks`); changing commands also carry the home-guild check; arguments
arrive as the things they name (:mod:`~bot.discord.moderation.transformers`); each handler
makes one :class:`~bot.curation.Curator` call and replies with what happened. A refusal, a
failed check or a bug goes through :mod:`bot.discord.errors`. Every reply is ephemeral and
pings nobody.

The commands are global, so they exist in every guild and can explain themselves there;
``show``, ``history`` and autocomplete work for moderators outside the home guilds too.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.curation import (
    Change,
    Curator,
    Moderator,
    Refused,
    author_mention,
    split_lines,
    split_tags,
)
from bot.discord.bot import StampyBot
from bot.discord.checks import (
    MODERATOR_PERMISSIONS,
    check_changes_here,
    check_moderator,
    check_writer,
    moderators_only,
)
from bot.discord.errors import refusal, respond
from bot.discord.moderation.transformers import (
    QUEUE_CHOICES,
    AnswerArg,
    AnyTagArg,
    HistoryIdArg,
    PhrasingArg,
    ProposalArg,
    QuestionArg,
    QueueCache,
    RelatedArg,
    TagArg,
    UnansweredArg,
)
from bot.discord.moderation.views import (
    CHOICES,
    MODERATION_ITEMS,
    ConfirmView,
    PickAnswerView,
    QuestionModal,
    SaveModal,
    canonical_page,
    change_text,
    history_text,
    question_embed,
    queue_page,
    reload_text,
)
from bot.discord.render import shorten
from bot.discord.strings import TEXT
from bot.knowledge.model import Answer, Question
from bot.store import ProposedPhrasing, UnansweredQuestion

log = logging.getLogger(__name__)

Interaction = discord.Interaction[StampyBot]
QuestionOption = app_commands.Transform[Question, QuestionArg]
AnswerOption = app_commands.Transform[Answer, AnswerArg]
HistoryOption = app_commands.Transform[str, HistoryIdArg]
UnansweredOption = app_commands.Transform[UnansweredQuestion, UnansweredArg]
ProposalOption = app_commands.Transform[ProposedPhrasing, ProposalArg]

#: Changing commands: a moderator, in a home guild.
changes = app_commands.check(check_changes_here)


def moderator_of(interaction: Interaction) -> Moderator:
    """The member as recorded in history."""
    user = interaction.user
    return Moderator(name=user.display_name, id=user.id, guild_id=interaction.guild_id)


class Moderation(commands.Cog):
    """Slash commands and a message command that curate the shared knowledge base."""

    answer = app_commands.Group(
        name="answer",
        description=TEXT["cmd_answer"],
        guild_only=True,
        default_permissions=MODERATOR_PERMISSIONS,
    )
    alias = app_commands.Group(name="alias", description=TEXT["cmd_alias"], parent=answer)
    tag = app_commands.Group(name="tag", description=TEXT["cmd_tag"], parent=answer)
    related = app_commands.Group(name="related", description=TEXT["cmd_related"], parent=answer)
    unanswered = app_commands.Group(
        name="unanswered",
        description=TEXT["cmd_unanswered"],
        guild_only=True,
        default_permissions=MODERATOR_PERMISSIONS,
    )
    stampy = app_commands.Group(
        name="stampy",
        description=TEXT["cmd_stampy"],
        guild_only=True,
        default_permissions=MODERATOR_PERMISSIONS,
    )

    def __init__(self, bot: StampyBot, curator: Curator) -> None:
        self.bot = bot
        self.curator = curator
        self.unanswered_cache: QueueCache[UnansweredQuestion] = QueueCache(
            lambda: curator.unanswered.list(limit=QUEUE_CHOICES)
        )
        self.proposal_cache: QueueCache[ProposedPhrasing] = QueueCache(
            lambda: curator.proposals.list(limit=QUEUE_CHOICES)
        )
        self.save_menu = moderators_only(change=True)(
            app_commands.ContextMenu(name=TEXT["mod_save_command"], callback=self.save_as_answer)
        )

    async def cog_load(self) -> None:
        """Register the message command and the page buttons."""
        self.bot.tree.add_command(self.save_menu)
        self.bot.add_dynamic_items(*MODERATION_ITEMS)

    async def cog_unload(self) -> None:
        """Remove the message command and the page buttons."""
        self.bot.tree.remove_command(self.save_menu.name, type=self.save_menu.type)
        self.bot.remove_dynamic_items(*MODERATION_ITEMS)

    async def interaction_check(self, interaction: Interaction) -> bool:  # type: ignore[override]
        """Every command of the cog: moderators only (checked again, whatever Discord shows);
        the commands marked ``extras={"writers": True}`` writers too."""
        command = interaction.command
        if command is not None and command.extras.get("writers"):
            return check_writer(interaction)
        return check_moderator(interaction)

    async def done(self, interaction: Interaction, change: Change | str) -> None:
        """Reply with what a change did; the queues are read afresh for autocomplete."""
        self.unanswered_cache.forget()
        self.proposal_cache.forget()
        await respond(interaction, change if isinstance(change, str) else change_text(change))

    # -- /answer ------------------------------------------------------------------------------

    @answer.command(name="add", description=TEXT["cmd_answer_add"])
    @changes
    async def answer_add(self, interaction: Interaction) -> None:
        """Open the add form."""
        await interaction.response.send_modal(self.add_modal())

    def add_modal(self, *, question: str = "", unanswered_id: int | None = None) -> QuestionModal:
        """The add form (pre-filled with ``question``; answering ``unanswered_id``)."""

        async def submitted(interaction: Interaction, values: dict[str, Any]) -> None:
            check_changes_here(interaction)
            change = await self.curator.add_question(
                moderator_of(interaction),
                values["question"] or "",
                answer=values["answer"],
                alternate_phrasings=split_lines(values["phrasings"]),
                tags=split_tags(values["tags"]),
                canonical=bool(values["canonical"]),
                unanswered_id=unanswered_id,
            )
            await self.done(interaction, change)

        suffix = f":{unanswered_id}" if unanswered_id is not None else ""
        return QuestionModal(
            title=TEXT["mod_add_title"],
            custom_id=f"stampy:mod:add{suffix}",
            on_values=submitted,
            question=question,
        )

    @answer.command(name="edit", description=TEXT["cmd_answer_edit"])
    @app_commands.describe(question=TEXT["opt_question"], answer=TEXT["opt_answer_which"])
    @changes
    async def answer_edit(
        self,
        interaction: Interaction,
        question: QuestionOption,
        answer: AnswerOption | None = None,
    ) -> None:
        """Open the edit form, pre-filled; first ask which answer if there are several."""
        if answer is None and len(question.answers) > 1:

            async def picked(inner: Interaction, answer_id: str) -> None:
                current = self.curator.knowledge.get(question.id)
                if current is None:
                    await respond(inner, TEXT["gone"])
                    return
                await inner.response.send_modal(self.edit_modal(current, answer_id))

            view = PickAnswerView(question, picked, owner_id=interaction.user.id)
            text = TEXT["mod_pick_answer"].format(count=len(question.answers))
            await respond(interaction, text, view=view)
            return
        answer_id = answer.id if answer else (question.answers[0].id if question.answers else None)
        await interaction.response.send_modal(self.edit_modal(question, answer_id))

    def edit_modal(self, question: Question, answer_id: str | None) -> QuestionModal:
        """The edit form of ``question`` and (if given) its answer ``answer_id``."""
        answer = next((a for a in question.answers if a.id == answer_id), None)

        async def submitted(interaction: Interaction, values: dict[str, Any]) -> None:
            check_changes_here(interaction)
            phrasings = values["phrasings"]
            change = await self.curator.edit_question(
                moderator_of(interaction),
                question.id,
                text=values["question"] or "",
                alternate_phrasings=None if phrasings is None else split_lines(phrasings),
                tags=split_tags(values["tags"]),
                answer_id=answer.id if answer else None,
                answer_text=values["answer"],
                canonical=bool(values["canonical"]),
                expected=question,
            )
            await self.done(interaction, change)

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

    @alias.command(name="add", description=TEXT["cmd_alias_add"])
    @app_commands.describe(question=TEXT["opt_question"], phrasing=TEXT["opt_phrasing_new"])
    @changes
    async def alias_add(
        self, interaction: Interaction, question: QuestionOption, phrasing: str
    ) -> None:
        """Add an alternate phrasing."""
        moderator = moderator_of(interaction)
        await self.done(interaction, await self.curator.add_alias(moderator, question.id, phrasing))

    @alias.command(name="remove", description=TEXT["cmd_alias_remove"])
    @app_commands.describe(question=TEXT["opt_question"], phrasing=TEXT["opt_phrasing_old"])
    @changes
    async def alias_remove(
        self,
        interaction: Interaction,
        question: QuestionOption,
        phrasing: app_commands.Transform[str, PhrasingArg],
    ) -> None:
        """Remove an alternate phrasing (chosen from the list, or typed)."""
        moderator = moderator_of(interaction)
        change = await self.curator.remove_alias(moderator, question.id, phrasing)
        await self.done(interaction, change)

    @tag.command(name="add", description=TEXT["cmd_tag_add"])
    @app_commands.describe(question=TEXT["opt_question"], tag=TEXT["opt_tag_new"])
    @changes
    async def tag_add(self, interaction: Interaction, question: QuestionOption, tag: str) -> None:
        """Add a tag."""
        moderator = moderator_of(interaction)
        await self.done(interaction, await self.curator.add_tag(moderator, question.id, tag))

    @tag.command(name="remove", description=TEXT["cmd_tag_remove"])
    @app_commands.describe(question=TEXT["opt_question"], tag=TEXT["opt_tag_old"])
    @changes
    async def tag_remove(
        self,
        interaction: Interaction,
        question: QuestionOption,
        tag: app_commands.Transform[str, TagArg],
    ) -> None:
        """Remove a tag."""
        moderator = moderator_of(interaction)
        await self.done(interaction, await self.curator.remove_tag(moderator, question.id, tag))

    @related.command(name="add", description=TEXT["cmd_related_add"])
    @app_commands.describe(question=TEXT["opt_question"], other=TEXT["opt_related_other"])
    @changes
    async def related_add(
        self, interaction: Interaction, question: QuestionOption, other: QuestionOption
    ) -> None:
        """List ``other`` as related to ``question`` (shown as a "Related" button)."""
        moderator = moderator_of(interaction)
        change = await self.curator.add_related(moderator, question.id, other.id)
        await self.done(interaction, change)

    @related.command(name="remove", description=TEXT["cmd_related_remove"])
    @app_commands.describe(question=TEXT["opt_question"], other=TEXT["opt_related_other"])
    @changes
    async def related_remove(
        self,
        interaction: Interaction,
        question: QuestionOption,
        other: app_commands.Transform[str, RelatedArg],
    ) -> None:
        """Stop listing ``other`` as related to ``question``."""
        moderator = moderator_of(interaction)
        change = await self.curator.remove_related(moderator, question.id, other)
        await self.done(interaction, change)

    @answer.command(name="canonical", description=TEXT["cmd_answer_canonical"])
    @app_commands.describe(
        question=TEXT["opt_question"], answer=TEXT["opt_answer"], canonical=TEXT["opt_canonical"]
    )
    @changes
    async def answer_canonical(
        self,
        interaction: Interaction,
        question: QuestionOption,
        answer: AnswerOption,
        canonical: bool,
    ) -> None:
        """Set or unset the canonical flag of one answer."""
        moderator = moderator_of(interaction)
        change = await self.curator.set_canonical(moderator, question.id, answer.id, canonical)
        await self.done(interaction, change)

    @answer.command(name="remove", description=TEXT["cmd_answer_remove"])
    @app_commands.describe(question=TEXT["opt_question"], answer=TEXT["opt_answer_only"])
    @changes
    async def answer_remove(
        self,
        interaction: Interaction,
        question: QuestionOption,
        answer: AnswerOption | None = None,
    ) -> None:
        """Ask for confirmation with a button; remove on "Remove"."""

        async def confirmed(inner: Interaction) -> None:
            check_changes_here(inner)
            try:
                change = await self.curator.remove(
                    moderator_of(inner), question.id, answer.id if answer else None
                )
            except Refused as refused:
                await inner.response.edit_message(content=refusal(refused), view=None)
                return
            await inner.response.edit_message(content=change_text(change), view=None)

        if answer is None:
            prompt = TEXT["mod_confirm_question"].format(
                id=question.id, text=shorten(question.text, 200)
            )
        else:
            prompt = TEXT["mod_confirm_answer"].format(answer=answer.id, id=question.id)
        view = ConfirmView(confirmed, owner_id=interaction.user.id)
        await respond(interaction, prompt, view=view)

    @answer.command(name="show", description=TEXT["cmd_answer_show"])
    @app_commands.describe(question=TEXT["opt_question"])
    async def answer_show(self, interaction: Interaction, question: QuestionOption) -> None:
        """Show the stored question."""
        await respond(interaction, embed=question_embed(question))

    @answer.command(name="history", description=TEXT["cmd_answer_history"])
    @app_commands.describe(question=TEXT["opt_question_or_removed"])
    async def answer_history(self, interaction: Interaction, question: HistoryOption) -> None:
        """List the versions of a question."""
        await respond(interaction, history_text(question, await self.curator.history(question)))

    @answer.command(name="revert", description=TEXT["cmd_answer_revert"])
    @app_commands.describe(question=TEXT["opt_question_or_removed"], version=TEXT["opt_version"])
    @changes
    async def answer_revert(
        self,
        interaction: Interaction,
        question: HistoryOption,
        version: app_commands.Range[int, 0, 1_000_000],
    ) -> None:
        """Make an earlier version current again."""
        moderator = moderator_of(interaction)
        await self.done(interaction, await self.curator.revert(moderator, question, version))

    # -- "Save as answer" ---------------------------------------------------------------------

    async def save_as_answer(self, interaction: Interaction, message: discord.Message) -> None:
        """Open a form: which question the message answers (existing or new)."""
        text = message.content.strip()
        if not text:
            await respond(interaction, TEXT["mod_save_empty"])
            return
        author = message.author
        candidates = self.curator.question_choices(text[:2000], CHOICES)

        async def submitted(inner: Interaction, existing: str, new: str) -> None:
            check_changes_here(inner)
            if existing.strip() and new.strip():
                await respond(inner, TEXT["mod_save_both"])
                return
            change = await self.curator.save_as_answer(
                moderator_of(inner),
                text,
                author=author_mention(author.id),
                question=existing or None,
                new_question=new or None,
            )
            saved = TEXT["mod_saved"].format(author=author.mention, result=change_text(change))
            await self.done(inner, saved)

        await interaction.response.send_modal(
            SaveModal(
                candidates=candidates,
                on_values=submitted,
                custom_id=f"stampy:mod:save:{message.id}",
            )
        )

    # -- /unanswered ------------------------------------------------------------------------

    @unanswered.command(name="list", description=TEXT["cmd_unanswered_list"])
    @changes
    async def unanswered_list(self, interaction: Interaction) -> None:
        """The first page of the queue."""
        content, view = await queue_page(self.curator, "u", 0)
        await respond(interaction, content, view=view)

    @unanswered.command(name="proposals", description=TEXT["cmd_unanswered_proposals"])
    @changes
    async def unanswered_proposals(self, interaction: Interaction) -> None:
        """The first page of proposed phrasings."""
        content, view = await queue_page(self.curator, "p", 0)
        await respond(interaction, content, view=view)

    @unanswered.command(
        name="canonical", description=TEXT["cmd_unanswered_canonical"], extras={"writers": True}
    )
    @app_commands.describe(tag=TEXT["opt_canon_tag"])
    async def unanswered_canonical(
        self, interaction: Interaction, tag: app_commands.Transform[str, AnyTagArg] | None = None
    ) -> None:
        """Known questions nobody has answered, most asked first, each with an answer button
        (writers and moderators; anywhere, the buttons check the home guild)."""
        content, view = await canonical_page(self.bot.service, tag, 0)
        await respond(interaction, content, view=view)

    @unanswered.command(name="reports", description=TEXT["cmd_unanswered_reports"])
    async def unanswered_reports(self, interaction: Interaction) -> None:
        """The first page of members' reports."""
        content, view = await queue_page(self.curator, "r", 0)
        await respond(interaction, content, view=view)

    @unanswered.command(name="promotions", description=TEXT["cmd_unanswered_promotions"])
    async def unanswered_promotions(self, interaction: Interaction) -> None:
        """The first page of answers stamps propose as canonical, each with a confirm button."""
        content, view = await queue_page(self.curator, "m", 0)
        await respond(interaction, content, view=view)

    @unanswered.command(name="answer", description=TEXT["cmd_unanswered_answer"])
    @app_commands.describe(item=TEXT["opt_item"])
    @changes
    async def unanswered_answer(self, interaction: Interaction, item: UnansweredOption) -> None:
        """Open the add form pre-filled with the question."""
        wording = item.text if len(item.text) <= 256 else ""
        await interaction.response.send_modal(
            self.add_modal(question=wording, unanswered_id=item.id)
        )

    @unanswered.command(name="merge", description=TEXT["cmd_unanswered_merge"])
    @app_commands.describe(item=TEXT["opt_item"], question=TEXT["opt_merge_into"])
    @changes
    async def unanswered_merge(
        self, interaction: Interaction, item: UnansweredOption, question: QuestionOption
    ) -> None:
        """Add the unanswered wording as an alternate phrasing of ``question``."""
        moderator = moderator_of(interaction)
        change = await self.curator.merge_unanswered(moderator, item.id, question.id)
        await self.done(interaction, change)

    @unanswered.command(name="dismiss", description=TEXT["cmd_unanswered_dismiss"])
    @app_commands.describe(item=TEXT["opt_item"])
    @changes
    async def unanswered_dismiss(self, interaction: Interaction, item: UnansweredOption) -> None:
        """Take it off the queue."""
        done = await self.curator.dismiss_unanswered(moderator_of(interaction), item.id)
        text = TEXT["mod_dismissed"].format(id=done.id, text=shorten(done.text, 200))
        await self.done(interaction, text)

    @unanswered.command(name="approve", description=TEXT["cmd_unanswered_approve"])
    @app_commands.describe(proposal=TEXT["opt_proposal"])
    @changes
    async def unanswered_approve(self, interaction: Interaction, proposal: ProposalOption) -> None:
        """Add the proposed phrasing to its question."""
        moderator = moderator_of(interaction)
        await self.done(interaction, await self.curator.approve_proposal(moderator, proposal.id))

    @unanswered.command(name="reject", description=TEXT["cmd_unanswered_reject"])
    @app_commands.describe(proposal=TEXT["opt_proposal"])
    @changes
    async def unanswered_reject(self, interaction: Interaction, proposal: ProposalOption) -> None:
        """Mark the proposal rejected."""
        done = await self.curator.reject_proposal(moderator_of(interaction), proposal.id)
        text = TEXT["mod_rejected"].format(id=done.id, text=shorten(done.text, 200))
        await self.done(interaction, text)

    # -- /stampy ------------------------------------------------------------------------------

    @stampy.command(name="reload", description=TEXT["cmd_stampy_reload"])
    @changes
    async def stampy_reload(self, interaction: Interaction) -> None:
        """Reload the YAML files: report what changed, or which file:line is broken."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        report = await self.curator.reload()
        if report.ok:
            log.info("knowledge base reloaded by %s: %s", interaction.user.id, report.diff)
        await respond(interaction, reload_text(report))


__all__ = ["Moderation", "moderator_of", "refusal"]
