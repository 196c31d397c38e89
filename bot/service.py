"""The application core every front end uses: ask a question, get a plain-value reply."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.knowledge.base import KnowledgeBase
from bot.knowledge.matcher import Candidate, Decision, MatchResult
from bot.knowledge.model import Answer, Question
from bot.knowledge.smalltalk import small_talk
from bot.knowledge.text import normalize
from bot.stamps import StampBook, StampBookClosed, break_ties, rank_answers
from bot.store import (
    ProposedPhrasing,
    ProposedPhrasings,
    Store,
    StoreError,
    UnansweredQuestion,
    UnansweredQuestions,
)

log = logging.getLogger(__name__)

# Longer messages are cut before matching: nobody asks a 10,000-character question, and the
# cut keeps the cost of one message bounded.
MAX_QUERY_CHARS = 2000
#: Seconds a record of what was asked waits for another program's database lock: recording
#: is a side effect of answering, and must not hold up the writes queued behind it.
RECORD_WAIT_SECONDS = 1.0
#: "Did you mean" choices whose scores are within this of the best are ordered by stamps.
NEAR_TIE = 0.08


@dataclass(frozen=True)
class Suggestion:
    """A "did you mean" choice."""

    question: Question
    candidate: Candidate


@dataclass(frozen=True)
class Reply:
    """What the bot makes of one question, for any front end to render.

    ``decision`` is ANSWER with ``question`` set (``answers`` may be empty when the question
    is known but nobody has answered it yet), SUGGEST with ``suggestions``, NONE, or
    SMALL_TALK with ``small_talk`` the friendly reply (never recorded as unanswered).
    """

    query: str
    decision: Decision
    question: Question | None
    answers: tuple[Answer, ...]
    suggestions: tuple[Suggestion, ...]
    match: MatchResult
    small_talk: str | None = None
    #: The stamp count of the answer shown (``answers[0]``); 0 without one or without stamps.
    stamps: int = 0

    @property
    def answer(self) -> Answer | None:
        """The answer to show: the best ranked, if the question has one."""
        return self.answers[0] if self.answers else None

    @property
    def reason(self) -> str:
        """Why the bot decided as it did, in words."""
        return self.match.reason


class Service:
    """Answers questions from a knowledge base, and records what it could not answer.

    ``store`` is optional: without one (the console, ``stampy ask``) nothing is recorded.
    ``stamps`` (optional) ranks answers by their stamps (see :mod:`bot.stamps` for the
    order), gives replies their stamp count and records which message showed which answer.
    Built by :class:`bot.app.App`.
    """

    def __init__(
        self,
        knowledge: KnowledgeBase,
        store: Store | None = None,
        *,
        stamps: StampBook | None = None,
    ) -> None:
        self.knowledge = knowledge
        self.store = store
        self.stamps = stamps

    def ranked_answers(self, question: Question) -> tuple[Answer, ...]:
        """The question's answers: canonical first, then by stamps (if there are stamps)."""
        return rank_answers(question.answers, self.stamps.score if self.stamps else None)

    def stamp_count(self, answer: Answer | None) -> int:
        """The stamp count to show on ``answer`` (0 without one, or without stamps)."""
        return self.stamps.count(answer.id) if self.stamps and answer is not None else 0

    def _question_stamps(self, question: Question) -> float:
        stamps = self.stamps
        return sum(stamps.score(a.id) for a in question.answers) if stamps else 0.0

    def ask(self, text: str, k: int = 5) -> Reply:
        """Match ``text`` and decide: answer, suggest or no match."""
        query = text.strip()[:MAX_QUERY_CHARS]
        chat = small_talk(query)
        if chat is not None:
            result = MatchResult(
                query, Decision.SMALL_TALK, (), 0.0, f"small talk ({chat.kind}), not a question"
            )
            return Reply(text, Decision.SMALL_TALK, None, (), (), result, chat.reply)
        result = self.knowledge.matcher.match(query, k=k)
        if result.decision is Decision.ANSWER and result.best:
            question = self.knowledge.get(result.best.question_id)
            if question is not None:
                return self._answer(text, question, result)
        if result.decision is Decision.SUGGEST:
            found = [
                Suggestion(question, candidate)
                for candidate in result.candidates
                if (question := self.knowledge.get(candidate.question_id)) is not None
            ]
            # Near-tied questions (within NEAR_TIE of the best) are offered best-stamped first.
            suggestions = tuple(
                break_ties(
                    found,
                    lambda s: s.candidate.score,
                    lambda s: self._question_stamps(s.question),
                    NEAR_TIE,
                )
            )
            return Reply(text, Decision.SUGGEST, None, (), suggestions, result)
        return Reply(text, Decision.NONE, None, (), (), result)

    def answer(self, question_id: str, text: str | None = None) -> Reply | None:
        """The reply showing a known question (picked from "did you mean", a button or an
        autocomplete); ``text`` is what the person typed, matched for the "why". None when
        the question is gone."""
        question = self.knowledge.get(question_id)
        if question is None:
            return None
        wording = (text or question.text).strip()[:MAX_QUERY_CHARS]
        result = self.knowledge.matcher.match(wording, k=1)
        return self._answer(text or question.text, question, result)

    def _answer(self, text: str, question: Question, result: MatchResult) -> Reply:
        answers = self.ranked_answers(question)
        shown = answers[0] if answers else None
        stamps = self.stamp_count(shown)
        return Reply(text, Decision.ANSWER, question, answers, (), result, stamps=stamps)

    async def answer_shown(
        self,
        message_id: int,
        *,
        channel_id: int,
        guild_id: int | None,
        reply: Reply,
    ) -> None:
        """Record that message ``message_id`` shows ``reply``'s answer, so that stamps on it
        endorse that answer; returns once stored. Never raises: a failure is logged (the
        asker already has the answer)."""
        if self.stamps is None or reply.question is None:
            return
        answer = reply.answer
        try:
            await self.stamps.record_answer(
                message_id,
                channel_id=channel_id,
                guild_id=guild_id,
                question_id=reply.question.id,
                answer_id=answer.id if answer is not None else None,
            )
        except StampBookClosed:
            log.warning("answer message %s not recorded: the bot is stopping", message_id)
        except Exception:
            log.exception(
                "error while recording answer message %s in channel %s", message_id, channel_id
            )

    def question(self, question_id: str) -> Question | None:
        """A stored question by id."""
        return self.knowledge.get(question_id)

    async def note_unanswered(
        self,
        text: str,
        *,
        asker_id: int | None,
        channel_id: int | None,
        guild_id: int | None,
    ) -> UnansweredQuestion | None:
        """Record that ``text`` was asked and nothing matched; the (folded) record.

        None when there is no store or the text has no words (nothing worth keeping), and
        when the database cannot be written (busy, read-only, full: logged, not raised, so
        that the asker is answered all the same). Near-duplicates fold into one record whose
        count goes up.
        """
        query = text.strip()[:MAX_QUERY_CHARS]
        if self.store is None or not normalize(query) or small_talk(query) is not None:
            return None
        try:
            return await UnansweredQuestions(self.store, wait=RECORD_WAIT_SECONDS).record(
                query, asker_id=asker_id, channel_id=channel_id, guild_id=guild_id
            )
        except StoreError as error:
            if error.kind == "error":
                raise  # not the database's state but a bug: the front end reports it
            log.warning("unanswered question not recorded: %s", error)
            return None

    async def propose_phrasing(
        self,
        question_id: str,
        text: str,
        *,
        proposer_id: int | None,
        channel_id: int | None,
    ) -> ProposedPhrasing | None:
        """Record ``text`` as a proposed alternate phrasing of ``question_id`` (not applied).

        None, and nothing recorded, when there is no store, the question is unknown, the text
        has no words, or it already is one of the question's phrasings (after normalisation);
        also when the database cannot be written (logged, not raised).
        """
        question = self.knowledge.get(question_id)
        wording = text.strip()[:MAX_QUERY_CHARS]
        key = normalize(wording)
        if self.store is None or question is None or not key:
            return None
        if key in {normalize(phrasing) for phrasing in question.phrasings}:
            return None
        try:
            return await ProposedPhrasings(self.store, wait=RECORD_WAIT_SECONDS).propose(
                question_id, wording, proposer_id=proposer_id, channel_id=channel_id
            )
        except StoreError as error:
            if error.kind == "error":
                raise  # not the database's state but a bug: the front end reports it
            log.warning("proposed phrasing not recorded: %s", error)
            return None
