"""Questions the bot could not answer, kept so that moderators can see what is missing.

A question asked again, in the same or nearly the same words, folds into the existing open
row (its ``count`` goes up) instead of adding a row: first by exact comparison of the
normalised text (an indexed lookup), then by fuzzy comparison against a bounded set of open
rows of about the same length, the most recently asked (found along an index, so the cost
does not grow with the table).

The write is one statement either way, so processes sharing a PostgreSQL database cannot
lose or double a count: a repeat of the exact text is ``INSERT ... ON CONFLICT DO UPDATE``
on the open rows' unique normalised text (migration 5), and a near-duplicate an ``UPDATE``
of the row found that still requires it to be open (if it was closed meanwhile, the question
is inserted instead). Two near-duplicates that are not equal, first asked at the same instant
in two processes, may stay two rows; a moderator can merge them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from rapidfuzz import fuzz, process

from bot.knowledge.text import normalize
from bot.store.db import (
    Connection,
    check_page,
    check_status,
    clean_text,
    from_db_time,
    to_db_time,
    utc_now,
)
from bot.store.review import ReviewRows

__all__ = ["UNANSWERED_STATUSES", "UnansweredQuestion", "UnansweredQuestions"]

#: The states of an unanswered question; new ones are "open".
UNANSWERED_STATUSES: Final = ("open", "dismissed", "answered")

#: Fold into an open row whose normalised text has at least this ``fuzz.ratio`` ...
FOLD_RATIO: Final = 90.0
#: ... or at least this ``fuzz.token_sort_ratio`` (the same words in another order).
FOLD_TOKEN_SORT_RATIO: Final = 92.0
#: Fuzzy candidates differ in normalised length by at most this share. Both scores above
#: need the lengths within about 18% of each other, so nothing that could fold is missed.
LENGTH_TOLERANCE: Final = 0.3
#: At most this many open rows (the most recently asked of about the same length) are
#: compared fuzzily: about 2 ms of comparisons per new unanswered question.
MAX_FUZZY_CANDIDATES: Final = 200

#: The open row with exactly this normalised text (unique among open rows: migration 5).
EXACT_SQL: Final = "SELECT id FROM unanswered WHERE status = 'open' AND normalized = ?"
#: The open rows a new question may fold into. The database walks the index of migration 4
#: newest first and stops at the limit, so the cost does not grow with the table (an index on
#: the length made it read and sort every row of the length range).
FUZZY_CANDIDATES_SQL: Final = (
    "SELECT id, normalized FROM unanswered"
    " WHERE status = 'open' AND norm_len BETWEEN ? AND ?"
    " ORDER BY last_asked_at DESC, id DESC LIMIT ?"
)

_COLUMNS = (
    "id, text, normalized, count, first_asker_id, first_channel_id, guild_id, "
    "first_asked_at, last_asked_at, status"
)

#: Add a new open question, or fold a repeat of an open one's exact normalised text into it.
UPSERT_SQL: Final = (
    "INSERT INTO unanswered (text, normalized, norm_len, count, first_asker_id,"
    " first_channel_id, guild_id, first_asked_at, last_asked_at, status)"
    " VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, 'open')"
    " ON CONFLICT (normalized) WHERE status = 'open' DO UPDATE SET"
    " count = unanswered.count + 1,"
    " last_asked_at = CASE WHEN excluded.last_asked_at > unanswered.last_asked_at"
    " THEN excluded.last_asked_at ELSE unanswered.last_asked_at END"
    f" RETURNING {_COLUMNS}"
)
#: Fold into a near-duplicate, if it is still open (no row comes back otherwise).
FOLD_SQL: Final = (
    "UPDATE unanswered SET count = count + 1,"
    " last_asked_at = CASE WHEN ? > last_asked_at THEN ? ELSE last_asked_at END"
    f" WHERE id = ? AND status = 'open' RETURNING {_COLUMNS}"
)


@dataclass(frozen=True)
class UnansweredQuestion:
    """One unanswered question, standing for every time it was asked.

    ``text`` is the first wording seen (cut to 2000 characters); ``normalized`` is what
    repeats are compared with. The ``first_*`` fields and ``guild_id`` describe the first
    time it was asked. Times are aware datetimes in UTC.
    """

    id: int
    text: str
    normalized: str
    count: int
    first_asker_id: int | None
    first_channel_id: int | None
    guild_id: int | None
    first_asked_at: datetime
    last_asked_at: datetime
    status: str  # one of UNANSWERED_STATUSES


class UnansweredQuestions(ReviewRows[UnansweredQuestion]):
    """The unanswered questions in a :class:`~bot.store.db.Store`."""

    table = "unanswered"
    columns = _COLUMNS
    unique_open = ("normalized",)
    statuses = UNANSWERED_STATUSES

    def _from_row(self, row: Any) -> UnansweredQuestion:
        return _from_row(row)

    async def record(
        self,
        text: str,
        *,
        asker_id: int | None,
        channel_id: int | None,
        guild_id: int | None,
        at: datetime | None = None,
    ) -> UnansweredQuestion:
        """Record that ``text`` was asked and not answered; return its (folded) row.

        A repeat of an open question (the same normalised text, or close to it) adds one to
        its count and updates ``last_asked_at``; the first asker, channel and wording stay.
        Otherwise a new open row is added. ``at`` defaults to now and must be timezone-aware.
        Raises ValueError if ``text`` is empty or only whitespace.
        """
        stored = clean_text(text, "question text")
        normalized = normalize(stored)
        when = to_db_time(at if at is not None else utc_now())
        async with self._store.transaction(wait=self._wait) as conn:
            row_id = await _find_similar(conn, normalized)
            rows: list[Any] = []
            if row_id is not None:  # a near-duplicate: fold into it if it is still open
                rows = list(await conn.execute_fetchall(FOLD_SQL, (when, when, row_id)))
            if not rows:  # new, or a repeat of the exact text: one atomic statement
                rows = list(
                    await conn.execute_fetchall(
                        UPSERT_SQL,
                        (
                            stored,
                            normalized,
                            len(normalized),
                            asker_id,
                            channel_id,
                            guild_id,
                            when,
                            when,
                        ),
                    )
                )
        return _from_row(rows[0])

    async def list(
        self, *, status: str = "open", limit: int = 25, offset: int = 0
    ) -> list[UnansweredQuestion]:
        """Questions with ``status``: the most asked first, then the most recently asked."""
        check_status(status, UNANSWERED_STATUSES)
        check_page(limit, offset)
        async with self._store.read() as conn:
            rows = await conn.execute_fetchall(
                f"SELECT {_COLUMNS} FROM unanswered WHERE status = ?"
                " ORDER BY count DESC, last_asked_at DESC, id DESC LIMIT ? OFFSET ?",
                (status, limit, offset),
            )
        return [_from_row(row) for row in rows]


async def _find_similar(conn: Connection, normalized: str) -> int | None:
    """The id of the open near-duplicate that ``normalized`` folds into, or None (also when
    an open row has exactly this text: the insert folds into that one)."""
    if list(await conn.execute_fetchall(EXACT_SQL, (normalized,))):
        return None
    if not normalized:
        return None
    size = len(normalized)
    rows = await conn.execute_fetchall(
        FUZZY_CANDIDATES_SQL,
        (
            math.floor(size * (1 - LENGTH_TOLERANCE)),
            math.ceil(size * (1 + LENGTH_TOLERANCE)),
            MAX_FUZZY_CANDIDATES,
        ),
    )
    return closest(normalized, {int(row[0]): row[1] for row in rows})


def closest(normalized: str, candidates: dict[int, str]) -> int | None:
    """The key of the candidate ``normalized`` folds into (best score wins), or None.

    A candidate qualifies with ``fuzz.ratio`` >= :data:`FOLD_RATIO` or
    ``fuzz.token_sort_ratio`` >= :data:`FOLD_TOKEN_SORT_RATIO`; on a tie the first one in
    ``candidates`` wins.
    """
    best: int | None = None
    best_score = -1.0
    for scorer, cutoff in (
        (fuzz.ratio, FOLD_RATIO),
        (fuzz.token_sort_ratio, FOLD_TOKEN_SORT_RATIO),
    ):
        hit = process.extractOne(normalized, candidates, scorer=scorer, score_cutoff=cutoff)
        if hit is not None and hit[1] > best_score:
            best, best_score = hit[2], hit[1]
    return best


def _from_row(row: Any) -> UnansweredQuestion:
    return UnansweredQuestion(
        id=row["id"],
        text=row["text"],
        normalized=row["normalized"],
        count=row["count"],
        first_asker_id=row["first_asker_id"],
        first_channel_id=row["first_channel_id"],
        guild_id=row["guild_id"],
        first_asked_at=from_db_time(row["first_asked_at"]),
        last_asked_at=from_db_time(row["last_asked_at"]),
        status=row["status"],
    )
