"""Non-canonical answers proposed as canonical because their stamps passed the promotion
share (see :meth:`bot.service.Service.check_promotion`).

An answer is proposed at most once: whatever moderators decide, further stamps do not
propose it again (``answer_id`` is unique), so nobody is asked twice about the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from bot.store.db import check_page, check_status, from_db_time, to_db_time, utc_now
from bot.store.review import ReviewRows

__all__ = ["PROMOTION_STATUSES", "Promotion", "Promotions"]

#: The states of a promotion; new ones are "open".
PROMOTION_STATUSES: Final = ("open", "approved", "rejected")

_COLUMNS = "id, question_id, answer_id, score, share, stamps, proposed_at, status"


@dataclass(frozen=True)
class Promotion:
    """Answer ``answer_id`` of ``question_id`` proposed as canonical: its reputation-weighted
    stamp ``score``, that score's ``share`` of all the question's answers' scores and its
    stamp count, when it was proposed."""

    id: int
    question_id: str
    answer_id: str
    score: float
    share: float
    stamps: int
    proposed_at: datetime
    status: str  # one of PROMOTION_STATUSES


class Promotions(ReviewRows[Promotion]):
    """The promotions in a :class:`~bot.store.db.Store`."""

    table = "promotions"
    columns = _COLUMNS
    unique_open = ("answer_id",)
    statuses = PROMOTION_STATUSES

    def _from_row(self, row: Any) -> Promotion:
        return _from_row(row)

    async def propose(
        self,
        question_id: str,
        answer_id: str,
        *,
        score: float,
        share: float,
        stamps: int,
        at: datetime | None = None,
    ) -> Promotion | None:
        """Propose the answer; None when it was proposed before (by any process)."""
        when = to_db_time(at if at is not None else utc_now())
        async with self._store.transaction(wait=self._wait) as conn:
            rows = list(
                await conn.execute_fetchall(
                    "INSERT INTO promotions (question_id, answer_id, score, share, stamps,"
                    " proposed_at, status) VALUES (?, ?, ?, ?, ?, ?, 'open')"
                    f" ON CONFLICT (answer_id) DO NOTHING RETURNING {_COLUMNS}",
                    (question_id, answer_id, float(score), float(share), int(stamps), when),
                )
            )
        return _from_row(rows[0]) if rows else None

    async def of_answer(self, answer_id: str) -> Promotion | None:
        """The promotion of this answer, if it was ever proposed."""
        async with self._store.read() as conn:
            rows = list(
                await conn.execute_fetchall(
                    f"SELECT {_COLUMNS} FROM promotions WHERE answer_id = ?", (answer_id,)
                )
            )
        return _from_row(rows[0]) if rows else None

    async def list(
        self, *, status: str = "open", limit: int = 25, offset: int = 0
    ) -> list[Promotion]:
        """Promotions with ``status``, oldest first."""
        check_status(status, PROMOTION_STATUSES)
        check_page(limit, offset)
        async with self._store.read() as conn:
            rows = await conn.execute_fetchall(
                f"SELECT {_COLUMNS} FROM promotions WHERE status = ? ORDER BY id LIMIT ? OFFSET ?",
                (status, limit, offset),
            )
        return [_from_row(row) for row in rows]


def _from_row(row: Any) -> Promotion:
    return Promotion(
        id=row["id"],
        question_id=row["question_id"],
        answer_id=row["answer_id"],
        score=float(row["score"]),
        share=float(row["share"]),
        stamps=int(row["stamps"]),
        proposed_at=from_db_time(row["proposed_at"]),
        status=row["status"],
    )
