"""Fixtures shared by every test: databases on both backends (see tests/databases.py)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from databases import BACKENDS, SKIP_REASON

from bot.store import Store
from bot.store.pgserver import ThrowawayServer, find_binaries


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[ThrowawayServer]:
    """A throwaway PostgreSQL server for the session (skips when none can be started)."""
    # CI sets STAMPY_REQUIRE_POSTGRES=1 (.ci/run installs PostgreSQL): there, fail, never skip.
    give_up = pytest.fail if os.environ.get("STAMPY_REQUIRE_POSTGRES") == "1" else pytest.skip
    binaries = find_binaries()
    if binaries is None:
        give_up(SKIP_REASON)
    server = ThrowawayServer(binaries)
    try:
        server.start()
    except (RuntimeError, OSError) as exc:
        give_up(f"a throwaway PostgreSQL server could not be started: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a fresh, empty database is: a SQLite path, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "stampy.db")
    server: ThrowawayServer = request.getfixturevalue("postgres_server")
    return server.create()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where a test's SQLite database lives (not created until opened)."""
    return tmp_path / "stampy.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[Store]:
    """The store on :func:`db_path`, migrated to the current schema (SQLite; a module that
    runs on both backends overrides it with one on ``database``)."""
    async with await Store.open(db_path) as opened:
        yield opened
