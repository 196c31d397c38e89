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
* **Group commit** (:mod:`bot.stamps.writer`): events and answer messages
  (:meth:`StampBook.record_answer`) wait in one queue and are written as many per
  transaction as are waiting; :meth:`StampBook.apply` returns only once the event's
  transaction has committed. While the database cannot be written they wait in memory, in
  order (bounded; beyond it new events are dropped and the log says so, and the reconcile at
  the next start repairs what Discord still shows).
* **In memory** (:mod:`bot.stamps.tallies`): per-answer stamps, the vote weights between
  people and each person's stamps given and received are loaded at start and kept in step
  with every commit, so ranking answers (:meth:`StampBook.score`) and ``/stamps`` never
  touch the database (and the stamps table needs no index but its key).
* **Several processes** sharing a PostgreSQL database (:mod:`bot.stamps.feed`): each writes
  the stamps it sees, announces every commit, and re-reads the totals when another process
  announces one (:meth:`StampBook.refresh`), so the totals are the shared tables'. One
  process leads and computes reputation, stores it and announces it; the others read it.
* **Reputation.** Each person's score comes from
  :func:`bot.stamps.reputation.prepare_reputation`, solved straight from the vote arrays the
  tallies keep (:class:`bot.stamps.votes.VoteTable`): trust flows from the roots (configured
  ``root_user_ids``, guild owners and moderators as last seen) through the stamps people give
  each other. It is recomputed in a worker thread,
  debounced (at most once per ``reputation_delay_seconds`` after changes), never per event.

**Ranking.** An answer's stamp *count* is the sum of the weights of its stamps (a gold stamp
counts 5), each (person, emoji) once however many messages showing the answer they stamped.
Its *score* weights each stamp by its giver's reputation::

    score(answer) = sum over stamps of  weight(emoji) * (1 + reputation(giver) / top reputation)

so a stamp from a newcomer counts its weight and one from the most trusted person counts
double. Answers rank canonical first, then by score (:func:`~bot.stamps.ranking.rank_answers`);
near-tied "did you mean" questions are ordered by the summed scores of their answers
(:func:`~bot.stamps.ranking.break_ties`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bot.config import StampSettings
from bot.metrics import Metrics
from bot.stamps.tallies import Tallies, UserStamps
from bot.stamps.votes import Reputation
from bot.stamps.writer import BatchWriter
from bot.store.db import Store, StoreError, utc_now
from bot.store.stamps import (
    AnswerMessage,
    Root,
    StampChange,
    StampOp,
    StampRecords,
    StampRow,
    Tracked,
)

__all__ = ["Reconciled", "StampBook", "StampBookClosed"]

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
#: :data:`bot.stamps.reputation.DEFAULT_DAMPING`, repeated so that importing this module does
#: not import scipy).
DAMPING = 0.99

T = TypeVar("T")


class StampBookClosed(RuntimeError):
    """The stamp book has been closed; the event was not recorded."""


@contextlib.contextmanager
def _unless_unwritable(what: str) -> Iterator[None]:
    """Swallow (and log) a transient database fault: the write is tried again later."""
    try:
        yield
    except StoreError as error:
        if not error.transient:
            raise
        log.warning("stamps: %s not recorded for now: %s", what, error)


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
        metrics: Metrics | None = None,
    ) -> None:
        self.records = StampRecords(store, wait=write_wait)
        self.metrics = metrics  # counts stamps written and failed writes, when given
        self.settings = settings
        self.weights = settings.weights
        self.answer_author = answer_author or (lambda question_id, answer_id: None)
        self.bot_user_id = bot_user_id
        self.damping = damping
        self.transactions = 0  # batches of stamp events written, for tests and benchmarks
        self.tallies = Tallies(self.weights)
        self.writer: BatchWriter[StampOp | AnswerMessage, StampChange] = BatchWriter(
            self._write,
            max_batch=max_batch,
            max_pending=max_pending,
            retry_first=retry_first,
            retry_max=retry_max,
            give_up_after=give_up_after,
            what="stamp",
            closed_error=StampBookClosed,
        )
        self._roots: set[int] = set()
        self._moderators: set[tuple[int, int]] = set()
        self._owners: dict[int, int] = {}
        self._reputation = Reputation.of({})
        self._top = 0.0
        self._later: asyncio.Task[None] | None = None
        self._dirty = False
        self._started = False
        self._closed = False
        self._running_io: set[asyncio.Future[Any]] = set()  # database work outside the queue
        # A write and its absorbing, or a refresh from the database: one at a time, so a
        # refresh never misses (or counts twice) a batch this process committed.
        self._absorbing = asyncio.Lock()
        #: None: the only process (compute reputation here); else whether this process
        #: leads the ones sharing the database (set by :class:`bot.stamps.feed.StampFeed`).
        self.leading: Callable[[], bool] | None = None
        # Live events seen while a reconcile is running (key -> sequence number).
        self._seq = 0
        self._watchers = 0
        self._touched: dict[tuple[int, int, str], int] = {}

    # The writer's counters, for tests, benchmarks and the log.
    retries = property(lambda self: self.writer.retries)
    dropped = property(lambda self: self.writer.dropped)
    lost = property(lambda self: self.writer.lost)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Load the stamps, the votes and the roots, start the writer, compute reputation."""
        self.tallies.load(await self.records.answer_stamps(), await self.records.tallies())
        self._set_roots(await self.records.roots())
        self.writer.start("stamp-writer")
        self._started = True
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
        await self.writer.close()

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

    def record_answer(
        self,
        message_id: int,
        *,
        channel_id: int,
        guild_id: int | None,
        question_id: str,
        answer_id: str | None,
        at: datetime | None = None,
    ) -> asyncio.Future[object]:
        """Remember that the bot's message ``message_id`` shows ``answer_id``: queued before
        this returns, stored when the future is done (await it to wait for that). It goes
        through the writer's queue, so it waits (rather than fails) while the database cannot
        be written, stamps queued after it see it, and :meth:`close` writes it."""
        if not isinstance(question_id, str) or not question_id:
            raise ValueError(f"question id must be a non-empty string, got {question_id!r}")
        self._check_running()
        message = AnswerMessage(
            message_id, channel_id, guild_id, question_id, answer_id, at or utc_now()
        )
        return self.writer.submit(message)

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
        if self._closed or not self._started:
            raise StampBookClosed("the stamp book is not running")

    def _submit(self, op: StampOp, *, live: bool) -> asyncio.Future[StampChange | None]:
        """Queue ``op`` for the writer; the future resolves once its batch has committed."""
        if live:
            self._seq += 1
            if self._watchers:
                self._touched[op.key] = self._seq
        return self.writer.submit(op)

    async def _write(self, batch: Sequence[StampOp | AnswerMessage]) -> list[StampChange | None]:
        """Write one batch in one transaction and take its changes into the tallies."""
        ops = [item for item in batch if isinstance(item, StampOp)]
        messages = [item for item in batch if isinstance(item, AnswerMessage)]
        async with self._absorbing:
            try:
                changes = await self.records.apply(ops, self._classify, messages=messages)
            except StoreError as error:  # the writer tries again (or gives up); counted here
                if self.metrics is not None:
                    self.metrics.database_error(error.kind)
                raise
            if ops:
                self.transactions += 1
            for change in changes:
                if change is not None and self.metrics is not None:
                    self.metrics.stamp(change.added)
                if change is not None and self.tallies.absorb(change):
                    self._reputation_changed()
        results = iter(changes)
        return [next(results) if isinstance(item, StampOp) else None for item in batch]

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

    # ------------------------------------------------------------------ reading

    def count(self, answer_id: str) -> int:
        """An answer's stamp count: the summed weights of its stamps."""
        return self.tallies.count(answer_id)

    def score(self, answer_id: str) -> float:
        """An answer's reputation-weighted stamp score (see the module docstring)."""
        return self.tallies.score(answer_id, self._reputation, self._top)

    def stamped_answers(self) -> dict[str, int]:
        """Stamp count of every stamped answer."""
        return self.tallies.stamped_answers()

    @property
    def total_weight(self) -> float:
        """The weight of every credited stamp together (the original's "total votes")."""
        return self.tallies.total

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
        return [(user, value * scale) for user, value in self._reputation.top(limit)]

    def user(self, user_id: int) -> UserStamps:
        """``user_id``'s reputation and the stamps they received and gave."""
        return self.tallies.user(user_id, self.reputation(user_id))

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
        """Recompute everyone's reputation now, in a worker thread; or, in a process that
        does not lead the ones sharing the database, read what the leader stored."""
        if self.leading is not None and not self.leading():
            await self.load_reputation()
            return
        from bot.stamps.reputation import prepare_reputation  # scipy: imported when needed

        # The votes are taken here, in the loop's thread; the solve runs in a worker.
        solve = prepare_reputation(self.tallies.votes, self.roots, self.damping)
        scores = await asyncio.to_thread(solve)
        self._set_reputation(scores)
        if self.leading is not None:  # the leader: store it for the others, and tell them
            with _unless_unwritable("reputation"):
                await self._io(self.records.save_reputation(scores))

    async def load_reputation(self) -> None:
        """Take the reputation the leading process stored."""
        self._set_reputation(await self.records.reputation())

    def _set_reputation(self, scores: Mapping[int, float]) -> None:
        self._reputation = scores if isinstance(scores, Reputation) else Reputation.of(scores)
        self._top = self._reputation.max()

    async def refresh(self) -> None:
        """Re-read the stamps, votes and roots from the database (another process changed
        them), then reputation."""
        async with self._absorbing:
            tallies = Tallies(self.weights)
            tallies.load(await self.records.answer_stamps(), await self.records.tallies())
            roots = await self.records.roots()
            self.tallies = tallies
            self._set_roots(roots)
        self._reputation_changed()

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
        before = self._roots
        self._set_roots(await self.records.roots())
        if self._roots != before:
            self._reputation_changed()

    def _set_roots(self, roots: Iterable[Root]) -> None:
        roots = list(roots)
        self._moderators = {(r.guild_id, r.user_id) for r in roots if r.reason == "moderator"}
        self._owners = {r.guild_id: r.user_id for r in roots if r.reason == "owner"}
        self._roots = {root.user_id for root in roots}

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
