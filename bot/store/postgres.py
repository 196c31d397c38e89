"""The PostgreSQL backend: an asyncpg connection pool several processes share.

:meth:`PostgresStore.open` creates the pool and applies the pending migrations of
:mod:`bot.store.pg_migrations`, each in its own transaction under ``pg_advisory_xact_lock``,
so processes starting together migrate once (the version lives in ``stampy_schema``).

Each :meth:`~PostgresStore.transaction` or :meth:`~PostgresStore.read` borrows a pooled
connection for its block (a block nested in another of the same task shares it, as a
savepoint), so the tasks of one process run their transactions side by side, as do other
processes. Record modules' SQL is shared with SQLite: :class:`PgConnection` numbers the
``?`` parameters. PostgreSQL's errors become :class:`~bot.store.db.StoreError` with the same
kinds as SQLite's (:func:`pg_fault`): a lock wait that timed out or a deadlock is "busy", a
read-only server or a user without write permission "read-only", a full disk "full", a
server that cannot be reached "io", damaged data "corrupt".
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, ClassVar, Self

import asyncpg

from bot.store.db import (
    BUSY,
    BUSY_TIMEOUT_MS,
    CORRUPT,
    FULL,
    IO,
    READ_ONLY,
    NewerDatabaseError,
    Store,
    StoreError,
    check_migrations,
    redact_url,
)
from bot.store.migrations import Migration
from bot.store.pg_migrations import PG_MIGRATIONS

__all__ = ["Listener", "PgConnection", "PostgresStore", "pg_fault", "stored_version", "to_pg"]

log = logging.getLogger(__name__)

#: The advisory lock migrations run under ("Stampy" in ASCII).
MIGRATION_LOCK = 0x5374616D7079
#: Longest wait for a free pooled connection or a new connection to the server (seconds).
CONNECT_TIMEOUT = 10.0

#: A quoted string (skipped) or a ``?`` parameter.
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|\?")

#: What a connection failure is, in errors asyncpg raises (other than PostgresError); a
#: connection the server dropped mid-operation can also leave asyncpg's protocol in a state it
#: reports as an InternalClientError.
_LOST = (
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
)


@functools.lru_cache(maxsize=1024)
def to_pg(sql: str) -> str:
    """``sql`` with its ``?`` parameters numbered ``$1, $2, ...`` (not inside quotes)."""
    counter = 0

    def number(match: re.Match[str]) -> str:
        nonlocal counter
        if match.group(0) != "?":
            return match.group(0)
        counter += 1
        return f"${counter}"

    return _TOKENS.sub(number, sql)


def pg_fault(name: str, exc: BaseException) -> StoreError:
    """``exc`` (raised using the database ``name``) as a :class:`StoreError` with a kind and
    a message saying what is wrong in plain words."""
    state = str(getattr(exc, "sqlstate", "") or "")
    if state in ("55P03", "40001", "40P01", "57014", "53300") or isinstance(exc, TimeoutError):
        return StoreError(
            f"{name}: the database is busy: another transaction held a lock too long, or "
            f"every connection was in use ({exc})",
            kind=BUSY,
        )
    if state in ("25006", "42501"):
        return StoreError(
            f"{name}: the database is read-only ({exc}); check that the server is the primary "
            "and not a standby, that default_transaction_read_only is off and that the "
            "user may write its tables",
            kind=READ_ONLY,
        )
    if state in ("53100", "53200", "54000"):
        return StoreError(
            f"{name}: the database server's disk or memory is full ({exc}); free some space",
            kind=FULL,
        )
    if (
        state.startswith("08")
        or state in ("57P01", "57P02", "57P03", "58000", "58030")
        or isinstance(exc, _LOST)
    ):
        return StoreError(
            f"{name}: the database server cannot be reached or failed a read or write "
            f"({exc or type(exc).__name__}); is PostgreSQL running?",
            kind=IO,
        )
    if state in ("XX001", "XX002"):
        return StoreError(
            f"{name}: the database's data is damaged ({exc}); restore it from a backup",
            kind=CORRUPT,
        )
    return StoreError(f"{name}: database error: {exc}")


def describe_open_failure(name: str, exc: BaseException) -> str:
    """A one-line, user-facing reason why the database ``name`` could not be opened."""
    state = str(getattr(exc, "sqlstate", "") or "")
    if isinstance(exc, socket.gaierror):
        return f"{name}: cannot open the database: unknown host ({exc})"
    if isinstance(exc, ConnectionRefusedError):
        return f"{name}: cannot open the database: connection refused (is PostgreSQL running?)"
    if isinstance(exc, TimeoutError):
        return f"{name}: cannot open the database: the server did not answer in time"
    if state == "3D000":
        return f"{name}: cannot open the database: it does not exist (create it: createdb NAME)"
    if state in ("28P01", "28000"):
        return f"{name}: cannot open the database: the server refused the login ({exc})"
    if isinstance(exc, ValueError):
        return f"{name}: cannot open the database: not a valid address ({exc})"
    return f"{name}: cannot open the database: {exc or type(exc).__name__}"


class PgConnection:
    """A pooled asyncpg connection as a :class:`~bot.store.db.Connection`: ``?`` parameters,
    rows (``asyncpg.Record``) indexable by position and column name.

    Statements run one at a time (an asyncpg connection refuses a second while one runs);
    ``raw`` is the asyncpg connection.
    """

    __slots__ = ("_turn", "raw")

    def __init__(self, raw: asyncpg.Connection) -> None:
        self.raw = raw
        self._turn = asyncio.Lock()

    async def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> None:
        async with self._turn:
            if parameters:
                await self.raw.execute(to_pg(sql), *parameters)
            else:  # the simple protocol: a script of several statements is fine
                await self.raw.execute(sql)

    async def execute_fetchall(self, sql: str, parameters: Sequence[Any] = (), /) -> list[Any]:
        async with self._turn:
            return list(await self.raw.fetch(to_pg(sql), *parameters))

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> None:
        rows = list(parameters)
        if rows:
            async with self._turn:
                await self.raw.executemany(to_pg(sql), rows)

    async def lock(self, name: str) -> None:
        """Hold the transaction-level advisory lock ``name`` until the transaction ends."""
        await self.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (name,))


class PostgresStore(Store):
    """A connection pool to one PostgreSQL database; create with :meth:`open`."""

    backend: ClassVar[str] = "postgresql"

    def __init__(
        self,
        pool: asyncpg.Pool,
        name: str,
        schema_version: int,
        *,
        url: str = "",
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    ) -> None:
        """Wrap an already migrated pool; use :meth:`open` instead."""
        super().__init__(name, schema_version)
        self._url = url
        self._pool: asyncpg.Pool | None = pool
        self._busy_ms = busy_timeout_ms
        self._held: dict[asyncio.Task[Any], PgConnection] = {}

    @classmethod
    async def open(
        cls,
        location: str,
        *,
        migrations: Sequence[Migration] | None = None,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        pool_size: int = 10,
    ) -> Self:
        """Connect to the database at the ``postgresql://`` address ``location`` (a pool of
        up to ``pool_size`` connections) and migrate it.

        Raises :class:`NewerDatabaseError` for a database from a newer Stampy and
        :class:`StoreError` for a server that cannot be reached, a login refused, a database
        that does not exist or a migration that fails.
        """
        name = redact_url(location)
        steps = list(PG_MIGRATIONS if migrations is None else migrations)
        check_migrations(steps)
        try:
            pool = await asyncpg.create_pool(
                location,
                min_size=1,
                max_size=max(2, int(pool_size)),
                timeout=CONNECT_TIMEOUT,
                server_settings={
                    "application_name": "stampy",
                    "lock_timeout": f"{int(busy_timeout_ms)}ms",
                },
            )
        except (asyncpg.PostgresError, OSError, ValueError, *_LOST) as exc:
            raise StoreError(
                describe_open_failure(name, exc), kind=pg_fault(name, exc).kind
            ) from None
        try:
            version = await _migrate(pool, name, steps)
        except BaseException:
            await _close_pool(pool)
            raise
        return cls(pool, name, version, url=location, busy_timeout_ms=busy_timeout_ms)

    @property
    def closed(self) -> bool:
        return self._pool is None

    @property
    def pool(self) -> asyncpg.Pool:
        """The connection pool (prefer :meth:`transaction` and :meth:`read`)."""
        if self._pool is None:
            raise StoreError(f"{self._path}: the database is closed")
        return self._pool

    async def close(self) -> None:
        """Close the pool: waits for borrowed connections to come back. Safe to call twice."""
        if self._pool is None:
            return
        if asyncio.current_task() in self._held:
            raise RuntimeError("Store.close() called inside one of its own transactions")
        pool, self._pool = self._pool, None
        await _close_pool(pool)

    def transaction(
        self, *, wait: float | None = None, lock: str | None = None
    ) -> AbstractAsyncContextManager[PgConnection]:
        """A write transaction (READ COMMITTED): commits when the block ends, rolls back if it
        raises. ``wait`` bounds each lock wait (``lock_timeout``); ``lock`` takes a
        transaction-level advisory lock by that name first (see :meth:`Store.transaction`)."""
        return self._scope(write=True, wait=wait, lock=lock)

    def read(self) -> AbstractAsyncContextManager[PgConnection]:
        """A REPEATABLE READ transaction: one consistent snapshot for the whole block."""
        return self._scope(write=False)

    @asynccontextmanager
    async def _scope(
        self, *, write: bool, wait: float | None = None, lock: str | None = None
    ) -> AsyncIterator[PgConnection]:
        task = asyncio.current_task()
        assert task is not None
        held = self._held.get(task)
        if held is not None:  # nested: a savepoint on the task's connection
            try:
                async with held.raw.transaction():
                    if lock is not None:
                        await held.lock(lock)
                    yield held
            except (asyncpg.PostgresError, *_LOST) as exc:
                raise self._fault_of(exc) from exc
            return
        pool = self.pool
        try:
            raw = await pool.acquire(timeout=CONNECT_TIMEOUT)
        except (asyncpg.PostgresError, OSError, *_LOST) as exc:
            raise self._fault_of(exc) from exc
        conn = PgConnection(raw)
        self._held[task] = conn
        try:
            isolation = "read_committed" if write else "repeatable_read"
            async with raw.transaction(isolation=isolation):
                if wait is not None:
                    await conn.execute(f"SET LOCAL lock_timeout = '{max(1, int(wait * 1000))}ms'")
                if lock is not None:
                    await conn.lock(lock)
                yield conn
        except _LOST as exc:
            raw.terminate()  # not to be handed out again: the pool opens a new one
            raise self._fault_of(exc) from exc
        except asyncpg.PostgresError as exc:
            if str(getattr(exc, "sqlstate", "")).startswith(("08", "57P")):
                raw.terminate()
            raise self._fault_of(exc) from exc
        finally:
            del self._held[task]
            await _release(pool, raw)
        if write:
            self._recovered()

    async def continue_identity(self, conn: Any, table: str, column: str) -> None:
        """Move the identity sequence of ``table.column`` past the largest id stored."""
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence(?, ?), coalesce(max({column}), 0) + 1, false)"
            f" FROM {table}",
            (table, column),
        )

    async def notify(self, conn: Any, channel: str, payload: str) -> None:
        """``pg_notify``: delivered to every listener when the transaction commits."""
        await conn.execute("SELECT pg_notify(?, ?)", (channel, payload))

    async def listen(
        self,
        channel: str,
        on_message: Callable[[str], Awaitable[None]],
        on_connect: Callable[[], Awaitable[None]],
        *,
        lead: str | None = None,
        on_lead: Callable[[], Awaitable[None]] | None = None,
    ) -> Listener:
        """Listen on a dedicated connection (a pooled one would be handed to others); it is
        opened again, with growing pauses, whenever the server drops it. The leader is the
        process whose listening connection holds the session advisory lock ``lead``; the
        others try to take it every :data:`LEAD_RETRY` seconds. Returns once the first
        ``on_connect`` has run (or the first attempt failed, logged)."""
        listener = Listener(
            self._url, self._path, channel, on_message, on_connect, lead=lead, on_lead=on_lead
        )
        await listener.start()
        return listener

    def _fault_of(self, exc: BaseException) -> StoreError:
        error = pg_fault(self._path, exc)
        self._failed(error)
        return error


# --------------------------------------------------------------------------- listening

#: Pauses between attempts to listen again after the connection was lost (seconds).
LISTEN_RETRY_FIRST = 0.2
LISTEN_RETRY_MAX = 10.0
#: Seconds between a follower's attempts to become the leader.
LEAD_RETRY = 2.0


class Listener:
    """``LISTEN channel`` on a dedicated connection, kept open (see
    :meth:`PostgresStore.listen`). Notifications are handled one at a time, in order."""

    def __init__(
        self,
        url: str,
        name: str,
        channel: str,
        on_message: Callable[[str], Awaitable[None]],
        on_connect: Callable[[], Awaitable[None]],
        *,
        lead: str | None = None,
        on_lead: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._lead = lead
        self._on_lead = on_lead
        self.leading = False
        self._url = url
        self._name = name
        self._channel = channel
        self._on_message = on_message
        self._on_connect = on_connect
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._first = asyncio.Event()
        self.connects = 0  # how many times listening started (1 + reconnects)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"listen {self._channel}")
        await self._first.wait()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        pause = LISTEN_RETRY_FIRST
        while True:
            lost = asyncio.Event()
            conn = None
            try:
                conn = await asyncpg.connect(self._url, timeout=CONNECT_TIMEOUT)
                conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await conn.add_listener(self._channel, self._received)
                await self._try_to_lead(conn, announce=False)
                self.connects += 1
                if self.connects > 1:
                    log.warning("%s: listening for changes again; catching up", self._name)
                await self._on_connect()  # after LISTEN: nothing committed since is missed
                self._first.set()
                pause = LISTEN_RETRY_FIRST
                await self._deliver(conn, lost)
                log.warning("%s: lost the connection listening for changes", self._name)
            except asyncio.CancelledError:
                raise
            except (asyncpg.PostgresError, OSError, *_LOST) as exc:
                log.warning(
                    "%s: cannot listen for changes (%s); trying again in %.1f s",
                    self._name,
                    exc or type(exc).__name__,
                    pause,
                )
            except Exception:  # a bug in a handler: logged, and listening goes on
                log.exception("%s: error while handling a change notification", self._name)
            finally:
                self._first.set()
                self.leading = False  # the server releases the lock with the session
                if conn is not None:
                    conn.terminate()
            await asyncio.sleep(pause)
            pause = min(pause * 2, LISTEN_RETRY_MAX)

    def _received(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self._queue.put_nowait(payload)

    async def _try_to_lead(self, conn: asyncpg.Connection, *, announce: bool) -> None:
        if self._lead is None or self.leading:
            return
        self.leading = bool(
            await conn.fetchval("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", self._lead)
        )
        if self.leading:
            log.info("%s: this process leads %s", self._name, self._lead)
            if announce and self._on_lead is not None:
                await self._on_lead()

    async def _deliver(self, conn: asyncpg.Connection, lost: asyncio.Event) -> None:
        """Hand notifications to ``on_message`` until the connection is lost; meanwhile a
        follower tries to become the leader now and then."""
        waiting_for_loss = asyncio.ensure_future(lost.wait())
        try:
            while True:
                getting = asyncio.ensure_future(self._queue.get())
                done, _ = await asyncio.wait(
                    {getting, waiting_for_loss},
                    timeout=LEAD_RETRY if self._lead and not self.leading else None,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if waiting_for_loss in done:
                    getting.cancel()
                    return
                if getting not in done:
                    getting.cancel()
                    await self._try_to_lead(conn, announce=True)
                    continue
                payload = getting.result()
                try:
                    await self._on_message(payload)
                except Exception:
                    log.exception("%s: error while handling %r", self._name, payload)
        finally:
            waiting_for_loss.cancel()


# --------------------------------------------------------------------------- opening


async def stored_version(location: str) -> int:
    """The schema version of the database at ``location`` (0 if Stampy never ran on it),
    read without changing anything; :class:`StoreError` if it cannot be reached."""
    name = redact_url(location)
    try:
        conn = await asyncpg.connect(location, timeout=CONNECT_TIMEOUT)
    except (asyncpg.PostgresError, OSError, ValueError, *_LOST) as exc:
        raise StoreError(describe_open_failure(name, exc), kind=pg_fault(name, exc).kind) from None
    try:
        if await conn.fetchval("SELECT to_regclass('stampy_schema')") is None:
            return 0
        return int(await conn.fetchval("SELECT version FROM stampy_schema") or 0)
    except (asyncpg.PostgresError, *_LOST) as exc:
        raise pg_fault(name, exc) from None
    finally:
        await conn.close()


async def _migrate(pool: asyncpg.Pool, name: str, steps: Sequence[Migration]) -> int:
    """Apply every migration above the stored version, each in its own transaction under
    the migration lock; return the schema version."""
    known = steps[-1].number if steps else 0
    try:
        async with pool.acquire(timeout=CONNECT_TIMEOUT) as conn:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS stampy_schema ("
                    " one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),"
                    " version INTEGER NOT NULL)"
                )
                await conn.execute(
                    "INSERT INTO stampy_schema (version) VALUES (0) ON CONFLICT DO NOTHING"
                )
                version = int(await conn.fetchval("SELECT version FROM stampy_schema"))
            if version > known:
                raise NewerDatabaseError(name, version, known, what="database")
            for step in steps:
                if step.number <= version:
                    continue
                try:
                    async with conn.transaction():
                        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
                        current = int(await conn.fetchval("SELECT version FROM stampy_schema"))
                        if current >= step.number:  # another process got here first
                            version = current
                            continue
                        log.info(
                            "%s: migrating to schema %d (%s)", name, step.number, step.description
                        )
                        await conn.execute(step.sql)
                        await conn.execute("UPDATE stampy_schema SET version = $1", step.number)
                except asyncpg.PostgresError as exc:
                    raise StoreError(
                        f"{name}: could not upgrade the database to schema {step.number} "
                        f"({step.description}): {exc}; it was left at schema {version}",
                        kind=pg_fault(name, exc).kind,
                    ) from None
                version = step.number
    except (asyncpg.PostgresError, OSError, *_LOST) as exc:
        raise pg_fault(name, exc) from None
    if version > known:
        raise NewerDatabaseError(name, version, known, what="database")
    return version


async def _release(pool: asyncpg.Pool, raw: asyncpg.Connection) -> None:
    try:
        await pool.release(raw)
    except Exception as exc:  # a broken connection is dropped by the pool either way
        log.debug("release: %s", exc)


async def _close_pool(pool: asyncpg.Pool) -> None:
    try:
        await asyncio.wait_for(pool.close(), timeout=CONNECT_TIMEOUT)
    except Exception as exc:  # the server is gone: drop the connections
        log.debug("close: %s", exc)
        pool.terminate()
