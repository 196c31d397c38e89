"""Reconciling: make the stored stamps on recent answer messages what the platform shows.

Run after a start, and again whenever the gateway opens a new session (which replays
nothing), so that stamps given or taken back while the bot was away count exactly once. The
front end supplies how to read a message's stamp reactions; this module walks the recent
answer messages a few at a time, applies the differences through the
:class:`~bot.stamps.book.StampBook` (live events that arrive meanwhile win) and logs progress.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.stamps.book import StampBook
from bot.store.stamps import AnswerMessage

__all__ = ["Fetch", "ReconcileTotals", "Unreadable", "reconcile_recent"]

log = logging.getLogger(__name__)

#: Answer messages read at the same time (the platform's rate limits apply on top).
CONCURRENCY = 4
#: A progress line is logged at most this often (seconds).
PROGRESS_SECONDS = 10.0

#: Who reacted to a message with each stamp emoji (an emoji left out is not touched), or None
#: when the message is gone; raises :class:`Unreadable` when it cannot be read now.
Fetch = Callable[[AnswerMessage], Awaitable[dict[str, set[int]] | None]]


class Unreadable(Exception):
    """A message could not be read (the front end's reason); it is skipped this time."""


@dataclass(frozen=True)
class ReconcileTotals:
    """What one reconcile did."""

    messages: int
    added: int
    removed: int
    skipped: int


async def reconcile_recent(
    book: StampBook,
    days: int,
    fetch: Fetch,
    *,
    changed: Callable[[AnswerMessage], None] = lambda message: None,
    mine: Callable[[AnswerMessage], bool] = lambda message: True,
    concurrency: int = CONCURRENCY,
    progress_seconds: float = PROGRESS_SECONDS,
) -> ReconcileTotals:
    """Re-read the stamps on answer messages of the last ``days`` days and fix the store to
    match; ``changed(message)`` is called for each message still there whose stamps changed.
    Only the messages ``mine`` accepts are read: with several processes sharing a database,
    each reconciles the messages of its own shards (another process's live events on the
    others would race with it)."""
    messages = [m for m in await book.recent_answer_messages(days) if mine(m)]
    pending = iter(messages)
    done = added = removed = skipped = 0
    last_log = time.monotonic()

    async def worker() -> None:
        nonlocal done, added, removed, skipped, last_log
        for tracked in pending:
            with book.watching() as mark:
                try:
                    present = await fetch(tracked)
                except Unreadable as error:
                    skipped += 1
                    log.warning("reconcile: cannot read message %s: %s", tracked.message_id, error)
                    continue
                result = await book.reconcile(tracked, present, since=mark)
            done += 1
            added += result.added
            removed += result.removed
            if (result.added or result.removed) and present is not None:
                changed(tracked)
            if time.monotonic() - last_log >= progress_seconds:
                last_log = time.monotonic()
                log.info("reconciling stamps: %d of %d answer messages", done, len(messages))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    log.info(
        "reconciled %d answer messages: +%d stamps, -%d stamps%s",
        done,
        added,
        removed,
        f" ({skipped} unreadable)" if skipped else "",
    )
    return ReconcileTotals(done, added, removed, skipped)
