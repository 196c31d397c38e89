"""What browsing looks like on Discord: the tag page, the tag list and the help embed.

A tag page is one embed (the tag's description, or a note that it has none, then its
questions in the three sections of Stampy's Wiki: canonically answered, non-canonical
answers only, unanswered canonical questions) with a button per question, which shows its
answer to the clicker alone, and Previous/Next buttons when the tag has more questions than
one page holds. Every button carries what it needs in its custom id (the question id; the
tag and the page's offset), so pages keep working after a restart. Everything stays within
Discord's limits whatever a tag's description holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import discord

from bot.browse import TagPage
from bot.discord.bot import StampyBot
from bot.discord.errors import edit_in_place, report, respond
from bot.discord.render import (
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_VALUE_LIMIT,
    LABEL_LIMIT,
    TITLE_LIMIT,
    embed_units,
    page_button,
    shorten,
    soft_breaks,
    stamps_text,
    truncate,
    units,
)
from bot.discord.strings import TEXT
from bot.discord.views import QuestionButton
from bot.knowledge.model import Question, Tag

__all__ = [
    "BROWSING_ITEMS",
    "PAGE_SIZE",
    "TagPageButton",
    "help_embed",
    "tag_page_message",
    "tags_embed",
]

log = logging.getLogger(__name__)

#: Questions on one page of a tag (two rows of five buttons; the page buttons take a third).
PAGE_SIZE = 10
#: The longest line of a section, so that ten of them fit a field.
ROW_LIMIT = 100
#: Tags listed by ``/tags`` at most (the rest are counted).
TAGS_LISTED = 100
_TAG = r"(?P<tag>[a-z0-9][a-z0-9-]{0,31})"

#: The three sections, in the wiki's order: (key, the name shown).
SECTIONS = (
    ("canonical", TEXT["tag_canonical"]),
    ("non_canonical", TEXT["tag_non_canonical"]),
    ("unanswered", TEXT["tag_unanswered"]),
)


def _entries(page: TagPage) -> list[tuple[str, Question]]:
    """Every question of the page with its section's key, section by section."""
    return [(key, question) for key, _ in SECTIONS for question in getattr(page, key)]


def tag_page_message(
    page: TagPage,
    offset: int,
    *,
    stamps: Callable[[Question], int],
    main_question: Question | None = None,
) -> tuple[discord.Embed, discord.ui.View | None]:
    """The embed and buttons of the page of ``page``'s questions starting at ``offset``
    (clamped to the last page). ``stamps`` gives the stamp count shown beside an answered
    question; ``main_question`` is the tag's main question, if members may see it."""
    entries = _entries(page)
    total = len(entries)
    last = max(0, (total - 1) // PAGE_SIZE * PAGE_SIZE)
    offset = max(0, min(offset, last))
    shown = entries[offset : offset + PAGE_SIZE]
    tag = page.tag
    embed = discord.Embed(
        title=shorten(TEXT["tag_title"].format(name=tag.name), TITLE_LIMIT),
        colour=discord.Colour.gold() if tag.description else discord.Colour.light_grey(),
    )
    for key, name in SECTIONS:
        rows = []
        for number, (section, question) in enumerate(shown, offset + 1):
            if section != key:
                continue
            text = shorten(question.text, ROW_LIMIT)
            if key == "unanswered":
                row = TEXT["tag_row"].format(number=number, text=text)
            else:
                count = stamps_text(stamps(question))
                row = TEXT["tag_row_stamps"].format(number=number, text=text, stamps=count)
            rows.append(shorten(row, ROW_LIMIT + 20))
        if not rows:
            continue
        if key == "non_canonical":
            rows.insert(0, f"*{TEXT['tag_non_canonical_hint']}*")
        embed.add_field(
            name=name, value=truncate("\n".join(rows), FIELD_VALUE_LIMIT, note=""), inline=False
        )
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    embed.set_footer(
        text=TEXT["tag_footer"].format(page=offset // PAGE_SIZE + 1, pages=pages, total=total)
    )
    embed.description = _description(tag, main_question, embed, empty=not entries)
    view = discord.ui.View(timeout=None)
    for number, (_, question) in enumerate(shown, offset + 1):
        label = shorten(TEXT["tag_row"].format(number=number, text=question.text), LABEL_LIMIT)
        view.add_item(QuestionButton(question.id, label=label or "…"))
    if total > PAGE_SIZE:
        previous = max(0, offset - PAGE_SIZE)
        following = offset + PAGE_SIZE
        view.add_item(TagPageButton(tag.name, previous, forward=False, disabled=offset == 0))
        view.add_item(TagPageButton(tag.name, following, forward=True, disabled=following >= total))
    return embed, view if view.children else None


def _description(
    tag: Tag, main_question: Question | None, embed: discord.Embed, *, empty: bool
) -> str:
    """The tag's description (or the note that it has none), its link and main question,
    cut to what is left of the embed's budget once the sections are in."""
    parts = [soft_breaks(tag.description.strip()) if tag.description else TEXT["tag_missing"]]
    extra = []
    if main_question is not None:
        extra.append(TEXT["tag_main"].format(question=shorten(main_question.text, 200)))
    if tag.link:
        extra.append(TEXT["tag_link"].format(link=shorten(tag.link, 600)))
    if empty:
        extra.append(TEXT["tag_empty"])
    tail = "\n\n" + "\n".join(extra) if extra else ""
    room = min(DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - embed_units(embed))
    # The links and notes come whole; the description gives way.
    head = truncate(parts[0], max(1, room - units(tail)), note="")
    return truncate(head + tail, room, note="")


class TagPageButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"stampy:tag:(?P<offset>\d{{1,7}}):(?P<dir>[pn]):{_TAG}",
):
    """ "Previous" / "Next" under a tag page; the custom id carries the tag and the offset of
    the page to show, so the buttons work after a restart."""

    def __init__(self, tag: str, offset: int, *, forward: bool, disabled: bool = False) -> None:
        self.tag, self.offset = tag, offset
        direction = "n" if forward else "p"
        custom_id = f"stampy:tag:{offset}:{direction}:{tag}"
        super().__init__(
            page_button(
                custom_id, forward=forward, disabled=disabled, style=discord.ButtonStyle.primary
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[StampyBot], item: discord.ui.Item[Any], match: Any, /
    ) -> TagPageButton:
        """Rebuild the button from a clicked custom id."""
        return cls(match["tag"], int(match["offset"]), forward=match["dir"] == "n")

    async def callback(self, interaction: discord.Interaction[StampyBot]) -> None:
        """Show that page in place (a tag gone or made internal meanwhile: say so)."""
        try:
            service = interaction.client.service
            page = service.tag_page(self.tag)
            if page is None:
                await respond(interaction, TEXT["tag_unknown"].format(name=f"`{self.tag}`"))
                return
            embed, view = render_tag_page(interaction.client, page, self.offset)
            await edit_in_place(interaction, embed=embed, view=view)
        except Exception as error:
            await report(interaction, error, f"tag page button {self.tag}:{self.offset}")


def render_tag_page(
    bot: StampyBot, page: TagPage, offset: int
) -> tuple[discord.Embed, discord.ui.View | None]:
    """:func:`tag_page_message` with the bot's service: stamp counts and the main question."""
    service = bot.service

    def stamps(question: Question) -> int:
        ranked = service.ranked_answers(question)
        return service.stamp_count(ranked[0]) if ranked else 0

    main_id = page.tag.main_question
    main = service.question(main_id) if main_id else None
    if main is not None and service.hidden(main):
        main = None
    return tag_page_message(page, offset, stamps=stamps, main_question=main)


#: The button classes to register at start-up.
BROWSING_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (TagPageButton,)


def tags_embed(tags: Sequence[tuple[Tag, int]]) -> discord.Embed:
    """``/tags``: every tag members may see, with its question count."""
    embed = discord.Embed(title=TEXT["tags_title"], colour=discord.Colour.blurple())
    if not tags:
        embed.description = TEXT["tags_empty"]
        return embed
    rows = [
        TEXT["tags_row"].format(name=tag.name, count=count, plural="" if count == 1 else "s")
        for tag, count in tags[:TAGS_LISTED]
    ]
    if len(tags) > TAGS_LISTED:
        rows.append(TEXT["tags_more"].format(count=len(tags) - TAGS_LISTED))
    embed.description = truncate("\n".join(rows), DESCRIPTION_LIMIT, note="")
    return embed


def help_embed() -> discord.Embed:
    """``/help``: how to ask, stamp and browse, and what moderators can do, in one embed."""
    embed = discord.Embed(title=TEXT["help_title"], colour=discord.Colour.gold())
    for name, value in (
        ("help_ask_name", "help_ask"),
        ("help_stamp_name", "help_stamp"),
        ("help_browse_name", "help_browse"),
        ("help_moderate_name", "help_moderate"),
    ):
        embed.add_field(name=TEXT[name], value=TEXT[value], inline=False)
    return embed
