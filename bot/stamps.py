"""Stamps of approval: reactions that endorse answers and people, counted once, kept durable.

The :class:`StampBook` is the core of it, used by the Discord cog and the ``stampy stamps``
command alike (it imports nothing from discord):

* **Events.** A front end reports each stamp reaction added or removed as a :class:`StampOp`.
  A stamp is keyed by (message, stamper, emoji), so a replayed or duplicated event counts once
  and removing a stamp that is not there does nothing. On a message the bot posted showing an
  answer (recorded with :meth:`StampBook.record_answer`), a stamp endorses that answer and
  credits its author when the answer names one as a Discord user (``author: "<@id>"``); on a
  person's message it is a vote for that person, as in the original Stampy. Ignored: the
  bot's own reactions, stamps on your own answer or message, emojis that are not stamps,
  messages of the bot that show no answer.
* **Group commit.** Events wait in a queue; one writer task takes everything queued (up to
  ``max_batch``) and writes it in ONE transaction, and :meth:`StampBook.apply` returns only
  once the event's transaction has committed. A burst therefore costs a few transactions,
  not one per event, and an event is never acknowledged before it is stored. Answer
  messages (:meth:`StampBook.record_answer`) go through the same queue.
* **When the database cannot be written** (another program holds its lock, the disk is full
  or read-only), the batch stays at the head of the queue and is tried again after a pause
  that doubles up to ``retry_max`` seconds; events keep queuing behind it, in memory and in
  order, and are written once the database can be written again. The queue is bounded
  (``max_pending``): beyond it new events are dropped, which is logged (the reconcile at the
  next start repairs what Discord still shows). On :meth:`StampBook.close` the writer keeps
  trying for ``give_up_after`` seconds, then logs how many events were lost.
* **In memory.** Per-answer stamps (who stamped with what), the vote weights between people
  and each person's stamps given and received are loaded at start and kept in step with
  every commit, so ranking answers (:meth:`StampBook.score`) and ``/stamps`` never touch the
  database (and the stamps table needs no index but its key).
* **Reputation.** Each person's score comes from :func:`bot.reputation.compute_reputation`:
  trust flows from the roots (configured ``root_user_ids``, guild owners and moderators as
  last seen) through the stamps people give each other. It is recomputed in a worker thread,
  debounced (at most once per ``reputation_delay_seconds`` after changes), never per event.

**Ranking.** An answer's stamp *count* is the sum of the weights of its stamps (a gold stamp
counts 5), each (person, emoji) once however many messages showing the answer they stamped.
Its *score* weights each stamp by its giver's reputation::

    score(answer) = sum over stamps of  weight(emoji) * (1 + reputation(giver) / top reputation)

so a stamp from a newcomer counts its weight and one from the most trusted person counts
double. Answers rank canonical first, then by score (:func:`rank_answers`); near-tied
"did you mean" questions are ordered by the summed scores of their answers
(:func:`break_ties`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol, TypeVar

from bot.config import StampSettings
from bot.knowledge.model import Answer
from bot.store.db import Store, StoreError, utc_now
from bot.store.stamps import AnswerMessage, StampChange, StampOp, StampRecords, StampRow, Tracked

__all__ = [
    "AnswerScores",
    "Reconciled",
    "StampBook",
    "StampBookClosed",
    "StampOp",
    "UserStamps",
    "author_user_id",
    "break_ties",
    "rank_answers",
]

log = logging.getLogger(__name__)

#: Events written per transaction at most.
MAX_BATCH = 500
#: Events (and answer messages) kept waiting for the database at most; more are dropped.
MAX_PENDING = 10_000
#: Seconds a batch waits for another program's lock before it is retried later (short: the
#: store's one connection is busy meanwhile, and moderators' edits queue behind it).
WRITE_WAIT_SECONDS = 0.5
#: The first and the longest pause before a batch the database refused is tried again.
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 30.0
#: On close, how long to keep trying to write what is queued before giving it up.
GIVE_UP_SECONDS = 10.0
#: Share of a person's score passed on through their stamps (the original's gamma;
#: :data:`bot.reputation.DEFAULT_DAMPING`, repeated so that importing this module does not
#: import scipy).
DAMPING = 0.99

# An answer's author naming a Discord user: a mention, or a bare id (a snowflake's length, so
# that an author called "42" is not taken for a user).
_MENTION = re.compile(r"^\s*<@!?(\d{1,21})>\s*$|^\s*(\d{15,21})\s*$")

T = TypeVar("T")


class StampBookClosed(RuntimeError):
    """The stamp book has been closed; the event was not recorded."""


class _Queued(NamedTuple):
    """A queued event (or answer message) and the future its caller waits on."""

    item: StampOp | AnswerMessage
    future: asyncio.Future[StampChange | None]


@contextlib.contextmanager
def _unless_unwritable(what: str) -> Iterator[None]:
    """Swallow (and log) a transient database fault: the write is tried again later."""
    try:
        yield
    except StoreError as error:
        if not error.transient:
            raise
        log.warning("stamps: %s not recorded for now: %s", what, error)


def _fail(batch: Iterable[_Queued], error: BaseException) -> None:
    for queued in batch:
        if not queued.future.done():
            queued.future.set_exception(error)


class AnswerScores(Protocol):
    """What ranking needs from stamps: an answer's reputation-weighted score."""

    def score(self, answer_id: str) -> float:
        """The answer's reputation-weighted stamp score (0 without stamps)."""
        ...


def _count(tallies: dict[int, dict[str, int]], person: int, emoji: str, step: int) -> None:
    """Add ``step`` to ``tallies[person][emoji]``, dropping entries that reach 0."""
    mine = tallies.setdefault(person, {})
    left = mine.get(emoji, 0) + step
    if left > 0:
        mine[emoji] = left
    else:
        mine.pop(emoji, None)
        if not mine:
            del tallies[person]


def author_user_id(author: str | None) -> int | None:
    """The Discord user an answer's ``author`` names (``<@id>``, ``<@!id>`` or a bare id)."""
    if not author:
        return None
    match = _MENTION.match(author)
    if match is None:
        return None
    return int(match.group(1) or match.group(2))


def rank_answers(
    answers: Iterable[Answer], score: Callable[[str], float] | None = None
) -> tuple[Answer, ...]:
    """Canonical answers first, then by stamp ``score`` (highest first), else stored order."""
    ordered = list(answers)
    if score is None:
        return tuple(sorted(ordered, key=lambda a: not a.canonical))
    scores = {answer.id: score(answer.id) for answer in ordered}
    return tuple(sorted(ordered, key=lambda a: (not a.canonical, -scores[a.id])))


def break_ties(
    items: Sequence[T],
    match_score: Callable[[T], float],
    stamp_score: Callable[[T], float],
    margin: float,
) -> list[T]:
    """``items`` (best match first) with those within ``margin`` of the best re-ordered by
    ``stamp_score`` (highest first; equal stamps keep match order); the rest stay behind."""
    if len(items) < 2:
        return list(items)
    best = match_score(items[0])
    tied = [item for item in items if best - match_score(item) <= margin]
    rest = [item for item in items if best - match_score(item) > margin]
    tied.sort(key=lambda item: -stamp_score(item))  # stable: match order among equals
    return tied + rest


@dataclass(frozen=True)
class UserStamps:
    """One person's stamps: their reputation as "stamps they are worth" (the original's
    number: score times all stamp weight given), the stamps credited to them and given by
    them (weighted, and by emoji)."""

    user_id: int
    score: float
    received: int
    given: int
    received_by_emoji: dict[str, int] = field(default_factory=dict)
    given_by_emoji: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Reconciled:
    """What reconciling one message changed."""

    added: int
    removed: int
    answer_ids: frozenset[str]


class StampBook:
    """Stamps: apply reaction events, keep per-answer totals and reputation (see the module).

    Create, then ``await start()`` before use and ``await close()`` before closing the store.
    ``answer_author(question_id, answer_id)`` gives the Discord user credited for an answer
    (None: nobody). ``bot_user_id`` is the bot itself (its reactions, and votes for it, are
    ignored); set it once known.
    """

    def __init__(
        self,
        store: Store,
        settings: StampSettings,
        *,
        answer_author: Callable[[str, str], int | None] | None = None,
        bot_user_id: int | None = None,
        max_batch: int = MAX_BATCH,
        damping: float = DAMPING,
        max_pending: int = MAX_PENDING,
        retry_first: float = RETRY_FIRST_SECONDS,
        retry_max: float = RETRY_MAX_SECONDS,
        give_up_after: float = GIVE_UP_SECONDS,
        write_wait: float = WRITE_WAIT_SECONDS,
    ) -> None:
        self.records = StampRecords(store, wait=write_wait)
        self.settings = settings
        self.weights = settings.weights
        self.answer_author = answer_author or (lambda question_id, answer_id: None)
        self.bot_user_id = bot_user_id
        self.max_batch = max_batch
        self.damping = damping
        self.max_pending = max_pending
        self.retry_first = retry_first
        self.retry_max = retry_max
        self.give_up_after = give_up_after
        self.transactions = 0  # batches of stamp events written, for tests and benchmarks
        self.retries = 0  # batches tried again after the database refused them
        self.dropped = 0  # events dropped because the queue was full
        self.lost = 0  # events given up on close, the database still refusing them
        self._dropping = 0  # dropped since the queue was last full (for the log)
        self._writing = 0  # events taken from the queue by the batch being written
        # answer -> (stamper, emoji) -> on how many messages showing the answer
        self._answers: dict[str, dict[tuple[int, str], int]] = {}
        # (stamper, credited person) -> summed weight; and all of it together
        self._votes: dict[tuple[int, int], float] = {}
        self._total = 0.0
        # person -> emoji -> stamps given / credited to them
        self._given: dict[int, dict[str, int]] = {}
        self._received: dict[int, dict[str, int]] = {}
        self._roots: set[int] = set()
        self._moderators: set[tuple[int, int]] = set()
        self._owners: dict[int, int] = {}
        self._reputation: dict[int, float] = {}
        self._top = 0.0
        # Events waiting for the writer (None: stop), and what wakes it.
        self._queue: deque[_Queued | None] = deque()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()  # cuts a pause between retries short
        self._stop_by: float | None = None  # loop time after which close gives up
        self._writer: asyncio.Task[None] | None = None
        self._later: asyncio.Task[None] | None = None
        self._dirty = False
        self._closed = False
        self._running_io: set[asyncio.Future[Any]] = set()  # database work outside the queue
        # Live events seen while a reconcile is running (key -> sequence number).
        self._seq = 0
        self._watchers = 0
        self._touched: dict[tuple[int, int, str], int] = {}

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Load the stamps, the votes and the roots, start the writer, compute reputation."""
        for answer_id, voter, emoji, messages in await self.records.answer_stamps():
            self._answers.setdefault(answer_id, {})[(voter, emoji)] = messages
        for voter, votee, emoji, stamps in await self.records.tallies():
            _count(self._given, voter, emoji, stamps)
            if votee is None:
                continue
            _count(self._received, votee, emoji, stamps)
            weight = self.weights.get(emoji, 0) * stamps
            if weight:
                self._votes[(voter, votee)] = self._votes.get((voter, votee), 0.0) + weight
                self._total += weight
        roots = await self.records.roots()
        self._roots = {root.user_id for root in roots}
        self._moderators = {(r.guild_id, r.user_id) for r in roots if r.reason == "moderator"}
        self._owners = {r.guild_id: r.user_id for r in roots if r.reason == "owner"}
        self._writer = asyncio.create_task(self._write_loop(), name="stamp-writer")
        await self.recompute_reputation()

    async def close(self) -> None:
        """Write what is queued, then stop; later events raise :class:`StampBookClosed`."""
        if self._closed:
            return
        self._closed = True
        if self._running_io:
            await asyncio.gather(*self._running_io, return_exceptions=True)
        if self._later is not None:
            self._later.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._later
        if self._writer is not None:
            self._stop_by = asyncio.get_running_loop().time() + self.give_up_after
            self._stopping.set()
            self._queue.append(None)
            self._wake.set()
            await self._writer

    # ------------------------------------------------------------------ emojis

    def stamp_name(self, name: str | None, custom: bool) -> str | None:
        """The configured stamp an emoji is (custom by name, unicode as is), or None."""
        if not name:
            return None
        if custom:
            return name if name in self.weights and StampSettings.is_custom_name(name) else None
        key = name.replace("\ufe0f", "")
        return key if key in self.weights and not StampSettings.is_custom_name(key) else None

    # ------------------------------------------------------------------ recording

    async def record_answer(
        self,
        message_id: int,
        *,
        channel_id: int,
        guild_id: int | None,
        question_id: str,
        answer_id: str | None,
        at: datetime | None = None,
    ) -> None:
        """Remember that the bot's message ``message_id`` shows ``answer_id``; returns once
        stored. It goes through the writer's queue, so it waits (rather than fails) while
        the database cannot be written, and stamps queued after it see it."""
        if not isinstance(question_id, str) or not question_id:
            raise ValueError(f"question id must be a non-empty string, got {question_id!r}")
        self._check_running()
        message = AnswerMessage(
            message_id, channel_id, guild_id, question_id, answer_id, at or utc_now()
        )
        await self._enqueue(message)

    async def _io(self, step: Awaitable[T]) -> T:
        """Run database work outside the queue; :meth:`close` waits for it to finish, so
        the store is never closed under it (after close: :class:`StampBookClosed`)."""
        if self._closed:
            if inspect.iscoroutine(step):
                step.close()
            raise StampBookClosed("the stamp book is closed")
        task = asyncio.ensure_future(step)
        self._running_io.add(task)
        task.add_done_callback(self._running_io.discard)
        return await task

    async def apply(self, op: StampOp) -> StampChange | None:
        """Apply one reaction event; returns once it is committed. What it changed, or None
        (a duplicate, a removal of nothing, or an ignored reaction)."""
        self._check_running()
        return await self._submit(op, live=True)

    async def apply_many(
        self, ops: Iterable[StampOp], *, live: bool = True
    ) -> list[StampChange | None]:
        """Apply events in order (see :meth:`apply`); returns once all are committed."""
        self._check_running()
        futures = [self._submit(op, live=live) for op in ops]
        return [await future for future in futures]

    def _check_running(self) -> None:
        if self._closed or self._writer is None:
            raise StampBookClosed("the stamp book is not running")

    def _submit(self, op: StampOp, *, live: bool) -> asyncio.Future[StampChange | None]:
        """Queue ``op`` for the writer; the future resolves once its batch has committed."""
        if live:
            self._seq += 1
            if self._watchers:
                self._touched[op.key] = self._seq
        return self._enqueue(op)

    def _enqueue(self, item: StampOp | AnswerMessage) -> asyncio.Future[StampChange | None]:
        """Queue ``item``; a full queue drops it (the future resolves to None at once)."""
        future: asyncio.Future[StampChange | None] = asyncio.get_running_loop().create_future()
        if len(self._queue) + self._writing >= self.max_pending:
            self.dropped += 1
            self._dropping += 1
            if self._dropping == 1:
                log.error(
                    "stamp queue full: %d stamp events are waiting for the database; new "
                    "stamp events are dropped until it can be written again",
                    len(self._queue) + self._writing,
                )
            future.set_result(None)
            return future
        self._queue.append(_Queued(item, future))
        self._wake.set()
        return future

    async def _write_loop(self) -> None:
        queue = self._queue
        delay = self.retry_first  # the pause after the next refusal
        failing = 0  # batches refused in a row
        while True:
            if not queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            if queue[0] is None:  # stop: everything queued before has been dealt with
                break
            batch: list[_Queued] = []
            while queue and queue[0] is not None and len(batch) < self.max_batch:
                item = queue.popleft()
                assert item is not None
                batch.append(item)
            ops = [q.item for q in batch if isinstance(q.item, StampOp)]
            messages = [q.item for q in batch if isinstance(q.item, AnswerMessage)]
            self._writing = len(batch)
            failure: Exception | None = None
            try:
                changes = await self.records.apply(ops, self._classify, messages=messages)
            except Exception as error:
                failure = error
            finally:
                self._writing = 0
            if failure is not None:
                if not isinstance(failure, StoreError) or not failure.transient:
                    _fail(batch, failure)  # a bug, or nothing waiting can fix: the batch fails
                    continue
                # Keep the batch, in order, at the head of the queue and try again later.
                queue.extendleft(reversed(batch))
                failing += 1
                self.retries += 1
                if failing == 1:
                    log.warning(
                        "stamps: %d event(s) kept in memory until the database can be "
                        "written (%s); retrying",
                        self._pending(),
                        failure.kind,
                    )
                if not await self._pause(delay):
                    self._give_up(failure)
                    break
                delay = min(delay * 2, self.retry_max)
                continue
            if failing:
                log.warning(
                    "stamps: the database can be written again; writing %d queued event(s)",
                    self._pending() + len(batch),
                )
                failing, delay = 0, self.retry_first
            if self._dropping and len(queue) < self.max_pending:
                log.warning(
                    "stamps: %d stamp event(s) were dropped while the queue was full",
                    self._dropping,
                )
                self._dropping = 0
            if ops:
                self.transactions += 1
            for change in changes:
                if change is not None:
                    self._absorb(change)
            results = iter(changes)
            for queued in batch:
                result = next(results) if isinstance(queued.item, StampOp) else None
                if not queued.future.done():
                    queued.future.set_result(result)

    def _pending(self) -> int:
        """How many events and answer messages wait in the queue."""
        return sum(1 for item in self._queue if item is not None)

    async def _pause(self, delay: float) -> bool:
        """Wait ``delay`` seconds before a retry (less once closing); False: give up now."""
        if self._stop_by is not None:
            left = self._stop_by - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            delay = min(delay, left)
            await asyncio.sleep(delay)
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)  # close() cuts it short
        return True

    def _give_up(self, error: StoreError) -> None:
        """Closing, and the database still refuses: fail what is queued, say how much."""
        lost = [item for item in self._queue if item is not None]
        self._queue.clear()
        self.lost += len(lost)
        log.error(
            "stamps: %d stamp event(s) and answer message(s) could not be written before "
            "closing and are lost: %s",
            len(lost),
            error,
        )
        _fail(lost, StampBookClosed(f"not written before closing: {error}"))

    def _classify(self, op: StampOp, message: Tracked | None, now: datetime) -> StampRow | None:
        """The row an added stamp becomes, or None if it does not count."""
        bot = self.bot_user_id
        if op.voter_id == bot or op.emoji not in self.weights:
            return None
        if message is not None:
            if message.answer_id is None:
                return None  # "nobody has answered yet": nothing to endorse
            votee = self.answer_author(message.question_id, message.answer_id)
            if votee == op.voter_id:
                return None  # a stamp on your own answer
            if votee == bot:
                votee = None
            answer_id: str | None = message.answer_id
        else:
            votee = op.author_id
            if votee is None or votee == bot or votee == op.voter_id:
                return None  # the bot's own untracked message, unknown author, yourself
            answer_id = None
        return StampRow(
            message_id=op.message_id,
            voter_id=op.voter_id,
            emoji=op.emoji,
            votee_id=votee,
            answer_id=answer_id,
            channel_id=op.channel_id if message is None else message.channel_id,
            guild_id=op.guild_id if message is None else message.guild_id,
            stamped_at=op.at or now,
        )

    def _absorb(self, change: StampChange) -> None:
        """Keep the in-memory totals in step with a committed change."""
        row, step = change.row, 1 if change.added else -1
        if row.answer_id is not None:
            stamps = self._answers.setdefault(row.answer_id, {})
            key = (row.voter_id, row.emoji)
            left = stamps.get(key, 0) + step
            if left > 0:
                stamps[key] = left
            else:
                stamps.pop(key, None)
                if not stamps:
                    del self._answers[row.answer_id]
        _count(self._given, row.voter_id, row.emoji, step)
        if row.votee_id is not None:
            _count(self._received, row.votee_id, row.emoji, step)
        weight = self.weights.get(row.emoji, 0)
        if row.votee_id is not None and weight:
            pair = (row.voter_id, row.votee_id)
            self._total += step * weight
            total = self._votes.get(pair, 0.0) + step * weight
            if total > 0:
                self._votes[pair] = total
            else:
                self._votes.pop(pair, None)
            self._reputation_changed()

    # ------------------------------------------------------------------ reading

    def count(self, answer_id: str) -> int:
        """An answer's stamp count: the summed weights of its stamps."""
        stamps = self._answers.get(answer_id)
        if not stamps:
            return 0
        return sum(self.weights.get(emoji, 0) for _, emoji in stamps)

    def score(self, answer_id: str) -> float:
        """An answer's reputation-weighted stamp score (see the module docstring)."""
        stamps = self._answers.get(answer_id)
        if not stamps:
            return 0.0
        top = self._top or 1.0
        reputation = self._reputation
        return sum(
            self.weights.get(emoji, 0) * (1.0 + reputation.get(voter, 0.0) / top)
            for voter, emoji in stamps
        )

    def stamped_answers(self) -> dict[str, int]:
        """Stamp count of every stamped answer."""
        return {answer_id: self.count(answer_id) for answer_id in self._answers}

    @property
    def total_weight(self) -> float:
        """The weight of every credited stamp together (the original's "total votes")."""
        return self._total

    @property
    def roots(self) -> frozenset[int]:
        """Who trust flows from: configured root users, guild owners and moderators."""
        return frozenset(self._roots | set(self.settings.root_user_ids))

    def reputation(self, user_id: int) -> float:
        """``user_id``'s reputation as the original showed it: "stamps they are worth"."""
        return self._reputation.get(user_id, 0.0) * self.total_weight

    def leaderboard(self, limit: int = 10) -> list[tuple[int, float]]:
        """The ``limit`` people with the highest reputation, as (user, stamps worth)."""
        scale = self.total_weight
        ranked = sorted(
            ((user, value) for user, value in self._reputation.items() if value > 0),
            key=lambda pair: (-pair[1], pair[0]),
        )
        return [(user, value * scale) for user, value in ranked[:limit]]

    def user(self, user_id: int) -> UserStamps:
        """``user_id``'s reputation and the stamps they received and gave."""
        received = dict(self._received.get(user_id, {}))
        given = dict(self._given.get(user_id, {}))
        return UserStamps(
            user_id=user_id,
            score=self.reputation(user_id),
            received=sum(self.weights.get(e, 0) * n for e, n in received.items()),
            given=sum(self.weights.get(e, 0) * n for e, n in given.items()),
            received_by_emoji=received,
            given_by_emoji=given,
        )

    # ------------------------------------------------------------------ reputation

    def _reputation_changed(self) -> None:
        self._dirty = True
        if self._closed or (self._later is not None and not self._later.done()):
            return
        self._later = asyncio.get_running_loop().create_task(
            self._recompute_later(), name="stamp-reputation"
        )

    async def _recompute_later(self) -> None:
        delay = self.settings.reputation_delay_seconds
        while self._dirty:
            await asyncio.sleep(delay)
            self._dirty = False
            try:
                await self.recompute_reputation()
            except Exception:
                log.exception("recomputing reputation failed")

    async def recompute_reputation(self) -> None:
        """Recompute everyone's reputation now, in a worker thread."""
        from bot.reputation import compute_reputation  # scipy: imported when first needed

        votes, roots = dict(self._votes), self.roots
        scores = await asyncio.to_thread(compute_reputation, votes, roots, self.damping)
        self._reputation = scores
        self._top = max(scores.values(), default=0.0)

    # ------------------------------------------------------------------ roots of trust

    async def note_root(self, guild_id: int, user_id: int, *, moderator: bool) -> None:
        """Record whether ``user_id`` is a moderator of ``guild_id`` (writes only on change).

        While the database cannot be written this does nothing (logged): the next event of
        the same person tries again, and their stamp is queued all the same.
        """
        known = (guild_id, user_id) in self._moderators
        if known == moderator:
            return
        with _unless_unwritable("moderator role"):
            await self._io(self._set_root(guild_id, user_id, moderator))

    async def _set_root(self, guild_id: int, user_id: int, moderator: bool) -> None:
        await self.records.set_root(guild_id, user_id, "moderator", moderator)
        await self._reload_roots()

    async def note_owner(self, guild_id: int, owner_id: int) -> None:
        """Record the owner of ``guild_id`` (writes only on change)."""
        if self._owners.get(guild_id) == owner_id:
            return
        with _unless_unwritable("guild owner"):
            await self._io(self._set_owner(guild_id, owner_id))

    async def _set_owner(self, guild_id: int, owner_id: int) -> None:
        await self.records.set_owner(guild_id, owner_id)
        await self._reload_roots()

    async def _reload_roots(self) -> None:
        roots = await self.records.roots()
        self._moderators = {(r.guild_id, r.user_id) for r in roots if r.reason == "moderator"}
        self._owners = {r.guild_id: r.user_id for r in roots if r.reason == "owner"}
        before = self._roots
        self._roots = {root.user_id for root in roots}
        if self._roots != before:
            self._reputation_changed()

    # ------------------------------------------------------------------ reconciling

    @contextlib.contextmanager
    def watching(self) -> Iterator[int]:
        """While reconciling: yields a mark; live events after it win over the reconcile."""
        self._watchers += 1
        try:
            yield self._seq
        finally:
            self._watchers -= 1
            if not self._watchers:
                self._touched.clear()

    async def reconcile(
        self,
        message: AnswerMessage,
        present: Mapping[str, Iterable[int]] | None,
        *,
        since: int,
    ) -> Reconciled:
        """Make the stored stamps on ``message`` what Discord shows.

        ``present`` maps each stamp emoji checked to the users who reacted with it (an emoji
        left out is not touched); None means the message is gone (every stamp on it goes).
        Stamps that live events changed after the mark ``since`` (from :meth:`watching`)
        are left alone: the live event is newer than what was fetched.
        """
        self._check_running()
        stored = {
            row.key: row for row in await self._io(self.records.stamps_on(message.message_id))
        }
        wanted: set[tuple[int, int, str]] = set()
        checked: set[str] | None = None
        if present is not None:
            checked = set(present)
            for emoji, users in present.items():
                wanted.update((message.message_id, user, emoji) for user in users)

        def fresh(key: tuple[int, int, str]) -> bool:
            return self._touched.get(key, 0) <= since

        ops = [
            StampOp(message.message_id, key[1], key[2], add=False)
            for key in stored
            if key not in wanted and (checked is None or key[2] in checked) and fresh(key)
        ]
        ops += [
            StampOp(
                message.message_id,
                key[1],
                key[2],
                add=True,
                channel_id=message.channel_id,
                guild_id=message.guild_id,
            )
            for key in sorted(wanted - stored.keys())
            if fresh(key)
        ]
        changes = await self.apply_many(ops, live=False) if ops else []
        done = [change for change in changes if change is not None]
        return Reconciled(
            added=sum(change.added for change in done),
            removed=sum(not change.added for change in done),
            answer_ids=frozenset(c.row.answer_id for c in done if c.row.answer_id is not None),
        )

    async def clear(self, message_id: int, emoji: str | None = None) -> list[StampChange]:
        """Remove the stamps on a message (only those of ``emoji`` if given): the message was
        deleted or its reactions cleared. What was removed."""
        self._check_running()
        rows = await self._io(self.records.stamps_on(message_id))
        ops = [
            StampOp(row.message_id, row.voter_id, row.emoji, add=False)
            for row in rows
            if emoji is None or row.emoji == emoji
        ]
        changes = await self.apply_many(ops) if ops else []
        return [change for change in changes if change is not None]

    async def recent_answer_messages(self, days: int) -> list[AnswerMessage]:
        """Answer messages posted in the last ``days`` days, oldest first."""
        self._check_running()
        since = utc_now() - timedelta(days=days)
        return await self._io(self.records.answer_messages_since(since))
