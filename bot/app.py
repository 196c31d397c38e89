"""The application, assembled in one place.

``async with App.open(settings) as app:`` builds, in this order, and closes in reverse:

1. the knowledge base from the YAML files (files with errors left out and reported in
   ``app.loaded``), with its matcher;
2. the store (the database named in ``[database]``), when one is wanted;
3. the :class:`~bot.curation.Curator` on both, started: moderators' stored edits are applied
   to the knowledge base, so every front end answers from the same questions;
4. the :class:`~bot.stamps.StampBook`, its answer-author lookup wired to the knowledge base;
5. the :class:`~bot.service.Service` every front end asks.

One :class:`~bot.metrics.Metrics` (its own Prometheus registry) is built first and passed to
the curator, the stamp book and the service; front ends read it from ``app.metrics``.

``stampy run``, the console, every command, the tests and the benchmarks build through here;
nothing else constructs these objects, and nothing looks one up by name. Front ends (the
Discord bot, the console) take the open :class:`App` and keep no objects of their own but
what they render with.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from bot.config import Settings
from bot.curation import Curator
from bot.curation.feed import ChangeFeed
from bot.knowledge import semantic
from bot.knowledge.abstain import load_model
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.loader import LoadResult
from bot.knowledge.matcher import Matcher
from bot.knowledge.snapshot import load_indexed, snapshot_path
from bot.metrics import Metrics
from bot.service import Service
from bot.stamps import StampBook, author_user_id
from bot.stamps.feed import StampFeed
from bot.store import Store
from bot.store.db import MEMORY
from bot.store.migrations import Migration

__all__ = ["App", "Database", "load_knowledge"]

log = logging.getLogger(__name__)


class Database(Enum):
    """Which database an :class:`App` opens."""

    #: The configured database, created if missing (the bot, ``stampy import``).
    OPEN = "open"
    #: The configured database if the file exists, else none (the console and ``ask``:
    #: answer as the bot does, with its stored edits and stamps, but create nothing).
    EXISTING = "existing"
    #: The configured database if it exists, else a private in-memory one (``export``).
    EXISTING_OR_MEMORY = "existing-or-memory"
    #: No database: the files alone.
    NONE = "none"


def load_knowledge(settings: Settings) -> tuple[KnowledgeBase, LoadResult]:
    """The knowledge base of the configured YAML files (files with errors left out).

    With ``[knowledge] snapshot`` on, from the snapshot beside the database file when the files
    have not changed since it was written (:mod:`bot.knowledge.snapshot`).
    """
    model = load_model(settings.matching.model, settings.knowledge.answers_dir)
    index = semantic.from_settings(settings.matching)  # the optional semantic tier
    # The snapshot holds the word index only: with the semantic tier, the full load.
    snapshot = (
        snapshot_path(settings.database.path)
        if settings.knowledge.snapshot and index is None
        else None
    )
    loaded = load_indexed(
        settings.knowledge.answers_dir,
        lambda: Matcher(settings.matching, model=model, semantic=index),
        snapshot,
    )
    knowledge = KnowledgeBase.indexed(loaded.matcher, loaded.result.questions, loaded.result.tags)
    if index is not None:
        index.save()  # a restart then encodes nothing
    return knowledge, loaded.result


@dataclass
class App:
    """Everything a front end needs, built once (see the module docstring).

    ``store``, ``curator`` and ``stamps`` are None without a database.
    """

    settings: Settings
    knowledge: KnowledgeBase
    loaded: LoadResult
    store: Store | None
    curator: Curator | None
    stamps: StampBook | None
    service: Service
    #: The counters operators watch (``/metrics``), shared by everything above.
    metrics: Metrics = field(default_factory=Metrics)

    @classmethod
    def offline(
        cls, settings: Settings, *, knowledge: tuple[KnowledgeBase, LoadResult] | None = None
    ) -> App:
        """The application without a database: the files alone, nothing recorded, nothing to
        close (``stampy check``, the console when the database cannot be read, tests)."""
        kb, loaded = knowledge if knowledge is not None else load_knowledge(settings)
        metrics = Metrics()
        service = Service(kb, reports=settings.reports, metrics=metrics)
        return cls(settings, kb, loaded, None, None, None, service, metrics)

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        *,
        database: Database = Database.OPEN,
        record: bool = True,
        curate: bool = True,
        knowledge: tuple[KnowledgeBase, LoadResult] | None = None,
        migrations: Sequence[Migration] | None = None,
        follow: bool = False,
    ) -> AsyncIterator[App]:
        """Build the application; close it in order on the way out.

        ``record`` False keeps the service from recording what it could not answer (the
        console). ``curate`` False builds no curator (a report on a database from before
        moderators' edits, which must not be upgraded). ``knowledge`` is an already loaded
        knowledge base to use instead of the files (tests and benchmarks). ``migrations``
        opens the database at that schema. ``follow`` (the bot): keep up with what other
        processes sharing a PostgreSQL database change, moderators' edits
        (:class:`~bot.curation.feed.ChangeFeed`) and stamps
        (:class:`~bot.stamps.feed.StampFeed`); nothing to follow with SQLite. Raises
        :class:`~bot.store.StoreError` when the database cannot be opened.
        """
        kb, loaded = knowledge if knowledge is not None else load_knowledge(settings)
        path = _database_path(settings, database)
        store = (
            None
            if path is None
            else await Store.open(
                path, migrations=migrations, pool_size=settings.database.pool_size
            )
        )
        stamps: StampBook | None = None
        feeds: list[ChangeFeed | StampFeed] = []
        metrics = Metrics()
        try:
            curator = None
            if store is not None:
                if curate:
                    curator = Curator(kb, store, settings.knowledge.answers_dir, metrics=metrics)
                    report = await curator.start()
                    for message in report.skipped:
                        log.warning("stored change not applied: %s", message)
                stamps = StampBook(
                    store, settings.stamps, answer_author=_authors(kb), metrics=metrics
                )
                await stamps.start()
                if follow:
                    if curator is not None:
                        feeds.append(ChangeFeed(curator, store))
                    feeds.append(StampFeed(stamps, store))
                    for feed in feeds:
                        await feed.start()
            service = Service(
                kb,
                store,
                stamps=stamps,
                record=record,
                reports=settings.reports,
                metrics=metrics,
            )
            try:
                yield cls(settings, kb, loaded, store, curator, stamps, service, metrics)
            finally:
                await service.settle()
        finally:
            if kb.matcher.semantic is not None:
                # Phrasings added on Discord since the start: a restart then encodes nothing.
                kb.matcher.semantic.save()
            for feed in reversed(feeds):
                await feed.close()
            if stamps is not None:
                await stamps.close()
            if store is not None:
                await store.close()


def _database_path(settings: Settings, database: Database) -> str | None:
    if database is Database.NONE:
        return None
    location = settings.database.location
    if database is Database.OPEN or settings.database.shared or os.path.exists(location):
        return location
    return MEMORY if database is Database.EXISTING_OR_MEMORY else None


def _authors(knowledge: KnowledgeBase) -> Callable[[str, str], int | None]:
    """Who an answer credits, looked up in the live knowledge base when a stamp arrives."""

    def author(question_id: str, answer_id: str) -> int | None:
        question = knowledge.get(question_id)
        if question is None:
            return None
        answer = next((a for a in question.answers if a.id == answer_id), None)
        return author_user_id(answer.author) if answer is not None else None

    return author
