"""Databases for tests on both backends: a fresh SQLite file or a fresh PostgreSQL database.

The ``database`` fixture (tests/conftest.py) is parametrised over :data:`BACKENDS`: a test
that takes it runs once on SQLite and once on PostgreSQL. The PostgreSQL cases use a
throwaway server the session starts when PostgreSQL is installed (``initdb`` found), and
skip, saying so, when it is not; ``.ci/run`` installs it, so CI never skips them.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from typing import Any

import asyncpg

from bot.store.db import is_postgres_url
from bot.store.postgres import to_pg

#: The backends a store test runs on.
BACKENDS = ("sqlite", "postgresql")

SKIP_REASON = (
    "PostgreSQL is not installed here (no initdb; apt-get install postgresql, or set "
    "STAMPY_PG_BIN): the PostgreSQL cases are skipped"
)


async def independent_rows(
    location: str, sql: str, parameters: Sequence[Any] = ()
) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` (``?`` parameters) as a separate connection sees them: only what
    the store has committed."""
    if is_postgres_url(location):
        conn = await asyncpg.connect(location)
        try:
            return [tuple(row) for row in await conn.fetch(to_pg(sql), *parameters)]
        finally:
            await conn.close()

    def read() -> list[tuple[Any, ...]]:
        with sqlite3.connect(location) as conn:
            return conn.execute(sql, parameters).fetchall()

    return await asyncio.to_thread(read)
