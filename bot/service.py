"""The application core every front end uses: ask a question, get a plain-value reply;
browse tags and related questions; report a problem; see which answers stamps promote."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import browse
from bot.browse import TagPage
from bot.config import ReportSettings
from bot.curation.model import UNWRITABLE, Refused, clean_text
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.matcher import Candidate, Decision, MatchResult
from bot.knowledge.model import Answer, Question, Tag
from bot.knowledge.smalltalk import small_talk
from bot.knowledge.text import normalize
from bot.metrics import Metrics
from bot.stamps import StampBook, StampBookClosed, break_ties, rank_answers
from bot.store import (
    ProposedPhrasing,
    ProposedPhrasings,
    Store,
    StoreError,
    UnansweredQuestion,
    UnansweredQuestions,
)
from bot.store.asked import KnownAsked
from bot.store.db import utc_now
from bot.store.promotions import Promotion, Promotions
from bot.store.reports import MAX_REPORT_CHARS, Report, Reports

log = logging.getLogger(__name__)

# Longer messages are cut before matching: nobody asks a 10,000-character question, and the
# cut keeps the cost of one message bounded.
MAX_QUERY_CHARS = 2000
#: Seconds a record of what was asked waits for another program's database lock: recording
#: is a side effect of answering, and must not hold up the writes queued behind it.
RECORD_WAIT_SECONDS = 1.0
#: "Did you mean" choices whose scores are within this of the best are ordered by stamps.
NEAR_TIE = 0.08
#: Related questions kept for this many questions at most (then worked out afresh).
RELATED_CACHE = 4096


@dataclass(frozen=True)
class Suggestion:
    """A "did you mean" choice."""

    question: Question
    candidate: Candidate


@dataclass(frozen=True)
class Reply:
    """What the bot makes of one question, for any front end to render.

    ``decision`` is ANSWER with ``question`` set (``answers`` may be empty when the question
    is known but nobody has answered it yet: then ``alternatives`` holds the nearest answered
    questions to offer instead), SUGGEST with ``suggestions``, NONE, or SMALL_TALK with
    ``small_talk`` the friendly reply (never recorded as unanswered).
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
    #: For a known question without an answer: the nearest answered questions (up to 3).
    alternatives: tuple[Question, ...] = ()

    @property
    def answered(self) -> bool:
        """Whether the reply shows an answer (False also for a known unanswered question)."""
        return self.decision is Decision.ANSWER and bool(self.answers)

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

    ``store`` is optional: without one (``stampy ask`` without a database) nothing is
    recorded, reported or promoted; ``record`` False (the console) keeps a store but records
    nothing of what is asked. ``stamps`` (optional) ranks answers by their stamps (see
    :mod:`bot.stamps` for the order), gives replies their stamp count, records which message
    showed which answer and decides promotions. ``reports`` limits members' reports.
    ``metrics`` (optional) counts questions by decision and times them. Built by
    :class:`bot.app.App`.
    """

    def __init__(
        self,
        knowledge: KnowledgeBase,
        store: Store | None = None,
        *,
        stamps: StampBook | None = None,
        record: bool = True,
        reports: ReportSettings | None = None,
        clock: Callable[[], datetime] = utc_now,
        metrics: Metrics | None = None,
    ) -> None:
        self.knowledge = knowledge
        self.store = store
        self.stamps = stamps
        self.metrics = metrics
        self.record = record
        self.reports = reports or ReportSettings()
        self.clock = clock
        # Counts of asks of known unanswered questions, being written (see :meth:`settle`).
        self._pending: set[asyncio.Task[None]] = set()
        # Related questions worked out, by (question, limit), with the knowledge base's
        # version they were worked out at: every answer shows them, and they change only
        # when the knowledge base does.
        self._related: dict[tuple[str, int], tuple[int, tuple[Question, ...]]] = {}

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
        if self.metrics is None:
            return self._decide(text, k)
        started = time.perf_counter()
        reply = self._decide(text, k)
        self.metrics.question(reply.decision.value, time.perf_counter() - started)
        return reply

    def _decide(self, text: str, k: int) -> Reply:
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
                reply = self._answer(text, question, result)
                if not question.answers:
                    self._count_ask(question.id)
                return reply
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
        alternatives = (
            () if answers else browse.nearest_answered(self.knowledge, question, text, limit=3)
        )
        return Reply(
            text,
            Decision.ANSWER,
            question,
            answers,
            (),
            result,
            stamps=stamps,
            alternatives=alternatives,
        )

    # -- known questions without an answer ------------------------------------------------------

    def _count_ask(self, question_id: str) -> None:
        """Count an ask of a known unanswered question, in the background (``ask`` stays
        synchronous); nothing without a store, when not recording, or outside an event loop."""
        if self.store is None or not self.record:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._write_ask(question_id))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _write_ask(self, question_id: str) -> None:
        assert self.store is not None
        try:
            await KnownAsked(self.store, wait=RECORD_WAIT_SECONDS).record(question_id)
        except StoreError as error:
            log.warning("ask of %r not counted: %s", question_id, error)
        except Exception:
            log.exception("error while counting an ask of %r", question_id)

    async def settle(self) -> None:
        """Wait for the counts of asks still being written (before closing the store, and in
        tests)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def unanswered_canonical(
        self, tag: str | None = None, limit: int = 25, offset: int = 0
    ) -> list[tuple[Question, int]]:
        """Known questions without an answer, with how often members asked them, most asked
        first (then as stored); of one tag if ``tag`` is given (an unknown tag: none).
        Questions whose every tag is internal are left out unless ``tag`` names one."""
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        kb = self.knowledge
        if tag is not None:
            found = kb.tag(tag)
            if found is None:
                return []
            questions = [q for q in kb.tagged(found.name) if not q.answers]
        else:
            questions = [q for q in kb if not q.answers and not kb.internal_only(q)]
        counts: dict[str, int] = {}
        if self.store is not None and questions:
            try:
                counts = await KnownAsked(self.store).counts()
            except StoreError as error:
                log.warning("ask counts not read: %s", error)
        ranked = sorted(
            enumerate(questions), key=lambda item: (-counts.get(item[1].id, 0), item[0])
        )
        return [(q, counts.get(q.id, 0)) for _, q in ranked[offset : offset + limit]]

    # -- browsing -------------------------------------------------------------------------------

    def tags(self, *, internal: bool = False) -> list[tuple[Tag, int]]:
        """Every tag with its question count, sorted by name (internal ones only when
        ``internal``)."""
        return browse.tag_counts(self.knowledge, internal=internal)

    def tag(self, name: str, *, internal: bool = False) -> Tag | None:
        """The tag named ``name`` (None when unknown, or internal unless ``internal``)."""
        tag = self.knowledge.tag(name)
        return None if tag is None or (tag.internal and not internal) else tag

    def tag_page(self, name: str, *, internal: bool = False) -> TagPage | None:
        """The page of a tag (see :class:`~bot.browse.TagPage`); None for an unknown tag and
        for an internal one unless ``internal``."""
        return browse.tag_page(
            self.knowledge, name, internal=internal, stamps=self._question_stamps
        )

    def related(self, question_id: str, limit: int = 3) -> tuple[Question, ...]:
        """Up to ``limit`` questions related to ``question_id`` (see
        :func:`bot.browse.related`)."""
        kb = self.knowledge
        key = (question_id, limit)
        cached = self._related.pop(key, None)
        if cached is not None and cached[0] == kb.version:
            self._related[key] = cached  # the most recently used last
            return cached[1]
        found = browse.related(kb, question_id, limit)
        if len(self._related) >= RELATED_CACHE:
            del self._related[next(iter(self._related))]  # the least recently used
        self._related[key] = (kb.version, found)
        return found

    # -- reports --------------------------------------------------------------------------------

    async def report(
        self,
        question_id: str,
        answer_id: str | None,
        reporter_id: int | None,
        reporter_name: str,
        text: str,
        channel_id: int | None = None,
        guild_id: int | None = None,
        message_id: int | None = None,
    ) -> Report:
        """Store a member's report of a problem with an answer, for moderators' review.

        :class:`~bot.curation.Refused`, nothing stored, for: no database, an unknown
        question or answer, an empty or too long text, or a member over the rate limit
        (``[reports] per_member`` within ``window_minutes``), or a database that cannot be
        written.
        """
        if self.store is None:
            raise Refused("reports need the bot's database, and there is none here")
        question = self.knowledge.get(question_id)
        if question is None:
            raise Refused(f"there is no question with the id {question_id!r} any more")
        if answer_id is not None and all(a.id != answer_id for a in question.answers):
            raise Refused(f"question {question_id!r} has no answer {answer_id!r} any more")
        body = clean_text(text)
        if not body:
            raise Refused("the report is empty; say what is wrong with the answer")
        if len(body) > MAX_REPORT_CHARS:
            raise Refused(
                f"the report is too long ({len(body)} characters; at most {MAX_REPORT_CHARS})"
            )
        records = Reports(self.store, wait=RECORD_WAIT_SECONDS)
        try:
            if reporter_id is not None:
                window = timedelta(minutes=self.reports.window_minutes)
                made = await records.recent(reporter_id, self.clock() - window)
                if made >= self.reports.per_member:
                    raise Refused(
                        f"you have already sent {made} reports in the last "
                        f"{_minutes(self.reports.window_minutes)}; thank you, moderators will "
                        "look at them. Try again later"
                    )
            return await records.add(
                question_id,
                answer_id,
                reporter_id=reporter_id,
                reporter_name=reporter_name,
                text=body,
                channel_id=channel_id,
                guild_id=guild_id,
                message_id=message_id,
                at=self.clock(),
            )
        except StoreError as error:
            reason = UNWRITABLE.get(error.kind)
            if reason is None:
                raise
            raise Refused(reason) from error

    # -- promotion by stamps --------------------------------------------------------------------

    def promotion_share(self, answer_id: str) -> tuple[Question, Answer, float] | None:
        """The question and answer ``answer_id`` and the share of the question's
        reputation-weighted stamps that the answer has; None for an unknown answer or
        without stamps."""
        if self.stamps is None:
            return None
        for question in self.knowledge:
            for answer in question.answers:
                if answer.id == answer_id:
                    total = sum(self.stamps.score(a.id) for a in question.answers)
                    share = self.stamps.score(answer.id) / total if total > 0 else 0.0
                    return question, answer, share
        return None

    async def check_promotion(self, answer_id: str) -> Promotion | None:
        """Call after a stamp on ``answer_id`` changed: when the answer is not canonical, has
        at least ``[stamps] promote_min_stamps`` stamps and its reputation-weighted stamps
        are at least ``promote_share`` of all its question's answers', it is proposed to
        moderators as canonical (``Curator.promotions``). The new proposal, or None (no
        change, already proposed once, no database; a database fault is logged)."""
        if self.stamps is None or self.store is None:
            return None
        found = self.promotion_share(answer_id)
        if found is None:
            return None
        question, answer, share = found
        settings = self.stamps.settings
        count = self.stamps.count(answer.id)
        if answer.canonical or count < settings.promote_min_stamps:
            return None
        if share < settings.promote_share:
            return None
        try:
            return await Promotions(self.store, wait=RECORD_WAIT_SECONDS).propose(
                question.id,
                answer.id,
                score=self.stamps.score(answer.id),
                share=share,
                stamps=count,
                at=self.clock(),
            )
        except StoreError as error:
            if error.kind == "error":
                raise
            log.warning("promotion of answer %r not recorded: %s", answer.id, error)
            return None

    def answer_shown(
        self,
        message_id: int,
        *,
        channel_id: int,
        guild_id: int | None,
        reply: Reply,
    ) -> asyncio.Future[object] | None:
        """Record that message ``message_id`` shows ``reply``'s answer, so that stamps on it
        endorse that answer. Queued before this returns (stamps queued later see it, and the
        stamp book writes what is queued before it closes), stored when the future is done
        (None: nothing to record, or not queued, as logged); nobody needs to wait for it, so
        a handler that sent an answer ends at once instead of holding it until the database
        has the record. Never raises: a failure is logged (the asker already has the answer)."""
        if self.stamps is None or reply.question is None:
            return None
        answer = reply.answer
        try:
            stored = self.stamps.record_answer(
                message_id,
                channel_id=channel_id,
                guild_id=guild_id,
                question_id=reply.question.id,
                answer_id=answer.id if answer is not None else None,
            )
        except StampBookClosed:
            log.warning("answer message %s not recorded: the bot is stopping", message_id)
            return None

        def done(future: asyncio.Future[object]) -> None:
            error = None if future.cancelled() else future.exception()
            if isinstance(error, StampBookClosed):
                log.warning("answer message %s not recorded: the bot is stopping", message_id)
            elif error is not None:
                log.error(
                    "error while recording answer message %s in channel %s",
                    message_id,
                    channel_id,
                    exc_info=error,
                )

        stored.add_done_callback(done)
        return stored

    def question(self, question_id: str) -> Question | None:
        """A stored question by id."""
        return self.knowledge.get(question_id)

    # -- what members may see -------------------------------------------------------------------

    def hidden(self, question: Question) -> bool:
        """Whether ``question`` is hidden from members (filed only under internal tags)."""
        return self.knowledge.internal_only(question)

    def visible_tags(self, question: Question) -> tuple[str, ...]:
        """The tags of ``question`` members may see (internal ones left out)."""
        kb = self.knowledge
        # Only a declared tag can be internal: no scan of the questions for undeclared ones.
        return tuple(
            name
            for name in question.tags
            if not (kb.is_declared(name) and (tag := kb.tag(name)) is not None and tag.internal)
        )

    def question_choices(self, text: str, limit: int = 25) -> list[Question]:
        """Questions to offer a member typing ``text`` (autocomplete), best first: the
        matcher's ranking, then questions whose text contains it; with nothing typed, the
        answered questions as stored. Never one hidden from members."""
        kb = self.knowledge
        typed = (text or "").strip()[:MAX_QUERY_CHARS]
        found: dict[str, Question] = {}
        if typed:
            for candidate in kb.matcher.search(typed, k=limit * 2):
                question = kb.get(candidate.question_id)
                if question is not None and not self.hidden(question):
                    found.setdefault(question.id, question)
            needle = typed.casefold()
            pool = (q for q in kb if needle in q.text.casefold())
        else:
            pool = (q for q in kb if q.answers)
        for question in pool:
            if len(found) >= limit:
                break
            if not self.hidden(question):
                found.setdefault(question.id, question)
        return list(found.values())[:limit]

    def find_answer(self, answer_id: str) -> tuple[Question, Answer] | None:
        """The question and answer with this answer id (None: no such answer any more)."""
        for question in self.knowledge:
            for answer in question.answers:
                if answer.id == answer_id:
                    return question, answer
        return None

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
        if self.store is None or not self.record:
            return None
        if not normalize(query) or small_talk(query) is not None:
            return None
        try:
            return await UnansweredQuestions(self.store, wait=RECORD_WAIT_SECONDS).record(
                query, asker_id=asker_id, channel_id=channel_id, guild_id=guild_id
            )
        except StoreError as error:
            self._database_error(error)
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
        if self.store is None or not self.record or question is None or not key:
            return None
        if key in {normalize(phrasing) for phrasing in question.phrasings}:
            return None
        try:
            return await ProposedPhrasings(self.store, wait=RECORD_WAIT_SECONDS).propose(
                question_id, wording, proposer_id=proposer_id, channel_id=channel_id
            )
        except StoreError as error:
            self._database_error(error)
            if error.kind == "error":
                raise  # not the database's state but a bug: the front end reports it
            log.warning("proposed phrasing not recorded: %s", error)
            return None

    def _database_error(self, error: StoreError) -> None:
        if self.metrics is not None:
            self.metrics.database_error(error.kind)


def _minutes(minutes: float) -> str:
    if minutes % 60 == 0 and minutes >= 60:
        hours = int(minutes // 60)
        return "hour" if hours == 1 else f"{hours} hours"
    return f"{minutes:g} minutes"
