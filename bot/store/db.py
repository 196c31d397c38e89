"""The store interface both database backends implement, and what they share.

:meth:`Store.open` opens the database a setting names: a ``postgresql://`` address opens
:class:`~bot.store.postgres.PostgresStore` (a connection pool several processes share), any
other value the SQLite file :class:`~bot.store.sqlite.SQLiteStore` (the default). Either
applies its pending migrations and hands out connections through :meth:`Store.transaction`
(writes) and :meth:`Store.read` (reads). Record modules (:mod:`bot.store.unanswered`,
:mod:`bot.store.stamps`, ...) hold the logic once and talk to both through the small
:class:`Connection` interface, in SQL both dialects accept: ``?`` parameters, ``RETURNING``,
``ON CONFLICT``, no ``rowid`` and no ``INSERT OR ...``.

Every failure to open, check or migrate a database, and every database error escaping a
transaction, is raised as :class:`StoreError` with a message naming the database. Its
:attr:`~StoreError.kind` says what went wrong in terms an operator can act on ("busy",
"read-only", "full", "io", "corrupt"; "error" for anything else), whichever the backend.
The store remembers the fault its writes ran into (:attr:`Store.fault`) and logs it once,
when it starts, and once more when a write succeeds again, so that a full disk is one clear
line in the log rather than one traceback per event; callers then decide to retry (stamps)
or refuse (moderators).
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, ClassVar, Protocol, Self

from bot.store.migrations import Migration

__all__ = [
    "BUSY",
    "BUSY_TIMEOUT_MS",
    "CORRUPT",
    "FULL",
    "IO",
    "MAX_TEXT_CHARS",
    "MEMORY",
    "READ_ONLY",
    "TRANSIENT",
    "Connection",
    "Listening",
    "NewerDatabaseError",
    "Store",
    "StoreError",
    "check_migrations",
    "check_page",
    "check_status",
    "clean_text",
    "from_db_time",
    "is_postgres_url",
    "redact_url",
    "to_db_time",
    "utc_now",
]

log = logging.getLogger(__name__)

#: The path that opens a private in-memory SQLite database (for tests).
MEMORY = ":memory:"
#: How long a statement waits for another connection's lock before failing.
BUSY_TIMEOUT_MS = 5000
#: Longest user text stored; longer text is cut (the service matches only this much too).
MAX_TEXT_CHARS = 2000


#: Kinds of fault (:attr:`StoreError.kind`): another program holds the write lock; the file,
#: its directory or the disk is read-only; the disk (or the file's size limit) is full; the
#: operating system failed a read or write (or the database server cannot be reached); the
#: file is damaged or not a database.
BUSY = "busy"
READ_ONLY = "read-only"
FULL = "full"
IO = "io"
CORRUPT = "corrupt"
#: Faults that can go away without a new version of Stampy (the lock is released, space is
#: freed, the disk is remounted, the server is back): worth retrying a write that ran into one.
TRANSIENT = frozenset({BUSY, READ_ONLY, FULL, IO})


class StoreError(Exception):
    """The database could not be opened, upgraded or used; the message says which and why.

    ``kind`` is one of :data:`BUSY`, :data:`READ_ONLY`, :data:`FULL`, :data:`IO`,
    :data:`CORRUPT`, or "error" (anything else, e.g. a bug).
    """

    def __init__(self, message: str, *, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind

    @property
    def transient(self) -> bool:
        """Whether the same write may succeed later (see :data:`TRANSIENT`)."""
        return self.kind in TRANSIENT


class NewerDatabaseError(StoreError):
    """The database has a schema newer than this version of Stampy knows."""

    def __init__(self, path: str, found: int, known: int, *, what: str = "database file") -> None:
        self.path = path
        self.found = found
        self.known = known
        super().__init__(
            f"{path} was written by a newer version of Stampy (schema {found}; this version "
            f"knows up to {known}). Upgrade Stampy or use another {what}."
        )


class Listening(Protocol):
    """A running :meth:`Store.listen`; :meth:`close` stops it."""

    @property
    def leading(self) -> bool:
        """Whether this process leads (see :meth:`Store.listen`)."""
        ...

    async def close(self) -> None: ...


class Connection(Protocol):
    """What record modules may do with the connection a transaction hands them.

    SQL uses ``?`` for parameters (the PostgreSQL backend numbers them); rows are indexable
    by position and by column name. An aiosqlite connection is one as it is.
    """

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Awaitable[Any]:
        """Run one statement; the result is not for record modules to use."""
        ...

    async def execute_fetchall(self, sql: str, parameters: Sequence[Any] = ..., /) -> Iterable[Any]:
        """Run one statement and return its rows."""
        ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Awaitable[Any]:
        """Run one statement once per parameter row."""
        ...


def is_postgres_url(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` names a PostgreSQL database rather than a SQLite file."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``: how a database address is named in
    logs and messages."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user, colon, _password = credentials.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}"


# --------------------------------------------------------------------------- helpers


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def to_db_time(moment: datetime) -> str:
    """``moment`` as stored: ISO-8601 in UTC with microseconds (sorts as text).

    Both backends store this text, so rows copy between them unchanged. Raises ValueError
    for a naive datetime, whose time zone would be a guess.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"timestamp must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db_time(text: str) -> datetime:
    """A stored timestamp back as an aware UTC datetime."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def clean_text(text: str, what: str = "text") -> str:
    """User text ready to store: stripped, cut to :data:`MAX_TEXT_CHARS`, always encodable.

    NUL characters are dropped and unpaired surrogates replaced, so that any ``str`` a
    front end hands over can be stored. Raises ValueError if nothing but whitespace is left.
    """
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a string, got {type(text).__name__}")
    text = text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    text = text.strip()[:MAX_TEXT_CHARS].rstrip()
    if not text:
        raise ValueError(f"{what} must not be empty")
    return text


def check_status(status: str, allowed: Iterable[str]) -> str:
    """``status`` if it is one of ``allowed``, else ValueError naming the allowed ones."""
    allowed = tuple(allowed)
    if status not in allowed:
        raise ValueError(f"unknown status {status!r} (allowed: {', '.join(allowed)})")
    return status


def check_page(limit: int, offset: int) -> None:
    """Raise ValueError unless ``limit`` and ``offset`` are non-negative integers."""
    for name, value in (("limit", limit), ("offset", offset)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


def check_migrations(migrations: Sequence[Migration]) -> None:
    """Raise ValueError unless the migrations are numbered 1..N in order, without gaps."""
    numbers = [m.number for m in migrations]
    if numbers != list(range(1, len(numbers) + 1)):
        raise ValueError(f"migrations must be numbered 1..N in order, got {numbers}")


# --------------------------------------------------------------------------- the interface


class Store(ABC):
    """A migrated database; create with :meth:`open`, end with :meth:`close`.

    :meth:`transaction` and :meth:`read` hand out a :class:`Connection`; a task may nest
    them (the inner one becomes a savepoint). Do not wait, inside one, for another task
    that uses the store.
    """

    #: "sqlite" or "postgresql".
    backend: ClassVar[str]

    def __init__(self, name: str, schema_version: int) -> None:
        self._path = name
        self._version = schema_version
        self._fault: StoreError | None = None

    @classmethod
    async def open(
        cls,
        location: str | os.PathLike[str],
        *,
        migrations: Sequence[Migration] | None = None,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        pool_size: int = 10,
    ) -> Store:
        """Open and migrate the database at ``location``: a ``postgresql://`` address or a
        SQLite path (``":memory:"`` for a private in-memory one).

        ``migrations`` (the backend's own list by default) are applied in order;
        ``busy_timeout_ms`` is how long a statement waits for another's lock before failing
        with kind "busy"; ``pool_size`` bounds a PostgreSQL pool. Raises
        :class:`NewerDatabaseError` for a database from a newer Stampy and
        :class:`StoreError` for one that cannot be opened or migrated.
        """
        if cls is not Store:
            raise NotImplementedError(f"{cls.__name__} must define open()")
        if is_postgres_url(location):
            from bot.store.postgres import PostgresStore

            return await PostgresStore.open(
                os.fspath(location),
                migrations=migrations,
                busy_timeout_ms=busy_timeout_ms,
                pool_size=pool_size,
            )
        from bot.store.sqlite import SQLiteStore

        return await SQLiteStore.open(
            location, migrations=migrations, busy_timeout_ms=busy_timeout_ms
        )

    @property
    def path(self) -> str:
        """The database as named in messages: the SQLite path, or the PostgreSQL address
        without its password."""
        return self._path

    @property
    def schema_version(self) -> int:
        """The schema version of the open database (the last migration applied)."""
        return self._version

    @property
    def fault(self) -> StoreError | None:
        """What the last failed database operation ran into (a full disk, a lock...), until
        a write succeeds again; None while all is well."""
        return self._fault

    def _failed(self, error: StoreError) -> None:
        """Remember a fault; log it when it is new (once, not once per failed write)."""
        if error.kind not in TRANSIENT and error.kind != CORRUPT:
            return  # not the database's state (e.g. a constraint): the caller reports it
        if self._fault is None or self._fault.kind != error.kind:
            log.log(
                logging.WARNING if error.kind == BUSY else logging.ERROR,
                "%s. Questions are still answered from memory; writes are retried or "
                "refused until this is fixed.",
                error,
            )
        self._fault = error

    def _recovered(self) -> None:
        if self._fault is not None:
            log.warning("%s: the database can be written again", self._path)
            self._fault = None

    @property
    @abstractmethod
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""

    @abstractmethod
    async def close(self) -> None:
        """Close the connection(s); waits for running transactions. Safe to call twice."""

    @abstractmethod
    def transaction(
        self, *, wait: float | None = None, lock: str | None = None
    ) -> AbstractAsyncContextManager[Connection]:
        """A write transaction: commits when the block ends, rolls back if it raises.

        ``wait`` (seconds) overrides how long to wait for another writer's lock before
        failing with kind "busy". ``lock`` names something the block must change alone: no
        other process's transaction with the same name runs at the same time (SQLite has
        one writer at a time anyway). Nested in another :meth:`transaction` or :meth:`read`
        of the same task it is a savepoint. Database errors leave it as :class:`StoreError`
        (the original is the ``__cause__``).
        """

    @abstractmethod
    def read(self) -> AbstractAsyncContextManager[Connection]:
        """A read transaction: the block sees one consistent snapshot of the database."""

    @abstractmethod
    async def notify(self, conn: Connection, channel: str, payload: str) -> None:
        """Tell the processes listening on this database (:meth:`listen`) ``payload`` on
        ``channel`` when the transaction of ``conn`` commits (nothing if it rolls back)."""

    async def announce(self, channel: str, payload: str) -> None:
        """:meth:`notify` in a transaction of its own: tell the listeners now."""
        async with self.transaction() as conn:
            await self.notify(conn, channel, payload)

    async def listen(
        self,
        channel: str,
        on_message: Callable[[str], Awaitable[None]],
        on_connect: Callable[[], Awaitable[None]],
        *,
        lead: str | None = None,
        on_lead: Callable[[], Awaitable[None]] | None = None,
    ) -> Listening | None:
        """Call ``on_message`` with each payload :meth:`notify` sends on ``channel`` (from any
        process, this one included), in order, and ``on_connect`` each time listening
        starts or resumes after the connection was lost (notifications are not replayed:
        it must catch up). With ``lead``, the processes listening elect one leader by that
        name: :attr:`Listening.leading` says whether it is this one, and ``on_lead`` is
        called when it becomes so (another leader gone). None where there is nothing to
        listen to (SQLite: one process, its own leader).
        """
        return None

    @abstractmethod
    async def continue_identity(self, conn: Connection, table: str, column: str) -> None:
        """After rows were written with explicit ids (a copy), make new rows' ids follow
        them."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
