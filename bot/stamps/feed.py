"""Stamps shared by the processes of one PostgreSQL database.

Each process writes the stamps it sees (the unique key makes a stamp two processes both
record count once) and every commit is announced on
:data:`~bot.store.stamps.STAMPS_CHANNEL`. :class:`StampFeed` listens: when another process
announces stamps, this one re-reads the totals from the shared tables (at most every
:data:`REFRESH_SECONDS`, however many arrive), and again whenever listening (re)starts, since
notifications are not replayed. The processes elect one leader (a session advisory lock on
the listening connection, released by the server if that process dies, when another takes
over): it computes reputation, stores it and announces it; the others read it. With SQLite
(one process) there is nothing to listen to and the book works alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.stamps.book import StampBook
from bot.store import Store
from bot.store.db import Listening
from bot.store.stamps import STAMPS_CHANNEL

__all__ = ["REFRESH_SECONDS", "StampFeed"]

log = logging.getLogger(__name__)

#: Longest wait before stamps another process announced are counted here (they are read in
#: one go, however many announcements arrive meanwhile).
REFRESH_SECONDS = 0.25
#: The name of the leader election (see :meth:`bot.store.Store.listen`).
REPUTATION_LEADER = "stampy reputation"


class StampFeed:
    """Keeps ``book`` in step with the stamps other processes write to ``store``."""

    def __init__(self, book: StampBook, store: Store, *, delay: float = REFRESH_SECONDS) -> None:
        self._book = book
        self._store = store
        self._delay = delay
        self._listening: Listening | None = None
        self._pending: asyncio.Task[None] | None = None
        self._stale = False  # another process committed stamps not yet read here
        self.refreshes = 0

    async def start(self) -> None:
        """Start listening; returns once caught up. Without other processes, nothing."""
        self._listening = await self._store.listen(
            STAMPS_CHANNEL,
            self._on_message,
            self._on_connect,
            lead=REPUTATION_LEADER,
            on_lead=self._on_lead,
        )
        if self._listening is not None:
            listening = self._listening
            self._book.leading = lambda: listening.leading
            await self._book.recompute_reputation()

    async def close(self) -> None:
        listening, self._listening = self._listening, None
        if self._pending is not None:
            self._pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pending
        if listening is not None:
            await listening.close()

    @property
    def leading(self) -> bool:
        """Whether this process computes reputation for all (True when it is the only one)."""
        return self._listening is None or self._listening.leading

    async def _on_connect(self) -> None:
        await self._refresh()

    async def _on_lead(self) -> None:
        log.info("this process now computes reputation for every process")
        await self._book.recompute_reputation()

    async def _on_message(self, payload: str) -> None:
        kind, _, origin = payload.partition(" ")
        if origin == self._book.records.origin:
            return  # this process's own commit: already counted
        if kind == "stamps":
            self._stale = True  # a refresh under way may have read before this commit
            if self._pending is None or self._pending.done():
                self._pending = asyncio.create_task(self._refresh_soon(), name="stamp-refresh")
        elif kind == "reputation" and not self.leading:
            await self._book.load_reputation()

    async def _refresh_soon(self) -> None:
        while self._stale:
            await asyncio.sleep(self._delay)
            self._stale = False
            await self._refresh()

    async def _refresh(self) -> None:
        try:
            await self._book.refresh()
            self.refreshes += 1
        except Exception:  # the database is away: the next announcement or reconnect retries
            log.warning("could not re-read the stamps other processes wrote", exc_info=True)
