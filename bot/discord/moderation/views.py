"""What moderation looks like on Discord: modals, buttons, pages and the texts of results.

The modals and views hold only what the form needs and hand the submitted values to the
:class:`~bot.discord.moderation.Moderation` cog, which does the work; their failures go
through :mod:`bot.discord.errors`. Strings come from :mod:`bot.discord.strings`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import discord

from bot.curation import Change, Curator, HistoryEntry, KnowledgeDiff, Moderator, ReloadReport
from bot.discord.bot import StampyBot
from bot.discord.checks import (
    check_changes_here,
    check_moderator,
    check_writer,
    check_writes_here,
    interaction_is_moderator,
)
from bot.discord.errors import edit_in_place, report, respond
from bot.discord.render import (
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_VALUE_LIMIT,
    TITLE_LIMIT,
    embed_units,
    page_button,
    shorten,
    stamps_text,
    truncate,
    units,
)
from bot.discord.strings import TEXT
from bot.knowledge.model import Answer, Question
from bot.knowledge.rules import MAX_ANSWER_LENGTH, MAX_PHRASING_LENGTH
from bot.service import Service
from bot.store import ProposedPhrasing, UnansweredQuestion
from bot.store.promotions import Promotion
from bot.store.reports import Report

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()

#: Discord's limits on modals and choices.
MODAL_TITLE_LIMIT = 45
LABEL_TEXT_LIMIT = 45
INPUT_LIMIT = 4000
CHOICE_LIMIT = 100
CHOICES = 25
SELECT_OPTIONS = 25
#: Items per page of ``/unanswered list`` and ``/unanswered proposals``.
PAGE_SIZE = 10
#: How long the confirm and pick views wait for a click (seconds).
VIEW_TIMEOUT = 300.0


def choice_name(text: str) -> str:
    """An autocomplete choice's name: one line of at most 100 characters."""
    return shorten(text, CHOICE_LIMIT) or "…"


def answer_label(answer: Answer) -> str:
    """How an answer is named in choices: a star if canonical, its id and its start."""
    star = "★ " if answer.canonical else ""
    return choice_name(f"{star}{answer.id}: {answer.text}")


# --------------------------------------------------------------------------------------------
# Modals


def _text_input(
    label: str,
    custom_id: str,
    *,
    paragraph: bool = False,
    default: str | None = None,
    required: bool = True,
    max_length: int = INPUT_LIMIT,
    placeholder: str | None = None,
) -> discord.ui.Label[Any]:
    field: discord.ui.TextInput[Any] = discord.ui.TextInput(
        style=discord.TextStyle.paragraph if paragraph else discord.TextStyle.short,
        custom_id=custom_id,
        default=default[:INPUT_LIMIT] if default else None,
        required=required,
        max_length=max_length,
        placeholder=placeholder,
    )
    return discord.ui.Label(text=label[:LABEL_TEXT_LIMIT], component=field)


def _value(label: discord.ui.Label[Any] | None) -> str | None:
    """The submitted text of a labelled input (None if the modal has no such input)."""
    if label is None:
        return None
    component = label.component
    if isinstance(component, discord.ui.TextInput):
        return component.value
    if isinstance(component, discord.ui.Checkbox):
        return "yes" if component.value is True else ""
    if isinstance(component, discord.ui.Select):
        return component.values[0] if component.values else ""
    return None


class QuestionModal(discord.ui.Modal):
    """The form of ``/answer add``, ``/answer edit`` and ``/unanswered answer``.

    ``question``/``phrasings``/``tags``/``answer`` are text inputs (``phrasings`` is left
    out when the current ones do not fit a text input), ``canonical`` a checkbox. On submit
    it calls ``on_submit_values`` with the values by field name.
    """

    def __init__(
        self,
        *,
        title: str,
        custom_id: str,
        on_values: Callable[
            [discord.Interaction[StampyBot], dict[str, str | None]], Awaitable[None]
        ],
        question: str = "",
        phrasings: Sequence[str] = (),
        tags: Sequence[str] = (),
        answer: str = "",
        canonical: bool = False,
        answer_label: str | None = None,
        answer_required: bool = False,
    ) -> None:
        super().__init__(title=title[:MODAL_TITLE_LIMIT], custom_id=custom_id, timeout=1800)
        self._on_values = on_values
        self.fields: dict[str, discord.ui.Label[Any]] = {}
        self.fields["question"] = _text_input(
            TEXT["mod_field_question"],
            "question",
            default=question,
            max_length=MAX_PHRASING_LENGTH,
        )
        listed = "\n".join(phrasings)
        if len(listed) <= INPUT_LIMIT:
            self.fields["phrasings"] = _text_input(
                TEXT["mod_field_phrasings"],
                "phrasings",
                paragraph=True,
                default=listed,
                required=False,
                placeholder=TEXT["mod_field_phrasings_hint"],
            )
        self.fields["tags"] = _text_input(
            TEXT["mod_field_tags"],
            "tags",
            default=", ".join(tags),
            required=False,
            placeholder=TEXT["mod_field_tags_hint"],
        )
        self.fields["answer"] = _text_input(
            answer_label or TEXT["mod_field_answer"],
            "answer",
            paragraph=True,
            default=answer,
            required=answer_required,
            max_length=MAX_ANSWER_LENGTH,
        )
        checkbox: discord.ui.Checkbox[Any] = discord.ui.Checkbox(
            custom_id="canonical", default=canonical
        )
        self.fields["canonical"] = discord.ui.Label(
            text=TEXT["mod_field_canonical"],
            description=TEXT["mod_field_canonical_hint"],
            component=checkbox,
        )
        for item in self.fields.values():
            self.add_item(item)

    def values(self) -> dict[str, str | None]:
        """The submitted values by field name (None for a field the form did not show)."""
        names = ("question", "phrasings", "tags", "answer", "canonical")
        return {name: _value(self.fields.get(name)) for name in names}

    async def on_submit(self, interaction: discord.Interaction[StampyBot]) -> None:
        """Hand the values over to the cog."""
        await self._on_values(interaction, self.values())

    async def on_error(self, interaction: discord.Interaction[StampyBot], error: Exception) -> None:
        """Log through the bot and apologise."""
        await report(interaction, error, "modal " + self.custom_id)


class SaveModal(discord.ui.Modal):
    """The form of "Save as answer": an existing question (a list ranked by the matcher on
    the message's text) or a new question's wording."""

    def __init__(
        self,
        *,
        candidates: Sequence[Question],
        on_values: Callable[[discord.Interaction[StampyBot], str, str], Awaitable[None]],
        custom_id: str,
    ) -> None:
        super().__init__(title=TEXT["mod_save_title"], custom_id=custom_id, timeout=1800)
        self._on_values = on_values
        self.existing: discord.ui.Label[Any] | None = None
        if candidates:
            select: discord.ui.Select[Any] = discord.ui.Select(
                custom_id="existing",
                placeholder=TEXT["mod_save_existing_hint"],
                min_values=0,
                max_values=1,
                required=False,
                options=[
                    discord.SelectOption(
                        label=choice_name(question.text),
                        value=question.id,
                        description=choice_name(question.id),
                    )
                    for question in candidates[:SELECT_OPTIONS]
                ],
            )
            self.existing = discord.ui.Label(text=TEXT["mod_save_existing"], component=select)
            self.add_item(self.existing)
        self.new = _text_input(
            TEXT["mod_save_new"],
            "new",
            required=not candidates,
            max_length=MAX_PHRASING_LENGTH,
            placeholder=TEXT["mod_save_new_hint"],
        )
        self.add_item(self.new)

    async def on_submit(self, interaction: discord.Interaction[StampyBot]) -> None:
        """Hand the choice over to the cog."""
        await self._on_values(interaction, _value(self.existing) or "", _value(self.new) or "")

    async def on_error(self, interaction: discord.Interaction[StampyBot], error: Exception) -> None:
        """Log through the bot and apologise."""
        await report(interaction, error, "modal " + self.custom_id)


# --------------------------------------------------------------------------------------------
# Views


class ConfirmView(discord.ui.View):
    """ "Remove" and "Cancel" buttons; ``on_confirm`` runs on "Remove" (checked again then)."""

    def __init__(
        self,
        on_confirm: Callable[[discord.Interaction[StampyBot]], Awaitable[None]],
        *,
        owner_id: int,
    ) -> None:
        super().__init__(timeout=VIEW_TIMEOUT)
        self._on_confirm = on_confirm
        self.owner_id = owner_id

    async def interaction_check(self, interaction: discord.Interaction[StampyBot]) -> bool:
        """Only the moderator who asked may confirm."""
        return interaction.user.id == self.owner_id

    @discord.ui.button(
        label=TEXT["mod_remove_button"], style=discord.ButtonStyle.danger, custom_id="confirm"
    )
    async def confirm(
        self, interaction: discord.Interaction[StampyBot], button: discord.ui.Button[Any]
    ) -> None:
        """Do it."""
        self.stop()
        await self._on_confirm(interaction)

    @discord.ui.button(
        label=TEXT["mod_cancel_button"], style=discord.ButtonStyle.secondary, custom_id="cancel"
    )
    async def cancel(
        self, interaction: discord.Interaction[StampyBot], button: discord.ui.Button[Any]
    ) -> None:
        """Leave everything as it is."""
        self.stop()
        await interaction.response.edit_message(
            content=TEXT["mod_cancelled"], view=None, allowed_mentions=NO_MENTIONS
        )

    async def on_error(
        self, interaction: discord.Interaction[StampyBot], error: Exception, item: Any
    ) -> None:
        """Log through the bot and apologise."""
        await report(interaction, error, "confirm button")


class PickAnswerView(discord.ui.View):
    """A list of a question's answers; picking one runs ``on_pick`` with its id."""

    def __init__(
        self,
        question: Question,
        on_pick: Callable[[discord.Interaction[StampyBot], str], Awaitable[None]],
        *,
        owner_id: int,
    ) -> None:
        super().__init__(timeout=VIEW_TIMEOUT)
        self._on_pick = on_pick
        self.owner_id = owner_id
        self.select: discord.ui.Select[Any] = discord.ui.Select(
            custom_id="pick-answer",
            placeholder=TEXT["mod_pick_answer_hint"],
            options=[
                discord.SelectOption(label=answer_label(answer), value=answer.id)
                for answer in question.answers[:SELECT_OPTIONS]
            ],
        )
        self.select.callback = self._picked  # type: ignore[method-assign]
        self.add_item(self.select)

    async def interaction_check(self, interaction: discord.Interaction[StampyBot]) -> bool:
        """Only the moderator who asked may pick."""
        return interaction.user.id == self.owner_id

    async def _picked(self, interaction: discord.Interaction[StampyBot]) -> None:
        self.stop()
        await self._on_pick(interaction, self.select.values[0])

    async def on_error(
        self, interaction: discord.Interaction[StampyBot], error: Exception, item: Any
    ) -> None:
        """Log through the bot and apologise."""
        await report(interaction, error, "answer picker")


class PageButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"stampy:queue:(?P<kind>[uprm]):(?P<offset>\d{1,7}):(?P<label>[pn])",
):
    """ "Previous" / "Next" under a page of ``/unanswered list`` (``u``), ``proposals``
    (``p``), ``reports`` (``r``) or ``promotions`` (``m``). The custom id carries the page,
    so the buttons work after a restart."""

    def __init__(self, kind: str, offset: int, *, forward: bool, disabled: bool = False) -> None:
        self.kind, self.offset = kind, offset
        label = "n" if forward else "p"
        custom_id = f"stampy:queue:{kind}:{offset}:{label}"
        super().__init__(page_button(custom_id, forward=forward, disabled=disabled))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[StampyBot], item: discord.ui.Item[Any], match: Any, /
    ) -> PageButton:
        """Rebuild the button from a clicked custom id."""
        return cls(match["kind"], int(match["offset"]), forward=match["label"] == "n")

    async def callback(self, interaction: discord.Interaction[StampyBot]) -> None:
        """Show that page, in place (checked again: only moderators of a home guild)."""
        try:
            check_changes_here(interaction)
            curator = interaction.client.curator
            if curator is None:
                return
            content, view = await queue_page(curator, self.kind, self.offset)
            await edit_in_place(interaction, content, view=view)
        except Exception as error:
            await report(interaction, error, f"page button {self.kind}:{self.offset}")


def page_view(
    kind: str, offset: int, total: int, view: discord.ui.View | None = None
) -> discord.ui.View | None:
    """Previous/Next buttons for the page at ``offset`` of ``total`` items (added to
    ``view`` if given; None: one page and no view)."""
    if total <= PAGE_SIZE:
        return view
    view = view or discord.ui.View(timeout=None)
    previous = max(0, offset - PAGE_SIZE)
    view.add_item(PageButton(kind, previous, forward=False, disabled=offset == 0))
    following = offset + PAGE_SIZE
    view.add_item(PageButton(kind, following, forward=True, disabled=following >= total))
    return view


class PromoteButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"stampy:promote:(?P<id>\d{1,12})"
):
    """One click makes an answer that stamps proposed canonical (a moderator, in a home
    guild: checked at the click)."""

    def __init__(self, promotion_id: int) -> None:
        self.promotion_id = promotion_id
        super().__init__(
            discord.ui.Button(
                label=TEXT["promo_button"].format(id=promotion_id),
                style=discord.ButtonStyle.success,
                custom_id=f"stampy:promote:{promotion_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[StampyBot], item: discord.ui.Item[Any], match: Any, /
    ) -> PromoteButton:
        """Rebuild the button from a clicked custom id."""
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction[StampyBot]) -> None:
        """Confirm the promotion; say what changed (or why not), to the moderator alone."""
        try:
            check_changes_here(interaction)
            curator = interaction.client.curator
            if curator is None:
                return
            user = interaction.user
            moderator = Moderator(name=user.display_name, id=user.id, guild_id=interaction.guild_id)
            change = await curator.confirm_promotion(moderator, self.promotion_id)
            await respond(interaction, change_text(change))
        except Exception as error:
            await report(interaction, error, f"promotion button #{self.promotion_id}")


class SettleButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"stampy:settle:(?P<what>[rdx]):(?P<id>\d{1,12})",
):
    """Closes a queue item in one click (a moderator, in a home guild: checked at the click):
    a report resolved (``r``) or dismissed (``d``), a promotion rejected (``x``)."""

    LABELS = {"r": "settle_resolve", "d": "settle_dismiss", "x": "settle_reject"}

    def __init__(self, what: str, item_id: int) -> None:
        self.what, self.item_id = what, item_id
        super().__init__(
            discord.ui.Button(
                label=TEXT[self.LABELS[what]].format(id=item_id),
                style=discord.ButtonStyle.secondary,
                custom_id=f"stampy:settle:{what}:{item_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[StampyBot], item: discord.ui.Item[Any], match: Any, /
    ) -> SettleButton:
        """Rebuild the button from a clicked custom id."""
        return cls(match["what"], int(match["id"]))

    async def callback(self, interaction: discord.Interaction[StampyBot]) -> None:
        """Close the item; say so (or why not), to the moderator alone."""
        try:
            check_changes_here(interaction)
            curator = interaction.client.curator
            if curator is None:
                return
            user = interaction.user
            moderator = Moderator(name=user.display_name, id=user.id, guild_id=interaction.guild_id)
            if self.what == "x":
                await curator.reject_promotion(moderator, self.item_id)
                text = TEXT["settled_promotion"].format(id=self.item_id)
            else:
                settle = curator.resolve_report if self.what == "r" else curator.dismiss_report
                done = await settle(moderator, self.item_id)
                text = TEXT["settled_report"].format(id=done.id, status=done.status)
            await respond(interaction, text)
        except Exception as error:
            await report(interaction, error, f"queue button {self.what}:{self.item_id}")


class WriteButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"stampy:write:(?P<qid>[a-z0-9][a-z0-9-]{0,63})",
):
    """ "Answer N" under ``/unanswered canonical``: opens the answer form for that question
    (a writer or moderator, in a home guild: checked at the click and on submit)."""

    def __init__(self, question_id: str, *, label: str = "…") -> None:
        self.question_id = question_id
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.primary,
                custom_id=f"stampy:write:{question_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[StampyBot], item: discord.ui.Item[Any], match: Any, /
    ) -> WriteButton:
        """Rebuild the button from a clicked custom id."""
        return cls(match["qid"], label=getattr(item, "label", None) or "…")

    async def callback(self, interaction: discord.Interaction[StampyBot]) -> None:
        """Open the form, pre-filled with the question."""
        try:
            check_writes_here(interaction)
            curator = interaction.client.curator
            question = curator.knowledge.get(self.question_id) if curator else None
            if question is None:
                await respond(interaction, TEXT["gone"])
                return
            await interaction.response.send_modal(
                WriteModal(question, canonical=interaction_is_moderator(interaction))
            )
        except Exception as error:
            await report(interaction, error, f"answer button {self.question_id}")


class WriteModal(discord.ui.Modal):
    """The form to answer a known question: the question (shown, pre-filled; the wording is
    not changed here), the answer and, for moderators, whether it is canonical."""

    def __init__(self, question: Question, *, canonical: bool) -> None:
        super().__init__(
            title=TEXT["canon_form_title"],
            custom_id=f"stampy:write-form:{question.id}",
            timeout=1800,
        )
        self.question = question
        self.fields: dict[str, discord.ui.Label[Any]] = {
            "question": _text_input(
                TEXT["canon_form_question"],
                "question",
                default=question.text,
                required=False,
                max_length=MAX_PHRASING_LENGTH,
            ),
            "answer": _text_input(
                TEXT["mod_field_answer"], "answer", paragraph=True, max_length=MAX_ANSWER_LENGTH
            ),
        }
        if canonical:
            checkbox: discord.ui.Checkbox[Any] = discord.ui.Checkbox(
                custom_id="canonical", default=True
            )
            self.fields["canonical"] = discord.ui.Label(
                text=TEXT["mod_field_canonical"],
                description=TEXT["mod_field_canonical_hint"],
                component=checkbox,
            )
        for item in self.fields.values():
            self.add_item(item)

    async def on_submit(self, interaction: discord.Interaction[StampyBot]) -> None:
        """Add the answer (checked again: a writer or moderator, in a home guild)."""
        check_writes_here(interaction)
        curator = interaction.client.curator
        if curator is None:
            return
        canonical = _value(self.fields.get("canonical")) == "yes"
        if canonical:
            check_moderator(interaction)
        user = interaction.user
        moderator = Moderator(name=user.display_name, id=user.id, guild_id=interaction.guild_id)
        change = await curator.add_answer(
            moderator, self.question.id, _value(self.fields["answer"]) or "", canonical=canonical
        )
        await respond(interaction, change_text(change))

    async def on_error(self, interaction: discord.Interaction[StampyBot], error: Exception) -> None:
        """A refusal (the reason) or a bug (logged, an apology)."""
        await report(interaction, error, "modal " + self.custom_id)


class CanonPageButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"stampy:canon:(?P<offset>\d{1,7}):(?P<dir>[pn]):(?P<tag>-|[a-z0-9][a-z0-9-]{0,31})",
):
    """ "Previous" / "Next" under ``/unanswered canonical`` (the tag, ``-`` for all, and the
    offset travel in the custom id)."""

    def __init__(
        self, tag: str | None, offset: int, *, forward: bool, disabled: bool = False
    ) -> None:
        self.tag, self.offset = tag, offset
        direction = "n" if forward else "p"
        custom_id = f"stampy:canon:{offset}:{direction}:{tag or '-'}"
        super().__init__(page_button(custom_id, forward=forward, disabled=disabled))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[StampyBot], item: discord.ui.Item[Any], match: Any, /
    ) -> CanonPageButton:
        """Rebuild the button from a clicked custom id."""
        tag = None if match["tag"] == "-" else match["tag"]
        return cls(tag, int(match["offset"]), forward=match["dir"] == "n")

    async def callback(self, interaction: discord.Interaction[StampyBot]) -> None:
        """Show that page in place (writers and moderators)."""
        try:
            check_writer(interaction)
            content, view = await canonical_page(interaction.client.service, self.tag, self.offset)
            await edit_in_place(interaction, content, view=view)
        except Exception as error:
            await report(interaction, error, f"canonical page button {self.offset}")


#: The button classes to register at start-up.
MODERATION_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    PageButton,
    PromoteButton,
    SettleButton,
    WriteButton,
    CanonPageButton,
)


async def canonical_page(
    service: Service, tag: str | None, offset: int
) -> tuple[str, discord.ui.View | None]:
    """One page of ``/unanswered canonical``: known questions nobody has answered, most asked
    first, each with an "Answer" button."""
    found = await service.unanswered_canonical(tag, limit=PAGE_SIZE + 1, offset=offset)
    more = len(found) > PAGE_SIZE
    items = found[:PAGE_SIZE]
    where = TEXT["canon_tag"].format(tag=tag) if tag else ""
    if not items:
        text = TEXT["canon_empty"].format(tag=where) if offset == 0 else TEXT["mod_queue_past_end"]
        return text, None
    lines = [TEXT["canon_title"].format(tag=where, first=offset + 1, last=offset + len(items))]
    view = discord.ui.View(timeout=None)
    for number, (question, count) in enumerate(items, offset + 1):
        row = TEXT["canon_row"].format(number=number, count=count, text=question.text)
        lines.append(shorten(row, 190))
        view.add_item(
            WriteButton(question.id, label=TEXT["canon_answer_button"].format(number=number))
        )
    lines.append(TEXT["canon_hint"])
    if offset > 0 or more:
        view.add_item(
            CanonPageButton(tag, max(0, offset - PAGE_SIZE), forward=False, disabled=offset == 0)
        )
        view.add_item(CanonPageButton(tag, offset + PAGE_SIZE, forward=True, disabled=not more))
    return truncate("\n".join(lines), CONTENT_LIMIT, note=""), view


async def queue_page(
    curator: Curator, kind: str, offset: int
) -> tuple[str, discord.ui.View | None]:
    """The text and buttons of one page of the queue (``u``) or the proposals (``p``)."""
    if kind == "u":
        total = await curator.unanswered.count()
        items = await curator.unanswered.list(limit=PAGE_SIZE, offset=offset)
        content = unanswered_text(items, offset, total)
    elif kind == "r":
        total = await curator.reports.count()
        reports = await curator.reports.list(limit=PAGE_SIZE, offset=offset)
        content = reports_text(curator, reports, offset, total)
        buttons = discord.ui.View(timeout=None)
        for item in reports:
            buttons.add_item(SettleButton("r", item.id))
            buttons.add_item(SettleButton("d", item.id))
        return content, page_view(kind, offset, total, buttons if reports else None)
    elif kind == "m":
        total = await curator.promotions.count()
        promotions = await curator.promotions.list(limit=PAGE_SIZE, offset=offset)
        content = promotions_text(curator, promotions, offset, total)
        buttons = discord.ui.View(timeout=None)
        for promotion in promotions:
            buttons.add_item(PromoteButton(promotion.id))
            buttons.add_item(SettleButton("x", promotion.id))
        return content, page_view(kind, offset, total, buttons if promotions else None)
    else:
        total = await curator.proposals.count()
        proposals = await curator.proposals.list(limit=PAGE_SIZE, offset=offset)
        texts = {
            p.question_id: q.text
            for p in proposals
            if (q := curator.knowledge.get(p.question_id)) is not None
        }
        content = proposals_text(proposals, offset, total, texts)
    return content, page_view(kind, offset, total)


# --------------------------------------------------------------------------------------------
# Texts and embeds


def question_embed(question: Question, *, title: str | None = None) -> discord.Embed:
    """Everything stored about a question, ids included, within Discord's limits."""
    embed = discord.Embed(
        title=shorten(title or question.text, TITLE_LIMIT), colour=discord.Colour.blurple()
    )
    lines = [TEXT["mod_show_id"].format(id=question.id)]
    if title:
        lines.append(TEXT["mod_show_text"].format(text=question.text))
    if question.alternate_phrasings:
        lines.append(TEXT["mod_show_phrasings"])
        lines += [f"• {phrasing}" for phrasing in question.alternate_phrasings]
    lines.append(
        TEXT["mod_show_tags"].format(tags=", ".join(question.tags) or TEXT["mod_show_none"])
    )
    if not question.answers:
        lines.append(TEXT["mod_show_no_answers"])
    embed.description = truncate("\n".join(lines), DESCRIPTION_LIMIT // 2, note="")
    answers = question.answers[:10]
    budget = max(100, (EMBED_TOTAL_LIMIT - embed_units(embed) - 200) // max(1, len(answers)))
    for answer in answers:
        name = TEXT["mod_show_answer"].format(
            id=answer.id,
            canonical=TEXT["mod_show_canonical"] if answer.canonical else "",
            author=f" · {answer.author}" if answer.author else "",
        )
        value = answer.text
        if answer.source:
            value = f"{value}\n{answer.source}"
        name = shorten(name, 256)
        # Counted in UTF-16 units, as Discord counts the 6,000 (an emoji author counts twice).
        limit = min(FIELD_VALUE_LIMIT, max(20, budget - units(name)))
        embed.add_field(name=name, value=truncate(value, limit, note=""), inline=False)
    if len(question.answers) > len(answers):
        embed.set_footer(text=TEXT["mod_show_more"].format(count=len(question.answers) - 10))
    return embed


def change_text(change: Change) -> str:
    """What a change did, for the moderator who made it."""
    if change.after is None:
        text = TEXT["mod_done_removed"].format(id=change.question_id, version=change.version)
    else:
        text = TEXT["mod_done"].format(
            action=change.action, id=change.question_id, version=change.version
        )
    return truncate(text, CONTENT_LIMIT, note="")


def history_text(question_id: str, entries: Sequence[HistoryEntry]) -> str:
    """The versions of a question, newest first, one line each."""
    lines = [TEXT["mod_history_title"].format(id=question_id)]
    for entry in entries:
        when = discord.utils.format_dt(entry.at, "f") if entry.at else ""
        who = entry.member_name or ""
        if entry.member_id is not None:
            who = f"{who} (<@{entry.member_id}>)"
        current = TEXT["mod_history_current"] if entry.current else ""
        if entry.version == 0:
            row = TEXT["mod_history_shipped"].format(action=entry.action, current=current)
        else:
            row = TEXT["mod_history_row"].format(
                version=entry.version, when=when, who=who, action=entry.action, current=current
            )
        lines.append(shorten(row, 300))
    lines.append(TEXT["mod_history_hint"])
    return truncate("\n".join(lines), CONTENT_LIMIT, note="")


def unanswered_text(items: Sequence[UnansweredQuestion], offset: int, total: int) -> str:
    """One page of the unanswered queue."""
    if not items:
        return TEXT["mod_queue_empty"] if total == 0 else TEXT["mod_queue_past_end"]
    lines = [
        TEXT["mod_queue_title"].format(first=offset + 1, last=offset + len(items), total=total)
    ]
    for item in items:
        lines.append(
            shorten(TEXT["mod_queue_row"].format(id=item.id, count=item.count, text=item.text), 190)
        )
    lines.append(TEXT["mod_queue_hint"])
    return truncate("\n".join(lines), CONTENT_LIMIT, note="")


def proposals_text(
    items: Sequence[ProposedPhrasing], offset: int, total: int, questions: dict[str, str]
) -> str:
    """One page of the proposed phrasings, with the question each one is for."""
    if not items:
        return TEXT["mod_proposals_empty"] if total == 0 else TEXT["mod_queue_past_end"]
    lines = [
        TEXT["mod_proposals_title"].format(first=offset + 1, last=offset + len(items), total=total)
    ]
    for item in items:
        row = TEXT["mod_proposals_row"].format(
            id=item.id,
            count=item.count,
            text=shorten(item.text, 80),
            question=shorten(questions.get(item.question_id, item.question_id), 80),
        )
        lines.append(shorten(row, 190))
    lines.append(TEXT["mod_proposals_hint"])
    return truncate("\n".join(lines), CONTENT_LIMIT, note="")


def _question_text(curator: Curator, question_id: str) -> str:
    question = curator.knowledge.get(question_id)
    return shorten(question.text if question else question_id, 70)


def reports_text(curator: Curator, items: Sequence[Report], offset: int, total: int) -> str:
    """One page of members' reports: the question, the answer, who (a mention that pings
    nobody: every reply is sent with mentions off) and what they said."""
    if not items:
        return TEXT["report_queue_empty"] if total == 0 else TEXT["mod_queue_past_end"]
    lines = [
        TEXT["report_queue_title"].format(first=offset + 1, last=offset + len(items), total=total)
    ]
    for item in items:
        who = f"<@{item.reporter_id}>" if item.reporter_id else shorten(item.reporter_name, 40)
        row = TEXT["report_queue_row"].format(
            id=item.id,
            question=_question_text(curator, item.question_id),
            answer=item.answer_id or "-",
            who=who,
            text=shorten(item.text, 120),
        )
        lines.append(shorten(row, 300))
    lines.append(TEXT["report_queue_hint"])
    return truncate("\n".join(lines), CONTENT_LIMIT, note="")


def promotion_line(curator: Curator, item: Promotion) -> str:
    """One promotion: the question, the answer, its stamps and their share."""
    return TEXT["promo_row"].format(
        id=item.id,
        question=_question_text(curator, item.question_id),
        answer=item.answer_id,
        stamps=stamps_text(item.stamps),
        share=item.share,
    )


def promotions_text(curator: Curator, items: Sequence[Promotion], offset: int, total: int) -> str:
    """One page of the answers stamps propose as canonical."""
    if not items:
        return TEXT["promo_empty"] if total == 0 else TEXT["mod_queue_past_end"]
    lines = [TEXT["promo_title"].format(first=offset + 1, last=offset + len(items), total=total)]
    lines += [shorten(promotion_line(curator, item), 300) for item in items]
    lines.append(TEXT["promo_hint"])
    return truncate("\n".join(lines), CONTENT_LIMIT, note="")


def _ids(ids: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(f"`{i}`" for i in ids[:limit])
    if len(ids) > limit:
        shown += f" … (+{len(ids) - limit})"
    return shown


def diff_text(diff: KnowledgeDiff) -> str:
    """What a reload changed, by question id."""
    if not diff:
        return TEXT["mod_reload_same"]
    lines = [TEXT["mod_reload_changed"].format(summary=str(diff))]
    for label, ids in (("added", diff.added), ("changed", diff.changed), ("removed", diff.removed)):
        if ids:
            lines.append(TEXT["mod_reload_ids"].format(label=label, ids=_ids(ids)))
    return "\n".join(lines)


def reload_text(report: ReloadReport) -> str:
    """The result of ``/stampy reload``: what changed, or which file:line is broken."""
    if not report.ok:
        lines = [TEXT["mod_reload_failed"].format(count=len(report.errors))]
        lines += [f"`{shorten(str(error), 300)}`" for error in report.errors[:10]]
        if len(report.errors) > 10:
            lines.append(TEXT["mod_reload_more"].format(count=len(report.errors) - 10))
        return truncate("\n".join(lines), CONTENT_LIMIT, note="")
    lines = [diff_text(report.diff)]
    if report.skipped:
        lines.append(TEXT["mod_reload_skipped"].format(count=len(report.skipped)))
        lines += [f"• {shorten(message, 200)}" for message in report.skipped[:5]]
    return truncate("\n".join(lines), CONTENT_LIMIT, note="")
