"""How often members asked known questions that have no answer yet.

When the bot matches a question it knows but nobody has answered, the ask is counted here,
so writers can pick the most asked of those "unanswered canonical questions" first. One row
per question; a repeat is one atomic ``INSERT ... ON CONFLICT DO UPDATE``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from bot.store.db import Store, to_db_time, utc_now

__all__ = ["KnownAsked"]

UPSERT_SQL: Final = (
    "INSERT INTO known_asked (question_id, count, first_asked_at, last_asked_at)"
    " VALUES (?, 1, ?, ?) ON CONFLICT (question_id) DO UPDATE SET"
    " count = known_asked.count + 1,"
    " last_asked_at = CASE WHEN excluded.last_asked_at > known_asked.last_asked_at"
    " THEN excluded.last_asked_at ELSE known_asked.last_asked_at END"
    " RETURNING count"
)


class KnownAsked:
    """The ask counts of known questions in a :class:`~bot.store.db.Store`."""

    def __init__(self, store: Store, *, wait: float | None = None) -> None:
        self._store = store
        self._wait = wait

    async def record(self, question_id: str, *, at: datetime | None = None) -> int:
        """Count one more ask of ``question_id``; the new count."""
        if not isinstance(question_id, str) or not question_id.strip():
            raise ValueError(f"question id must be a non-empty string, got {question_id!r}")
        when = to_db_time(at if at is not None else utc_now())
        async with self._store.transaction(wait=self._wait) as conn:
            rows = list(await conn.execute_fetchall(UPSERT_SQL, (question_id, when, when)))
        return int(rows[0][0])

    async def counts(self, question_ids: Iterable[str] | None = None) -> dict[str, int]:
        """Ask counts by question id (of ``question_ids`` if given; absent: never asked)."""
        async with self._store.read() as conn:
            rows = await conn.execute_fetchall("SELECT question_id, count FROM known_asked")
        found = {str(row[0]): int(row[1]) for row in rows}
        if question_ids is None:
            return found
        return {qid: found[qid] for qid in question_ids if qid in found}
