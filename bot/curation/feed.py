"""Moderators' changes made in other processes, applied here as they commit.

When several processes share a PostgreSQL database, a moderator's change is written by the
process that received the command; every version commits with a notification naming its
question (:data:`~bot.store.versions.CHANGES_CHANNEL`), and ``/stampy reload`` sends
:data:`~bot.curation.overlay.RELOAD`. :class:`ChangeFeed` listens on a dedicated connection
and applies the latest version of the question named to this process's knowledge base (or
reloads the files); each time listening starts or resumes after the connection was lost, it
catches up by comparing every question's latest stored version with the one applied here.
With SQLite (one process) it does nothing.
"""

from __future__ import annotations

import logging

from bot.curation.overlay import RELOAD, Overlay
from bot.store import Store
from bot.store.db import Listening
from bot.store.versions import CHANGES_CHANNEL

__all__ = ["ChangeFeed"]

log = logging.getLogger(__name__)


class ChangeFeed:
    """Keeps ``overlay``'s knowledge base in step with changes stored by other processes."""

    def __init__(self, overlay: Overlay, store: Store) -> None:
        self._overlay = overlay
        self._store = store
        self._listening: Listening | None = None
        self.applied = 0  # notifications that changed the knowledge base here

    async def start(self) -> None:
        """Start listening (and catch up once); returns when that first catch-up is done."""
        self._listening = await self._store.listen(
            CHANGES_CHANNEL, self._on_message, self._on_connect
        )

    async def close(self) -> None:
        listening, self._listening = self._listening, None
        if listening is not None:
            await listening.close()

    async def _on_connect(self) -> None:
        diff = await self._overlay.catch_up()
        await self._overlay.catch_up_tags()
        if diff:
            log.info("caught up with changes made in other processes: %s", diff)

    async def _on_message(self, payload: str) -> None:
        kind, _, argument = payload.partition(" ")
        if kind == "question" and argument:
            diff = await self._overlay.catch_up([argument])
            if diff:
                self.applied += 1
                log.info("applied a change made in another process: %s", diff)
        elif kind == "tag" and argument:
            await self._overlay.catch_up_tags()
            self.applied += 1
            log.info("applied a change to tag %r made in another process", argument)
        elif kind == RELOAD:
            report = await self._overlay.reload(announce=False)
            if report.errors:
                log.warning(
                    "another process reloaded the answers files, but here %d have errors: %s",
                    len(report.errors),
                    report.errors[0],
                )
            else:
                log.info("reloaded as another process asked: %s", report.diff)
        else:
            log.warning("unknown change notification %r ignored", payload)
