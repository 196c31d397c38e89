"""Alternate phrasings proposed for known questions, stored for review and never applied.

When an asker picks a "did you mean" choice, their original wording is a candidate alternate
phrasing of the chosen question. The same wording proposed again for the same question
(compared after normalisation) adds to the count of the open proposal instead of a new row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from bot.knowledge.text import normalize
from bot.store.db import (
    check_page,
    check_status,
    clean_text,
    from_db_time,
    to_db_time,
    utc_now,
)
from bot.store.review import ReviewRows

__all__ = ["PROPOSAL_STATUSES", "ProposedPhrasing", "ProposedPhrasings"]

#: The states of a proposal; new ones are "open".
PROPOSAL_STATUSES: Final = ("open", "approved", "rejected")

_COLUMNS = (
    "id, question_id, text, proposer_id, channel_id, proposed_at, count, status, last_proposed_at"
)

#: Add a proposal, or count a repeat of an open one (the same question and normalised text,
#: unique among open proposals: migration 5) in one atomic statement.
UPSERT_SQL: Final = (
    "INSERT INTO proposed_phrasings (question_id, text, normalized, proposer_id, channel_id,"
    " proposed_at, last_proposed_at, count, status) VALUES (?, ?, ?, ?, ?, ?, ?, 1, 'open')"
    " ON CONFLICT (question_id, normalized) WHERE status = 'open' DO UPDATE SET"
    " count = proposed_phrasings.count + 1,"
    " last_proposed_at = CASE WHEN excluded.last_proposed_at > proposed_phrasings.last_proposed_at"
    " THEN excluded.last_proposed_at ELSE proposed_phrasings.last_proposed_at END"
    f" RETURNING {_COLUMNS}"
)


@dataclass(frozen=True)
class ProposedPhrasing:
    """A wording proposed as an alternate phrasing of question ``question_id``.

    ``text``, ``proposer_id``, ``channel_id`` and ``proposed_at`` describe the first time it
    was proposed; ``count`` is how many times it was; ``last_proposed_at`` the latest.
    """

    id: int
    question_id: str
    text: str
    proposer_id: int | None
    channel_id: int | None
    proposed_at: datetime
    count: int
    status: str  # one of PROPOSAL_STATUSES
    last_proposed_at: datetime


class ProposedPhrasings(ReviewRows[ProposedPhrasing]):
    """The proposed phrasings in a :class:`~bot.store.db.Store`."""

    table = "proposed_phrasings"
    columns = _COLUMNS
    unique_open = ("question_id", "normalized")
    statuses = PROPOSAL_STATUSES

    def _from_row(self, row: Any) -> ProposedPhrasing:
        return _from_row(row)

    async def propose(
        self,
        question_id: str,
        text: str,
        *,
        proposer_id: int | None,
        channel_id: int | None,
        at: datetime | None = None,
    ) -> ProposedPhrasing:
        """Record ``text`` as a proposed phrasing of ``question_id``; return the proposal.

        If an open proposal of the same question has the same normalised text, its count
        goes up instead. ``at`` defaults to now and must be timezone-aware. Raises
        ValueError for an empty question id or a text without words.
        """
        if not isinstance(question_id, str) or not question_id.strip():
            raise ValueError(f"question id must be a non-empty string, got {question_id!r}")
        stored = clean_text(text, "phrasing")
        normalized = normalize(stored)
        if not normalized:
            raise ValueError(f"phrasing {stored!r} has no words")
        when = to_db_time(at if at is not None else utc_now())
        async with self._store.transaction(wait=self._wait) as conn:
            rows = list(
                await conn.execute_fetchall(
                    UPSERT_SQL,
                    (question_id, stored, normalized, proposer_id, channel_id, when, when),
                )
            )
        return _from_row(rows[0])

    async def list(
        self,
        *,
        status: str = "open",
        question_id: str | None = None,
        limit: int = 25,
        offset: int = 0,
    ) -> list[ProposedPhrasing]:
        """Proposals with ``status`` (of one question if ``question_id`` is given).

        The most often proposed come first, then the most recently proposed.
        """
        check_status(status, PROPOSAL_STATUSES)
        check_page(limit, offset)
        async with self._store.read() as conn:
            rows = await conn.execute_fetchall(
                f"SELECT {_COLUMNS} FROM proposed_phrasings"
                " WHERE status = ? AND (CAST(? AS TEXT) IS NULL OR question_id = ?)"
                " ORDER BY count DESC, last_proposed_at DESC, id DESC LIMIT ? OFFSET ?",
                (status, question_id, question_id, limit, offset),
            )
        return [_from_row(row) for row in rows]


def _from_row(row: Any) -> ProposedPhrasing:
    return ProposedPhrasing(
        id=row["id"],
        question_id=row["question_id"],
        text=row["text"],
        proposer_id=row["proposer_id"],
        channel_id=row["channel_id"],
        proposed_at=from_db_time(row["proposed_at"]),
        count=row["count"],
        status=row["status"],
        last_proposed_at=from_db_time(row["last_proposed_at"]),
    )
