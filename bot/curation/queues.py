"""The review queues: rows moderators work through (unanswered questions, proposed phrasings).

:class:`ReviewQueue` is one queue over any :class:`~bot.store.review.ReviewRows`: its open
rows, most asked first, how many there are, one open row (or the exact reason it cannot be
had), and the step that closes a row inside the transaction of the change that settles it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

from bot.curation.model import Refused
from bot.store.review import ReviewRows

__all__ = ["ReviewQueue"]


class _Row(Protocol):
    id: int
    status: str


Row = TypeVar("Row", bound=_Row)


class ReviewQueue(Generic[Row]):
    """Open rows of one kind (``noun`` names one in messages, e.g. "unanswered question")."""

    def __init__(self, rows: ReviewRows[Row], noun: str) -> None:
        self.rows = rows
        self.noun = noun

    async def list(self, *, limit: int = 10, offset: int = 0) -> list[Row]:
        """Open rows, the most asked (or proposed) first."""
        found: Any = await self.rows.list(limit=limit, offset=offset)  # type: ignore[attr-defined]
        return list(found)

    async def count(self) -> int:
        """How many rows are open."""
        return await self.rows.count()

    async def open_item(self, item_id: int) -> Row:
        """The open row with this id, or :class:`Refused` saying why not."""
        item = await self.rows.get(item_id)
        if item is None:
            raise Refused(f"there is no {self.noun} #{item_id}")
        if item.status != "open":
            raise Refused(f"{self.noun} #{item_id} is already {item.status}")
        return item

    def closing(self, item_id: int, status: str) -> Callable[[], Awaitable[None]]:
        """The step that gives row ``item_id`` its new ``status`` (run inside a transaction)."""

        async def close() -> None:
            await self.rows.set_status(item_id, status)

        return close
