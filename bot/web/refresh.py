"""Keeping a separate web process in step with the bot's database.

``stampy web`` runs beside ``stampy run`` on the same database. Every ``interval`` seconds
:class:`Refresher` reads the database's change marks (:func:`bot.store.marks.change_marks`:
one small read) and, when they moved, applies what changed with the machinery the bot
already has: :meth:`bot.curation.Curator.catch_up` and ``catch_up_tags`` for moderators'
versions, :meth:`bot.stamps.StampBook.refresh` for stamps. So an edit or a stamp shows on the site
within a couple of seconds, without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.app import App
from bot.store import StoreError
from bot.store.marks import ChangeMarks, change_marks

__all__ = ["Refresher"]

log = logging.getLogger(__name__)


class Refresher:
    """Polls ``app``'s database and applies changes other processes made (see the module)."""

    def __init__(self, app: App, interval: float) -> None:
        self._app = app
        self._interval = interval
        self._marks: ChangeMarks | None = None
        self._task: asyncio.Task[None] | None = None
        self.refreshes = 0  # times something changed and was applied here

    async def start(self) -> None:
        """Note where the database stands, then look again every ``interval`` seconds."""
        if self._app.store is None:
            return
        with contextlib.suppress(StoreError):
            self._marks = await change_marks(self._app.store)
        self._task = asyncio.create_task(self._run(), name="web-refresh")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.check()
            except StoreError as error:  # the next look tries again
                self._app.metrics.database_error(error.kind)
                log.warning("could not look for changes in the database: %s", error)
            except Exception:
                log.exception("error while applying changes from the database")

    async def check(self) -> bool:
        """Look once; apply and return True if the versions or the stamps moved."""
        store = self._app.store
        if store is None:
            return False
        marks = await change_marks(store)
        before, self._marks = self._marks, marks
        changed = False
        if before is None or marks.last_version != before.last_version:
            if self._app.curator is not None:
                diff = await self._app.curator.catch_up()
                if diff:
                    log.info("applied changes made in another process: %s", diff)
                changed = True
        if before is None or marks.last_tag_version != before.last_tag_version:
            if self._app.curator is not None:
                await self._app.curator.catch_up_tags()
                changed = True
        if before is None or (marks.stamps, marks.last_stamp) != (
            before.stamps,
            before.last_stamp,
        ):
            if self._app.stamps is not None:
                await self._app.stamps.refresh()
                changed = True
        if changed:
            self.refreshes += 1
        return changed
