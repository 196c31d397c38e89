"""Tests for bot.store: opening, pragmas, migrations, errors, unanswered questions, proposals.

Every test uses a real database, nothing is mocked: the tests of transactions and records
run on both backends (the ``database`` fixture: a SQLite file under ``tmp_path`` and a fresh
PostgreSQL database), the tests of files, pragmas and query plans on SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest

from bot.store import (
    MAX_TEXT_CHARS,
    NewerDatabaseError,
    ProposedPhrasings,
    Store,
    StoreError,
    UnansweredQuestions,
)
from bot.store import migrations as migrations_module
from bot.store import unanswered as unanswered_module
from bot.store.db import check_migrations
from bot.store.migrations import MIGRATIONS, Migration
from bot.store.unanswered import closest

LATEST = MIGRATIONS[-1].number
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "stampy.db"


@pytest.fixture
async def store(database: str) -> AsyncIterator[Store]:
    async with await Store.open(database) as opened:
        yield opened


def idle(store: Store) -> bool:
    """No transaction is left open on the store's connection (SQLite's one connection; the
    PostgreSQL pool hands each transaction its own and takes it back)."""
    if store.backend == "sqlite":
        return not store.connection.in_transaction
    return store.pool.get_idle_size() == store.pool.get_size()


@pytest.fixture
def unanswered(store: Store) -> UnansweredQuestions:
    return UnansweredQuestions(store)


@pytest.fixture
def proposals(store: Store) -> ProposedPhrasings:
    return ProposedPhrasings(store)


def raw(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection, to look at the file independently of the store."""
    return sqlite3.connect(path)


def tables(path: Path) -> set[str]:
    with raw(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows}


def user_version(path: Path) -> int:
    with raw(path) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


async def pragma(store: Store, name: str) -> object:
    async with store.connection.execute(f"PRAGMA {name}") as cursor:
        return (await cursor.fetchone())[0]


async def no_new_threads(before: set[threading.Thread]) -> bool:
    """True once every aiosqlite worker thread started since ``before`` has ended (2 s max)."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        new = [t for t in threading.enumerate() if t not in before]
        if not [t for t in new if "connection_worker" in t.name]:
            return True
        await asyncio.sleep(0.01)
    return False


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def assert_clean_message(exc: BaseException, path: Path) -> None:
    message = str(exc)
    assert str(path) in message
    assert "Traceback" not in message and "\n" not in message


# --------------------------------------------------------------------------- opening


async def test_open_creates_file_with_wal_and_foreign_keys(db_path: Path) -> None:
    assert not db_path.exists()
    async with await Store.open(db_path) as store:
        assert db_path.exists()
        assert await pragma(store, "journal_mode") == "wal"
        assert await pragma(store, "foreign_keys") == 1
        assert await pragma(store, "busy_timeout") == 5000
        assert await pragma(store, "synchronous") == 1  # NORMAL
        assert store.schema_version == LATEST
        assert store.path == str(db_path)
    assert store.closed
    assert {"unanswered", "proposed_phrasings"} <= tables(db_path)
    assert user_version(db_path) == LATEST
    with raw(db_path) as conn:  # WAL is a property of the file: it stays after closing
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_memory_database_works_without_wal() -> None:
    async with await Store.open(":memory:") as store:
        assert await pragma(store, "journal_mode") == "memory"
        assert await pragma(store, "foreign_keys") == 1
        row = await UnansweredQuestions(store).record(
            "What is AGI?", asker_id=1, channel_id=2, guild_id=3
        )
        assert row.count == 1


async def test_reopen_keeps_data(db_path: Path) -> None:
    async with await Store.open(db_path) as store:
        first = await UnansweredQuestions(store).record(
            "What is the capital of France?", asker_id=1, channel_id=2, guild_id=3, at=T0
        )
        await ProposedPhrasings(store).propose(
            "q-france", "france capital?", proposer_id=1, channel_id=2
        )
    async with await Store.open(db_path) as store:  # the bot restarted
        questions = UnansweredQuestions(store)
        assert await questions.get(first.id) == first
        again = await questions.record(
            "what is the capital of france", asker_id=9, channel_id=9, guild_id=9
        )
        assert again.id == first.id and again.count == 2 and again.first_asker_id == 1
        assert [p.text for p in await ProposedPhrasings(store).list()] == ["france capital?"]


async def test_close_is_idempotent_and_closed_store_refuses_work(db_path: Path) -> None:
    store = await Store.open(db_path)
    await store.close()
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        _ = store.connection
    with pytest.raises(StoreError, match="closed"):
        await UnansweredQuestions(store).count()


def test_store_does_not_import_discord() -> None:
    code = "import sys, bot.store; assert 'discord' not in sys.modules, 'discord imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)


# --------------------------------------------------------------------------- migrations


def test_migrations_are_numbered_contiguously_from_one() -> None:
    numbers = [m.number for m in MIGRATIONS]
    assert numbers == list(range(1, len(MIGRATIONS) + 1))
    for m in MIGRATIONS:
        assert isinstance(m, tuple) and len(m) == 3
        assert m.description.strip() and m.sql.strip()
        assert "BEGIN" not in m.sql.upper().split() and "COMMIT" not in m.sql.upper()
    check_migrations(MIGRATIONS)


@pytest.mark.parametrize("numbers", [[2], [1, 3], [1, 1], [2, 1]])
def test_check_migrations_rejects_gaps_and_disorder(numbers: list[int]) -> None:
    with pytest.raises(ValueError, match="1..N"):
        check_migrations([Migration(n, f"m{n}", "SELECT 1;") for n in numbers])


def schema(path: Path) -> list[tuple[str, str]]:
    with raw(path) as conn:
        return conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()


async def test_migrations_are_idempotent_on_reopen(db_path: Path) -> None:
    async with await Store.open(db_path):
        pass
    before = schema(db_path)
    for _ in range(2):
        async with await Store.open(db_path) as store:
            assert store.schema_version == LATEST
    assert schema(db_path) == before
    assert user_version(db_path) == LATEST


async def test_newer_database_is_refused(db_path: Path) -> None:
    with raw(db_path) as conn:
        conn.execute("CREATE TABLE future (x)")
        conn.execute(f"PRAGMA user_version = {LATEST + 5}")
    before = set(threading.enumerate())
    with pytest.raises(NewerDatabaseError) as info:
        await Store.open(db_path)
    message = str(info.value)
    assert str(db_path) in message
    assert f"schema {LATEST + 5}" in message and f"knows up to {LATEST}" in message
    assert "Upgrade Stampy or use another database file" in message
    assert isinstance(info.value, StoreError)
    assert (info.value.found, info.value.known) == (LATEST + 5, LATEST)
    assert await no_new_threads(before)  # the connection was closed
    assert user_version(db_path) == LATEST + 5  # and the file left alone
    assert tables(db_path) == {"future"}
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


async def test_newer_database_message_matches_the_documented_wording(tmp_path: Path) -> None:
    path = tmp_path / "stampy.db"
    with raw(path) as conn:
        conn.execute("PRAGMA user_version = 7")
    monkey = [Migration(1, "one", "CREATE TABLE a (x);"), Migration(2, "two", "SELECT 1;")]
    with pytest.raises(NewerDatabaseError) as info:
        await Store.open(path, migrations=monkey)
    assert str(info.value) == (
        f"{path} was written by a newer version of Stampy (schema 7; this version knows up "
        "to 2). Upgrade Stampy or use another database file."
    )


@pytest.mark.parametrize(
    "content",
    [b"this is not a database", b"\x00\xff\x13garbage" * 1000, b"SQLite format 2\x00" * 64],
)
async def test_garbage_file_gives_store_error_naming_the_path(
    db_path: Path, content: bytes
) -> None:
    db_path.write_bytes(content)
    before = set(threading.enumerate())
    with pytest.raises(StoreError) as info:
        await Store.open(db_path)
    assert_clean_message(info.value, db_path)
    assert "not a SQLite database" in str(info.value)
    assert await no_new_threads(before)
    assert db_path.read_bytes() == content  # nothing was written to it


async def test_missing_directory_gives_store_error(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "dir" / "stampy.db"
    before = set(threading.enumerate())
    with pytest.raises(StoreError) as info:
        await Store.open(path)
    assert await no_new_threads(before)  # the failed connection's worker has ended
    assert_clean_message(info.value, path)
    assert "does not exist" in str(info.value)
    assert not (tmp_path / "no").exists()


async def test_directory_instead_of_file_gives_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as info:
        await Store.open(tmp_path)
    assert_clean_message(info.value, tmp_path)
    assert "directory" in str(info.value)


@pytest.mark.skipif(sys.platform == "win32" or _is_root(), reason="root ignores permissions")
async def test_unreadable_file_gives_store_error(db_path: Path) -> None:
    async with await Store.open(db_path):
        pass
    db_path.chmod(0)
    try:
        with pytest.raises(StoreError) as info:
            await Store.open(db_path)
        assert_clean_message(info.value, db_path)
    finally:
        db_path.chmod(0o600)


async def test_empty_path_is_refused() -> None:
    with pytest.raises(StoreError, match="empty"):
        await Store.open("  ")


BROKEN = Migration(
    LATEST + 1,
    "broken on purpose",
    "CREATE TABLE partial (x INTEGER);\n"
    "INSERT INTO partial VALUES (1);\n"
    "INSERT INTO no_such_table VALUES (1);\n",
)


async def test_failing_migration_leaves_previous_version(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with await Store.open(db_path) as store:
        await UnansweredQuestions(store).record("Kept?", asker_id=1, channel_id=1, guild_id=1)
    assert user_version(db_path) == LATEST

    monkeypatch.setattr(migrations_module, "MIGRATIONS", [*MIGRATIONS, BROKEN])
    before = set(threading.enumerate())
    with pytest.raises(StoreError) as info:
        await Store.open(db_path)
    message = str(info.value)
    assert_clean_message(info.value, db_path)
    assert f"schema {LATEST + 1}" in message and "broken on purpose" in message
    assert f"left at schema {LATEST}" in message
    assert await no_new_threads(before)

    assert user_version(db_path) == LATEST
    assert "partial" not in tables(db_path)
    monkeypatch.undo()
    async with await Store.open(db_path) as store:  # still usable by this version
        assert store.schema_version == LATEST
        assert [q.text for q in await UnansweredQuestions(store).list()] == ["Kept?"]


async def test_failing_migration_on_a_new_database_keeps_the_earlier_ones(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrations_module, "MIGRATIONS", [*MIGRATIONS, BROKEN])
    with pytest.raises(StoreError, match=f"left at schema {LATEST}"):
        await Store.open(db_path)
    assert user_version(db_path) == LATEST
    assert {"unanswered", "proposed_phrasings"} <= tables(db_path)
    assert "partial" not in tables(db_path)


async def test_new_migration_is_applied_once_and_foreign_keys_are_enforced(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with await Store.open(db_path) as store:
        row = await UnansweredQuestions(store).record("Q?", asker_id=1, channel_id=1, guild_id=1)
    stamps = Migration(
        LATEST + 1,
        "references",
        "CREATE TABLE refs (id INTEGER PRIMARY KEY,"
        " question_id INTEGER NOT NULL REFERENCES unanswered (id));",
    )
    monkeypatch.setattr(migrations_module, "MIGRATIONS", [*MIGRATIONS, stamps])
    async with await Store.open(db_path) as store:
        assert store.schema_version == LATEST + 1
        async with store.transaction() as conn:
            await conn.execute("INSERT INTO refs (question_id) VALUES (?)", (row.id,))
        with pytest.raises(StoreError, match="FOREIGN KEY"):
            async with store.transaction() as conn:
                await conn.execute("INSERT INTO refs (question_id) VALUES (?)", (999,))
    assert user_version(db_path) == LATEST + 1
    async with await Store.open(db_path) as store:  # nothing re-run
        assert store.schema_version == LATEST + 1
        async with store.read() as conn:
            assert list(await conn.execute_fetchall("SELECT count(*) FROM refs"))[0][0] == 1


async def test_migration_breaking_a_foreign_key_is_rolled_back(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = Migration(
        LATEST + 1,
        "dangling reference",
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
        "CREATE TABLE child (parent_id INTEGER REFERENCES parent (id));"
        "INSERT INTO child VALUES (42);",
    )
    monkeypatch.setattr(migrations_module, "MIGRATIONS", [*MIGRATIONS, bad])
    with pytest.raises(StoreError, match="foreign key"):
        await Store.open(db_path)
    assert user_version(db_path) == LATEST
    assert not {"parent", "child"} & tables(db_path)


# --------------------------------------------------------------------------- transactions


async def test_transaction_commits_or_rolls_back(store: Store) -> None:
    async with store.transaction() as conn:
        await conn.execute("CREATE TABLE t (x INTEGER)")
        await conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(RuntimeError, match="boom"):
        async with store.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES (2)")
            raise RuntimeError("boom")
    async with store.read() as conn:
        assert [r[0] for r in await conn.execute_fetchall("SELECT x FROM t")] == [1]
    assert idle(store)


async def test_sql_errors_become_store_errors_and_roll_back(store: Store) -> None:
    async with store.transaction() as conn:
        await conn.execute("CREATE TABLE t (x INTEGER UNIQUE)")
    with pytest.raises(StoreError, match="(?i)unique") as info:
        async with store.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES (1)")
            await conn.execute("INSERT INTO t VALUES (1)")
    assert isinstance(info.value.__cause__, sqlite3.IntegrityError | asyncpg.UniqueViolationError)
    assert info.value.kind == "error" and store.fault is None  # a bug, not the database's state
    async with store.read() as conn:
        assert list(await conn.execute_fetchall("SELECT count(*) FROM t"))[0][0] == 0


async def test_nested_transaction_is_a_savepoint(store: Store) -> None:
    async with store.transaction() as conn:
        await conn.execute("CREATE TABLE t (x INTEGER)")
    async with store.transaction() as conn:
        await conn.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(KeyError):
            async with store.transaction() as inner:
                await inner.execute("INSERT INTO t VALUES (2)")
                raise KeyError("inner fails")
        async with store.transaction() as inner:
            await inner.execute("INSERT INTO t VALUES (3)")
    async with store.read() as conn:
        rows = await conn.execute_fetchall("SELECT x FROM t ORDER BY x")
        assert [r[0] for r in rows] == [1, 3]


async def test_concurrent_tasks_do_not_interleave(store: Store) -> None:
    questions = UnansweredQuestions(store)
    texts = [f"Question number {i} about topic {i * 7919}?" for i in range(10)]
    await asyncio.gather(
        *(
            questions.record(text, asker_id=n, channel_id=1, guild_id=1)
            for n in range(3)
            for text in texts
        )
    )
    rows = await questions.list(limit=100)
    assert sum(r.count for r in rows) == 30
    assert idle(store)


# --------------------------------------------------------------------------- unanswered


async def test_record_stores_a_new_question(unanswered: UnansweredQuestions) -> None:
    row = await unanswered.record(
        "  What is the capital of France?  ", asker_id=11, channel_id=22, guild_id=33, at=T0
    )
    assert row.id >= 1
    assert row.text == "What is the capital of France?"
    assert row.normalized == "what is the capital of france"
    assert (row.count, row.status) == (1, "open")
    assert (row.first_asker_id, row.first_channel_id, row.guild_id) == (11, 22, 33)
    assert row.first_asked_at == row.last_asked_at == T0
    assert row.first_asked_at.tzinfo is not None
    assert await unanswered.get(row.id) == row
    assert await unanswered.count() == 1


async def test_record_folds_exact_and_near_duplicates(unanswered: UnansweredQuestions) -> None:
    first = await unanswered.record(
        "What is the capital of France?", asker_id=1, channel_id=10, guild_id=100, at=T0
    )
    second = await unanswered.record(
        "what's the capital of france",
        asker_id=2,
        channel_id=20,
        guild_id=200,
        at=T0 + timedelta(minutes=1),
    )
    third = await unanswered.record(
        "What is the capitol of France?",
        asker_id=3,
        channel_id=30,
        guild_id=300,
        at=T0 + timedelta(minutes=2),
    )
    assert first.id == second.id == third.id
    assert third.count == 3
    assert (third.first_asker_id, third.first_channel_id, third.guild_id) == (1, 10, 100)
    assert third.text == "What is the capital of France?"
    assert third.first_asked_at == T0
    assert third.last_asked_at == T0 + timedelta(minutes=2)
    assert await unanswered.count() == 1


async def test_record_folds_reordered_words(unanswered: UnansweredQuestions) -> None:
    a = await unanswered.record(
        "difference between inner alignment and outer alignment",
        asker_id=1,
        channel_id=1,
        guild_id=1,
    )
    b = await unanswered.record(
        "difference between outer alignment and inner alignment",
        asker_id=2,
        channel_id=1,
        guild_id=1,
    )
    assert a.id == b.id and b.count == 2


async def test_distinct_questions_stay_separate(unanswered: UnansweredQuestions) -> None:
    texts = [
        "What is the capital of France?",
        "What is the capital of Germany?",
        "What is AI?",
        "What is ML?",
        "Why is alignment hard?",
        "What is alignment?",
        "Who founded OpenAI?",
    ]
    ids = {(await unanswered.record(t, asker_id=1, channel_id=1, guild_id=1)).id for t in texts}
    assert len(ids) == len(texts)
    assert await unanswered.count() == len(texts)


async def test_out_of_order_time_keeps_latest_last_asked(unanswered: UnansweredQuestions) -> None:
    await unanswered.record("Is AI risky?", asker_id=1, channel_id=1, guild_id=1, at=T0)
    row = await unanswered.record(
        "is ai risky", asker_id=2, channel_id=1, guild_id=1, at=T0 - timedelta(days=1)
    )
    assert row.count == 2 and row.last_asked_at == T0 and row.first_asked_at == T0


async def test_times_are_stored_as_utc(unanswered: UnansweredQuestions) -> None:
    local = datetime(2024, 5, 1, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    row = await unanswered.record("Timezones?", asker_id=1, channel_id=1, guild_id=1, at=local)
    assert row.first_asked_at == local
    assert row.first_asked_at.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="timezone-aware"):
        await unanswered.record(
            "Naive?", asker_id=1, channel_id=1, guild_id=1, at=datetime(2024, 1, 1)
        )
    assert await unanswered.count() == 1


async def test_list_orders_most_asked_first_then_most_recent(
    unanswered: UnansweredQuestions,
) -> None:
    async def ask(text: str, times: int, minute: int) -> None:
        for i in range(times):
            await unanswered.record(
                text, asker_id=i, channel_id=1, guild_id=1, at=T0 + timedelta(minutes=minute)
            )

    await ask("How do transformers work?", 1, 1)
    await ask("What is reward hacking?", 3, 2)
    await ask("What is corrigibility?", 1, 5)
    await ask("Who is Eliezer Yudkowsky?", 2, 3)
    listed = [q.text for q in await unanswered.list()]
    assert listed == [
        "What is reward hacking?",
        "Who is Eliezer Yudkowsky?",
        "What is corrigibility?",
        "How do transformers work?",
    ]
    assert [q.text for q in await unanswered.list(limit=2, offset=1)] == listed[1:3]
    assert await unanswered.list(limit=0) == []
    with pytest.raises(ValueError, match="limit"):
        await unanswered.list(limit=-1)
    with pytest.raises(ValueError, match="offset"):
        await unanswered.list(offset=-5)


async def test_status_changes(unanswered: UnansweredQuestions) -> None:
    a = await unanswered.record("What is a mesa-optimizer?", asker_id=1, channel_id=1, guild_id=1)
    b = await unanswered.record(
        "What is instrumental convergence?", asker_id=1, channel_id=1, guild_id=1
    )
    assert await unanswered.set_status(a.id, "dismissed") is True
    assert await unanswered.set_status(b.id, "answered") is True
    assert await unanswered.set_status(9999, "dismissed") is False
    assert (await unanswered.get(a.id)).status == "dismissed"
    assert await unanswered.count() == 0
    assert await unanswered.count("dismissed") == 1
    assert [q.id for q in await unanswered.list(status="answered")] == [b.id]
    assert await unanswered.get(9999) is None
    with pytest.raises(ValueError, match="unknown status"):
        await unanswered.set_status(a.id, "deleted")
    with pytest.raises(ValueError, match="unknown status"):
        await unanswered.list(status="closed")
    with pytest.raises(ValueError, match="unknown status"):
        await unanswered.count("OPEN")

    # Asked again after dismissal: a new open row, the dismissed one is left alone.
    again = await unanswered.record(
        "what is a mesa optimizer", asker_id=2, channel_id=1, guild_id=1
    )
    assert again.id != a.id and again.count == 1
    assert (await unanswered.get(a.id)).count == 1
    # Reopening it now would make two open rows of one question: refused, nothing changes.
    with pytest.raises(ValueError, match=f"cannot reopen {a.id}: {again.id} is open"):
        await unanswered.set_status(a.id, "open")
    assert (await unanswered.get(a.id)).status == "dismissed"
    assert await unanswered.set_status(b.id, "open") is True


async def test_sql_looking_text_is_stored_literally(
    store: Store, unanswered: UnansweredQuestions
) -> None:
    evil = "'); DROP TABLE unanswered; --"
    row = await unanswered.record(evil, asker_id=1, channel_id=1, guild_id=1)
    assert row.text == evil
    assert (await unanswered.get(row.id)).text == evil
    again = await unanswered.record(
        "Robert'); DROP TABLE proposed_phrasings;--", asker_id=1, channel_id=1, guild_id=1
    )
    assert again.text == "Robert'); DROP TABLE proposed_phrasings;--"
    assert await ProposedPhrasings(store).count() == 0  # both tables are still there
    assert await unanswered.count() == 2


async def test_long_text_is_truncated(unanswered: UnansweredQuestions) -> None:
    text = ("why " * 2500)[:10_000]
    row = await unanswered.record(text, asker_id=1, channel_id=1, guild_id=1)
    assert len(row.text) <= MAX_TEXT_CHARS == 2000
    assert row.text == text[:2000].rstrip()
    stored = await unanswered.get(row.id)
    assert stored is not None and stored.text == row.text


async def test_empty_text_is_refused(unanswered: UnansweredQuestions) -> None:
    for text in ("", "   ", "\n\t "):
        with pytest.raises(ValueError, match="empty"):
            await unanswered.record(text, asker_id=1, channel_id=1, guild_id=1)
    assert await unanswered.count() == 0


async def test_awkward_text_is_storable(unanswered: UnansweredQuestions) -> None:
    row = await unanswered.record(
        "nul\x00 and \ud800 lone surrogate?", asker_id=None, channel_id=None, guild_id=None
    )
    assert "\x00" not in row.text
    assert row.first_asker_id is None and row.guild_id is None
    emoji = await unanswered.record("🤖❓", asker_id=1, channel_id=1, guild_id=1)
    assert emoji.text == "🤖❓" and emoji.normalized == ""
    assert (await unanswered.record("❓", asker_id=1, channel_id=1, guild_id=1)).id == emoji.id


async def test_large_discord_ids_round_trip(unanswered: UnansweredQuestions) -> None:
    big = 1_234_567_890_123_456_789  # snowflakes are 64-bit
    row = await unanswered.record("Snowflakes?", asker_id=big, channel_id=big + 1, guild_id=big + 2)
    assert (row.first_asker_id, row.first_channel_id, row.guild_id) == (big, big + 1, big + 2)


async def test_fuzzy_candidates_are_capped(
    unanswered: UnansweredQuestions, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = await unanswered.record(
        "What is the capital of France?", asker_id=1, channel_id=1, guild_id=1, at=T0
    )
    await unanswered.record(
        "How long is a piece of string?",
        asker_id=1,
        channel_id=1,
        guild_id=1,
        at=T0 + timedelta(minutes=1),
    )
    monkeypatch.setattr(unanswered_module, "MAX_FUZZY_CANDIDATES", 1)
    capped = await unanswered.record(
        "What is the capitol of France?",
        asker_id=2,
        channel_id=1,
        guild_id=1,
        at=T0 + timedelta(minutes=2),
    )
    assert capped.id != old.id  # only the most recent row was compared
    exact = await unanswered.record(
        "what is the capital of france", asker_id=3, channel_id=1, guild_id=1
    )
    assert exact.id == old.id  # the exact lookup is not capped


def test_closest_prefers_the_best_score() -> None:
    candidates = {1: "what is the capitol of frances", 2: "what is the capitol of france"}
    assert closest("what is the capital of france", candidates) == 2
    assert closest("what is the capital of germany", candidates) is None
    assert closest("anything", {}) is None


async def test_many_open_rows_still_fold(store: Store, unanswered: UnansweredQuestions) -> None:
    async with store.transaction() as conn:
        await conn.executemany(
            "INSERT INTO unanswered (text, normalized, norm_len, first_asked_at,"
            " last_asked_at) VALUES (?, ?, ?, ?, ?)",
            [
                (f"filler {i}", f"filler question {i:05d} xyz", 26, T0.isoformat(), T0.isoformat())
                for i in range(3000)
            ],
        )
    target = await unanswered.record("How does RLHF work?", asker_id=1, channel_id=1, guild_id=1)
    folded = await unanswered.record("how does rlhf works", asker_id=2, channel_id=1, guild_id=1)
    assert folded.id == target.id and folded.count == 2


async def test_fuzzy_lookup_walks_the_recency_index_without_sorting(db_path: Path) -> None:
    """The near-duplicate lookup must not read and sort every open row of the length range
    (its cost grew with the table, measured by bench/soak.py): the plan walks an index."""
    async with await Store.open(db_path) as store, store.read() as conn:
        plan = await conn.execute_fetchall(
            "EXPLAIN QUERY PLAN " + unanswered_module.FUZZY_CANDIDATES_SQL, (10, 20, 200)
        )
    details = " ".join(str(row[-1]) for row in plan)
    assert "unanswered_open_recent" in details
    assert "TEMP B-TREE" not in details


async def test_exact_lookup_searches_the_text_index(db_path: Path) -> None:
    """Folding an exact repeat looks the text up (it used to walk the ranking index for the
    ORDER BY, reading every open row)."""
    async with await Store.open(db_path) as store, store.read() as conn:
        plan = await conn.execute_fetchall(
            "EXPLAIN QUERY PLAN " + unanswered_module.EXACT_SQL, ("what is x",)
        )
    details = " ".join(str(row[-1]) for row in plan)
    assert "unanswered_open_normalized (normalized=?)" in details


# --------------------------------------------------------------------------- proposals


async def test_proposals_fold_and_list(proposals: ProposedPhrasings) -> None:
    a = await proposals.propose("what-is-agi", "What's AGI?", proposer_id=1, channel_id=10, at=T0)
    b = await proposals.propose(
        "what-is-agi", "what’s  agi", proposer_id=2, channel_id=20, at=T0 + timedelta(minutes=1)
    )
    assert a.id == b.id and b.count == 2
    assert (b.proposer_id, b.channel_id, b.text) == (1, 10, "What's AGI?")
    assert b.proposed_at == T0 and b.last_proposed_at == T0 + timedelta(minutes=1)
    other_question = await proposals.propose(
        "what-is-asi", "what's agi", proposer_id=3, channel_id=1, at=T0
    )
    other_text = await proposals.propose(
        "what-is-agi", "define AGI", proposer_id=3, channel_id=1, at=T0 + timedelta(minutes=5)
    )
    assert len({a.id, other_question.id, other_text.id}) == 3
    listed = await proposals.list()
    assert [p.id for p in listed] == [a.id, other_text.id, other_question.id]
    assert all(p.status == "open" for p in listed)
    assert [p.id for p in await proposals.list(question_id="what-is-asi")] == [other_question.id]
    assert [p.id for p in await proposals.list(limit=1, offset=1)] == [other_text.id]
    assert await proposals.count() == 3
    assert await proposals.get(a.id) == b


async def test_proposal_status_changes(proposals: ProposedPhrasings) -> None:
    p = await proposals.propose("q1", "some phrasing", proposer_id=1, channel_id=1)
    assert await proposals.set_status(p.id, "rejected") is True
    assert await proposals.set_status(12345, "approved") is False
    assert await proposals.list() == []
    assert [x.id for x in await proposals.list(status="rejected")] == [p.id]
    again = await proposals.propose("q1", "Some phrasing!", proposer_id=2, channel_id=1)
    assert again.id != p.id and again.count == 1  # a rejected proposal is not reopened
    assert await proposals.set_status(again.id, "approved") is True
    assert await proposals.count("approved") == 1
    with pytest.raises(ValueError, match="unknown status"):
        await proposals.set_status(p.id, "applied")
    with pytest.raises(ValueError, match="unknown status"):
        await proposals.list(status="pending")


async def test_proposal_input_is_validated(proposals: ProposedPhrasings) -> None:
    with pytest.raises(ValueError, match="question id"):
        await proposals.propose("", "text", proposer_id=1, channel_id=1)
    with pytest.raises(ValueError, match="empty"):
        await proposals.propose("q1", "   ", proposer_id=1, channel_id=1)
    with pytest.raises(ValueError, match="no words"):
        await proposals.propose("q1", "?!", proposer_id=1, channel_id=1)
    evil = "x'); DELETE FROM proposed_phrasings; --"
    p = await proposals.propose("q1'; --", evil, proposer_id=None, channel_id=None)
    assert (p.question_id, p.text) == ("q1'; --", evil)
    long = await proposals.propose("q1", "word " * 3000, proposer_id=1, channel_id=1)
    assert len(long.text) <= MAX_TEXT_CHARS
    assert await proposals.count() == 2


async def test_a_task_cancelled_while_beginning_leaves_no_transaction_open(store: Store) -> None:
    """Stopping cancels tasks at any point: one cancelled while its BEGIN runs must not leave
    the connection inside a transaction that every later one fails on."""

    async def write(value: int) -> None:
        async with store.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES (?)", (value,))

    async with store.transaction() as conn:
        await conn.execute("CREATE TABLE t (x INTEGER)")
    for value in range(30):
        task = asyncio.create_task(write(value))
        await asyncio.sleep(0)  # it holds the lock and waits for its BEGIN
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        async with store.read() as conn:
            await conn.execute_fetchall("SELECT count(*) FROM t")
    await write(100)
    async with store.read() as conn:
        rows = [r[0] for r in await conn.execute_fetchall("SELECT x FROM t")]
    assert 100 in rows and set(rows) <= set(range(30)) | {100}
