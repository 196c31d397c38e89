"""Fixtures shared by the test modules: a database file in the test's temp folder and the
store opened on it (closed after the test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import Store


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the test's database lives (not created until opened)."""
    return tmp_path / "stampy.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[Store]:
    """The store on :func:`db_path`, migrated to the current schema."""
    async with await Store.open(db_path) as opened:
        yield opened
