"""Buttons on the bot's messages: "Other answers", "Why this answer?" and "Did you mean…?".

Every button is a :class:`discord.ui.DynamicItem` whose custom id carries what a click needs
(the question id, the match score, the phrasing matched). The bot registers the templates at
start-up, so buttons on messages sent before a restart keep working, and no view is kept in
memory per message. The message a button needs to look back at (the asker's question) is the
one the bot's message replies to.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import discord

from bot.discord import render
from bot.discord.addressing import question_text
from bot.discord.bot import StampyBot
from bot.discord.errors import release, report, respond
from bot.discord.moderation.views import SettleButton
from bot.discord.strings import TEXT
from bot.knowledge.model import Answer, Question
from bot.service import Reply
from bot.store.reports import MAX_REPORT_CHARS

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()

# Question ids as the loader allows them: lowercase letters, digits and hyphens, at most 64.
_QID = r"(?P<qid>[a-z0-9][a-z0-9-]{0,63})"
# Scores travel as whole hundredths ("87" for 0.87), phrasings as an index into
# Question.phrasings (0 is the question text itself).
_MATCH = r"(?P<score>\d{1,3}):(?P<index>\d{1,3})"
# Answer ids follow the same rule as question ids.
_AID = r"(?P<aid>[a-z0-9][a-z0-9-]{0,63})"
#: "Related" buttons under an answer, and answered questions offered for an unanswered one.
RELATED_BUTTONS = 3


def _hundredths(score: float) -> int:
    return max(0, min(100, round(score * 100)))


def phrasing_index(question: Question, phrasing: str) -> int:
    """Where ``phrasing`` is among the question's phrasings (0, the question text, if absent)."""
    try:
        return question.phrasings.index(phrasing)
    except ValueError:
        return 0


async def referenced_message(
    interaction: discord.Interaction[StampyBot], *, fetch: bool
) -> discord.Message | None:
    """The message the clicked message replies to (the asker's question), if it still exists.

    Discord sends it along with the clicked message; with ``fetch`` it is fetched when not.
    """
    message = interaction.message
    reference = message.reference if message is not None else None
    if reference is None or reference.message_id is None:
        return None
    if isinstance(reference.resolved, discord.Message):
        return reference.resolved
    if isinstance(reference.resolved, discord.DeletedReferencedMessage) or not fetch:
        return None
    channel = interaction.channel
    if not isinstance(channel, discord.abc.Messageable):
        return None
    try:
        return await channel.fetch_message(reference.message_id)
    except discord.HTTPException:
        return None


async def _guarded(
    interaction: discord.Interaction[StampyBot],
    handler: Callable[[discord.Interaction[StampyBot]], Awaitable[None]],
) -> None:
    """Run a button's handler; a failure goes through the one error path (discord.py only
    logs exceptions from dynamic items)."""
    try:
        await handler(interaction)
    except Exception as error:
        custom_id = (interaction.data or {}).get("custom_id")
        await report(interaction, error, f"button {custom_id!r}", apology=TEXT["button_apology"])


async def _gone(interaction: discord.Interaction[StampyBot]) -> None:
    await respond(interaction, TEXT["gone"])


class WhyButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"stampy:why:(?P<kind>[ap]):{_MATCH}:{_QID}",
):
    """The "Why this answer?" button: the phrasing matched, its score and the reason (ephemeral).

    ``kind`` is ``a`` for an answer the bot chose, ``p`` for one picked from suggestions.
    """

    def __init__(self, question_id: str, *, score: float, index: int, picked: bool) -> None:
        self.question_id, self.score, self.index, self.picked = question_id, score, index, picked
        kind = "p" if picked else "a"
        super().__init__(
            discord.ui.Button(
                label=TEXT["why_button"],
                style=discord.ButtonStyle.secondary,
                custom_id=f"stampy:why:{kind}:{_hundredths(score)}:{index}:{question_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[StampyBot], item: discord.ui.Item[Any], match: Any, /
    ) -> WhyButton:
        """Rebuild the button from a clicked custom id."""
        return cls(
            match["qid"],
            score=int(match["score"]) / 100,
            index=int(match["index"]),
            picked=match["kind"] == "p",
        )

    async def callback(self, interaction: discord.Interaction[StampyBot]) -> None:
        """Explain the match, privately to the clicker."""
        await _guarded(interaction, self._explain)

    async def _explain(self, interaction: discord.Interaction[StampyBot]) -> None:
        bot = interaction.client
        question = bot.service.question(self.question_id)
        if question is None:
            await _gone(interaction)
            return
        phrasings = question.phrasings
        phrasing = phrasings[self.index] if self.index < len(phrasings) else question.text
        reason = None if self.picked else await self._reason(interaction, question)
        text = render.why_text(
            phrasing,
            self.score,
            reason,
            picked=self.picked,
            threshold=bot.settings.matching.confidence,
        )
        await respond(interaction, text)

    async def _reason(
        self, interaction: discord.Interaction[StampyBot], question: Question
    ) -> str | None:
        """The matcher's reason, re-derived from the asker's message if it is at hand and
        still leads to the same question (else None: a generic reason is shown)."""
        original = await referenced_message(interaction, fetch=False)
        bot = interaction.client
        if original is None or bot.user is None:
            return None
        text = question_text(
            original.content, bot_id=bot.user.id, prefixes=bot.settings.discord.prefixes
        )
        reply = bot.service.ask(text)
        if reply.question is None or reply.question.id != question.id:
            return None
        return reply.reason


class OtherAnswersButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"stampy:more:{_QID}"
):
    """The "Other answers" button: the answers after the first, shown only to the clicker
    (ephemeral, so that browsing does not fill the channel)."""

    def __init__(self, question_id: str) -> None:
        self.question_id = question_id
        super().__init__(
            discord.ui.Button(
                label=TEXT["more_button"],
                style=discord.ButtonStyle.primary,
                custom_id=f"stampy:more:{question_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[StampyBot], item: discord.ui.Item[Any], match: Any, /
    ) -> OtherAnswersButton:
        """Rebuild the button from a clicked custom id."""
        return cls(match["qid"])

    async def callback(self, interaction: discord.Interaction[StampyBot]) -> None:
        """List the other answers, privately to the clicker."""
        await _guarded(interaction, self._list)

    async def _list(self, interaction: discord.Interaction[StampyBot]) -> None:
        question = interaction.client.service.question(self.question_id)
        if question is None:
            await _gone(interaction)
            return
        others = interaction.client.service.ranked_answers(question)[1:]
        if not others:
            await respond(interaction, TEXT["more_none"])
            return
        await respond(interaction, embeds=render.other_answers_embeds(question, others))


class PickButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"stampy:pick:{_MATCH}:{_QID}",
):
    """A "Did you mean…?" choice. A click shows that answer publicly; when the clicker is the
    one who asked, their wording is recorded as a proposed phrasing of the chosen question."""

    def __init__(self, question_id: str, *, score: float, index: int, label: str = "…") -> None:
        self.question_id, self.score, self.index = question_id, score, index
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=f"stampy:pick:{_hundredths(score)}:{index}:{question_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[StampyBot], item: discord.ui.Item[Any], match: Any, /
    ) -> PickButton:
        """Rebuild the button from a clicked custom id."""
        label = getattr(item, "label", None) or "…"
        score, index = int(match["score"]) / 100, int(match["index"])
        return cls(match["qid"], score=score, index=index, label=label)

    async def callback(self, interaction: discord.Interaction[StampyBot]) -> None:
        """Answer publicly, then record the asker's wording as a proposal."""
        await _guarded(interaction, self._pick)

    async def _pick(self, interaction: discord.Interaction[StampyBot]) -> None:
        bot = interaction.client
        reply = bot.service.answer(self.question_id)
        if reply is None or reply.question is None:
            await _gone(interaction)
            return
        question = reply.question
        view = answer_view(
            reply,
            picked=True,
            score=self.score,
            index=self.index,
            related=bot.service.related(question.id),
        )
        try:
            sent = await interaction.response.send_message(
                embed=render.reply_embed(reply, tags=bot.service.visible_tags(question)),
                view=view,
                allowed_mentions=NO_MENTIONS,
            )
        finally:
            release(view)
        if isinstance(sent.resource, discord.InteractionMessage) and interaction.channel_id:
            bot.service.answer_shown(
                sent.resource.id,
                channel_id=interaction.channel_id,
                guild_id=interaction.guild_id,
                reply=reply,
            )
        original = await referenced_message(interaction, fetch=True)
        if original is None or original.author.id != interaction.user.id or bot.user is None:
            return  # only the asker's own wording is a proposal
        wording = question_text(
            original.content, bot_id=bot.user.id, prefixes=bot.settings.discord.prefixes
        )
        await bot.service.propose_phrasing(
            question.id,
            wording,
            proposer_id=interaction.user.id,
            channel_id=interaction.channel_id,
        )


class QuestionButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"stampy:q:{_QID}"):
    """A question as a button (on a tag page, "Related", the answered questions offered for
    an unanswered one): a click shows its answer to the clicker alone, with that answer's
    own buttons, so that browsing does not fill the channel."""

    def __init__(self, question_id: str, *, label: str = "…") -> None:
        self.question_id = question_id
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=f"stampy:q:{question_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[StampyBot], item: discord.ui.Item[Any], match: Any, /
    ) -> QuestionButton:
        """Rebuild the button from a clicked custom id."""
        return cls(match["qid"], label=getattr(item, "label", None) or "…")

    async def callback(self, interaction: discord.Interaction[StampyBot]) -> None:
        """Show the question's answer, privately to the clicker."""
        await _guarded(interaction, self._show)

    async def _show(self, interaction: discord.Interaction[StampyBot]) -> None:
        service = interaction.client.service
        reply = service.answer(self.question_id)
        if reply is None or reply.question is None or service.hidden(reply.question):
            await _gone(interaction)
            return
        view = browse_view(reply, related=service.related(reply.question.id))
        embed = render.reply_embed(reply, tags=service.visible_tags(reply.question))
        await respond(interaction, embed=embed, view=view)


class ReportButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"stampy:report:{_AID}"
):
    """ "Report a problem" under an answer: opens a short form; the report goes to the
    moderators (see :class:`ReportModal`)."""

    def __init__(self, answer_id: str) -> None:
        self.answer_id = answer_id
        super().__init__(
            discord.ui.Button(
                label=TEXT["report_button"],
                style=discord.ButtonStyle.secondary,
                custom_id=f"stampy:report:{answer_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[StampyBot], item: discord.ui.Item[Any], match: Any, /
    ) -> ReportButton:
        """Rebuild the button from a clicked custom id."""
        return cls(match["aid"])

    async def callback(self, interaction: discord.Interaction[StampyBot]) -> None:
        """Open the report form."""
        await _guarded(interaction, self._open)

    async def _open(self, interaction: discord.Interaction[StampyBot]) -> None:
        found = interaction.client.service.find_answer(self.answer_id)
        if found is None:
            await respond(interaction, TEXT["report_gone"])
            return
        question, answer = found
        message = interaction.message
        shown = message is not None and not message.flags.ephemeral
        await interaction.response.send_modal(
            ReportModal(question, answer, message_id=message.id if shown and message else None)
        )


class ReportModal(discord.ui.Modal):
    """The "Report a problem" form: one text. On submit the service stores the report (or
    refuses, e.g. past the per-member limit: the reason is shown) and it is posted to the
    moderators' channel, naming the reporter without pinging them."""

    def __init__(self, question: Question, answer: Answer, *, message_id: int | None) -> None:
        super().__init__(
            title=TEXT["report_title"][:45],
            custom_id=f"stampy:report-form:{answer.id}",
            timeout=1800,
        )
        self.question, self.answer, self.message_id = question, answer, message_id
        self.text: discord.ui.TextInput[Any] = discord.ui.TextInput(
            custom_id="text",
            style=discord.TextStyle.paragraph,
            placeholder=TEXT["report_hint"],
            max_length=MAX_REPORT_CHARS,
        )
        self.add_item(discord.ui.Label(text=TEXT["report_field"], component=self.text))

    async def on_submit(self, interaction: discord.Interaction[StampyBot]) -> None:
        """Store the report, post it to the moderators' channel, thank the reporter."""
        bot = interaction.client
        user = interaction.user
        stored = await bot.service.report(
            self.question.id,
            self.answer.id,
            user.id,
            user.display_name,
            self.text.value,
            interaction.channel_id,
            interaction.guild_id,
            self.message_id,
        )
        await respond(interaction, TEXT["report_thanks"])
        channel_id = bot.settings.discord.reports_channel
        if not channel_id:
            return
        embed = render.report_embed(stored, self.question, self.answer)
        view = discord.ui.View(timeout=None)
        view.add_item(SettleButton("r", stored.id))
        view.add_item(SettleButton("d", stored.id))
        try:
            await bot.get_partial_messageable(channel_id).send(
                embed=embed, view=view, allowed_mentions=NO_MENTIONS
            )
        except discord.HTTPException as error:
            log.warning("report #%s not posted to channel %s: %s", stored.id, channel_id, error)
        finally:
            release(view)

    async def on_error(self, interaction: discord.Interaction[StampyBot], error: Exception) -> None:
        """A refusal (the reason) or a bug (logged, an apology)."""
        await report(interaction, error, "report form")


#: The button classes the bot registers at start-up, so old messages' buttons work.
DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    WhyButton,
    OtherAnswersButton,
    PickButton,
    QuestionButton,
    ReportButton,
)


def _related_buttons(view: discord.ui.View, related: Sequence[Question]) -> None:
    for question in related[:RELATED_BUTTONS]:
        label = render.suggestion_label(TEXT["related_button"].format(text=question.text))
        view.add_item(QuestionButton(question.id, label=label))


def _alternative_buttons(view: discord.ui.View, reply: Reply) -> None:
    for question in reply.alternatives[:RELATED_BUTTONS]:
        view.add_item(QuestionButton(question.id, label=render.suggestion_label(question.text)))


def browse_view(reply: Reply, *, related: Sequence[Question] = ()) -> discord.ui.View:
    """The buttons under an answer shown privately (from a tag page or a "Related" button):
    "Other answers", "Report a problem" and "Related" (no "Why": nothing was matched); for a
    question without an answer, the nearest answered ones."""
    question = reply.question
    assert question is not None
    view = discord.ui.View(timeout=None)
    if not reply.answers:
        _alternative_buttons(view, reply)
        return view
    if len(question.answers) > 1:
        view.add_item(OtherAnswersButton(question.id))
    assert reply.answer is not None
    view.add_item(ReportButton(reply.answer.id))
    _related_buttons(view, related)
    return view


def answer_view(
    reply: Reply,
    *,
    picked: bool,
    score: float | None = None,
    index: int | None = None,
    related: Sequence[Question] = (),
) -> discord.ui.View:
    """The buttons under an answer: "Other answers" (if there are any), "Why this answer?",
    "Report a problem" and up to three "Related" questions. For a known question nobody has
    answered: "Why" and the nearest answered questions instead.

    ``score`` and ``index`` (the phrasing matched) default to the reply's own match."""
    question = reply.question
    assert question is not None
    best = reply.match.best
    if score is None:
        score = best.score if best else 0.0
    if index is None:
        index = phrasing_index(question, best.phrasing) if best else 0
    view = discord.ui.View(timeout=None)
    if len(question.answers) > 1 and reply.answers:
        view.add_item(OtherAnswersButton(question.id))
    view.add_item(WhyButton(question.id, score=score, index=index, picked=picked))
    if reply.answer is None:
        _alternative_buttons(view, reply)
        return view
    view.add_item(ReportButton(reply.answer.id))
    _related_buttons(view, related)
    return view


def suggestion_view(reply: Reply) -> discord.ui.View:
    """One button per "Did you mean…?" choice (at most three), labelled with its question."""
    view = discord.ui.View(timeout=None)
    for suggestion in reply.suggestions[:3]:
        question, candidate = suggestion.question, suggestion.candidate
        view.add_item(
            PickButton(
                question.id,
                score=candidate.score,
                index=phrasing_index(question, candidate.phrasing),
                label=render.suggestion_label(question.text),
            )
        )
    return view
