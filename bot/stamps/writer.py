"""Group commit: a queue of items written by one task, as many per transaction as are waiting.

:class:`BatchWriter` knows nothing about stamps: it is given a ``write`` coroutine that stores
a batch in one transaction and returns one result per item. :meth:`BatchWriter.submit`
returns a future that resolves once the item's transaction has committed, so an item is never
acknowledged before it is stored, and a burst costs a few transactions rather than one each.

When the database cannot be written (a transient :class:`~bot.store.StoreError`: another
program holds its lock, the disk is full or read-only) the batch stays at the head of the
queue, in order, and is tried again after a pause that doubles up to ``retry_max`` seconds.
The queue is bounded (``max_pending``): beyond it new items are dropped (their futures resolve
to None at once) and the log says so. :meth:`BatchWriter.close` writes what is queued, trying
for at most ``give_up_after`` seconds, then fails what is left and logs how much was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Generic, NamedTuple, TypeVar

from bot.store import StoreError

__all__ = ["BatchWriter", "WriterClosed"]

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


class WriterClosed(RuntimeError):
    """The writer is closed (or gave up on closing); the item was not written."""


class _Queued(NamedTuple, Generic[Item, Result]):
    item: Item
    future: asyncio.Future[Result | None]


def _fail(batch: Iterable[_Queued[Item, Result]], error: BaseException) -> None:
    for queued in batch:
        if not queued.future.done():
            queued.future.set_exception(error)


class BatchWriter(Generic[Item, Result]):
    """Writes queued items in batches of at most ``max_batch`` with ``write`` (see module)."""

    def __init__(
        self,
        write: Callable[[Sequence[Item]], Awaitable[Sequence[Result | None]]],
        *,
        max_batch: int,
        max_pending: int,
        retry_first: float,
        retry_max: float,
        give_up_after: float,
        what: str = "item",
        closed_error: Callable[[str], Exception] = WriterClosed,
    ) -> None:
        self._write = write
        self.max_batch = max_batch
        self.max_pending = max_pending
        self.retry_first = retry_first
        self.retry_max = retry_max
        self.give_up_after = give_up_after
        self.what = what
        self._closed_error = closed_error
        self.retries = 0  # batches tried again after the database refused them
        self.dropped = 0  # items dropped because the queue was full
        self.lost = 0  # items given up on close, the database still refusing them
        self._dropping = 0  # dropped since the queue was last full (for the log)
        self._writing = 0  # items taken from the queue by the batch being written
        self._queue: deque[_Queued[Item, Result] | None] = deque()  # None: stop
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()  # cuts a pause between retries short
        self._stop_by: float | None = None  # loop time after which close gives up
        self._task: asyncio.Task[None] | None = None

    def start(self, name: str = "batch-writer") -> None:
        """Start the writing task."""
        self._task = asyncio.create_task(self._loop(), name=name)

    @property
    def running(self) -> bool:
        """Started and not told to stop."""
        return self._task is not None and self._stop_by is None

    @property
    def pending(self) -> int:
        """How many items wait in the queue (not counting the batch being written)."""
        return sum(1 for item in self._queue if item is not None)

    def submit(self, item: Item) -> asyncio.Future[Result | None]:
        """Queue ``item``; the future resolves to its result once committed (None at once if
        the queue is full and it was dropped)."""
        future: asyncio.Future[Result | None] = asyncio.get_running_loop().create_future()
        if len(self._queue) + self._writing >= self.max_pending:
            self.dropped += 1
            self._dropping += 1
            if self._dropping == 1:
                log.error(
                    "%s queue full: %d %ss are waiting for the database; new %ss are "
                    "dropped until it can be written again",
                    self.what,
                    len(self._queue) + self._writing,
                    self.what,
                    self.what,
                )
            future.set_result(None)
            return future
        self._queue.append(_Queued(item, future))
        self._wake.set()
        return future

    async def close(self) -> None:
        """Write what is queued (giving up after ``give_up_after`` seconds), then stop."""
        if self._task is None or self._stop_by is not None:
            if self._task is not None:
                await asyncio.shield(self._task)
            return
        self._stop_by = asyncio.get_running_loop().time() + self.give_up_after
        self._stopping.set()
        self._queue.append(None)
        self._wake.set()
        await self._task

    async def _loop(self) -> None:
        queue = self._queue
        delay = self.retry_first  # the pause after the next refusal
        failing = 0  # batches refused in a row
        while True:
            if not queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            if queue[0] is None:  # stop: everything queued before has been dealt with
                break
            batch: list[_Queued[Item, Result]] = []
            while queue and queue[0] is not None and len(batch) < self.max_batch:
                queued = queue.popleft()
                assert queued is not None
                batch.append(queued)
            self._writing = len(batch)
            try:
                results = await self._write([queued.item for queued in batch])
            except StoreError as error:
                if not error.transient:
                    _fail(batch, error)  # nothing waiting can fix it: the batch fails
                    continue
                # Keep the batch, in order, at the head of the queue and try again later.
                queue.extendleft(reversed(batch))
                failing += 1
                self.retries += 1
                if failing == 1:
                    log.warning(
                        "%ss: %d kept in memory until the database can be written (%s); retrying",
                        self.what,
                        self.pending,
                        error.kind,
                    )
                if not await self._pause(delay):
                    self._give_up(error)
                    break
                delay = min(delay * 2, self.retry_max)
                continue
            except Exception as error:  # a bug: the batch fails, the writer carries on
                _fail(batch, error)
                continue
            finally:
                self._writing = 0
            if failing:
                log.warning(
                    "%ss: the database can be written again; writing %d queued",
                    self.what,
                    self.pending + len(batch),
                )
                failing, delay = 0, self.retry_first
            if self._dropping and len(queue) < self.max_pending:
                log.warning(
                    "%ss: %d were dropped while the queue was full", self.what, self._dropping
                )
                self._dropping = 0
            for queued, result in zip(batch, results, strict=True):
                if not queued.future.done():
                    queued.future.set_result(result)

    async def _pause(self, delay: float) -> bool:
        """Wait ``delay`` seconds before a retry (less once closing); False: give up now."""
        if self._stop_by is not None:
            left = self._stop_by - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            await asyncio.sleep(min(delay, left))
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)  # close() cuts it short
        return True

    def _give_up(self, error: StoreError) -> None:
        """Closing, and the database still refuses: fail what is queued, say how much."""
        lost = [item for item in self._queue if item is not None]
        self._queue.clear()
        self.lost += len(lost)
        log.error(
            "%ss: %d could not be written before closing and are lost: %s",
            self.what,
            len(lost),
            error,
        )
        _fail(lost, self._closed_error(f"not written before closing: {error}"))
