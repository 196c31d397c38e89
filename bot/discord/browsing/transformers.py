"""Arguments of the members' commands, each with its autocomplete (in the shape of
:mod:`bot.discord.moderation.transformers`).

``/ask``'s autocomplete is ranked by the same matcher that answers questions; a choice
picked from it carries the question's id, so that the command answers that question
directly. Autocomplete never offers what members may not see (internal tags, questions
filed only under them).
"""

from __future__ import annotations

from dataclasses import dataclass

import discord
from discord import app_commands

from bot.discord.bot import StampyBot
from bot.discord.moderation.views import CHOICES, choice_name
from bot.discord.strings import TEXT
from bot.knowledge.model import Tag

__all__ = ["Asked", "AskedArg", "TagNameArg"]

Interaction = discord.Interaction[StampyBot]
#: The prefix of a choice's value that names a question by id (a question picked from the
#: list), so that what a member typed is never taken for an id.
ID_PREFIX = TEXT["ask_choice_id"].format(id="")


@dataclass(frozen=True)
class Asked:
    """What ``/ask`` was given: a question picked from the list (``question_id``), or text."""

    text: str
    question_id: str | None = None


class AskedArg(app_commands.Transformer):
    """The question asked: typed text, or a question picked from the matcher's ranking."""

    async def transform(self, interaction: Interaction, value: str) -> Asked:
        if value.startswith(ID_PREFIX):
            service = interaction.client.service
            question = service.question(value[len(ID_PREFIX) :])
            if question is not None and not service.hidden(question):
                return Asked(question.text, question.id)
        return Asked(value)

    async def autocomplete(  # type: ignore[override]
        self, interaction: Interaction, value: str
    ) -> list[app_commands.Choice[str]]:
        service = interaction.client.service
        return [
            app_commands.Choice(
                name=choice_name(question.text), value=TEXT["ask_choice_id"].format(id=question.id)
            )
            for question in service.question_choices(value, CHOICES)
        ]


def tag_choice(tag: Tag, count: int) -> str:
    """A tag as an autocomplete choice: its name and question count."""
    return choice_name(f"{tag.name} ({count})")


class TagNameArg(app_commands.Transformer):
    """A tag's name as typed or picked (the command says so when no such tag is shown to
    members); autocomplete over the tags members may see."""

    async def transform(self, interaction: Interaction, value: str) -> str:
        return value.strip()

    async def autocomplete(  # type: ignore[override]
        self, interaction: Interaction, value: str
    ) -> list[app_commands.Choice[str]]:
        typed = value.casefold().strip()
        tags = interaction.client.service.tags()
        starting = [(t, n) for t, n in tags if t.name.startswith(typed)]
        containing = [(t, n) for t, n in tags if typed in t.name and not t.name.startswith(typed)]
        return [
            app_commands.Choice(name=tag_choice(tag, count), value=tag.name)
            for tag, count in (starting + containing)[:CHOICES]
        ]
