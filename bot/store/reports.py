"""Problems members reported with an answer ("Report a problem"), kept for moderators.

Every report is its own row (reports are not folded: each says something). A member's
reports within a recent window are counted for the rate limit (:meth:`Reports.recent`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from bot.store.db import check_page, check_status, from_db_time, to_db_time, utc_now
from bot.store.review import ReviewRows

__all__ = ["MAX_REPORT_CHARS", "REPORT_STATUSES", "Report", "Reports"]

#: The states of a report; new ones are "open".
REPORT_STATUSES: Final = ("open", "resolved", "dismissed")
#: The longest report text stored.
MAX_REPORT_CHARS: Final = 1000
MAX_NAME_CHARS: Final = 100

_COLUMNS = (
    "id, question_id, answer_id, reporter_id, reporter_name, text, channel_id, guild_id,"
    " message_id, reported_at, status"
)


@dataclass(frozen=True)
class Report:
    """A member's report of a problem with answer ``answer_id`` of ``question_id`` (None: the
    question had no answer), shown in message ``message_id`` of ``channel_id``."""

    id: int
    question_id: str
    answer_id: str | None
    reporter_id: int | None
    reporter_name: str
    text: str
    channel_id: int | None
    guild_id: int | None
    message_id: int | None
    reported_at: datetime
    status: str  # one of REPORT_STATUSES


class Reports(ReviewRows[Report]):
    """The reports in a :class:`~bot.store.db.Store`."""

    table = "reports"
    columns = _COLUMNS
    unique_open = ("id",)  # reports never fold, so reopening one clashes with nothing
    statuses = REPORT_STATUSES

    def _from_row(self, row: Any) -> Report:
        return _from_row(row)

    async def add(
        self,
        question_id: str,
        answer_id: str | None,
        *,
        reporter_id: int | None,
        reporter_name: str,
        text: str,
        channel_id: int | None = None,
        guild_id: int | None = None,
        message_id: int | None = None,
        at: datetime | None = None,
    ) -> Report:
        """Store a report (``text`` already checked: 1 to :data:`MAX_REPORT_CHARS`)."""
        name = (reporter_name or "").strip()[:MAX_NAME_CHARS] or "unknown"
        when = to_db_time(at if at is not None else utc_now())
        async with self._store.transaction(wait=self._wait) as conn:
            rows = list(
                await conn.execute_fetchall(
                    "INSERT INTO reports (question_id, answer_id, reporter_id, reporter_name,"
                    " text, channel_id, guild_id, message_id, reported_at, status)"
                    f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open') RETURNING {_COLUMNS}",
                    (
                        question_id,
                        answer_id,
                        reporter_id,
                        name,
                        text[:MAX_REPORT_CHARS],
                        channel_id,
                        guild_id,
                        message_id,
                        when,
                    ),
                )
            )
        return _from_row(rows[0])

    async def recent(self, reporter_id: int, since: datetime) -> int:
        """How many reports ``reporter_id`` made at or after ``since``."""
        async with self._store.read() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT count(*) FROM reports WHERE reporter_id = ? AND reported_at >= ?",
                    (reporter_id, to_db_time(since)),
                )
            )
        return int(rows[0][0])

    async def list(self, *, status: str = "open", limit: int = 25, offset: int = 0) -> list[Report]:
        """Reports with ``status``, oldest first (the order they came in)."""
        check_status(status, REPORT_STATUSES)
        check_page(limit, offset)
        async with self._store.read() as conn:
            rows = await conn.execute_fetchall(
                f"SELECT {_COLUMNS} FROM reports WHERE status = ? ORDER BY id LIMIT ? OFFSET ?",
                (status, limit, offset),
            )
        return [_from_row(row) for row in rows]


def _from_row(row: Any) -> Report:
    return Report(
        id=row["id"],
        question_id=row["question_id"],
        answer_id=row["answer_id"],
        reporter_id=row["reporter_id"],
        reporter_name=row["reporter_name"],
        text=row["text"],
        channel_id=row["channel_id"],
        guild_id=row["guild_id"],
        message_id=row["message_id"],
        reported_at=from_db_time(row["reported_at"]),
        status=row["status"],
    )
