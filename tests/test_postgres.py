"""What only the PostgreSQL backend has: several processes on one database, its migrations
under an advisory lock, and its faults (a lock held elsewhere, a read-only server, a server
that is gone) named with the same kinds as SQLite's.

Each "process" is a store of its own (its own pool), as a second ``stampy run`` would be.
The tests use the session's throwaway server (tests/conftest.py) and skip, saying why, where
PostgreSQL is not installed.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from databases import independent_rows

from bot.config import ConfigError, StampSettings, load_settings
from bot.stamps import StampBook, StampOp
from bot.store import (
    NewerDatabaseError,
    ProposedPhrasings,
    StampRecords,
    Store,
    StoreError,
    UnansweredQuestions,
)
from bot.store.migrations import MIGRATIONS, Migration
from bot.store.pg_migrations import PG_MIGRATIONS
from bot.store.pgserver import ThrowawayServer
from bot.store.postgres import PostgresStore, to_pg
from bot.store.versions import QuestionVersions

GUILD, CHANNEL, BOT, ANSWERED = 42, 7, 999, 5001
LATEST = PG_MIGRATIONS[-1].number


@pytest.fixture
def url(postgres_server: ThrowawayServer) -> str:
    return postgres_server.create()


@pytest.fixture
async def store(url: str) -> AsyncIterator[Store]:
    async with await Store.open(url, busy_timeout_ms=50) as opened:
        yield opened


async def admin(url: str, *statements: str) -> None:
    """Run ``statements`` on the server as another program (an operator's psql) would."""
    conn = await asyncpg.connect(url)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


# --------------------------------------------------------------------------- basics


def test_both_schemas_have_the_same_migrations() -> None:
    """A migration added to one backend needs its twin in the other."""
    assert [(m.number, m.description) for m in PG_MIGRATIONS] == [
        (m.number, m.description) for m in MIGRATIONS
    ]


def test_parameters_are_numbered_outside_quotes() -> None:
    assert to_pg("SELECT ? , '?', \"a?\" -- ?\n, ?") == "SELECT $1 , '?', \"a?\" -- ?\n, $2"
    assert to_pg("WHERE a = 'it''s ?' AND b = ?") == "WHERE a = 'it''s ?' AND b = $1"


async def test_the_url_selects_postgresql_and_the_password_is_never_shown(
    postgres_server: ThrowawayServer,
) -> None:
    url = postgres_server.create()
    with_password = url.replace("postgres@", "postgres:s3cret@")
    async with await Store.open(with_password) as store:  # trust auth: any password works
        assert isinstance(store, PostgresStore) and store.backend == "postgresql"
        assert "s3cret" not in store.path and ":***@" in store.path
    with pytest.raises(StoreError) as raised:
        await Store.open(with_password.rsplit("/", 1)[0] + "/no_such_database")
    assert "does not exist" in str(raised.value) and "s3cret" not in str(raised.value)


def test_config_takes_a_postgresql_url_and_refuses_anything_else(tmp_path: Any) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[database]\nurl = "postgresql://u:pw@h/db"\n', encoding="utf-8")
    settings = load_settings(config, env={})
    assert settings.database.location == "postgresql://u:pw@h/db" and settings.database.shared
    config.write_text('[database]\nurl = "mysql://u:pw@h/db"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(config, env={})
    message = str(raised.value)
    assert "'database.url' must be a PostgreSQL address" in message and "pw" not in message


async def test_a_server_that_is_not_there_is_named_in_one_line() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(StoreError) as raised:
        await Store.open(f"postgresql://stampy@127.0.0.1:{port}/stampy")
    assert raised.value.kind == "io"
    assert str(raised.value).startswith(f"postgresql://stampy@127.0.0.1:{port}/stampy: ")
    assert "connection refused" in str(raised.value) and "\n" not in str(raised.value)


# --------------------------------------------------------------------------- migrations


async def test_processes_starting_together_migrate_once(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.store.postgres")
    stores = await asyncio.gather(*(Store.open(url) for _ in range(4)))
    try:
        assert {s.schema_version for s in stores} == {PG_MIGRATIONS[-1].number}
        migrated = [
            r.getMessage() for r in caplog.records if "migrating to schema" in r.getMessage()
        ]
        assert len(migrated) == len(PG_MIGRATIONS), migrated
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    assert await independent_rows(url, "SELECT version FROM stampy_schema") == [(LATEST,)]


async def test_a_failing_migration_leaves_the_previous_schema(url: str) -> None:
    broken = [
        *PG_MIGRATIONS,
        Migration(LATEST + 1, "broken", "CREATE TABLE half (x INT); SELECT nope"),
    ]
    with pytest.raises(StoreError) as raised:
        await Store.open(url, migrations=broken)
    assert f"could not upgrade the database to schema {LATEST + 1} (broken)" in str(raised.value)
    assert f"left at schema {LATEST}" in str(raised.value)
    assert await independent_rows(url, "SELECT to_regclass('half') IS NULL") == [(True,)]
    async with await Store.open(url) as store:
        assert store.schema_version == LATEST


async def test_a_newer_database_is_refused(url: str) -> None:
    async with await Store.open(url):
        pass
    await admin(url, "UPDATE stampy_schema SET version = 99")
    with pytest.raises(NewerDatabaseError) as raised:
        await Store.open(url)
    assert f"schema 99; this version knows up to {LATEST}" in str(raised.value)
    assert "use another database." in str(raised.value)


# --------------------------------------------------------------------------- several processes


async def test_repeats_asked_in_two_processes_at_once_fold_into_one_row(url: str) -> None:
    first, second = await Store.open(url), await Store.open(url)
    try:
        records = [UnansweredQuestions(first), UnansweredQuestions(second)]
        proposals = [ProposedPhrasings(first), ProposedPhrasings(second)]
        await asyncio.gather(
            *(
                records[i % 2].record(
                    "What is corrigibility?", asker_id=i, channel_id=1, guild_id=1
                )
                for i in range(40)
            ),
            *(
                proposals[i % 2].propose("q", "corrigible?", proposer_id=i, channel_id=1)
                for i in range(40)
            ),
        )
        [row] = await records[0].list()
        assert row.count == 40
        [proposal] = await proposals[1].list()
        assert proposal.count == 40
    finally:
        await first.close()
        await second.close()


async def test_versions_written_by_two_processes_are_numbered_without_gaps(url: str) -> None:
    first, second = await Store.open(url), await Store.open(url)
    try:
        versions = [QuestionVersions(first), QuestionVersions(second)]
        await asyncio.gather(
            *(
                versions[i % 2].append(
                    "q", state="removed", content=None, member_name=f"m{i}", action="removed"
                )
                for i in range(20)
            )
        )
        history = await versions[0].history("q", limit=50)
        assert sorted(v.version for v in history) == list(range(1, 21))
    finally:
        await first.close()
        await second.close()


async def test_transactions_of_one_process_run_side_by_side(store: Store) -> None:
    """Each task borrows its own connection: a slow read does not hold up a write."""
    slow = asyncio.Event()

    async def reader() -> None:
        async with store.read() as conn:
            await conn.execute_fetchall("SELECT pg_sleep(0.3)")
            slow.set()

    task = asyncio.create_task(reader())
    await asyncio.sleep(0.05)
    await UnansweredQuestions(store).record("Quick?", asker_id=1, channel_id=1, guild_id=1)
    assert not slow.is_set()  # the write finished while the read was still running
    await task


# --------------------------------------------------------------------------- faults


async def test_a_lock_held_elsewhere_fails_as_busy_then_recovers(
    url: str, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    records = StampRecords(store)
    other = await asyncpg.connect(url)
    try:
        async with other.transaction():
            await other.execute("LOCK TABLE answer_messages IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(StoreError) as raised:
                await records.record_answer_message(
                    1, channel_id=1, guild_id=1, question_id="q", answer_id="a"
                )
            assert raised.value.kind == "busy" and raised.value.transient
            assert store.path in str(raised.value)
            assert store.fault is not None and store.fault.kind == "busy"
    finally:
        await other.close()
    await records.record_answer_message(1, channel_id=1, guild_id=1, question_id="q", answer_id="a")
    assert store.fault is None
    assert any("can be written again" in r.getMessage() for r in caplog.records)


async def test_a_read_only_server_fails_as_read_only_and_stamps_wait_for_it(
    url: str, store: Store
) -> None:
    book = StampBook(
        store,
        StampSettings(reputation_delay_seconds=0.01),
        answer_author=lambda q, a: None,
        bot_user_id=BOT,
        retry_first=0.01,
        retry_max=0.05,
    )
    await book.start()
    await book.record_answer(
        ANSWERED, channel_id=CHANNEL, guild_id=GUILD, question_id="q", answer_id="a"
    )
    name = database_name(url)
    await admin(url, f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    assert isinstance(store, PostgresStore)
    await store.pool.expire_connections()  # new sessions take the setting
    try:
        with pytest.raises(StoreError) as raised:
            await UnansweredQuestions(store).record("Hm?", asker_id=1, channel_id=1, guild_id=1)
        assert raised.value.kind == "read-only"
        pending = [
            asyncio.ensure_future(
                book.apply(StampOp(ANSWERED, 100 + i, "stamp", add=True, channel_id=CHANNEL))
            )
            for i in range(10)
        ]
        for _ in range(500):
            if book.retries >= 2:
                break
            await asyncio.sleep(0.01)
        assert book.retries >= 2 and not any(p.done() for p in pending)
        assert await UnansweredQuestions(store).count() == 0  # reading still works
    finally:
        await admin(
            url,
            "SET default_transaction_read_only = off",
            f'ALTER DATABASE "{name}" SET default_transaction_read_only = off',
        )
        await store.pool.expire_connections()
    assert all(change is not None for change in await asyncio.gather(*pending))
    assert await independent_rows(url, "SELECT count(*) FROM stamps") == [(10,)]
    await book.close()


async def test_connections_killed_by_the_server_are_replaced(url: str, store: Store) -> None:
    records = UnansweredQuestions(store)
    await records.record("Before?", asker_id=1, channel_id=1, guild_id=1)
    await admin(
        url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE application_name = 'stampy' AND pid <> pg_backend_pid()",
    )
    failures = []
    for attempt in range(5):
        try:
            await records.record(f"After {attempt}?", asker_id=1, channel_id=1, guild_id=1)
            break
        except StoreError as error:
            failures.append(error.kind)
    else:
        pytest.fail(f"never recovered: {failures}")
    assert set(failures) <= {"io"} and len(failures) <= 1, failures
    assert await records.count() == 2
