"""Copy a community's database to another backend, verified: ``stampy migrate-db``.

:func:`copy_database` copies every table Stampy keeps (stamps and answer messages,
moderators' edits and their history, the unanswered and proposed questions, the roots of
trust) from one open store into another, empty one, in one transaction of the target: it
reads the source in one snapshot, writes the rows with their ids, and before committing reads
every table back and compares the row count and a checksum of the rows with the source's. A
difference rolls the whole copy back. Both stores are at the same schema (opening migrates).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from bot.store.db import Connection, Store, StoreError

__all__ = ["TABLES", "CopyMismatch", "TableCopy", "Table", "copy_database", "parse_location"]

#: Rows read and written per statement.
BATCH: Final = 2000


@dataclass(frozen=True)
class Table:
    """A table to copy: its columns, the key that orders it, and its identity column (whose
    sequence must continue after the copied ids), if any."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    identity: str | None = None


#: Every table, in an order that satisfies references (there are none today).
TABLES: Final = (
    Table(
        "unanswered",
        (
            "id",
            "text",
            "normalized",
            "norm_len",
            "count",
            "first_asker_id",
            "first_channel_id",
            "guild_id",
            "first_asked_at",
            "last_asked_at",
            "status",
        ),
        ("id",),
        identity="id",
    ),
    Table(
        "proposed_phrasings",
        (
            "id",
            "question_id",
            "text",
            "normalized",
            "proposer_id",
            "channel_id",
            "proposed_at",
            "last_proposed_at",
            "count",
            "status",
        ),
        ("id",),
        identity="id",
    ),
    Table(
        "answer_messages",
        ("message_id", "channel_id", "guild_id", "question_id", "answer_id", "posted_at"),
        ("message_id",),
    ),
    Table(
        "stamps",
        (
            "message_id",
            "voter_id",
            "emoji",
            "votee_id",
            "answer_id",
            "channel_id",
            "guild_id",
            "stamped_at",
        ),
        ("message_id", "voter_id", "emoji"),
    ),
    Table(
        "stamp_roots",
        ("guild_id", "user_id", "reason", "seen_at"),
        ("guild_id", "user_id", "reason"),
    ),
    Table(
        "question_versions",
        (
            "id",
            "question_id",
            "version",
            "state",
            "content",
            "file",
            "topic",
            "member_id",
            "member_name",
            "guild_id",
            "created_at",
            "action",
        ),
        ("id",),
        identity="id",
    ),
    Table("reputation", ("user_id", "score"), ("user_id",)),
    Table(
        "known_asked",
        ("question_id", "count", "first_asked_at", "last_asked_at"),
        ("question_id",),
    ),
    Table(
        "reports",
        (
            "id",
            "question_id",
            "answer_id",
            "reporter_id",
            "reporter_name",
            "text",
            "channel_id",
            "guild_id",
            "message_id",
            "reported_at",
            "status",
        ),
        ("id",),
        identity="id",
    ),
    Table(
        "promotions",
        ("id", "question_id", "answer_id", "score", "share", "stamps", "proposed_at", "status"),
        ("id",),
        identity="id",
    ),
    Table(
        "tag_versions",
        (
            "id",
            "name",
            "version",
            "state",
            "content",
            "member_id",
            "member_name",
            "guild_id",
            "created_at",
            "action",
        ),
        ("id",),
        identity="id",
    ),
)


@dataclass(frozen=True)
class TableCopy:
    """What was copied of one table: rows on each side and their checksums (SHA-256 of the
    rows in key order)."""

    table: str
    source_rows: int
    target_rows: int
    source_checksum: str
    target_checksum: str

    @property
    def same(self) -> bool:
        return (self.source_rows, self.source_checksum) == (self.target_rows, self.target_checksum)


class CopyMismatch(StoreError):
    """The copy read back differs from the source; nothing was committed."""

    def __init__(self, copies: Sequence[TableCopy]) -> None:
        self.copies = list(copies)
        wrong = ", ".join(c.table for c in copies if not c.same)
        super().__init__(f"the copy differs from the source in: {wrong}; nothing was copied")


def parse_location(text: str) -> str:
    """A ``--from``/``--to`` value as :meth:`Store.open` takes it: ``sqlite:///relative.db``
    and ``sqlite:////absolute.db`` (SQLAlchemy's spelling) or a plain path for SQLite,
    ``postgresql://...`` as it is. Raises ValueError for anything else."""
    if text.startswith(("postgresql://", "postgres://")):
        return text
    if text.startswith("sqlite:///"):
        path = text.removeprefix("sqlite:///")
        if not path:
            raise ValueError(f"{text!r} names no file")
        return path
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise ValueError(
            f"unknown kind of database {scheme!r}: use sqlite:///PATH or postgresql://..."
        )
    if not text.strip():
        raise ValueError("the database is empty")
    return text


def _canonical(value: Any) -> str:
    """One value as the checksum sees it, alike from either backend."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return str(int(value))
    return str(value)


class _Checksum:
    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.rows = 0

    def add(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self._hash.update("\x1f".join(map(_canonical, row)).encode("utf-8", "surrogatepass"))
            self._hash.update(b"\x1e")
            self.rows += 1

    @property
    def digest(self) -> str:
        return self._hash.hexdigest()


async def _batches(conn: Connection, table: Table) -> Any:
    """The rows of ``table`` in key order, :data:`BATCH` at a time (keyset pagination)."""
    columns = ", ".join(table.columns)
    order = ", ".join(table.key)
    positions = [table.columns.index(k) for k in table.key]
    last: tuple[Any, ...] | None = None
    while True:
        if last is None:
            sql = f"SELECT {columns} FROM {table.name} ORDER BY {order} LIMIT ?"
            params: tuple[Any, ...] = (BATCH,)
        else:
            marks = ", ".join("?" * len(table.key))
            sql = (
                f"SELECT {columns} FROM {table.name} WHERE ({order}) > ({marks})"
                f" ORDER BY {order} LIMIT ?"
            )
            params = (*last, BATCH)
        rows = [tuple(row) for row in await conn.execute_fetchall(sql, params)]
        if not rows:
            return
        yield rows
        last = tuple(rows[-1][i] for i in positions)


async def copy_database(
    source: Store, target: Store, *, progress: Callable[[str], None] | None = None
) -> list[TableCopy]:
    """Copy every table of ``source`` into the empty ``target``, verify, commit.

    Raises :class:`StoreError` if the target already holds rows (nothing is merged) or the
    schemas differ, and :class:`CopyMismatch` if what was written reads back differently.
    """
    if source.schema_version != target.schema_version:
        raise StoreError(
            f"the databases are at different schemas ({source.schema_version} and "
            f"{target.schema_version}); run this version of Stampy on both"
        )
    sums: dict[str, _Checksum] = {}
    async with source.read() as src, target.transaction() as dst:
        held = []
        for table in TABLES:
            found = list(await dst.execute_fetchall(f"SELECT count(*) FROM {table.name}"))
            if int(found[0][0]):
                held.append(f"{int(found[0][0])} in {table.name}")
        if held:
            raise StoreError(
                f"{target.path} already holds rows ({', '.join(held)}); copy into an empty "
                "database, nothing was changed"
            )
        for table in TABLES:
            checksum = sums[table.name] = _Checksum()
            insert = (
                f"INSERT INTO {table.name} ({', '.join(table.columns)})"
                f" VALUES ({', '.join('?' * len(table.columns))})"
            )
            async for rows in _batches(src, table):
                checksum.add(rows)
                await dst.executemany(insert, rows)
            if table.identity is not None:
                await target.continue_identity(dst, table.name, table.identity)
            if progress is not None:
                progress(f"{table.name}: {checksum.rows} rows")
        copies = []
        for table in TABLES:
            back = _Checksum()
            async for rows in _batches(dst, table):
                back.add(rows)
            copies.append(
                TableCopy(
                    table.name,
                    sums[table.name].rows,
                    back.rows,
                    sums[table.name].digest,
                    back.digest,
                )
            )
        if not all(copy.same for copy in copies):
            raise CopyMismatch(copies)
    return copies
