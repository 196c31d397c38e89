"""The SQLite backend: one aiosqlite connection, opened with safe settings and migrated.

:meth:`SQLiteStore.open` connects, checks the file, turns on WAL, foreign keys, a busy
timeout and ``synchronous=NORMAL``, then applies the pending migrations of
:mod:`bot.store.migrations` (the schema version lives in ``PRAGMA user_version``). The
connection it hands out is the aiosqlite connection itself. SQLite errors become
:class:`~bot.store.db.StoreError` with a kind (:func:`store_fault`). What the backends share
is in :mod:`bot.store.db`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, ClassVar, Self

import aiosqlite

from bot.store import migrations as _migrations
from bot.store.db import (
    BUSY,
    BUSY_TIMEOUT_MS,
    CORRUPT,
    FULL,
    IO,
    MEMORY,
    READ_ONLY,
    NewerDatabaseError,
    Store,
    StoreError,
    check_migrations,
)
from bot.store.migrations import Migration

__all__ = ["SQLiteStore", "describe_open_failure", "store_fault"]

log = logging.getLogger(__name__)


def store_fault(path: str, exc: sqlite3.Error) -> StoreError:
    """``exc`` (raised using the database at ``path``) as a :class:`StoreError` whose
    message names the file, says what is wrong in plain words and what to do about it."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None  # extended codes keep the low byte
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StoreError(
            f"{path}: the database is busy: another program holds its write lock ({exc})",
            kind=BUSY,
        )
    if primary in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM):
        return StoreError(
            f"{path}: the database is read-only ({exc}); check the permissions of the file "
            "and its directory, and that the disk is not mounted read-only",
            kind=READ_ONLY,
        )
    if primary == sqlite3.SQLITE_FULL:
        return StoreError(
            f"{path}: the disk is full or the database reached its size limit ({exc}); "
            "free some space",
            kind=FULL,
        )
    if primary in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN):
        return StoreError(
            f"{path}: the database could not be read or written: disk I/O error ({exc})",
            kind=IO,
        )
    if primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return StoreError(
            f"{path}: the database file is damaged ({exc}); restore it from a backup",
            kind=CORRUPT,
        )
    return StoreError(f"{path}: database error: {exc}")


# --------------------------------------------------------------------------- the store


class SQLiteStore(Store):
    """Owns the database connection; create with :meth:`open`, end with :meth:`close`.

    One connection serves the whole bot. :meth:`transaction` and :meth:`read` take a lock,
    so concurrent tasks never interleave their statements; a task may nest them (the inner
    one becomes a savepoint). Do not wait, inside one, for another task that uses the store.
    Rows come back as :class:`sqlite3.Row` (indexable by column name).
    """

    backend: ClassVar[str] = "sqlite"

    def __init__(
        self,
        connection: aiosqlite.Connection,
        path: str,
        schema_version: int,
        *,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    ) -> None:
        """Wrap an already prepared connection; use :meth:`open` instead."""
        super().__init__(path, schema_version)
        self._conn: aiosqlite.Connection | None = connection
        self._busy_ms = busy_timeout_ms
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self._depth = 0

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        migrations: Sequence[Migration] | None = None,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        pool_size: int = 1,
    ) -> Self:
        """Open (creating if need be), check and migrate the database at ``path``.

        ``":memory:"`` opens a private in-memory database. ``migrations`` defaults to
        :data:`bot.store.migrations.MIGRATIONS`. ``busy_timeout_ms`` is how long a statement
        waits for another program's lock (SQLite retries with growing pauses meanwhile).
        Raises :class:`NewerDatabaseError` for a database from a newer Stampy, and
        :class:`StoreError` for a file that cannot be opened, is not a SQLite database, is
        damaged (``PRAGMA quick_check``) or fails to migrate; the connection is closed then.
        A read-only file opens (it can be read); its writes fail with kind "read-only".
        """
        name = os.fspath(path)
        if not name.strip():
            raise StoreError("the database path is empty")
        steps = list(_migrations.MIGRATIONS if migrations is None else migrations)
        check_migrations(steps)
        pending = aiosqlite.connect(name, isolation_level=None)
        try:
            conn = await pending
        except sqlite3.Error as exc:
            await _wait_for_worker(pending)
            raise _open_failure(name, exc) from None
        try:
            version = await _prepare(conn, name, steps, busy_timeout_ms)
        except BaseException:
            await _close_quietly(conn)
            raise
        return cls(conn, name, version, busy_timeout_ms=busy_timeout_ms)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._conn is None

    @property
    def connection(self) -> aiosqlite.Connection:
        """The underlying connection (in autocommit mode; prefer :meth:`transaction`)."""
        if self._conn is None:
            raise StoreError(f"{self._path}: the database is closed")
        return self._conn

    async def close(self) -> None:
        """Close the connection; waits for a running transaction. Safe to call twice."""
        if self._conn is None:
            return
        if self._owner is not None and self._owner is asyncio.current_task():
            raise RuntimeError("Store.close() called inside one of its own transactions")
        async with self._lock:
            await self._close_now()

    async def _close_now(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await conn.execute("PRAGMA optimize")
        except sqlite3.Error:
            pass
        await _close_quietly(conn)

    def transaction(
        self, *, wait: float | None = None, lock: str | None = None
    ) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        """A write transaction: commits when the block ends, rolls back if it raises.

        Starts with ``BEGIN IMMEDIATE`` (takes the write lock at once, so a read followed by
        a write cannot fail half-way on a lock). ``wait`` (seconds) overrides how long to
        wait for another program's lock before failing with kind "busy". Nested in another
        :meth:`transaction` or :meth:`read` of the same task it is a savepoint. SQLite errors
        leave it as :class:`StoreError` (the original is the ``__cause__``). ``lock`` needs
        nothing here: SQLite lets one transaction write at a time.
        """
        return self._scope("BEGIN IMMEDIATE", wait)

    def read(self) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        """A read transaction: the block sees one consistent snapshot of the database."""
        return self._scope("BEGIN")

    async def notify(self, conn: Any, channel: str, payload: str) -> None:
        """Nothing: a SQLite file has one bot process, with nobody to tell."""

    async def announce(self, channel: str, payload: str) -> None:
        """Nothing (see :meth:`notify`), and no transaction for it."""

    async def continue_identity(self, conn: Any, table: str, column: str) -> None:
        """Nothing to do: a new ``INTEGER PRIMARY KEY`` is the largest stored plus one."""

    @asynccontextmanager
    async def _scope(
        self, begin: str, wait: float | None = None
    ) -> AsyncIterator[aiosqlite.Connection]:
        task = asyncio.current_task()
        if self._owner is not None and self._owner is task:
            async with self._savepoint() as conn:
                yield conn
            return
        async with self._lock:
            conn = self.connection
            self._owner = task
            try:
                try:
                    await self._begin(conn, begin, wait)
                except BaseException:
                    # Cancelled (a handler stopped at shutdown) or failed after BEGIN was
                    # sent: aiosqlite still runs it, so roll back behind it, or the next
                    # transaction would find this one open.
                    await _rollback(conn)
                    raise
                try:
                    yield conn
                except BaseException:
                    await _rollback(conn)
                    raise
                try:
                    await conn.execute("COMMIT")
                except BaseException:
                    await _rollback(conn)
                    raise
            except sqlite3.Error as exc:
                error = store_fault(self._path, exc)
                self._failed(error)
                raise error from exc
            finally:
                self._owner = None
            if begin != "BEGIN":
                self._recovered()

    async def _begin(self, conn: aiosqlite.Connection, begin: str, wait: float | None) -> None:
        if wait is None:
            await conn.execute(begin)
            return
        await conn.execute(f"PRAGMA busy_timeout = {max(0, int(wait * 1000))}")
        try:
            await conn.execute(begin)
        finally:
            await conn.execute(f"PRAGMA busy_timeout = {int(self._busy_ms)}")

    @asynccontextmanager
    async def _savepoint(self) -> AsyncIterator[aiosqlite.Connection]:
        conn = self.connection
        self._depth += 1
        name = f"stampy_savepoint_{self._depth}"  # a fixed pattern, never user text
        try:
            await conn.execute(f"SAVEPOINT {name}")
            try:
                yield conn
            except BaseException:
                try:
                    await conn.execute(f"ROLLBACK TO {name}")
                    await conn.execute(f"RELEASE {name}")
                except sqlite3.Error as exc:
                    # SQLite already rolled the whole transaction back (it does on a full
                    # disk, for one): the original error is the one to report.
                    log.debug("rollback to %s: %s", name, exc)
                raise
            await conn.execute(f"RELEASE {name}")
        finally:
            self._depth -= 1


# --------------------------------------------------------------------------- opening


async def _prepare(
    conn: aiosqlite.Connection, name: str, steps: Sequence[Migration], busy_timeout_ms: int
) -> int:
    """Check the file, set the pragmas and migrate; return the schema version."""
    known = steps[-1].number if steps else 0
    try:
        await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        version = await _user_version(conn)  # the first read: fails on a non-database file
    except sqlite3.Error as exc:
        raise _open_failure(name, exc) from None
    if version > known:
        raise NewerDatabaseError(name, version, known)
    if name != MEMORY:
        await _check_file(conn, name)
    try:
        if name != MEMORY:
            mode = await _pragma(conn, "PRAGMA journal_mode = WAL")
            if str(mode).lower() != "wal":
                log.warning("%s: WAL journal mode unavailable, using %s", name, mode)
        await conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.Error as exc:
        raise _open_failure(name, exc) from None
    version = await _migrate(conn, name, steps, version, known)
    try:
        await conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        raise _open_failure(name, exc) from None
    conn.row_factory = sqlite3.Row
    return version


async def _migrate(
    conn: aiosqlite.Connection,
    name: str,
    steps: Sequence[Migration],
    version: int,
    known: int,
) -> int:
    """Apply every migration above ``version``, each in its own transaction."""
    pending = [m for m in steps if m.number > version]
    if not pending:
        return version
    await conn.execute("PRAGMA foreign_keys = OFF")  # allows table rebuilds; checked below
    for step in pending:
        if step.number <= version:  # applied meanwhile by another process (see below)
            continue
        log.info("%s: migrating to schema %d (%s)", name, step.number, step.description)
        try:
            # executescript() commits any open transaction before it runs, so BEGIN goes
            # inside the script; the transaction stays open until the COMMIT below.
            await conn.executescript(f"BEGIN IMMEDIATE;\n{step.sql}\n;")
            violations = await conn.execute_fetchall("PRAGMA foreign_key_check")
            if violations:
                raise _MigrationCheckError(f"{len(list(violations))} foreign key violation(s)")
            await conn.execute(f"PRAGMA user_version = {int(step.number)}")
            await conn.execute("COMMIT")
        except (sqlite3.Error, _MigrationCheckError) as exc:
            await _rollback(conn)
            try:
                current = await _user_version(conn)
            except sqlite3.Error:
                current = version
            if current > known:
                raise NewerDatabaseError(name, current, known) from None
            if current >= step.number:  # another process migrated the file concurrently
                version = current
                continue
            raise StoreError(
                f"{name}: could not upgrade the database to schema {step.number} "
                f"({step.description}): {exc}; it was left at schema {version}",
                kind=store_fault(name, exc).kind if isinstance(exc, sqlite3.Error) else "error",
            ) from None
        version = step.number
    return version


async def _check_file(conn: aiosqlite.Connection, name: str) -> None:
    """Raise :class:`StoreError` (kind "corrupt") if ``PRAGMA quick_check`` finds damage.

    Linear in the file's size (milliseconds for a bot's database), and it is what finds a
    truncated or partly overwritten file at start rather than at the first unlucky read.
    """
    try:
        problems = [str(row[0]) for row in await conn.execute_fetchall("PRAGMA quick_check(3)")]
    except sqlite3.Error as exc:
        raise _open_failure(name, exc) from None
    if problems and problems != ["ok"]:
        first = " ".join(problems[0].split())  # one line, however SQLite wrapped it
        raise StoreError(
            f"{name}: the database file is damaged ({first}); restore it from a backup, "
            "or move it away to start with an empty database",
            kind=CORRUPT,
        )


class _MigrationCheckError(Exception):
    """A migration left the database inconsistent (e.g. foreign key violations)."""


async def _pragma(conn: aiosqlite.Connection, sql: str) -> Any:
    """The single value a PRAGMA statement returns."""
    async with conn.execute(sql) as cursor:
        row = await cursor.fetchone()
    return None if row is None else row[0]


async def _user_version(conn: aiosqlite.Connection) -> int:
    return int(await _pragma(conn, "PRAGMA user_version"))


async def _rollback(conn: aiosqlite.Connection) -> None:
    """Roll back the open transaction, if any (SQLite may already have ended it)."""
    try:
        await conn.execute("ROLLBACK")
    except (sqlite3.Error, ValueError) as exc:  # aiosqlite raises ValueError once closed
        log.debug("rollback: %s", exc)


async def _close_quietly(conn: aiosqlite.Connection) -> None:
    try:
        await conn.close()
    except Exception as exc:  # the connection is gone either way
        log.debug("close: %s", exc)


async def _wait_for_worker(conn: aiosqlite.Connection) -> None:
    """Wait until the worker thread of a connection that failed to open has ended.

    aiosqlite stops the thread when connecting fails but does not wait for it; if the event
    loop closed first, the thread would die reporting to a closed loop.
    """
    thread = getattr(conn, "_thread", None)  # not public API: skip the wait if it moves
    if thread is not None and thread.is_alive():
        await asyncio.to_thread(thread.join, 5)


def _open_failure(name: str, exc: sqlite3.Error) -> StoreError:
    """:class:`StoreError` for a database that could not be opened, with its kind."""
    return StoreError(describe_open_failure(name, exc), kind=store_fault(name, exc).kind)


def describe_open_failure(name: str, exc: sqlite3.Error) -> str:
    """A one-line, user-facing reason why the database at ``name`` could not be opened."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_NOTADB:
        return (
            f"{name}: not a SQLite database (is it the right file? If it is, it is damaged: "
            "restore it from a backup)"
        )
    if code == sqlite3.SQLITE_CORRUPT:
        return (
            f"{name}: the database file is damaged ({exc}); restore it from a backup, "
            "or move it away to start with an empty database"
        )
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return f"{name}: the database is locked by another program ({exc})"
    if name != MEMORY:
        parent = os.path.dirname(name) or "."
        if os.path.isdir(name):
            return f"{name}: cannot open the database: it is a directory, not a file"
        if not os.path.isdir(parent):
            return f"{name}: cannot open the database: directory {parent} does not exist"
        if os.path.exists(name):
            if not os.access(name, os.R_OK | os.W_OK):
                return f"{name}: cannot open the database: permission denied"
        elif not os.access(parent, os.W_OK | os.X_OK):
            return f"{name}: cannot create the database: no permission to write in {parent}"
    return f"{name}: cannot open the database: {exc}"
