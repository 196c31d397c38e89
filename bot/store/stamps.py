"""Stamps of approval as stored: answer messages, the stamps present now, reputation roots.

A stamp is one row keyed by (message, stamper, emoji), so a replayed or duplicated reaction
event finds its row and changes nothing, and removing a reaction that left no row is a no-op.
:meth:`StampRecords.apply` writes a whole batch of reaction events in one transaction (group
commit); deciding what an event means (which answer, who is credited, what is ignored) is the
caller's ``classify`` callback, so this module holds only SQL.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NamedTuple

from bot.store.db import Connection, Store, from_db_time, to_db_time, utc_now

__all__ = [
    "ROOT_REASONS",
    "STAMPS_CHANNEL",
    "AnswerMessage",
    "Root",
    "StampChange",
    "StampOp",
    "StampRecords",
    "StampRow",
    "Tracked",
]

#: The channel on which committed stamps and newly computed reputation are announced to the
#: other processes sharing the database; payloads ``stamps ORIGIN`` and ``reputation ORIGIN``
#: (ORIGIN: the announcing :class:`StampRecords`' :attr:`~StampRecords.origin`).
STAMPS_CHANNEL: Final = "stampy_stamps"

#: Why a user is a root of trust.
ROOT_REASONS: Final = ("owner", "moderator")

# Keys looked up per statement, 3 parameters each: a whole batch of 500 (SQLite 3.32 and
# later allow 32,766 parameters, PostgreSQL 32,767).
_CHUNK = 500

_STAMP_COLUMNS = (
    "message_id, voter_id, emoji, votee_id, answer_id, channel_id, guild_id, stamped_at"
)
_MESSAGE_COLUMNS = "message_id, channel_id, guild_id, question_id, answer_id, posted_at"


@dataclass(frozen=True)
class AnswerMessage:
    """A message the bot posted showing ``answer_id`` (None: no answer yet) of ``question_id``."""

    message_id: int
    channel_id: int
    guild_id: int | None
    question_id: str
    answer_id: str | None
    posted_at: datetime


class Tracked(NamedTuple):
    """What deciding a stamp needs to know about the answer message it is on."""

    message_id: int
    channel_id: int
    guild_id: int | None
    question_id: str
    answer_id: str | None


@dataclass(frozen=True, slots=True)
class StampRow:
    """One stamp as stored: ``voter_id`` stamped ``message_id`` with ``emoji`` (its configured
    name). ``votee_id`` is who is credited (None: nobody, e.g. an answer without a known
    author); ``answer_id`` the answer endorsed (None for a stamp on a person's message)."""

    message_id: int
    voter_id: int
    emoji: str
    votee_id: int | None
    answer_id: str | None
    channel_id: int | None
    guild_id: int | None
    stamped_at: datetime

    @property
    def key(self) -> tuple[int, int, str]:
        """(message, stamper, emoji): what makes a stamp unique."""
        return (self.message_id, self.voter_id, self.emoji)


@dataclass(frozen=True, slots=True)
class StampOp:
    """One reaction event to apply: ``voter_id`` added (``add``) or removed ``emoji`` on
    ``message_id``. ``author_id`` is the message's author when known (for stamps on a
    person's message)."""

    message_id: int
    voter_id: int
    emoji: str
    add: bool
    channel_id: int | None = None
    guild_id: int | None = None
    author_id: int | None = None
    at: datetime | None = None

    @property
    def key(self) -> tuple[int, int, str]:
        """(message, stamper, emoji), as :attr:`StampRow.key`."""
        return (self.message_id, self.voter_id, self.emoji)


@dataclass(frozen=True, slots=True)
class StampChange:
    """What one op changed: ``row`` was added (``added``) or removed."""

    added: bool
    row: StampRow


@dataclass(frozen=True)
class Root:
    """A user whose trust seeds reputation, and why (one of :data:`ROOT_REASONS`)."""

    guild_id: int
    user_id: int
    reason: str


#: Decides what an add op means: the row to store, or None to ignore the event. It gets the
#: answer message the op is on (None if the message is not one) and the batch's time.
Classifier = Callable[[StampOp, Tracked | None, datetime], StampRow | None]


class StampRecords:
    """The stamp tables of a :class:`~bot.store.db.Store`."""

    def __init__(self, store: Store, *, wait: float | None = None, origin: str = "") -> None:
        """Records in ``store``; ``wait``: seconds a write waits for another program's lock
        (None: the store's busy timeout); ``origin`` names this process in announcements
        (:data:`STAMPS_CHANNEL`), so it can tell its own from the others'."""
        self._store = store
        self._wait = wait
        self.origin = origin or uuid.uuid4().hex

    # ------------------------------------------------------------------ answer messages

    async def record_answer_message(
        self,
        message_id: int,
        *,
        channel_id: int,
        guild_id: int | None,
        question_id: str,
        answer_id: str | None,
        at: datetime | None = None,
    ) -> None:
        """Remember that ``message_id`` shows ``answer_id``; recording it again changes nothing."""
        if not isinstance(question_id, str) or not question_id:
            raise ValueError(f"question id must be a non-empty string, got {question_id!r}")
        when = to_db_time(at if at is not None else utc_now())
        async with self._store.transaction(wait=self._wait) as conn:
            await conn.execute(
                f"INSERT INTO answer_messages ({_MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (message_id, channel_id, guild_id, question_id, answer_id, when),
            )

    async def answer_message(self, message_id: int) -> AnswerMessage | None:
        """The answer message with this id, or None if the bot never posted an answer there."""
        async with self._store.read() as conn:
            rows = list(
                await conn.execute_fetchall(
                    f"SELECT {_MESSAGE_COLUMNS} FROM answer_messages WHERE message_id = ?",
                    (message_id,),
                )
            )
        return _message(rows[0]) if rows else None

    async def answer_messages_since(self, since: datetime) -> list[AnswerMessage]:
        """Answer messages posted at or after ``since``, oldest first."""
        async with self._store.read() as conn:
            rows = await conn.execute_fetchall(
                f"SELECT {_MESSAGE_COLUMNS} FROM answer_messages WHERE posted_at >= ?"
                " ORDER BY posted_at, message_id",
                (to_db_time(since),),
            )
        return [_message(row) for row in rows]

    # ------------------------------------------------------------------ stamps

    async def apply(
        self,
        ops: Sequence[StampOp],
        classify: Classifier,
        *,
        messages: Sequence[AnswerMessage] = (),
    ) -> list[StampChange | None]:
        """Apply ``ops`` in order, in ONE transaction; what each changed (None: nothing).

        An add of a stamp already present, or one ``classify`` rejects, changes nothing; so
        does a remove of a stamp that is not there. Only the net result of the batch is
        written (an add followed by a remove of the same stamp writes nothing). ``messages``
        (answer messages to remember, as :meth:`record_answer_message`) are written first,
        in the same transaction, so stamps in the batch already see them.
        """
        if not ops and not messages:
            return []
        now = utc_now()
        async with self._store.transaction(wait=self._wait) as conn:
            if messages:
                await conn.executemany(
                    f"INSERT INTO answer_messages ({_MESSAGE_COLUMNS})"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [
                        (
                            m.message_id,
                            m.channel_id,
                            m.guild_id,
                            m.question_id,
                            m.answer_id,
                            to_db_time(m.posted_at),
                        )
                        for m in messages
                    ],
                )
            if not ops:
                return []
            # Independent statements go to the database thread together: fewer round trips.
            added_on = {op.message_id for op in ops if op.add}
            tracked, before = await _together(
                _tracked(conn, added_on), _rows(conn, {op.key for op in ops})
            )
            state = dict(before)
            changes: list[StampChange | None] = []
            for op in ops:
                if op.add:
                    row = None if op.key in state else classify(op, tracked.get(op.message_id), now)
                    if row is None:
                        changes.append(None)
                        continue
                    state[op.key] = row
                    changes.append(StampChange(True, row))
                else:
                    old = state.pop(op.key, None)
                    changes.append(None if old is None else StampChange(False, old))
            # Removed stamps are deleted; new ones (and ones removed and added again, which
            # replace the old row) inserted: the two touch different keys, so run together.
            gone = [key for key in before if key not in state]
            new = [row for key, row in state.items() if before.get(key) is not row]
            times: dict[datetime, str] = {}  # most rows of a batch share its time
            writes = []
            if gone:
                writes.append(
                    conn.executemany(
                        "DELETE FROM stamps WHERE message_id = ? AND voter_id = ? AND emoji = ?",
                        gone,
                    )
                )
            if new:
                writes.append(
                    conn.executemany(
                        f"INSERT INTO stamps ({_STAMP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                        " ON CONFLICT (message_id, voter_id, emoji) DO UPDATE SET"
                        " votee_id = excluded.votee_id, answer_id = excluded.answer_id,"
                        " channel_id = excluded.channel_id, guild_id = excluded.guild_id,"
                        " stamped_at = excluded.stamped_at",
                        [_params(row, times) for row in new],
                    )
                )
            await _together(*writes)
            if writes:
                await self._store.notify(conn, STAMPS_CHANNEL, f"stamps {self.origin}")
        return changes

    async def stamps_on(self, message_id: int) -> list[StampRow]:
        """The stamps on one message."""
        async with self._store.read() as conn:
            rows = await conn.execute_fetchall(
                f"SELECT {_STAMP_COLUMNS} FROM stamps WHERE message_id = ?"
                " ORDER BY voter_id, emoji",
                (message_id,),
            )
        return [_stamp(row) for row in rows]

    async def answer_stamps(self) -> list[tuple[str, int, str, int]]:
        """(answer, stamper, emoji, on how many messages) for every stamped answer."""
        async with self._store.read() as conn:
            rows = await conn.execute_fetchall(
                "SELECT answer_id, voter_id, emoji, count(*) FROM stamps"
                " WHERE answer_id IS NOT NULL GROUP BY answer_id, voter_id, emoji"
            )
        return [(row[0], int(row[1]), row[2], int(row[3])) for row in rows]

    async def tallies(self) -> list[tuple[int, int | None, str, int]]:
        """(stamper, credited person or None, emoji, how many stamps), over every stamp."""
        async with self._store.read() as conn:
            rows = await conn.execute_fetchall(
                "SELECT voter_id, votee_id, emoji, count(*) FROM stamps"
                " GROUP BY voter_id, votee_id, emoji"
            )
        return [
            (int(row[0]), None if row[1] is None else int(row[1]), row[2], int(row[3]))
            for row in rows
        ]

    async def count(self) -> int:
        """How many stamps are stored."""
        async with self._store.read() as conn:
            rows = list(await conn.execute_fetchall("SELECT count(*) FROM stamps"))
        return int(rows[0][0])

    # ------------------------------------------------------------------ reputation

    async def reputation(self) -> dict[int, float]:
        """Reputation as last stored (:meth:`save_reputation`): user id to score."""
        async with self._store.read() as conn:
            rows = await conn.execute_fetchall("SELECT user_id, score FROM reputation")
        return {int(row[0]): float(row[1]) for row in rows}

    async def save_reputation(self, scores: Mapping[int, float]) -> None:
        """Replace the stored reputation with ``scores`` and announce it."""
        async with self._store.transaction(wait=self._wait) as conn:
            await conn.execute("DELETE FROM reputation")
            await conn.executemany(
                "INSERT INTO reputation (user_id, score) VALUES (?, ?)",
                [(user, max(0.0, float(score))) for user, score in scores.items()],
            )
            await self._store.notify(conn, STAMPS_CHANNEL, f"reputation {self.origin}")

    # ------------------------------------------------------------------ roots of trust

    async def roots(self) -> list[Root]:
        """Every stored root (guild owners and moderators as last seen)."""
        async with self._store.read() as conn:
            rows = await conn.execute_fetchall(
                "SELECT guild_id, user_id, reason FROM stamp_roots ORDER BY guild_id, user_id"
            )
        return [Root(int(row[0]), int(row[1]), row[2]) for row in rows]

    async def set_root(self, guild_id: int, user_id: int, reason: str, present: bool) -> None:
        """Record that ``user_id`` is (``present``) or is no longer a root for ``reason``."""
        if reason not in ROOT_REASONS:
            raise ValueError(f"unknown root reason {reason!r}")
        async with self._store.transaction(wait=self._wait) as conn:
            if present:
                await conn.execute(
                    "INSERT INTO stamp_roots (guild_id, user_id, reason, seen_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT (guild_id, user_id, reason)"
                    " DO UPDATE SET seen_at = excluded.seen_at",
                    (guild_id, user_id, reason, to_db_time(utc_now())),
                )
            else:
                await conn.execute(
                    "DELETE FROM stamp_roots WHERE guild_id = ? AND user_id = ? AND reason = ?",
                    (guild_id, user_id, reason),
                )

    async def set_owner(self, guild_id: int, owner_id: int) -> None:
        """Record ``owner_id`` as the owner of ``guild_id`` (replacing a previous owner)."""
        async with self._store.transaction(wait=self._wait) as conn:
            await conn.execute(
                "DELETE FROM stamp_roots WHERE guild_id = ? AND reason = 'owner' AND user_id <> ?",
                (guild_id, owner_id),
            )
            await conn.execute(
                "INSERT INTO stamp_roots (guild_id, user_id, reason, seen_at)"
                " VALUES (?, ?, 'owner', ?) ON CONFLICT (guild_id, user_id, reason)"
                " DO UPDATE SET seen_at = excluded.seen_at",
                (guild_id, owner_id, to_db_time(utc_now())),
            )


# --------------------------------------------------------------------------- helpers


async def _together(*steps: Awaitable[Any]) -> list[Any]:
    """Await ``steps`` concurrently (the connection runs them in order, back to back); raise
    the first failure only once every step has ended, so none is left running."""
    results = await asyncio.gather(*steps, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


async def _tracked(conn: Connection, message_ids: Iterable[int]) -> dict[int, Tracked]:
    ids = list(message_ids)
    found: dict[int, Tracked] = {}
    for start in range(0, len(ids), _CHUNK * 3):
        chunk = ids[start : start + _CHUNK * 3]
        marks = ", ".join("?" * len(chunk))
        rows = await conn.execute_fetchall(
            "SELECT message_id, channel_id, guild_id, question_id, answer_id"
            f" FROM answer_messages WHERE message_id IN ({marks})",
            chunk,
        )
        for row in rows:
            found[row[0]] = Tracked(row[0], row[1], row[2], row[3], row[4])
    return found


async def _rows(
    conn: Connection, keys: Iterable[tuple[int, int, str]]
) -> dict[tuple[int, int, str], StampRow]:
    wanted = list(keys)
    found: dict[tuple[int, int, str], StampRow] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        # Typed, so PostgreSQL compares them with the key columns as they are.
        values = ", ".join(["(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT))"] * len(chunk))
        params = [part for key in chunk for part in key]
        rows = await conn.execute_fetchall(
            f"WITH wanted (m, v, e) AS (VALUES {values})"
            f" SELECT {_STAMP_COLUMNS} FROM stamps JOIN wanted"
            " ON message_id = wanted.m AND voter_id = wanted.v AND emoji = wanted.e",
            params,
        )
        for row in rows:
            stamp = _stamp(row)
            found[stamp.key] = stamp
    return found


def _params(row: StampRow, times: dict[datetime, str]) -> tuple[object, ...]:
    when = times.get(row.stamped_at)
    if when is None:
        when = times[row.stamped_at] = to_db_time(row.stamped_at)
    return (
        row.message_id,
        row.voter_id,
        row.emoji,
        row.votee_id,
        row.answer_id,
        row.channel_id,
        row.guild_id,
        when,
    )


def _stamp(row: Any) -> StampRow:
    return StampRow(
        message_id=int(row[0]),
        voter_id=int(row[1]),
        emoji=row[2],
        votee_id=None if row[3] is None else int(row[3]),
        answer_id=row[4],
        channel_id=None if row[5] is None else int(row[5]),
        guild_id=None if row[6] is None else int(row[6]),
        stamped_at=from_db_time(row[7]),
    )


def _message(row: Any) -> AnswerMessage:
    return AnswerMessage(
        message_id=int(row[0]),
        channel_id=int(row[1]),
        guild_id=None if row[2] is None else int(row[2]),
        question_id=row[3],
        answer_id=row[4],
        posted_at=from_db_time(row[5]),
    )
