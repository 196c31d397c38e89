"""Fixtures shared by every test: databases on both backends (see tests/databases.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from databases import BACKENDS, SKIP_REASON

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
