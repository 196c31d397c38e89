"""What the unanswered questions and the proposed phrasings share: rows moderators review.

Each row has an id and a status from a fixed list; moderators count them, fetch one and move
it from one status to another. :class:`ReviewRows` holds that, and the record classes add how
rows are recorded and listed.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from bot.store.db import Store, check_status

T = TypeVar("T")


class ReviewRows(Generic[T]):
    """Rows of :attr:`table` with an ``id`` and a ``status`` in :attr:`statuses`."""

    table: ClassVar[str]
    columns: ClassVar[str]
    statuses: ClassVar[tuple[str, ...]]
    #: Columns no two open rows share (a repeat folds into the open row instead).
    unique_open: ClassVar[tuple[str, ...]]

    def __init__(self, store: Store, *, wait: float | None = None) -> None:
        """Records in ``store``; ``wait``: seconds a write waits for another program's lock
        (None: the store's busy timeout)."""
        self._store = store
        self._wait = wait

    def _from_row(self, row: Any) -> T:
        raise NotImplementedError

    async def count(self, status: str = "open") -> int:
        """How many rows have ``status``."""
        check_status(status, self.statuses)
        async with self._store.read() as conn:
            rows = list(
                await conn.execute_fetchall(
                    f"SELECT count(*) FROM {self.table} WHERE status = ?", (status,)
                )
            )
        return int(rows[0][0])

    async def get(self, id: int) -> T | None:
        """The row with this id, or None."""
        async with self._store.read() as conn:
            rows = list(
                await conn.execute_fetchall(
                    f"SELECT {self.columns} FROM {self.table} WHERE id = ?", (id,)
                )
            )
        return self._from_row(rows[0]) if rows else None

    async def set_status(self, id: int, status: str) -> bool:
        """Set the status of a row; False if there is no row with this id.

        Raises ValueError when reopening a row while another open row has the same text
        (repeats fold into that one; at most one of them is open).
        """
        check_status(status, self.statuses)
        async with self._store.transaction(wait=self._wait) as conn:
            if status == "open":
                same = " AND ".join(f"other.{c} = row.{c}" for c in self.unique_open)
                rows = list(
                    await conn.execute_fetchall(
                        f"SELECT other.id FROM {self.table} AS row JOIN {self.table} AS other"
                        f" ON {same} AND other.id <> row.id AND other.status = 'open'"
                        " WHERE row.id = ?",
                        (id,),
                    )
                )
                if rows:
                    raise ValueError(f"cannot reopen {id}: {rows[0][0]} is open with the same text")
            rows = list(
                await conn.execute_fetchall(
                    f"UPDATE {self.table} SET status = ? WHERE id = ? RETURNING id", (status, id)
                )
            )
        return bool(rows)
