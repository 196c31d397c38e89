"""Arguments of the moderators' commands, each with its autocomplete (in the shape of
discord.py's ``examples/app_commands/transformers.py``).

A transformer turns what was typed or picked into the thing itself (a live question, one of
its answers, an open queue item) or refuses with the exact reason
(:class:`~bot.curation.Refused`, which the one error path turns into a reply), so no handler
looks anything up itself. Autocomplete answers only moderators and never waits long for the
database: the queues are read through a short-lived cache.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

import discord
from discord import app_commands

from bot.curation import Curator, Refused
from bot.discord.bot import StampyBot
from bot.discord.checks import interaction_is_moderator, interaction_is_writer
from bot.discord.moderation.views import CHOICES, answer_label, choice_name
from bot.discord.render import shorten
from bot.discord.strings import TEXT
from bot.knowledge.model import Answer, Question
from bot.store import ProposedPhrasing, UnansweredQuestion

__all__ = [
    "AnswerArg",
    "AnyTagArg",
    "HistoryIdArg",
    "PhrasingArg",
    "ProposalArg",
    "QueueCache",
    "QuestionArg",
    "RelatedArg",
    "TagArg",
    "UnansweredArg",
]

log = logging.getLogger(__name__)

#: Autocomplete that needs the database gives up after this long and answers from its cache
#: (Discord waits 3 seconds for choices).
AUTOCOMPLETE_DB_SECONDS = 1.0
#: The unanswered and proposal lists used for autocomplete are refreshed at most this often.
QUEUE_CACHE_SECONDS = 5.0
#: Rows of the queues offered in autocomplete.
QUEUE_CHOICES = 200

Item = TypeVar("Item")
Interaction = discord.Interaction[StampyBot]


class QueueCache(Generic[Item]):
    """The open rows of a review queue last read, for autocomplete."""

    def __init__(self, load: Callable[[], Awaitable[list[Item]]]) -> None:
        self._load = load
        self.items: list[Item] = []
        self.read_at = float("-inf")
        self._refreshing: asyncio.Task[None] | None = None

    async def get(self) -> list[Item]:
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


class _HasQueues(Protocol):
    unanswered_cache: QueueCache[UnansweredQuestion]
    proposal_cache: QueueCache[ProposedPhrasing]


def _curator(interaction: Interaction) -> Curator:
    curator = interaction.client.curator
    if curator is None:  # the cog is installed only with a database
        raise Refused("this bot has no database, so nothing can be curated")
    return curator


def _queues(interaction: Interaction) -> _HasQueues:
    """The moderation cog the command belongs to (it holds the queue caches)."""
    command = interaction.command
    binding = getattr(command, "binding", None)
    if binding is None or not hasattr(binding, "unanswered_cache"):
        raise RuntimeError("a queue argument outside the moderation cog")
    return binding  # type: ignore[no-any-return]


def _chosen(interaction: Interaction) -> Question | None:
    """The question picked in the command's ``question`` option, if any."""
    value = getattr(interaction.namespace, "question", None)
    return _curator(interaction).find(value) if isinstance(value, str) and value else None


def _offered(interaction: Interaction) -> Question | None:
    """For autocomplete: the picked question, when a moderator is asking (else None)."""
    return _chosen(interaction) if interaction_is_moderator(interaction) else None


def _typed(current: str) -> str:
    return current.casefold().strip()


class QuestionArg(app_commands.Transformer):
    """A live question, by id or wording; autocomplete ranked by the matcher."""

    async def transform(self, interaction: Interaction, value: str) -> Question:
        return _curator(interaction).require(value)

    async def autocomplete(  # type: ignore[override]
        self, interaction: Interaction, value: str
    ) -> list[app_commands.Choice[str]]:
        if not interaction_is_moderator(interaction):
            return []
        if not value.strip():  # a merge: rank against the unanswered question picked
            item = getattr(interaction.namespace, "item", None)
            if isinstance(item, int) and interaction.command is not None:
                cached = {i.id: i.text for i in _queues(interaction).unanswered_cache.items}
                value = cached.get(item, value)
        return [
            app_commands.Choice(name=choice_name(q.text), value=q.id)
            for q in _curator(interaction).question_choices(value, CHOICES)
        ]


class HistoryIdArg(QuestionArg):
    """The id of a live question or of a removed one (history and revert work on both)."""

    async def transform(self, interaction: Interaction, value: str) -> str:  # type: ignore[override]
        question_id = _curator(interaction).known_id(value)
        if question_id is None:
            raise Refused(
                f"there is no question with the id or wording {shorten(value, 80)!r}; "
                "pick one from the list"
            )
        return question_id

    async def autocomplete(  # type: ignore[override]
        self, interaction: Interaction, value: str
    ) -> list[app_commands.Choice[str]]:
        choices = await super().autocomplete(interaction, value)
        typed = value.strip().lower()
        if not typed or len(choices) >= CHOICES or not interaction_is_moderator(interaction):
            return choices
        curator = _curator(interaction)
        live = {choice.value for choice in choices}
        removed = sorted(
            question_id
            for question_id in curator.history_ids()
            if question_id.startswith(typed)
            and question_id not in live
            and question_id not in curator.knowledge
        )
        for question_id in removed[: CHOICES - len(choices)]:
            name = choice_name(TEXT["mod_removed_choice"].format(id=question_id))
            choices.append(app_commands.Choice(name=name, value=question_id))
        return choices


class AnswerArg(app_commands.Transformer):
    """One answer of the question picked in the ``question`` option."""

    async def transform(self, interaction: Interaction, value: str) -> Answer:
        question = _chosen(interaction)
        if question is None:
            raise Refused("pick the question first")
        return Curator.answer_of(question, value)

    async def autocomplete(  # type: ignore[override]
        self, interaction: Interaction, value: str
    ) -> list[app_commands.Choice[str]]:
        question = _offered(interaction)
        if question is None:
            return []
        typed = _typed(value)
        return [
            app_commands.Choice(name=answer_label(answer), value=answer.id)
            for answer in question.answers
            if typed in answer.id or typed in answer.text.casefold()
        ][:CHOICES]


class PhrasingArg(app_commands.Transformer):
    """An alternate phrasing of the picked question (a long one travels as ``#index``)."""

    async def transform(self, interaction: Interaction, value: str) -> str:
        question = _chosen(interaction)
        if question is not None and value.startswith("#") and value[1:].isdigit():
            index = int(value[1:])
            if index < len(question.alternate_phrasings):
                return question.alternate_phrasings[index]
        return value

    async def autocomplete(  # type: ignore[override]
        self, interaction: Interaction, value: str
    ) -> list[app_commands.Choice[str]]:
        question = _offered(interaction)
        if question is None:
            return []
        typed = _typed(value)
        choices = []
        for index, phrasing in enumerate(question.alternate_phrasings):
            if typed in phrasing.casefold():
                shown = phrasing if len(phrasing) <= 100 else f"#{index}"
                choices.append(app_commands.Choice(name=choice_name(phrasing), value=shown))
        return choices[:CHOICES]


class TagArg(app_commands.Transformer):
    """A tag of the picked question."""

    async def transform(self, interaction: Interaction, value: str) -> str:
        return value

    async def autocomplete(  # type: ignore[override]
        self, interaction: Interaction, value: str
    ) -> list[app_commands.Choice[str]]:
        question = _offered(interaction)
        if question is None:
            return []
        typed = _typed(value)
        return [app_commands.Choice(name=t, value=t) for t in question.tags if typed in t][:CHOICES]


class RelatedArg(app_commands.Transformer):
    """A question the picked question lists as related (by id)."""

    async def transform(self, interaction: Interaction, value: str) -> str:
        found = _curator(interaction).find(value)
        return found.id if found is not None else value.strip()

    async def autocomplete(  # type: ignore[override]
        self, interaction: Interaction, value: str
    ) -> list[app_commands.Choice[str]]:
        question = _offered(interaction)
        if question is None:
            return []
        typed = _typed(value)
        knowledge = _curator(interaction).knowledge
        choices = []
        for other_id in question.related:
            other = knowledge.get(other_id)
            text = other.text if other is not None else other_id
            if typed in other_id or typed in text.casefold():
                choices.append(app_commands.Choice(name=choice_name(text), value=other_id))
        return choices[:CHOICES]


class AnyTagArg(app_commands.Transformer):
    """Any tag, internal ones included (for writers and moderators); autocomplete over all."""

    async def transform(self, interaction: Interaction, value: str) -> str:
        tag = interaction.client.service.tag(value.strip(), internal=True)
        if tag is None:
            raise Refused(f"there is no tag {shorten(value, 40)!r}")
        return tag.name

    async def autocomplete(  # type: ignore[override]
        self, interaction: Interaction, value: str
    ) -> list[app_commands.Choice[str]]:
        if not interaction_is_writer(interaction):
            return []
        typed = _typed(value)
        return [
            app_commands.Choice(name=choice_name(f"{tag.name} ({count})"), value=tag.name)
            for tag, count in interaction.client.service.tags(internal=True)
            if typed in tag.name
        ][:CHOICES]


class _QueueArg(app_commands.Transformer, Generic[Item]):
    """An open item of a review queue, by number; autocomplete from the queue's cache."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.integer

    def cache(self, interaction: Interaction) -> QueueCache[Any]:
        raise NotImplementedError

    def choice(self, item: Any) -> str:
        raise NotImplementedError

    async def autocomplete(  # type: ignore[override]
        self, interaction: Interaction, value: int | float | str
    ) -> list[app_commands.Choice[int]]:
        if not interaction_is_moderator(interaction):
            return []
        items = await self.cache(interaction).get()
        typed = _typed(str(value)).lstrip("#")
        return [
            app_commands.Choice(name=choice_name(self.choice(item)), value=item.id)
            for item in items
            if not typed or typed in item.text.casefold() or str(item.id).startswith(typed)
        ][:CHOICES]


class UnansweredArg(_QueueArg[UnansweredQuestion]):
    """An open unanswered question."""

    def cache(self, interaction: Interaction) -> QueueCache[UnansweredQuestion]:
        return _queues(interaction).unanswered_cache

    def choice(self, item: UnansweredQuestion) -> str:
        return TEXT["mod_item_choice"].format(id=item.id, count=item.count, text=item.text)

    async def transform(self, interaction: Interaction, value: int) -> UnansweredQuestion:  # type: ignore[override]
        return await _curator(interaction).unanswered.open_item(int(value))


class ProposalArg(_QueueArg[ProposedPhrasing]):
    """An open proposed phrasing."""

    def cache(self, interaction: Interaction) -> QueueCache[ProposedPhrasing]:
        return _queues(interaction).proposal_cache

    def choice(self, item: ProposedPhrasing) -> str:
        return TEXT["mod_proposal_choice"].format(
            id=item.id, text=item.text, question=item.question_id
        )

    async def transform(self, interaction: Interaction, value: int) -> ProposedPhrasing:  # type: ignore[override]
        return await _curator(interaction).proposals.open_item(int(value))
